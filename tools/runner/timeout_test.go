package main

import (
	"strings"
	"testing"
	"time"
)

// A boot's timeout is planned from its work: more tests, more CPUs per host core and a slower arch
// take longer; -timeout-scale multiplies it, -duration adds the torture scenarios' time, and an
// explicit -timeout wins.
func TestPlannedTimeouts(t *testing.T) {
	timeout := func(args ...string) time.Duration { return planned(t, args...)[0].Timeout }
	suite1, suite8 := timeout("-cpus", "1"), timeout("-cpus", "8")
	fault, ppc := timeout("-inject", "fault"), timeout("-arch", "ppc64")
	if !(fault < suite1 && suite1 < suite8 && suite1 < ppc) {
		t.Errorf("timeouts: -inject fault %v, suite at 1 CPU %v, at 8 CPUs %v, ppc64's suite %v: want increasing", fault, suite1, suite8, ppc)
	}
	if s := timeout("-cpus", "1", "-timeout-scale", "2"); s < 2*suite1-2*time.Second || s > 2*suite1+2*time.Second {
		t.Errorf("-timeout-scale 2: %v, want about twice %v", s, suite1)
	}
	if d := timeout("-cpus", "1", "-duration", "1m"); d < suite1+7*time.Minute { // 7 schemes' torture
		t.Errorf("-duration 1m: %v, want %v and a minute per torture test", d, suite1)
	}
	for _, b := range planned(t, "-matrix", "-timeout", "20s") {
		if b.Timeout != 20*time.Second {
			t.Errorf("%s: -timeout 20s gave %v", b.Label, b.Timeout)
		}
	}
	if _, out, _ := runOut("-list", "-kernel", testKernel(t), "-qemu", "/bin/true", "-timeout-scale", "3"); !strings.Contains(out, "-timeout ") {
		t.Errorf("-list shows no timeout:\n%s", out)
	}
}

// A timeout names the test that was running and the host's load, and gives no verdict: exit 2.
func TestTimeoutNamesTheTest(t *testing.T) {
	script := "cat <<'X'\n" + boot + "\n" + begin + "\nX\nexec sleep 60"
	start := time.Now()
	rc, out, errs := runOut(append([]string{"-kernel", testKernel(t), "-qemu", fakeQEMU(t, script), "-timeout", "1s"}, oneTest...)...)
	if rc != 2 {
		t.Errorf("rc %d, want 2:\n%s%s", rc, out, errs)
	}
	for _, w := range []string{"smoke/goroutines: timeout: no end after 1s (1 planned tests at 1 CPUs): QEMU killed while smoke/goroutines was running; host load average "} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v", took)
	}
}

// A boot that hung is exit 2 even when another boot of the run crashed (a crash is a verdict for its
// own boot only).
func TestTimeoutBesideACrash(t *testing.T) {
	script := fakeArgs + `echo "LZ1 boot arch=amd64 cpus=$cpus mem_mb=511 go=go1.26.8 cmdline=-"
echo "LZ1 begin name=inject/$inj scheme=- scenario=- inject=$inj expect=fail catch=poison"
if [ "$inj" = leak-pagetable ]; then exec sleep 60; fi
cat <<'X'
LZ1 crash cpu=0 kind=exception vector=13 name=#GP error=0x0 rip=0x401000 rsp=0x1 cr2=0x0 cr3=0x1000
LZ1 crash-end status=109
X
exit 219`
	rc, out, errs := runOut("-kernel", testKernel(t), "-qemu", fakeQEMU(t, script), "-timeout", "2s", "-inject", "write-after-free,leak-pagetable")
	if rc != 2 || !strings.Contains(out, "inject/leak-pagetable: timeout") || !strings.Contains(out, "crash dump:") {
		t.Errorf("rc %d, want 2 with the timeout and the crash:\n%s%s", rc, out, errs)
	}
}
