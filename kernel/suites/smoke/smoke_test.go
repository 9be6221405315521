package smoke

import (
	"os"
	"strings"
	"testing"

	"lazymm/kernel/ktest"
)

// The smoke suite run on the host, as an ordinary Linux process: if a test fails here, the test is
// wrong, not the kernel.
func TestSuiteOnHost(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "console")
	if err != nil {
		t.Fatal(err)
	}
	ktest.Out = f
	defer func() { ktest.Out = os.Stdout }()
	ok, bad := ktest.Run(Tests())
	out, _ := os.ReadFile(f.Name())
	if bad != 0 || ok != len(Tests()) {
		t.Fatalf("%d as expected, %d unexpected:\n%s", ok, bad, out)
	}
	if !strings.Contains(string(out), "preempt_ms=") {
		t.Errorf("no preemption metric:\n%s", out)
	}
}
