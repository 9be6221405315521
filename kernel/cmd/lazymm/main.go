// Command lazymm is the kernel's main: on bare metal it runs as the hosted Go program the arch layer
// boots into; started as a Linux process it runs the same suite on the host.
package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"lazymm/kernel/ktest"
	"lazymm/kernel/lazy"
	"lazymm/kernel/machine"
	"lazymm/kernel/suites/matrix"
	"lazymm/kernel/suites/smoke"
	"lazymm/kernel/suites/smp"
	"lazymm/kernel/suites/tlb"
)

// injection is a bug the kernel injects on purpose, the test that must fail because of it and the
// detector (check) that must report it: each proves the harness sees that kind of failure.
type injection struct {
	run    func(*ktest.T)
	catch  string // "" for failures that are not a detector's (a crash, a timeout)
	scen   string
	scheme string // the lazy-mm scheme the bug breaks (run is then that scheme under scen)
	set    *bool  // the kernel's switch for the bug
}

var injections = map[string]injection{
	"panic": {run: func(*ktest.T) {
		done := make(chan struct{})
		go func() { panic("injected panic") }()
		<-done
	}},
	"fault": {run: func(*ktest.T) {
		*(*uint64)(unsafe.Add(nil, badAddress)) = 1 // not mapped: a page fault at a bad address
	}},
	// the shim drops SIGURG (see shim/signal.go): the preemption test must not pass
	"no-preempt-signal": {run: smoke.Preempt},
	// the arch layer never starts the last AP: the online check must name it
	"ap-missing": {run: smp.Online, catch: "cpu-online"},
	// the arch layer writes into a frame it just freed: the quarantine's poison check must see it
	"write-after-free": {run: smoke.Poison, catch: "poison"},
	// the arch layer skips the remote TLB flush after munmap/MADV_DONTNEED: the stale read is caught
	"no-shootdown": {run: smp.Shootdown, catch: "stale-tlb"},
	// flush_tlb_mm_range sends no IPIs: CPUs running the mm keep stale translations
	"skip-flush-ipi": {run: nopcid, catch: tlb.DetectStaleTLB, scen: tlb.MunmapShootdown},
	// a lazy CPU coming back to its mm does not compare tlb_gen: it keeps the translations it missed
	"skip-lazy-catchup": {run: nopcid, catch: tlb.DetectStaleTLB, scen: tlb.MunmapShootdown},
	// freeing an mm skips the freed-tables flush: lazy CPUs keep its freed root in CR3
	"skip-exit-flush": {run: nopcid, catch: tlb.DetectCR3Audit, scen: tlb.MunmapShootdown},
	// POWER in tlbie mode: the broadcast tlbie is skipped, so CPUs running the mm keep stale translations
	"skip-tlbie": {run: nopcid, catch: tlb.DetectStaleTLB, scen: tlb.MunmapShootdown},
	// POWER's hash MMU: a flush does not remove the HPTEs, so every CPU keeps translating the old pages
	"skip-hpte-remove": {run: nopcid, catch: tlb.DetectStaleTLB, scen: tlb.MunmapShootdown},
	// a page table is freed while its parent still points to it: the next walk meets its poison
	"free-linked-table": {run: nopcid, catch: "poison-walk", scen: tlb.MunmapShootdown},
	// freeing an mm forgets one page-table page
	"leak-pagetable": {run: nopcid, catch: tlb.DetectLeak, scen: tlb.MunmapShootdown},
	// the lazy-mm engine's bugs: each breaks one scheme, in a scenario that must catch it
	"refcount-no-grab":        {scheme: "refcount", scen: "exit-while-lazy", catch: "lazy-freed-mm", set: &lazy.InjectRefcountNoGrab},
	"shootdown-no-ipi":        {scheme: "shootdown", scen: "exit-while-lazy", catch: "lazy-freed-mm", set: &lazy.InjectShootdownNoIPI},
	"mmput-unlazy-skip":       {scheme: "mmput-unlazy", scen: "exit-while-lazy", catch: "lazy-freed-mm", set: &lazy.InjectMMPutUnlazySkip},
	"loaded-mm-stale-mask":    {scheme: "loaded-mm", scen: "exit-while-lazy", catch: "cr3-audit", set: &lazy.InjectLoadedMMStaleMask},
	"hazard-no-scan":          {scheme: "hazard", scen: "exit-while-lazy", catch: "lazy-freed-mm", set: &lazy.InjectHazardNoScan},
	"nmi-no-check":            {scheme: "loaded-mm", scen: "exit-nmi", catch: "freed-mm", set: &lazy.InjectNMINoCheck},
	"temporary-mm-no-restore": {scheme: "refcount", scen: "temporary-mm", catch: "cr3-audit", set: &lazy.InjectTempMMNoRestore},
	"exit-flush-no-unlazy":    {scheme: "exit-flush-unlazy", scen: "exit-while-lazy", catch: "lazy-freed-mm", set: &lazy.InjectExitFlushNoUnlazy},
	"membarrier-no-ipi":       {scheme: "refcount", scen: "membarrier", catch: "membarrier", set: &lazy.InjectMembarrierNoIPI},
	// the last exit drops mm_users twice: lazy references keep the struct, so the count goes negative
	"mmput-twice": {scheme: "refcount", scen: "exit-while-lazy", catch: "refcount", set: &lazy.InjectMMPutTwice},
	"hang": {run: func(*ktest.T) {
		for atomic.LoadUint32(&never) == 0 { // spins with no calls: only a timeout ends it
			spins++
		}
	}},
}

