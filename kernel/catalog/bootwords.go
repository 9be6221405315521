package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BootWord is one word of the kernel's command line: a bare word (Value nil) or key=value, whose
// value Check validates. The runner writes them (its own words first), the kernel reads them.
type BootWord struct {
	Key   string
	Value func(string) error // nil: a bare word, no value
	Doc   string
}

// BootWords lists every word the kernel knows.
var BootWords = []BootWord{
	{"inject", oneOf(func() []string { return Names(Injections) }), "make this failure on purpose (runner -inject)"},
	{"tests", anyValue, "run only tests whose names start with one of these comma-separated prefixes"},
	{"scheme", listOf(Schemes), "run only the lazy-mm matrix, for these schemes (list, or all)"},
	{"scenario", listOf(Scenarios), "run only these scenarios (list, or all)"},
	{"parallel", oneOf(func() []string { return []string{"only", "skip"} }), "run only the tests that need real parallelism (only), or all but them (skip): the runner's split between QEMU's TCG modes"},
	{"seed", uintValue, "the torture scenario's seed"},
	{"duration", durationValue, "run the torture scenario this long (a Go duration), not 400 steps per CPU"},
	{"trace", oneOf(func() []string { return []string{"1"} }), "the lazy-mm scenarios dump their event trace (runner -trace)"},
	{"vdso", oneOf(func() []string { return []string{"off"} }), "no vDSO: the clock by system call"},
	{"acpi", oneOf(func() []string { return []string{"off"} }), "CPUs from the MP table, not the ACPI MADT (amd64)"},
	{"nopcid", nil, "no PCIDs even where the CPU has them (amd64)"},
	{"tlb", oneOf(func() []string { return []string{Mainline, Linux61} }), "x86's TLB rules: mainline's (the default) or Linux 6.1's (runner -tlb)"},
	{"tlbie", nil, "POWER radix flushes by broadcast tlbie, not IPIs (runner -mmu radix-tlbie)"},
	{"hash", nil, "POWER's hashed page table (runner -mmu hash)"},
	{"exitleave", nil, "POWER radix: lazy CPUs leave an mm at exit_mmap, as on x86 (runner -mmu radix-exitleave)"},
	{"nmi", oneOf(func() []string { return []string{"reset"} }), "POWER's NMI by system reset, not the soft NMI"},
	{"noprobebroadcast", nil, "POWER: munmap-shootdown's probe of the broadcast invalidation invalidates on its own CPU only (its negative control: the scenario is skipped, naming the other CPUs)"},
	{"nmistat", nil, "POWER prints its NMI counts and latency at exit"},
	{"exit", oneOf(func() []string { return []string{"boot"} }), "exit as soon as the kernel is up: the boot-time floor"},
}

// MMUWords are the boot words that select an MMU mode, by precedence (none: the arch's default).
var MMUWords = []struct{ Mode, Word string }{{"hash", "hash"}, {"radix-tlbie", "tlbie"}, {"radix-exitleave", "exitleave"}, {Linux61, "tlb=" + Linux61}}

// MaxCmdline is the longest command line both arches' kernels take whole (the runner refuses longer).
const MaxCmdline = 4096

// CheckWord validates one command-line word.
func CheckWord(w string) error {
	k, v, hasValue := strings.Cut(w, "=")
	i := slices.IndexFunc(BootWords, func(b BootWord) bool { return b.Key == k })
	switch {
	case i < 0:
		return fmt.Errorf("unknown word %q", w)
	case BootWords[i].Value == nil && hasValue:
		return fmt.Errorf("%q: %s takes no value", w, k)
	case BootWords[i].Value == nil:
		return nil
	case !hasValue:
		return fmt.Errorf("%q: %s needs a value (%s=...)", w, k, k)
	}
	if err := BootWords[i].Value(v); err != nil {
		return fmt.Errorf("%q: %v", w, err)
	}
	return nil
}

// CheckCmdline validates every word of a command line.
func CheckCmdline(line string) []error {
	var errs []error
	for _, w := range strings.Fields(line) {
		if err := CheckWord(w); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// WordValue returns the value of key=value in the command line, and whether it is there.
func WordValue(line, key string) (string, bool) {
	for _, w := range strings.Fields(line) {
		if k, v, ok := strings.Cut(w, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func anyValue(string) error { return nil }

func oneOf(known func() []string) func(string) error {
	return func(v string) error {
		if ks := known(); !slices.Contains(ks, v) {
			return fmt.Errorf("want one of %s", strings.Join(ks, ", "))
		}
		return nil
	}
}

func listOf(known []string) func(string) error {
	return func(v string) error {
		if _, bad := ParseList(v, known); bad != "" {
			return fmt.Errorf("unknown name %q (want a comma-separated list of %s, or all)", bad, strings.Join(known, ", "))
		}
		return nil
	}
}

func uintValue(v string) error {
	_, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return fmt.Errorf("want an unsigned integer")
	}
	return nil
}

func durationValue(v string) error {
	if d, err := time.ParseDuration(v); err != nil || d <= 0 {
		return fmt.Errorf("want a positive duration such as 30s")
	}
	return nil
}
