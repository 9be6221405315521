// Package catalog is the one list of what lazymm runs and judges: arches and their MMU modes,
// lazy-mm schemes, scenarios, detectors, injected bugs (which scheme and scenario each breaks, where
// it applies, which detector must catch it there, the CPUs it needs), boot words and the metrics the
// host reads. The kernel, the runner, the tests and the benchmarks all derive their lists from it, so
// it imports nothing beyond the standard library.
package catalog

import (
	"slices"
	"strings"
)

// Arch is an architecture the kernel boots on, and how QEMU runs it.
type Arch struct {
	Name     string
	MMUs     []string // modes: MMU modes, or TLB rule sets (ModeFlag); the first is the default
	ModeFlag string   // the runner flag that picks a mode: mmu, or tlb where the modes are x86's TLB rules
	Machines []string // QEMU machines; the first is the default
	MaxCPUs  int      // the kernel's limit (mm.MaxCPUs)
}

// Arches are the supported architectures.
var Arches = []Arch{
	{Name: "amd64", MMUs: []string{Mainline, Linux61}, ModeFlag: "tlb", Machines: []string{"q35"}, MaxCPUs: 32},
	{Name: "ppc64", MMUs: []string{"radix", "radix-tlbie", "hash", "radix-exitleave"}, ModeFlag: "mmu", Machines: []string{"pseries", "powernv9"}, MaxCPUs: 32},
}

// x86's TLB rule sets (mm.X86Mainline): mainline's, after the lazily updated mm_cpumask (6.13), and
// Linux 6.1's (as Debian's 6.1.192 has them).
const (
	Mainline = "mainline"
	Linux61  = "6.1"
)

// ArchByName finds an arch.
func ArchByName(name string) (Arch, bool) {
	i := slices.IndexFunc(Arches, func(a Arch) bool { return a.Name == name })
	if i < 0 {
		return Arch{}, false
	}
	return Arches[i], true
}

// Scheme names (kernel/lazy/scheme_*.go implement them, docs/LAZY.md describes them).
const (
	Refcount        = "refcount"
	Shootdown       = "shootdown"
	MMPutUnlazy     = "mmput-unlazy"
	LoadedMM        = "loaded-mm"
	Hazard          = "hazard"
	ExitFlushUnlazy = "exit-flush-unlazy"
	NoActiveMM      = "no-active-mm"
	HazardRef       = "hazard-ref"
	ShootdownAll    = "shootdown-all"
)

// Schemes lists every lazy-mm scheme, in the order of reports.
var Schemes = []string{Refcount, Shootdown, MMPutUnlazy, LoadedMM, Hazard, ExitFlushUnlazy, NoActiveMM, HazardRef, ShootdownAll}

// Scenario names: the lazy-mm hazards (kernel/suites/matrix) and the TLB-shootdown scenario
// (kernel/suites/tlb), which also runs under each scheme.
const (
	SwitchStorm     = "switch-storm"
	ExitWhileLazy   = "exit-while-lazy"
	ExitNMI         = "exit-nmi"
	KthreadUseMM    = "kthread-use-mm"
	TemporaryMM     = "temporary-mm"
	Exec            = "exec"
	MaskTrim        = "mask-trim"
	ForkExitStorm   = "fork-exit-storm"
	ForkCOW         = "fork-cow"
	Membarrier      = "membarrier"
	CPUHotplug      = "cpu-hotplug"
	IdleLeaveMM     = "idle-leave-mm"
	RTDelayedMMDrop = "rt-delayed-mmdrop"
	Torture         = "torture"
	MunmapShootdown = "munmap-shootdown"
)

// Scenarios lists them in report order.
var Scenarios = []string{SwitchStorm, ExitWhileLazy, ExitNMI, KthreadUseMM, TemporaryMM, Exec, MaskTrim, ForkExitStorm, ForkCOW,
	Membarrier, CPUHotplug, IdleLeaveMM, RTDelayedMMDrop, Torture, MunmapShootdown}

// Class says what a detector reads.
type Class string

const (
	Machine   Class = "machine"   // CR3/PIDR and the tables behind them, a fault, a stale read through the MMU
	Memory    Class = "memory"    // poisoned or reused freed memory
	Assertion Class = "assertion" // the kernel's own bookkeeping
	Harness   Class = "harness"   // the harness itself: a crash, a hang, a missing CPU
)