func nopcid(t *ktest.T) { tlb.MunmapShootdownTest(t, false) }

var (
	badAddress uintptr = 0xdead0000
	never      uint32
	spins      uint64
)

func main() {
	m := machine.M
	args := os.Args[1:]
	cmdline := m.Cmdline()
	if cmdline == "" {
		cmdline = strings.Join(args, " ")
	}
	ktest.CPU = m.CPU
	ktest.Boot(m.Arch(), m.CPUs(), m.MemMB(), runtime.Version(), cmdline)

	var tests []ktest.Test
	inject, prefix, scenario, schemes := "", "", "", ""
	var bad []string
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "inject":
			inject = v
		case "tests":
			prefix = v
		case "scenario":
			scenario = v
		case "scheme":
			schemes = v
		case "trace": // trace=1: the lazy-mm scenarios dump their event trace (runner -trace)
			lazy.SetTrace(v == "1")
		case "seed", "duration": // the torture scenario's (kernel/lazytest/torture.go)
		case "vdso", "acpi", "nopcid", "tlbie", "hash", "nmi", "nmistat": // read by the arch layer at boot (vdso=off: clock by system call; acpi=off: CPUs from the MP table; nopcid: no PCIDs even if the CPU has them; tlbie: POWER flushes by broadcast tlbie, not IPIs; hash: POWER's hash MMU; nmi=reset: POWER's NMI by system reset, not the soft NMI; nmistat: POWER prints its NMI counts and latency at exit)
		default:
			bad = append(bad, a)
		}
	}
	if inject != "" {
		in, ok := injections[inject]
		switch {
		case !ok:
			bad = append(bad, "inject="+inject)
		case in.scheme != "":
			*in.set = true
			s, err := lazy.SchemeByName(in.scheme)
			sc, ok := matrix.ScenarioByName(in.scen)
			if err != nil || !ok {
				panic(fmt.Sprintf("injection %s names scheme %q and scenario %q", inject, in.scheme, in.scen))
			}
			tests = append(tests, needAddressSpaces(m, []ktest.Test{{Name: "inject/" + inject, Inject: inject, Scheme: in.scheme,
				Scenario: in.scen, Expect: "fail", Catch: in.catch, Run: func(t *ktest.T) { matrix.Run(t, s, sc) }}})...)
		case in.scen != "":
			if (inject == "skip-flush-ipi" || inject == "skip-lazy-catchup") && slices.ContainsFunc(strings.Fields(cmdline), func(w string) bool { return w == "tlbie" || w == "hash" }) {
				// POWER's broadcast flushes (tlbie, or hash's H_REMOVE) reach lazy CPUs too: what the
				// missing IPI still breaks is the move of lazy CPUs off an mm whose tables are freed
				// (radix: the tables; hash: the context, recycled), which the root audit sees
				in.catch = tlb.DetectCR3Audit
			}
			tests = append(tests, needAddressSpaces(m, []ktest.Test{{Name: "inject/" + inject, Inject: inject, Scenario: in.scen,
				Expect: "fail", Catch: in.catch, Run: in.run}})...)
		default:
			tests = append(tests, ktest.Test{Name: "inject/" + inject, Inject: inject, Scenario: in.scen, Expect: "fail", Catch: in.catch, Run: in.run})
		}
	} else {
		suite := smoke.Tests()
		sel, err := selectMatrix(schemes, scenario)
		if err != nil {
			bad = append(bad, err.Error())
		}
		if m.BareMetal() { // IPIs and NMIs exist only there; on the host the suite would test nothing
			suite = append(suite, smp.Tests()...)
			suite = append(suite, needAddressSpaces(m, append(tlb.Tests(), sel...))...)
		}
		matrixOnly := schemes != "" || scenario != ""
		for _, tc := range suite {
			if !hasAnyPrefix(tc.Name, prefix) {
				continue
			}
			if matrixOnly && !(strings.HasPrefix(tc.Name, "lazy/") || schemes == "" && scenarioIn(scenario, tc.Scenario)) {
				continue
			}
			tests = append(tests, tc)
		}
		if !matrixOnly {
			tests = append(tests, ktest.Test{Name: "smoke/report", Run: report})
		}
	}
	if len(bad) > 0 {
		tests = append([]ktest.Test{{Name: "cmdline", Run: func(t *ktest.T) {
			t.Check("cmdline", false, "unknown command-line words %q (known: inject=NAME, tests=PREFIX[,PREFIX...], scheme=LIST, scenario=LIST, vdso=off, acpi=off, nopcid)", bad)
		}}}, tests...)
	}
	ok, unexpected := ktest.Run(tests)
	ktest.Summary(len(tests), ok, unexpected)
	if unexpected > 0 {
		m.Exit(1)
	}
	m.Exit(0)
}

