package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lazymm/kernel/catalog"
	"lazymm/kernel/protocol"
)

// mutationRun is a console of four injected bugs: one caught by its detector on the machine, one by
// its memory detector, one caught by another check only (luck), one that survived.
func mutationRun(t *testing.T) *protocol.Run {
	t.Helper()
	r := protocol.NewRun()
	for _, l := range []string{
		"LZ1 boot arch=amd64 cpus=2 mem_mb=511 go=go1.26.8 cmdline=-",
		"LZ1 begin name=inject/skip-exit-flush scheme=- scenario=munmap-shootdown inject=skip-exit-flush expect=fail catch=cr3-audit",
		`LZ1 fail name=inject/skip-exit-flush check=leak cpu=0 loc=a detail="a leak first"`,
		`LZ1 fail name=inject/skip-exit-flush check=cr3-audit cpu=1 loc=b detail="CPU 1: CR3 root 0x1a3000 is not live"`,
		"LZ1 end name=inject/skip-exit-flush outcome=fail ms=5",
		"LZ1 begin name=inject/write-after-free scheme=- scenario=- inject=write-after-free expect=fail catch=poison",
		`LZ1 fail name=inject/write-after-free check=poison cpu=0 loc=a detail="frame 0x12 written while quarantined"`,
		"LZ1 end name=inject/write-after-free outcome=fail ms=5",
		"LZ1 begin name=inject/mmput-twice scheme=refcount scenario=kthread-use-mm inject=mmput-twice expect=fail catch=user-fault",
		`LZ1 fail name=inject/mmput-twice check=freed-mm cpu=0 loc=a detail="mm 5 freed"`,
		"LZ1 end name=inject/mmput-twice outcome=fail ms=5",
		"LZ1 begin name=inject/membarrier-no-ipi scheme=refcount scenario=membarrier inject=membarrier-no-ipi expect=fail catch=membarrier",
		"LZ1 end name=inject/membarrier-no-ipi outcome=pass ms=5",
		"LZ1 summary tests=4 passed=2 failed=2",
	} {
		r.Feed(l)
	}
	r.Finish()
	return r
}

func TestKilledBy(t *testing.T) {
	r := mutationRun(t)
	want := []kill{{"cr3-audit", "machine", true}, {"poison", "memory", true}, {"freed-mm", "memory", false}, {}}
	if len(r.Tests) != len(want) {
		t.Fatalf("%d tests, want %d", len(r.Tests), len(want))
	}
	for i, tt := range r.Tests {
		if got := killedBy(tt); got != want[i] {
			t.Errorf("%s: killed by %+v, want %+v", tt.Name, got, want[i])
		}
	}
	m := tallyMutations(r.Tests)
	if got, want := m.String(), "4 mutations, 2 killed (100% on machine or memory), 1 caught by another check only, 1 survived"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

func TestMutationOutputs(t *testing.T) {
	r := mutationRun(t)
	c := &Config{Arch: archNamed("amd64"), CPUs: 2}
	res := &Result{Run: r, Boots: 4}
	rep := makeReport(c, res)
	for i, want := range [][2]string{{"cr3-audit", "machine"}, {"poison", "memory"}, {"freed-mm", "memory"}, {"", ""}} {
		if got := [2]string{rep.Tests[i].CaughtBy, rep.Tests[i].DetectorClass}; got != want {
			t.Errorf("JSON %s: caught_by, detector_class = %q, want %q", rep.Tests[i].Name, got, want)
		}
	}
	var b bytes.Buffer
	printTable(&b, c, res, nil)
	for _, want := range []string{"caught by cr3-audit (machine): CPU 1: CR3 root", "caught by poison (memory): frame 0x12",
		"caught by freed-mm (memory) only, not by user-fault", "survived: no check reported it"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, b.String())
		}
	}
	dir := t.TempDir()
	if err := writeHTMLReport(dir, c, res); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	for _, want := range []string{"Mutations: the injected bugs", "4 mutations, 2 killed (100% on machine or memory)",
		"<td>cr3-audit</td><td>machine</td>", "<td>survived</td>", "not killed: caught by freed-mm only"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// TestEquivalentMutant: an equivalent mutant (the catalogue's Equivalent, where it has one) that passed
// is said so in the table and counts in no tally.
func TestEquivalentMutant(t *testing.T) {
	name := ""
	for _, in := range catalog.Injections {
		if equivalentOf(in.Name) != "" {
			name = in.Name
			break
		}
	}
	if name == "" {
		t.Skip("the catalogue names no equivalent mutant")
	}
	tt := &protocol.Test{Name: "inject/" + name, Inject: name, Expect: "pass", Outcome: "pass"}
	if row, _ := mutationRow(tt); !strings.HasPrefix(row, "equivalent: ") {
		t.Errorf("row %q, want the equivalence and its reason", row)
	}
	if m := tallyMutations([]*protocol.Test{tt}); m.Mutations != 0 {
		t.Errorf("an equivalent mutant counted: %+v", m)
	}
}
