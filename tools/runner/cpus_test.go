package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"lazymm/kernel/catalog"
)

// -inject all and -matrix boot each bug with the CPUs it needs (catalog Injection.CPUs) when -cpus is
// fewer, and say so on stderr; with enough CPUs they keep -cpus.
func TestInjectionCPUs(t *testing.T) {
	f, _, _ := parseFlags([]string{"-kernel", os.Args[0], "-qemu", "/bin/true", "-inject", "all"}, io.Discard, io.Discard)
	c, err := buildConfig(f, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	boots, err := planBoots(c, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if len(boots) != len(catalog.Bugs("amd64", "")) {
		t.Fatalf("%d boots for %d bugs", len(boots), len(catalog.Bugs("amd64", "")))
	}
	for _, b := range boots {
		in, _ := catalog.InjectionByName(b.Inject)
		if b.CPUs != max(1, in.CPUs) {
			t.Errorf("%s: %d CPUs, want %d", b.Label, b.CPUs, max(1, in.CPUs))
		}
	}
	for _, w := range []string{"runner: -cpus 1 is too few for no-shootdown, skip-flush-ipi", ": booting with 2 CPUs", "skip-lazy-catchup: booting with 3 CPUs"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
		}
	}
	for _, b := range planned(t, "-matrix", "-cpus", "4") {
		if b.CPUs != 4 {
			t.Errorf("-matrix -cpus 4: %s at %d CPUs", b.Label, b.CPUs)
		}
	}
}

// An injection that selects its own MMU mode runs where -mmu was left to its default (and is refused
// under another -mmu: TestRefusedBeforeBooting); an injection's detector is its mode's.
func TestInjectionSelectsItsMMU(t *testing.T) {
	b := planned(t, "-arch", "ppc64", "-cpus", "2", "-inject", "skip-hpte-remove")[0]
	if b.MMU != "hash" || b.Cmdline != "inject=skip-hpte-remove" || b.Expected[0].Catch != "stale-tlb" {
		t.Errorf("skip-hpte-remove: mode %q, words %q, plan %+v", b.MMU, b.Cmdline, b.Expected)
	}
	b = planned(t, "-arch", "ppc64", "-cpus", "3", "-mmu", "hash", "-inject", "skip-lazy-catchup")[0]
	if b.MMU != "hash" || b.Cmdline != "inject=skip-lazy-catchup hash" || b.Expected[0].Catch != "cr3-audit" {
		t.Errorf("skip-lazy-catchup on hash: mode %q, words %q, plan %+v", b.MMU, b.Cmdline, b.Expected)
	}
}
