package main

import (
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"

	"lazymm/kernel/catalog"
	"lazymm/kernel/protocol"
)

// judge applies the runner's checks to a boot whose console has ended: the machine's (protocol seen,
// exit status, CPUs, QEMU's own errors), the protocol's end rules, then the runner's expectation (the
// command line arrived whole, the planned tests and no others, not all of them skipped).
func (res *Result) judge() {
	checkProtocolSeen(res)
	checkExit(res)
	checkCPUs(res)
	checkQEMUStderr(res)
	res.Run.Finish()
	checkCmdlineEcho(res)
	checkPlan(res)
	checkAllSkipped(res)
}

// checkExit cross-checks the exit status with the console. Where the status carries the kernel's
// verdict (amd64) it must agree; where it does not (ppc64's power-off is 0 whatever happened) it only
// tells a power-off from a QEMU error, and a console without its summary that ended in a power-off
// gets its own failure (the kernel stopped early).
func checkExit(res *Result) {
	s, r, a := res.ExitStatus, res.Run, res.Boot.Arch
	if s < 0 || res.Interrupted {
		return // killed: the timeout or interrupted failure says why
	}
	complete := r.Summary != nil
	ok := a.Exit.OK
	switch {
	case complete && r.Pass() && s != ok:
		r.AddFailure(protocol.Failure{Check: "exit", CPU: -1, Detail: "the console passed but " + a.describeExit(s)})
	case !complete && len(r.Crashes) == 0 && s != ok:
		r.AddFailure(protocol.Failure{Check: "exit", CPU: -1, Detail: a.describeExit(s)})
	case !complete && len(r.Crashes) == 0 && !a.Exit.Verdict:
		// status OK is also QEMU stopped from outside (SIGTERM, SIGINT): its stderr says so
		if sig := signalLine(res.Stderr); sig != "" {
			r.AddFailure(protocol.Failure{Check: "exit", CPU: -1, Detail: "QEMU was stopped from outside before the summary line: " + sig})
		} else if r.ProtocolSeen() { // else checkProtocolSeen said it
			r.AddFailure(protocol.Failure{Check: "exit", CPU: -1, Detail: fmt.Sprintf(
				"QEMU exited with status %d (%s) before the summary line: the kernel stopped early; on %s the exit status carries no verdict, the console must",
				s, a.Exit.OKWhat, a.Name)})
		}
	}
}

// signalLine is QEMU's note that a signal ended it ("terminating on signal 15 from pid ..."), or "".
func signalLine(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "terminating on signal") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// checkProtocolSeen fails a console that never printed a protocol line, with what it printed instead:
// a kernel that did not boot, or an image that is not a lazymm kernel of this protocol. Its last
// lines go with the failure (they are the run's, outside any test).
func checkProtocolSeen(res *Result) {
	r := res.Run
	if r.ProtocolSeen() {
		return
	}
	detail := "no protocol line (" + strings.TrimSpace(protocol.Tag) + " ...) on the console: the kernel did not get as far as its boot line, or the image is not a lazymm kernel"
	if n := len(r.Raw); n > 0 {
		detail += fmt.Sprintf("; it printed %d other line(s), the last: %q", n, oneLine(r.Raw[n-1], 200))
	} else {
		detail += "; it printed nothing"
	}
	r.AddFailure(protocol.Failure{Check: "protocol", CPU: -1, Detail: detail})
	for _, t := range r.Tests {
		if r.IsOutside(t) && len(t.Raw) == 0 { // show the console's last lines with the failure
			t.Raw = r.Raw[max(0, len(r.Raw)-8):]
		}
	}
}

// checkQEMUStderr shows what QEMU said when the console did not complete on its own (it could not
// load the image, refused the machine...): its errors, not the warnings pseries prints every boot.
func checkQEMUStderr(res *Result) {
	if res.Run.Summary != nil || res.ExitStatus < 0 || res.Interrupted {
		return
	}
	if e := stderrErrors(res.Stderr); e != "" {
		res.Run.AddFailure(protocol.Failure{Check: "qemu", CPU: -1, Detail: "QEMU's stderr: " + e})
	}
}

