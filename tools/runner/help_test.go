package main

import (
	"flag"
	"strings"
	"testing"

	"lazymm/kernel/catalog"
)

// -help is the flag reference: every flag, every injection and boot word of the catalogue, the
// verdict rules and the exit status; it exits 0.
func TestHelp(t *testing.T) {
	rc, out, errs := runOut("-help")
	if rc != 0 || errs != "" {
		t.Fatalf("-help: rc %d, stderr %q", rc, errs)
	}
	var want []string
	newFlagSet(&flags{}).VisitAll(func(f *flag.Flag) { want = append(want, "  -"+f.Name) })
	want = append(want, catalog.Names(catalog.Injections)...)
	for _, b := range catalog.BootWords {
		want = append(want, "  "+b.Key)
	}
	want = append(want, catalog.Schemes...)
	want = append(want, catalog.Scenarios...)
	want = append(want, "Exit status:", "130", "143", "all-skipped", "PCID half", "the exit status stays the verdict's")
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("-help lacks %q", w)
		}
	}
	if rc, _, errs := runOut("-bogus"); rc != 2 || !strings.Contains(errs, "-help prints the flag reference") {
		t.Errorf("-bogus: rc %d: %s", rc, errs)
	}
}

// The arch table covers the catalogue's arches, with their machines, MMU modes and CPU limit.
func TestArchTable(t *testing.T) {
	if len(arches) != len(catalog.Arches) {
		t.Fatalf("%d arches in the table, %d in the catalogue", len(arches), len(catalog.Arches))
	}
	for i, ca := range catalog.Arches {
		a := archNamed(ca.Name)
		if a == nil || arches[i] != a || a.MaxCPUs != ca.MaxCPUs || a.Machines[0] != ca.Machines[0] || a.MMUs[0] != ca.MMUs[0] {
			t.Errorf("%s: table %+v, catalogue %+v", ca.Name, a, ca)
			continue
		}
		if a.QEMU == "" || a.Package == "" || a.CPUModel == "" || a.SMP == nil || a.Exit.Describe == nil || a.ISA.Decode == nil || a.BootCost <= 0 || a.TestCost <= 0 {
			t.Errorf("%s: incomplete entry %+v", a.Name, a)
		}
	}
}