// Detector names: the check= of a protocol fail line.
const (
	DetectStaleTLB    = "stale-tlb"     // a CPU read an old token through a virtual address after unmap and reuse
	DetectCR3Audit    = "cr3-audit"     // a CPU's loaded root (CR3, PIDR's entry, the SLB) is not a live address space's
	DetectPoisonWalk  = "poison-walk"   // a page walk met a freed, poisoned table
	DetectPoison      = "poison"        // a frame was written to while quarantined
	DetectLeak        = "leak"          // frames or address spaces not back to their baseline
	DetectIPICount    = "ipi-count"     // flush IPIs differ from the CPUs that needed one
	DetectTokens      = "token-setup"   // the pages did not hold their tokens before any unmap (harness error)
	DetectFreedMM     = "freed-mm"      // a path dereferenced a freed mm: its struct's memory is no live mm's
	DetectLazyFreedMM = "lazy-freed-mm" // a lazy CPU still names an mm after its __mmdrop
	DetectRefcount    = "refcount"      // mm_users or mm_count went negative
	DetectMembarrier  = "membarrier"    // a CPU ran the mm across an expedited membarrier without its barrier
	DetectNMIUaccess  = "nmi-uaccess"   // an NMI's user read through the MMU returned another mm's memory
	DetectUserFault   = "user-fault"    // a kernel thread's user access faulted: a live mm's page no longer translates
	DetectCPUOnline   = "cpu-online"    // a CPU the firmware lists never came up
	DetectCrash       = "crash"         // an exception or an unrecovered panic (the runner's)
	DetectTimeout     = "timeout"       // the boot did not end in time (the runner's)
)

// Detector is one check that judges a run.
type Detector struct {
	Name  string
	Class Class
}

// Detectors lists the detectors injected bugs are caught by.
var Detectors = []Detector{
	{DetectStaleTLB, Machine}, {DetectCR3Audit, Machine}, {DetectPoisonWalk, Memory}, {DetectPoison, Memory},
	{DetectLeak, Assertion}, {DetectIPICount, Assertion}, {DetectTokens, Assertion}, {DetectFreedMM, Memory},
	{DetectLazyFreedMM, Assertion}, {DetectRefcount, Assertion}, {DetectMembarrier, Assertion},
	{DetectNMIUaccess, Machine}, {DetectUserFault, Machine},
	{DetectCPUOnline, Harness}, {DetectCrash, Harness}, {DetectTimeout, Harness},
}

// ClassOf is a detector's class ("" for an unknown name).
func ClassOf(detector string) Class {
	for _, d := range Detectors {
		if d.Name == detector {
			return d.Class
		}
	}
	return ""
}

// Injection is a failure the kernel makes on purpose (runner -inject NAME, kernel word inject=NAME).
type Injection struct {
	Name string
	// Harness controls prove the harness sees a crash, a hang, a dropped signal, a missing CPU; they
	// are not bugs of a scheme or of the protocol, and -inject all leaves them out.
	Harness  bool
	Scheme   string // the lazy-mm scheme the bug breaks ("" for the core's and the harness's)
	Scenario string // the scenario whose test must catch it ("" for the suite test the kernel names)
	Catch    string // the detector that must report it ("" for a crash or a timeout)
	Arches   []string
	// MMUs restricts it to these MMU modes of its arches (nil: every mode).
	MMUs []string
	// Machines restricts it to these machines of its arches (nil: every machine): a bug in code only
	// that machine runs (powernv9's own hashed page table). -inject all and the matrix run it there.
	Machines []string
	// CatchOn overrides Catch on an MMU mode: where the hardware's own flush changes what the bug breaks.
	CatchOn map[string]string
	CPUs    int // the fewest CPUs that show the bug
	What    string
	// Equivalent, when set, says why the mutant cannot be caught here: the step it removes is
	// redundant in this model wherever it applies (an equivalent mutant). It is listed, and runs
	// with -inject NAME expecting a pass, but -inject all (Bugs) leaves it out; it names no detector.
	Equivalent string
}

var both = []string{"amd64", "ppc64"}

