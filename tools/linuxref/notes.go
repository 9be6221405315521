package main

import "lazymm/kernel/catalog"

// known is a difference between Linux's count and lazymm's that is understood: Linux's count minus
// lazymm's (exactly, or at least that much with atLeast: the rest varies from run to run), or a
// count that depends on timing altogether; and why. docs/MM.md ("Against a real Linux") has the
// figures.
type known struct {
	delta   int64
	atLeast bool // more than delta happens too: rest says why
	timing  bool
	why     string
	rest    string
}

// Reasons shared by several patterns.
const (
	whyExec = "each new process is an exec, whose setup_arg_pages moves the stack: a 1-page flush, then a full flush " +
		"for the page table it frees (lazymm's newProc builds the mm whole)"
	whyKthread = "Linux's enter_lazy_tlb runs on every switch to a kernel thread, the idle task's included; lazymm counts " +
		"its scenario's kernel threads"
	whyRuntime = "Linux's also counts the Go runtime's own threads of the pattern process, as many as it made"
	whyWakeups = "Go runtime threads of the guest program that woke on a CPU running another mm"
)

var knownDiffs = map[string]map[string]known{
	catalog.MunmapShootdown: {
		"cr3_flush": {delta: -1, why: "lazymm counts CPU 0's first switch into the mm; in Linux that is the exec that starts " +
			"the pattern's process, before its window opens"},
		"lazy_entries": {timing: true, why: whyKthread},
	},
	catalog.ExitWhileLazy: {
		"range_flushes": {delta: 4, why: whyExec},
		"full_flushes":  {delta: 4, why: whyExec},
		"cr3_flush": {delta: 7, atLeast: true, why: "CPU 0's first switch into the mm comes before the window (-1); " +
			"after the exit CPU 0 goes back to the orchestrator (+1), which starts each new process from a thread of its " +
			"own on that CPU, a switch to its mm and back (+2 on CPUs 1-3, +1 on CPU 0)", rest: whyWakeups},
		"lazy_entries": {timing: true, why: whyKthread},
		"exits":        {timing: true, why: whyRuntime},
	},
	catalog.Membarrier: {
		"membarrier_ipis": {timing: true, why: "an IPI goes to each CPU running the mm at the scan; the napping CPUs' " +
			"naps fall differently from lazymm's kernel-thread switches"},
		"sb_control_forbidden_steady":    {timing: true, why: whySB},
		"sb_control_forbidden_switching": {timing: true, why: whySB},
		"lazy_entries":                   {timing: true, why: whyKthread},
		"exits":                          {timing: true, why: whyRuntime},
	},
	catalog.ForkExitStorm: {
		"range_flushes": {delta: 100, why: whyExec + "; 96 processes and the 4 spawners"},
		"full_flushes":  {delta: 100, why: whyExec + "; 96 processes and the 4 spawners"},
		"cr3_flush": {delta: 96, atLeast: true, why: "each process's CPU goes back to its spawner's mm after the exit (+96)",
			rest: "each CPU's switches into the orchestrator's thread that starts the spawner, into the spawner and to " +
				"init_mm at its exit (about +3 per CPU), and " + whyWakeups + " (CPU 0)"},
		"lazy_entries": {timing: true, why: whyKthread},
		"exits": {delta: 4, atLeast: true, why: "the 4 spawners", rest: "the orchestrator's threads that started them, " +
			"as many as ended inside the window"},
	},
}

const whySB = "store buffering shows only when both sides run at the same moment on two host cores: the count varies " +
	"from run to run in either kernel"

func knownDiff(pattern, counter string) (known, bool) {
	k, ok := knownDiffs[pattern][counter]
	return k, ok
}