// needAddressSpaces makes tests skip, saying why, on an arch without test address spaces yet.
func needAddressSpaces(m machine.Machine, tests []ktest.Test) []ktest.Test {
	err := m.AddressSpaces()
	if err == nil {
		return tests
	}
	for i := range tests {
		tests[i].Run = func(t *ktest.T) { t.Skipf("%v", err) }
	}
	return tests
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

// selectMatrix returns the lazy-mm tests of the schemes and scenarios named (comma-separated lists,
// "all" or empty for every one).
func selectMatrix(schemes, scenarios string) ([]ktest.Test, error) {
	var ss []lazy.Scheme
	if schemes == "" || schemes == "all" {
		ss = lazy.Schemes
	} else {
		for _, name := range strings.Split(schemes, ",") {
			s, err := lazy.SchemeByName(name)
			if err != nil {
				return nil, fmt.Errorf("scheme=%s", name)
			}
			ss = append(ss, s)
		}
	}
	var scs []matrix.Scenario
	if scenarios == "" || scenarios == "all" {
		scs = matrix.Scenarios
	} else {
		for _, name := range strings.Split(scenarios, ",") {
			sc, ok := matrix.ScenarioByName(name)
			if !ok {
				return nil, fmt.Errorf("scenario=%s", name)
			}
			scs = append(scs, sc)
		}
	}
	return matrix.Tests(ss, scs), nil
}

func scenarioIn(list, name string) bool {
	if list == "all" {
		return name != ""
	}
	for _, s := range strings.Split(list, ",") {
		if s == name {
			return true
		}
	}
	return false
}

// hasAnyPrefix reports whether name starts with one of the comma-separated prefixes (tests=).
func hasAnyPrefix(name, prefixes string) bool {
	for _, p := range strings.Split(prefixes, ",") {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