// stderrErrors is the first lines of QEMU's stderr that are not warnings, joined.
func stderrErrors(s string) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, "warning:") {
			keep = append(keep, l)
		}
	}
	if len(keep) > 3 {
		keep = keep[:3]
	}
	return strings.Join(keep, " | ")
}

// checkCPUs fails a run whose kernel brought up fewer or more CPUs than asked for.
func checkCPUs(res *Result) {
	b := res.Run.Boot
	if b == nil || res.Boot.Inject == "ap-missing" { // that run leaves a CPU down on purpose: its test judges it
		return
	}
	if got := b.Get("cpus"); got != fmt.Sprint(res.Boot.CPUs) {
		res.Run.AddFailure(protocol.Failure{Check: "cpus", CPU: -1,
			Detail: fmt.Sprintf("asked for %d CPUs, the kernel reports %s online", res.Boot.CPUs, got)})
	}
}

// checkCmdlineEcho compares the command line the kernel says it received (its length and CRC-32 on
// the boot line) with the one sent: a line cut or changed on the way selects other tests. A boot
// line without them (an older kernel) is taken on trust.
func checkCmdlineEcho(res *Result) {
	bl, b := res.Run.Boot, res.Boot
	if bl == nil || !b.Sent {
		return
	}
	gotLen, gotCRC := bl.Get("cmdline_len"), bl.Get("cmdline_crc32")
	wantLen, wantCRC := len(b.Cmdline), crc32.ChecksumIEEE([]byte(b.Cmdline))
	badLen := gotLen != "" && gotLen != strconv.Itoa(wantLen)
	crc, err := strconv.ParseUint(gotCRC, 0, 32)
	badCRC := gotCRC != "" && (err != nil || uint32(crc) != wantCRC)
	if badLen || badCRC {
		res.Run.AddFailure(protocol.Failure{Check: "protocol", CPU: -1, Detail: fmt.Sprintf(
			"the kernel received a command line of cmdline_len=%s cmdline_crc32=%s, the runner sent %d bytes, CRC-32 %#08x (%q): it was cut or changed on the way",
			orDash(gotLen), orDash(gotCRC), wantLen, wantCRC, oneLine(b.Cmdline, 200))})
	}
}

// checkPlan holds the console to the tests the runner planned: the runner's expectation and detector
// stand (the kernel's are checked against them), a test not planned is garbled, and a planned test
// that never began is one too: each on its own when the console completed, all in one failure when
// it was cut off (its own failure says why).
func checkPlan(res *Result) {
	r, b := res.Run, res.Boot
	if !b.Sent {
		if b.Expected = planFromBootLine(r); b.Expected == nil {
			return
		}
	}
	planned := map[string]catalog.Test{}
	for _, p := range b.Expected {
		planned[p.Name] = p
	}
	seen := map[string]bool{}
	for _, t := range r.Tests {
		if r.IsOutside(t) {
			continue
		}
		seen[t.Name] = true
		if p, ok := planned[t.Name]; ok {
			holdTo(t, p)
		} else {
			garble(t, fmt.Sprintf("test %s was not planned: the command line %q does not select it", t.Name, oneLine(b.Cmdline, 200)))
		}
	}
	var missing []string
	for _, p := range b.Expected {
		if !seen[p.Name] {
			missing = append(missing, p.Name)
		}
	}
	reportMissing(res, missing)
}

// holdTo makes the planned expectation the test's, failing a kernel that expected otherwise.
func holdTo(t *protocol.Test, p catalog.Test) {
	if t.Expect != p.Expect || t.Catch != p.Catch {
		garble(t, fmt.Sprintf("the kernel expects %s (catch %s) of %s, the runner planned %s (catch %s)",
			orDash(t.Expect), orDash(t.Catch), t.Name, p.Expect, orDash(p.Catch)))
	}
	t.Expect, t.Catch = p.Expect, p.Catch
}