// POWER's broadcast flushes (tlbie, or hash's H_REMOVE) reach lazy CPUs too: what a missing flush IPI
// still breaks under hash is the move of lazy CPUs off an mm whose context is recycled, which the root
// audit sees. Under radix-tlbie a lazy CPU keeps the root through exit (Linux's radix), so flush IPIs
// are left with nothing to carry but trims: the modes where they carry flushes are flushIPIModes.
var (
	powerBroadcast = map[string]string{"hash": DetectCR3Audit}
	flushIPIModes  = []string{Mainline, Linux61, "radix", "hash", "radix-exitleave"}
)

// exitMovesLazy are the modes whose exit_mmap flush moves lazy CPUs off the mm (x86's rule; hash,
// whose context is recycled; radix-exitleave): the bugs whose harm is what that move leaves behind
// apply there. keepsRoot: where a lazy CPU keeps the root until its scheme moves it off (Linux's
// radix), a scheme that fails to is caught on the machine, by the root audit reading PIDR's entry.
var (
	exitMovesLazy = []string{Mainline, Linux61, "hash", "radix-exitleave"}
	// maskDropsLazy are the modes whose exit flush also takes lazy CPUs out of mm_cpumask: mainline
	// x86 leaves their bits (switch_mm_irqs_off no longer clears prev's), so there, as under radix's
	// kept root, the mask still holds every lazy CPU at __mmput and __mmdrop (mm.MaskHoldsLazy), and
	// the bugs that rely on the mask missing them are equivalent.
	maskDropsLazy = []string{Linux61, "hash", "radix-exitleave"}
	keepsRoot     = []string{"radix", "radix-tlbie"}
	keepRootAudit = map[string]string{keepsRoot[0]: DetectCR3Audit, keepsRoot[1]: DetectCR3Audit}
)

// cowFlushModes are the modes where a flush skipped at a copy-on-write copy leaves a translation of
// the old page: all but hash, where the HPTE goes with the writer's own retry.
var cowFlushModes = []string{Mainline, Linux61, "radix", "radix-tlbie", "radix-exitleave"}

