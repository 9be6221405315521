package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run this binary as the runner itself (LAZYMM_RUNNER_MAIN=1), so a signal
// reaches a real runner process and its exit status is seen.
func TestMain(m *testing.M) {
	if os.Getenv("LAZYMM_RUNNER_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// sleepingQEMU is a fake QEMU that begins its injection's test and sleeps, in a child too, noting
// both PIDs in dir/pids: the runner must kill the whole process group.
func sleepingQEMU(t *testing.T, dir string) string {
	return fakeQEMU(t, fakeArgs+`sleep 300 &
echo $$ $! >> `+filepath.Join(dir, "pids")+`
cat <<X
LZ1 boot arch=amd64 cpus=$cpus mem_mb=511 go=go1.26.8 cmdline=-
LZ1 begin name=inject/$inj scheme=- scenario=- inject=$inj expect=fail catch=poison
X
wait`)
}

// A SIGINT or SIGTERM to a multi-boot run kills every QEMU it started (their process groups), writes
// the outputs for what ran, marks the boots cut short interrupted, and exits 130 or 143.
func TestSignalStopsTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the runner as a process")
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { signalRun(t, sig) })
	}
}

func signalRun(t *testing.T, sig syscall.Signal) {
	dir := t.TempDir()
	js, junit, results := filepath.Join(dir, "r.json"), filepath.Join(dir, "j.xml"), filepath.Join(dir, "results")
	cmd := exec.Command(os.Args[0], "-kernel", testKernel(t), "-qemu", sleepingQEMU(t, dir), "-parallel", "2", "-timeout", "5m",
		"-inject", "write-after-free,leak-pagetable,free-linked-table", "-json", js, "-junit", junit, "-results", results)
	cmd.Env = append(os.Environ(), "LAZYMM_RUNNER_MAIN=1")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pids := waitPIDs(t, filepath.Join(dir, "pids"), 4) // two boots at once, two processes each
	cmd.Process.Signal(sig)
	err := cmd.Wait()
	want := map[syscall.Signal]int{syscall.SIGINT: 130, syscall.SIGTERM: 143}[sig]
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != want {
		t.Errorf("exit %v, want %d:\n%s", err, want, out.String())
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("QEMU process %d outlived the runner", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	checkInterruptedOutputs(t, js, junit, results, out.String())
}

// checkInterruptedOutputs checks what an interrupted run wrote: the JSON with its two boots cut short,
// the JUnit file, and the summary naming the boot that never started.
func checkInterruptedOutputs(t *testing.T, js, junit, results, out string) {
	var rep jsonReport
	b, err := os.ReadFile(js)
	if err != nil || json.Unmarshal(b, &rep) != nil || !rep.Interrupted || rep.Outcome != "fail" {
		t.Fatalf("json report: %v %s\n%s", err, b, out)
	}
	interrupted := 0
	for _, tc := range rep.Tests {
		for _, f := range tc.Failures {
			if f.Check == "interrupted" && strings.Contains(f.Detail, "while "+tc.Name+" was running") {
				interrupted++
			}
		}
	}
	if interrupted != 2 {
		t.Errorf("%d tests marked interrupted, want 2: %s", interrupted, b)
	}
	if _, err := os.Stat(junit); err != nil {
		t.Errorf("no JUnit report: %v", err)
	}
	sums, _ := filepath.Glob(filepath.Join(results, "*", "summary.txt"))
	if len(sums) != 1 {
		t.Fatalf("summaries %v\n%s", sums, out)
	}
	sum, _ := os.ReadFile(sums[0])
	if !strings.Contains(strings.Join(strings.Fields(string(sum)), " "), "inject-free-linked-table not run (interrupted)") {
		t.Errorf("summary:\n%s", sum)
	}
	if !strings.Contains(out, "interrupted: 1 of 3 boots did not start") {
		t.Errorf("output:\n%s", out)
	}
}

// waitPIDs waits until the file lists n PIDs and returns them.
func waitPIDs(t *testing.T, path string, n int) []int {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if f := strings.Fields(string(b)); len(f) >= n {
			var pids []int
			for _, s := range f {
				p, _ := strconv.Atoi(s)
				pids = append(pids, p)
			}
			time.Sleep(200 * time.Millisecond) // the runner reads their begin lines
			return pids
		}
	}
	t.Fatalf("the fake QEMUs did not start")
	return nil
}

// alive says whether a process exists and is not a zombie (killed, waiting for its reaper).
func alive(pid int) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return false
		}
	}
	return true
}
