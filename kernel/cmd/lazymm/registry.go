package main

import (
	"runtime"
	"sort"
	"strconv"
	"sync/atomic"
	"unsafe"

	"lazymm/kernel/catalog"
	"lazymm/kernel/ktest"
	"lazymm/kernel/lazy"
	"lazymm/kernel/machine"
	"lazymm/kernel/suites/matrix"
	"lazymm/kernel/suites/smoke"
	"lazymm/kernel/suites/smp"
	"lazymm/kernel/suites/tlb"
)

// registry maps every test name the catalogue can plan to its body: the suites, every scheme ×
// scenario, the run's report, and each injection's test.
func registry() map[string]func(*ktest.T) {
	runs := map[string]func(*ktest.T){catalog.ReportTest: report}
	for _, suite := range [][]ktest.Test{smoke.Tests(), smp.Tests(), tlb.Tests()} {
		for _, tc := range suite {
			runs[tc.Name] = tc.Run
		}
	}
	for _, s := range lazy.Schemes {
		for _, sc := range matrix.Scenarios {
			runs[catalog.MatrixTest(s.Name(), sc.Name)] = func(t *ktest.T) { matrix.Run(t, s, sc) }
		}
	}
	for _, in := range catalog.Injections {
		if run := injectionRun(in); run != nil {
			runs[catalog.InjectTest(in.Name)] = run
		}
	}
	return runs
}

// harnessRuns are the bodies of the injections that are not a scheme's or the TLB scenario's: a
// crash, a hang, or the suite test that must see the arch layer's or the shim's bug.
var harnessRuns = map[string]func(*ktest.T){
	"panic": func(*ktest.T) {
		done := make(chan struct{})
		go func() { panic("injected panic") }()
		<-done
	},
	"fault": func(*ktest.T) {
		*(*uint64)(unsafe.Add(nil, badAddress)) = 1 // not mapped: a page fault at a bad address
	},
	"hang": func(*ktest.T) {
		for atomic.LoadUint32(&never) == 0 { // spins with no calls: only a timeout ends it
			spins++
		}
	},
	"no-preempt-signal": smoke.Preempt, // the shim drops SIGURG: preemption must not pass
	"ap-missing":        smp.Online,    // the last AP is never started: the online check names it
	"write-after-free":  smoke.Poison,  // the quarantine's poison check must see the write
	"no-shootdown":      smp.Shootdown, // no remote flush after MADV_DONTNEED: a stale read
}

var (
	badAddress uintptr = 0xdead0000
	never      uint32
	spins      uint64
)

// injectionRun is the test body that must catch an injection.
func injectionRun(in catalog.Injection) func(*ktest.T) {
	switch {
	case in.Scheme != "":
		s, err := lazy.SchemeByName(in.Scheme)
		sc, ok := matrix.ScenarioByName(in.Scenario)
		if err != nil || !ok {
			return nil
		}
		return func(t *ktest.T) { matrix.Run(t, s, sc) }
	case in.Scenario == catalog.MunmapShootdown:
		return func(t *ktest.T) { tlb.MunmapShootdownTest(t, false) }
	}
	return harnessRuns[in.Name]
}

// report emits the run's figures: heap, resident frames and the system calls the runtime made.
func report(t *ktest.T) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Metric("heap_sys_mb", float64(ms.HeapSys>>20))
	t.Metric("heap_alloc_mb", float64(ms.HeapAlloc>>20))
	t.Metric("num_gc", float64(ms.NumGC))
	t.Metric("resident_frames", float64(machine.M.ResidentFrames()))
	counts := machine.M.SyscallCounts()
	nrs := make([]int, 0, len(counts))
	for nr := range counts {
		nrs = append(nrs, nr)
	}
	sort.Ints(nrs)
	for _, nr := range nrs {
		t.Metric("sys_"+strconv.Itoa(nr), float64(counts[nr]))
	}
}