// Injections lists every injection: the harness controls, then the bugs, in the order of reports.
var Injections = []Injection{
	{Name: "panic", Harness: true, Arches: both, CPUs: 1, What: "an unrecovered Go panic"},
	{Name: "fault", Harness: true, Arches: both, CPUs: 1, What: "a page fault at 0xdead0000"},
	{Name: "hang", Harness: true, Arches: both, CPUs: 1, What: "a spin with no calls, until the timeout"},
	{Name: "no-preempt-signal", Harness: true, Arches: both, CPUs: 1, What: "the shim drops SIGURG: smoke/preempt hangs"},
	{Name: "ap-missing", Harness: true, Catch: DetectCPUOnline, Arches: both, CPUs: 2, What: "the last AP is never started"},

	{Name: "no-shootdown", Catch: DetectStaleTLB, Arches: both, CPUs: 2, What: "the shim skips the remote flush after munmap/MADV_DONTNEED"},
	{Name: "write-after-free", Catch: DetectPoison, Arches: both, CPUs: 1, What: "the arch layer writes into a frame it just freed"},
	{Name: "skip-flush-ipi", Scenario: MunmapShootdown, Catch: DetectStaleTLB, CatchOn: powerBroadcast, Arches: both, MMUs: flushIPIModes, CPUs: 2,
		What: "flush_tlb_mm_range sends no IPIs: CPUs running the mm keep stale translations"},
	{Name: "skip-lazy-catchup", Scenario: MunmapShootdown, Catch: DetectStaleTLB, CatchOn: powerBroadcast, Arches: both, MMUs: flushIPIModes, CPUs: 3,
		What: "a lazy CPU coming back to its mm does not compare tlb_gen"},
	{Name: "skip-exit-flush", Scenario: MunmapShootdown, Catch: DetectCR3Audit, Arches: both, MMUs: exitMovesLazy, CPUs: 2,
		What: "freeing an mm skips the freed-tables flush: lazy CPUs keep its freed root loaded"},
	{Name: "leak-pagetable", Scenario: MunmapShootdown, Catch: DetectLeak, Arches: both, CPUs: 1, What: "freeing an mm forgets one page-table page"},
	{Name: "free-linked-table", Scenario: MunmapShootdown, Catch: DetectPoisonWalk, Arches: both, CPUs: 1,
		What: "a page table is freed while its parent still points to it"},
	{Name: "unmap-free-no-flush", Scenario: MunmapShootdown, Catch: DetectStaleTLB, Arches: []string{"amd64"}, CPUs: 2,
		What: "munmap frees the page tables it emptied (free_pgtables) but leaves the gather's freed_tables clear: the flush skips lazy CPUs, which keep translations made through the freed tables (ppc64 flushes lazy CPUs anyway; the page-walk cache flush it would skip there, QEMU does not model)"},
	{Name: "fork-no-flush", Scheme: Refcount, Scenario: ForkCOW, Catch: DetectStaleTLB, Arches: both, CPUs: 2,
		What: "dup_mmap skips flush_tlb_mm(oldmm): a CPU running the parent keeps a writable translation of a page fork write-protected, and writes into the page the child now shares, taking no fault"},
	{Name: "cow-no-flush", Scheme: Refcount, Scenario: ForkCOW, Catch: DetectStaleTLB, Arches: both, MMUs: cowFlushModes, CPUs: 2,
		What: "wp_page_copy's ptep_clear_flush clears the entry but does not flush: CPUs that translated the page, running or lazy, keep reading the old page after the copy (hash: the writer's retry meets its read-only HPTE, and the spurious fault's flush takes the HPTE out of the global hash table; Linux's hash drops it when the PTE changes: equivalent there)"},
	{Name: "skip-tlbie", Scenario: MunmapShootdown, Catch: DetectStaleTLB, Arches: []string{"ppc64"}, MMUs: []string{"radix", "radix-tlbie"}, CPUs: 2,
		What: "the broadcast tlbie is skipped (selects radix-tlbie)"},
	{Name: "skip-hpte-remove", Scenario: MunmapShootdown, Catch: DetectStaleTLB, Arches: []string{"ppc64"}, MMUs: []string{"hash"}, CPUs: 2,
		What: "a flush does not remove the HPTEs (selects hash)"},
	{Name: "hpt-no-tlbie", Scenario: MunmapShootdown, Catch: DetectStaleTLB, Arches: []string{"ppc64"}, MMUs: []string{"hash"}, Machines: []string{"powernv9"}, CPUs: 2,
		What: "powernv's own hashed page table: a removal clears the HPTE but issues no tlbie (native_hpte_invalidate without it): every CPU, the one that removed it too, keeps the translation (selects hash)"},

	{Name: "refcount-no-grab", CatchOn: keepRootAudit, Scheme: Refcount, Scenario: ExitWhileLazy, Catch: DetectFreedMM, Arches: both, CPUs: 2,
		What: "a kernel thread borrows active_mm without mmgrab"},
	{Name: "shootdown-no-ipi", CatchOn: keepRootAudit, Scheme: Shootdown, Scenario: ExitWhileLazy, Catch: DetectFreedMM, Arches: both, CPUs: 2,
		What: "the final __mmdrop skips the shootdown"},
	{Name: "mmput-unlazy-skip", CatchOn: keepRootAudit, Scheme: MMPutUnlazy, Scenario: ExitWhileLazy, Catch: DetectFreedMM, Arches: both, CPUs: 2,
		What: "the last mmput does not kick lazy CPUs"},
	{Name: "loaded-mm-stale-mask", Scheme: LoadedMM, Scenario: ExitWhileLazy, Catch: DetectCR3Audit, Arches: both, CPUs: 2,
		What: "mm_cpumask cleared on going lazy, before the CPU really switched"},
	{Name: "hazard-no-scan", CatchOn: keepRootAudit, Scheme: Hazard, Scenario: ExitWhileLazy, Catch: DetectFreedMM, Arches: both, CPUs: 2,
		What: "the freeing side ignores the hazard slots"},
	{Name: "nmi-no-check", Scheme: LoadedMM, Scenario: ExitNMI, Catch: DetectNMIUaccess, Arches: both, MMUs: exitMovesLazy, CPUs: 2,
		What: "the NMI handler dereferences active_mm without the scheme's check, and reads user memory through a root that is not active_mm's (text_poke's, under a user task); no kernel thread names a freed mm: mainline x86's mask keeps the lazy CPUs for __mmdrop's IPIs, and elsewhere loaded-mm's flush IPIs unlazy them (without that, loaded-mm-keep-active)"},
	{Name: "temporary-mm-no-restore", Scheme: Refcount, Scenario: TemporaryMM, Catch: DetectCR3Audit, Arches: both, CPUs: 2,
		What: "unuse_temporary_mm does not switch back"},
	{Name: "exit-flush-no-unlazy", Scheme: ExitFlushUnlazy, Scenario: ExitWhileLazy, Catch: DetectFreedMM, Arches: both, MMUs: maskDropsLazy, CPUs: 2,
		What: "exit_mmap's flush moves lazy CPUs' root but leaves their active_mm (where the mask keeps them, mainline x86, the backstop shootdown to mm_cpumask catches them: equivalent there)"},
	{Name: "membarrier-no-ipi", Scheme: Refcount, Scenario: Membarrier, Catch: DetectMembarrier, Arches: both, CPUs: 2,
		What: "the expedited membarrier sends no IPIs"},
	{Name: "mmput-twice", Scheme: Refcount, Scenario: KthreadUseMM, Catch: DetectUserFault, Arches: both, CPUs: 2,
		What: "the owner's exit drops its mm_users reference twice: __mmput tears the mm down under kthread_use_mm's user"},
	{Name: "exec-keep-active", Scheme: Refcount, Scenario: Exec, Catch: DetectFreedMM, Arches: both, CPUs: 2,
		What: "exec_mmap sets tsk->mm but leaves tsk->active_mm on the old mm: the next kernel thread borrows it, and its lazy reference is dropped from the wrong mm"},
	{Name: "exec-no-activate", Scheme: Refcount, Scenario: Exec, Catch: DetectUserFault, Arches: both, CPUs: 2,
		What: "exec_mmap skips activate_mm: the new program runs on the old mm's tables, which its mmput tears down"},
	{Name: "refcount-exit-no-grab", Scheme: Refcount, Scenario: ExitWhileLazy, Catch: DetectFreedMM, Arches: both, CPUs: 2,
		What: "exit_mm skips mmgrab_lazy_tlb: the exiting task's lazy reference is dropped without being taken"},
	{Name: "refcount-no-drop", Scheme: Refcount, Scenario: ExitWhileLazy, Catch: DetectLeak, Arches: both, CPUs: 2,
		What: "finish_task_switch skips mmdrop_lazy_tlb_sched(rq->prev_mm): the mm never dies"},
	{Name: "shootdown-cpumask", Scheme: Shootdown, Scenario: ExitWhileLazy, Catch: DetectFreedMM, Arches: both, MMUs: maskDropsLazy, CPUs: 2,
		What: "cleanup_lazy_tlbs IPIs mm_cpumask (powerpc's target), not every CPU: the freed-tables flush took lazy CPUs out of it (under radix's kept root and mainline x86's lazily trimmed mask the mask is a superset: equivalent there)"},
	{Name: "shoot-keep-active", Scheme: Shootdown, Scenario: ExitWhileLazy, Catch: DetectFreedMM, Arches: both, CPUs: 2,
		What: "do_shoot_lazy_tlb skips current->active_mm = &init_mm"},
	{Name: "shoot-no-leave", Scheme: Shootdown, Scenario: ExitWhileLazy, Catch: DetectCR3Audit, Arches: both, MMUs: keepsRoot, CPUs: 2,
		What: "do_shoot_lazy_tlb skips switch_mm(mm, &init_mm): the lazy CPU keeps the mm's PID (where the exit flush moved it, equivalent)"},
	{Name: "mmput-unlazy-late", Scheme: MMPutUnlazy, Scenario: ExitWhileLazy, Catch: DetectFreedMM, Arches: both, MMUs: maskDropsLazy, CPUs: 2,
		What: "__mmput kicks mm_cpumask after exit_mmap, not before: the freed-tables flush took lazy CPUs out of it (where they keep the root, powerpc's mask still holds them, and mainline x86's keeps their bits: equivalent there)"},
	{Name: "loaded-mm-no-ipi", Scheme: LoadedMM, Scenario: ExitWhileLazy, Catch: DetectCR3Audit, Arches: both, MMUs: keepsRoot, CPUs: 2,
		What: "__mmdrop sends no IPI to mm_cpumask: a lazy CPU keeps the mm's PID (where the exit flush moved it, equivalent)"},
	{Name: "hazard-no-publish", Scheme: Hazard, Scenario: ExitWhileLazy, Catch: DetectFreedMM, Arches: both, CPUs: 2,
		What: "enter_lazy_tlb does not publish the mm in the CPU's hazard slot"},
	{Name: "hazard-no-clear", Scheme: Hazard, Scenario: SwitchStorm, Arches: both, CPUs: 2,
		What:       "a switch to a user task does not clear the CPU's hazard slot",
		Equivalent: "a stale slot only draws one more IPI to a CPU no longer on the mm, whose do_shoot_lazy_tlb clears it (switch-storm: 6 shoot IPIs, not 5; shoot_ipis_unneeded stays 0, as clearing the slot counts as work)"},
	{Name: "exit-flush-no-backstop", Scheme: ExitFlushUnlazy, Scenario: ExitWhileLazy, Arches: both, CPUs: 2,
		What:       "__mmdrop skips the backstop shootdown to mm_cpumask after exit_flush_lazy_tlbs",
		Equivalent: "exit_mmap's unlazying flush reaches every lazy CPU (mm_cpumask holds them all then), so the backstop finds nothing"},
	{Name: "no-active-mm-no-scan", Scheme: NoActiveMM, Scenario: ExitWhileLazy, Catch: DetectCR3Audit, Arches: both, MMUs: keepsRoot, CPUs: 2,
		What: "__mmdrop does not scan the CPUs' loaded_mm: a lazy CPU keeps the mm's PID (where the exit flush moved it, equivalent)"},
	{Name: "temporary-mm-no-leave", Scheme: Shootdown, Scenario: TemporaryMM, Arches: both, CPUs: 2,
		What:       "use_temporary_mm does not leave_mm a lazy mm first: unuse_temporary_mm switches back to it, not lazy",
		Equivalent: "the CPU then runs its kernel thread on the mm un-lazily: loaded_mm and mm_cpumask name it, so the exit flush, every scheme's cleanup and refcount's reference still cover it; the cost is flushes a lazy CPU would skip"},
	{Name: "unuse-mm-no-mmput", Scheme: Refcount, Scenario: KthreadUseMM, Catch: DetectLeak, Arches: both, CPUs: 2,
		What: "kthread_unuse_mm's caller skips its mmput: the mm never dies"},
	{Name: "exit-mm-no-handoff", Scheme: Refcount, Scenario: ExitWhileLazy, Catch: DetectLeak, Arches: both, CPUs: 2,
		What: "context_switch does not hand the dead task's active_mm (and exit_mm's lazy reference) to the next kernel thread"},
	{Name: "membarrier-no-ipi-mb", Scheme: Refcount, Scenario: Membarrier, Arches: both, CPUs: 3,
		What:       "ipi_mb executes no smp_mb(): a CPU that stayed in the mm orders nothing for the membarrier",
		Equivalent: "not shown under TCG: 0 forbidden outcomes in 12000 membarrier iterations of the store-buffering test (3 runs of 2000 with CPU 1 staying in the mm and 2000 with CPU 2 switching) on amd64 and on ppc64 radix with the barrier removed, 186 (amd64) and 81 (ppc64) in as many control iterations; QEMU delivers the interrupt under its global lock, whose locked host instruction drains the target's store buffer before ipi_mb runs"},
	{Name: "membarrier-curr-plain", Scheme: NoActiveMM, Scenario: Membarrier, Arches: both, CPUs: 3,
		What:       "context_switch stores rq->curr with no full barrier after it (no-active-mm: nothing else orders the kernel thread -> user path)",
		Equivalent: "not shown under TCG: 0 forbidden outcomes in 6000 iterations with CPU 2 switching back from a kernel thread (about half of them with no IPI: the scan saw the kernel thread) on amd64 and on ppc64 radix, 27 (amd64) and 24 (ppc64) in the 6000 control iterations; the store would have to stay in the host's store buffer across the membarrier's whole scan; on ppc64 the switch's trace hook (an atomic load, sync) is a full barrier after the store anyway"},
	{Name: "membarrier-lazy-no-mb", Scheme: Shootdown, Scenario: Membarrier, Arches: both, CPUs: 3,
		What:       "mmdrop_lazy_tlb without refcounting executes no smp_mb() on the kernel thread -> user path",
		Equivalent: "the rq->curr store before it is itself a full barrier here (amd64: XCHG; ppc64: the trace hook's sync), unlike Linux's plain store; and not shown under TCG: 0 forbidden outcomes in 6000 iterations with CPU 2 switching back from a kernel thread on amd64 and on ppc64 radix, 35 (amd64) and 27 (ppc64) in the 6000 control iterations"},
	{Name: "nmi-no-uaccess-check", Scheme: Refcount, Scenario: ExitNMI, Catch: DetectNMIUaccess, Arches: both, CPUs: 2,
		What: "nmi_uaccess_okay always says yes: an NMI on a user task under text_poke's temporary mm reads its stack through the poking mm"},
	{Name: "hazard-ref-no-convert", CatchOn: keepRootAudit, Scheme: HazardRef, Scenario: ExitWhileLazy, Catch: DetectFreedMM, Arches: both, CPUs: 2,
		What: "mm_unlazy_mm_count skips the lazy_mm slots: __mmput's mmdrop frees the mm under the CPUs still lazy on it"},
	{Name: "hazard-ref-drop-in-use", CatchOn: keepRootAudit, Scheme: HazardRef, Scenario: ExitWhileLazy, Catch: DetectFreedMM, Arches: both, CPUs: 2,
		What: "mmdrop_lazy drops rq->drop_mm while rq->lazy_mm still names it: the reference the scan gave a lazy CPU goes at its next switch between kernel threads"},
	{Name: "loaded-mm-keep-active", Scheme: LoadedMM, Scenario: ExitWhileLazy, Catch: DetectFreedMM, Arches: both, MMUs: maskDropsLazy, CPUs: 2,
		What: "flush_tlb_func's lazy case switches to init_mm without unlazy_mm_irqs_off: active_mm keeps naming the mm after the CPU left mm_cpumask, and __mmdrop's IPIs miss it (mainline x86 keeps the bit, radix keeps the root: equivalent there)"},
	{Name: "shootdown-all-not-self", CatchOn: keepRootAudit, Scheme: ShootdownAll, Scenario: ExitWhileLazy, Catch: DetectFreedMM, Arches: both, CPUs: 2,
		What: "cleanup_lazy_tlbs IPIs every other CPU (smp_call_function_many), not this one (on_each_cpu): the freeing CPU, lazy on the mm since exit_mm, keeps naming it"},
	{Name: "hotplug-no-idle-exit", Scheme: Shootdown, Scenario: CPUHotplug, Catch: DetectCR3Audit, Arches: both, CPUs: 2,
		What: "idle_task_exit skips switch_mm(mm, &init_mm): the CPU parks offline on the mm's root, the mm's teardown (its IPIs skip offline CPUs) frees it, and the CPU comes back on a freed root (6.2-6.4's window under MMU_LAZY_TLB_SHOOTDOWN, where the switch came only after __cpu_disable)"},
	{Name: "hotplug-drop-early", Scheme: Refcount, Scenario: CPUHotplug, Catch: DetectFreedMM, Arches: both, CPUs: 2,
		What: "the dying CPU drops its lazy reference, as mainline's sched_force_init_mm does, but leaves active_mm on the mm: 6.1's finish_cpu drops it again"},
	{Name: "idle-leave-no-switch", Scheme: Shootdown, Scenario: IdleLeaveMM, Catch: DetectStaleTLB, CatchOn: keepRootAudit, Arches: both, MMUs: idleLeaveModes, CPUs: 2,
		What: "the deep-idle entry's leave_mm clears the CPU's mm_cpumask bit and lazy state but does not switch to init_mm (powerpc, which has no leave_mm, gets the same in its idle entry): an unmap's flush skips the idle CPU, which comes back to the mm on its stale TLB; where lazy CPUs keep the root (radix), __mmdrop's shootdown to mm_cpumask misses it too and the root audit finds the freed root (radix-tlbie's broadcast flush leaves no stale entry; radix-exitleave and hash: not applied, their shootdown reaches every CPU and the stale entry does not survive multi-threaded TCG)"},
	{Name: "rt-mmdrop-drain-twice", Scheme: Refcount, Scenario: RTDelayedMMDrop, Catch: DetectFreedMM, Arches: both, CPUs: 1,
		What: "rcu_do_batch does not cut the callbacks it ran from the list: the next batch runs __mmdrop_delayed again, on the mm it freed"},
}