func garble(t *protocol.Test, detail string) {
	t.Failures = append(t.Failures, protocol.Failure{Check: "protocol", CPU: -1, Detail: detail})
	t.Outcome = "fail"
}

// reportMissing adds the planned tests the console never began: as tests of their own when the
// console completed, as one failure beside the truncation when it did not.
func reportMissing(res *Result, missing []string) {
	r := res.Run
	if len(missing) == 0 {
		return
	}
	if r.Summary == nil {
		shown := missing[:min(len(missing), 8)]
		more := ""
		if len(missing) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(missing)-len(shown))
		}
		r.AddFailure(protocol.Failure{Check: "truncated", CPU: -1, Detail: fmt.Sprintf("%d planned test(s) never began: %s%s",
			len(missing), strings.Join(shown, ", "), more)})
		return
	}
	for _, name := range missing {
		p := planOf(res.Boot, name)
		t := &protocol.Test{Name: name, Scheme: p.Scheme, Scenario: p.Scenario, Inject: p.Inject, Expect: p.Expect,
			Catch: p.Catch, Metrics: map[string]float64{}}
		garble(t, "planned, and the console never began it (its summary came without it)")
		r.Tests = append(r.Tests, t)
	}
}

func planOf(b *Boot, name string) catalog.Test {
	for _, p := range b.Expected {
		if p.Name == name {
			return p
		}
	}
	return catalog.Test{}
}

// planFromBootLine plans a boot from the loader's command line the kernel echoed (-cdrom, -console),
// as the kernel does: a line with a word it rejects first runs the cmdline test. A boot line without
// the whole line (too long to echo: cmdline=- beside a cmdline_len) plans nothing, and the console is
// judged by itself.
func planFromBootLine(r *protocol.Run) []catalog.Test {
	if r.Boot == nil || !slices.Contains(r.Boot.Keys, "cmdline") {
		return nil
	}
	line := r.Boot.Get("cmdline")
	if n := r.Boot.Get("cmdline_len"); n != "" && n != strconv.Itoa(len(line)) {
		return nil
	}
	cpus, _ := strconv.Atoi(r.Boot.Get("cpus"))
	plan := catalog.PlanOn(line, r.Boot.Get("arch"), cpus)
	if len(catalog.CheckCmdline(line)) > 0 {
		plan = append([]catalog.Test{{Name: "cmdline", Expect: "pass"}}, plan...)
	}
	return plan
}

// checkAllSkipped fails a boot whose every test skipped: a skip is never a pass, and such a boot
// verified nothing.
func checkAllSkipped(res *Result) {
	r := res.Run
	n := 0
	for _, t := range r.Tests {
		if r.IsOutside(t) {
			continue
		}
		if t.Outcome != "skip" {
			return
		}
		n++
	}
	if n > 0 {
		r.AddFailure(protocol.Failure{Check: "all-skipped", CPU: -1, Detail: fmt.Sprintf("all %d test(s) of %s skipped: the boot verified nothing", n, res.Boot.Label)})
	}
}

// noVerdict says whether a boot could not be judged: it hung until its timeout, or it did not boot,
// or its console was garbled or cut off without a crash dump to say why (an unexpected protocol or
// truncated failure). That is exit status 2, as bad flags are; tests that ran and failed, and
// crashes, are 1.
func noVerdict(res *Result) bool {
	crashed := len(res.Run.Crashes) > 0
	for _, t := range res.Run.Tests {
		if t.AsExpected() {
			continue
		}
		for _, f := range t.Failures {
			switch f.Check {
			case "timeout":
				return true
			case "protocol", "truncated":
				if !crashed {
					return true
				}
			}
		}
	}
	return false
}
