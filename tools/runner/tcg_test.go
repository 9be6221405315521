package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"lazymm/kernel/catalog"
)

// -tcg auto splits the suite where its vCPUs outnumber the host's cores: the parallel tests (the
// store-buffering test, torture) in a multi-threaded boot of their own, the rest single-threaded;
// together they plan exactly the tests of one unsplit suite boot.
func TestTCGAutoSplit(t *testing.T) {
	kernel := testKernel(t)
	cpus := fmt.Sprint(runtime.NumCPU() + 1)
	whole := planned(t, "-kernel", kernel, "-cpus", cpus, "-tcg", "multi")
	split := planned(t, "-kernel", kernel, "-cpus", cpus)
	if len(whole) != 1 || whole[0].TCG != tcgMulti || len(split) != 3 {
		t.Fatalf("-tcg multi: %d boots; auto: %d boots, want 1 and 3", len(whole), len(split))
	}
	want := []struct {
		mode, word string
		alone      bool
		plans      func(catalog.Test) bool
	}{
		{tcgSingle, "parallel=skip", false, func(tt catalog.Test) bool { return !catalog.NeedsParallel(tt) }},
		{tcgMulti, "parallel=only scenario=membarrier", true, catalog.NeedsSolo},
		{tcgMulti, "parallel=only scenario=torture", false, func(tt catalog.Test) bool { return catalog.NeedsParallel(tt) && !catalog.NeedsSolo(tt) }},
	}
	var names []string
	for i, b := range split {
		w := want[i]
		if b.TCG != w.mode || !strings.Contains(b.Cmdline, w.word) || b.Alone != w.alone {
			t.Errorf("boot %s: TCG %q, words %q, alone %v; want %s with %s, alone %v", b.Label, b.TCG, b.Cmdline, b.Alone, w.mode, w.word, w.alone)
		}
		for _, tt := range b.Expected {
			if !w.plans(tt) {
				t.Errorf("boot %s plans %s", b.Label, tt.Name)
			}
			names = append(names, tt.Name)
		}
	}
	var all []string
	for _, tt := range whole[0].Expected {
		all = append(all, tt.Name)
	}
	slices.Sort(names)
	slices.Sort(all)
	if !slices.Equal(names, all) {
		t.Errorf("the split boots plan %d tests, the whole suite %d", len(names), len(all))
	}
}

// -tcg auto keeps multi-threaded TCG where the host has a core per vCPU, and a boot whose only test
// needs parallelism is never split; -tcg takes only its values, and not with -kvm.
func TestTCGChoices(t *testing.T) {
	kernel := testKernel(t)
	if b := planned(t, "-kernel", kernel, "-cpus", "1"); len(b) != 1 || b[0].TCG != tcgMulti {
		t.Errorf("1 CPU: %d boots, TCG %q; want one, multi", len(b), b[0].TCG)
	}
	many := fmt.Sprint(runtime.NumCPU() + 1)
	if b := planned(t, "-kernel", kernel, "-cpus", many, "-inject", "membarrier-no-ipi"); len(b) != 1 || b[0].TCG != tcgMulti {
		t.Errorf("membarrier-no-ipi: TCG %q, want multi", b[0].TCG)
	}
	if b := planned(t, "-kernel", kernel, "-cpus", many, "-inject", "skip-exit-flush"); len(b) != 1 || b[0].TCG != tcgSingle {
		t.Errorf("skip-exit-flush at %s CPUs: TCG %q, want single", many, b[0].TCG)
	}
	for _, bad := range [][]string{{"-tcg", "both"}, {"-tcg", "single", "-kvm"}} {
		if rc, _, errs := runOut(append([]string{"-list", "-kernel", kernel, "-qemu", "/bin/true"}, bad...)...); rc != 2 || !strings.Contains(errs, "-tcg") {
			t.Errorf("%v: rc %d: %s", bad, rc, errs)
		}
	}
}

// The boots that run alone start first, each holding every slot: no other boot runs beside one.
func TestRunAlone(t *testing.T) {
	boots := []*Boot{{Label: "a"}, {Label: "b", Alone: true}, {Label: "c"}, {Label: "d", Alone: true}}
	if got := aloneFirst(boots); !slices.Equal(got, []int{1, 3, 0, 2}) {
		t.Errorf("start order %v, want [1 3 0 2]", got)
	}
	sem := make(chan struct{}, 2)
	if !acquire(context.Background(), sem, 2) || len(sem) != 2 {
		t.Fatalf("acquire 2 of 2 slots: %d held", len(sem))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	release(sem, 1)
	if acquire(ctx, sem, 2) || len(sem) != 1 {
		t.Errorf("an interrupted acquire must hold nothing: %d held, want the 1 held before", len(sem))
	}
}