// idleLeaveModes are where idle-leave-no-switch is caught: x86's, whose flushes reach the idle CPU
// only through mm_cpumask, and radix's kept root.
var idleLeaveModes = []string{Mainline, Linux61, keepsRoot[0], keepsRoot[1]}

// InjectionByName finds an injection.
func InjectionByName(name string) (Injection, bool) {
	i := slices.IndexFunc(Injections, func(in Injection) bool { return in.Name == name })
	if i < 0 {
		return Injection{}, false
	}
	return Injections[i], true
}

// AppliesTo says whether the injection runs on this arch and MMU mode ("" for the arch's default).
func (in Injection) AppliesTo(arch, mmu string) bool {
	if !slices.Contains(in.Arches, arch) {
		return false
	}
	if a, ok := ArchByName(arch); ok && mmu == "" {
		mmu = a.MMUs[0]
	}
	return in.MMUs == nil || slices.Contains(in.MMUs, mmu)
}

// AppliesOn says whether the injection runs on this machine ("" for the arch's default, where only
// the injections with no Machines run).
func (in Injection) AppliesOn(machine string) bool {
	return in.Machines == nil || slices.Contains(in.Machines, machine)
}

// Detector is the detector that must catch the injection on this MMU mode.
func (in Injection) Detector(mmu string) string {
	if d, ok := in.CatchOn[mmu]; ok {
		return d
	}
	return in.Catch
}

// Bugs are the injections -inject all runs on an arch and MMU mode of its default machine: every
// bug that applies there.
func Bugs(arch, mmu string) []Injection { return BugsOn(arch, mmu, "") }

// BugsOn are the injections -inject all runs on an arch, MMU mode and machine.
func BugsOn(arch, mmu, machine string) []Injection {
	var out []Injection
	for _, in := range Injections {
		if !in.Harness && in.Equivalent == "" && in.AppliesTo(arch, mmu) && in.AppliesOn(machine) {
			out = append(out, in)
		}
	}
	return out
}

// Names returns the names of injections.
func Names(ins []Injection) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.Name
	}
	return out
}

// ParseList checks a comma-separated list (or "all", or empty) against known names; it returns the
// names, all of known for "all", and the first unknown name.
func ParseList(v string, known []string) (names []string, unknown string) {
	if v == "" {
		return nil, ""
	}
	if v == "all" {
		return slices.Clone(known), ""
	}
	for _, w := range strings.Split(v, ",") {
		if !slices.Contains(known, w) {
			return nil, w
		}
		names = append(names, w)
	}
	return names, ""
}

// Unsound is a finding of the lab: a scheme that a scenario shows unsound on some modes. Its matrix
// test there must fail, caught by Catch, as an injected bug must: a scheme that starts passing it has
// changed, or the scenario has stopped showing the hazard.
type Unsound struct {
	Scheme, Scenario string
	MMUs             []string // the modes where it fails (the arch follows from the mode)
	CPUs             int      // the fewest CPUs that show it
	Catch            string
	Why              string
}

// Unsounds lists the findings. In exitMovesLazy's modes a lazy CPU that a freed-tables flush sends
// to init_mm leaves mm_cpumask while its kernel thread keeps active_mm: at once (6.1's x86, hash,
// radix-exitleave), or at the next trimming flush (mainline x86).
var Unsounds = []Unsound{
	{MMPutUnlazy, MaskTrim, exitMovesLazy, 2, DetectFreedMM,
		"__mmput kicks mm_cpumask, which no longer holds the CPUs a freed-tables flush sent to init_mm under their kernel threads"},
	{ExitFlushUnlazy, MaskTrim, exitMovesLazy, 2, DetectFreedMM,
		"the exit flush unlazies mm_cpumask and the backstop shoots it, neither reaching the CPUs a freed-tables flush sent to init_mm earlier"},
	{Shootdown, MaskTrim, []string{Mainline}, 2, DetectFreedMM,
		"cleanup_lazy_tlbs IPIs mm_cpumask, which mainline x86 keeps a superset of lazy CPUs only until a trimming flush: a CPU sent to init_mm by a freed-tables flush (or by leave_mm) keeps its kernel thread's active_mm but loses its bit"},
}

// UnsoundOn finds the finding for a scheme, scenario and mode.
func UnsoundOn(scheme, scenario, mode string) (Unsound, bool) {
	for _, u := range Unsounds {
		if u.Scheme == scheme && u.Scenario == scenario && slices.Contains(u.MMUs, mode) {
			return u, true
		}
	}
	return Unsound{}, false
}
