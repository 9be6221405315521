package tests

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// The rule for code on trap paths (exceptions, interrupts, the syscall shim): no allocation, no stack
// growth, no runtime locks. It is checked on the linked kernel: every function reachable by direct
// calls and jumps from the entry stubs must have no stack-check prologue (no call to
// runtime.morestack*), which rules out the allocator, the runtime's locks and the scheduler, all of
// which are stack-checked; and no reachable function may make an indirect call (which this analysis
// could not follow). Jump tables (indirect JMP) stay inside their function and are allowed.
var trapRoots = []string{"lazymm/arch/amd64.vectors.abi0", "lazymm/arch/amd64.syscallEntry.abi0",
	"lazymm/arch/amd64.trapCommon.abi0", "lazymm/arch/amd64.nmiCommon.abi0"}

type textImage struct {
	funcs []elf.Symbol // sorted by address
	text  *elf.Section
	code  []byte
}

func loadText(t *testing.T, path string) *textImage {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	im := &textImage{text: f.Section(".text")}
	im.code, _ = im.text.Data()
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Value >= im.text.Addr && s.Value < im.text.Addr+im.text.Size {
			im.funcs = append(im.funcs, s)
		}
	}
	sort.Slice(im.funcs, func(i, j int) bool { return im.funcs[i].Value < im.funcs[j].Value })
	return im
}

func (im *textImage) find(addr uint64) int {
	i := sort.Search(len(im.funcs), func(i int) bool { return im.funcs[i].Value > addr }) - 1
	if i < 0 || addr >= im.funcs[i].Value+im.funcs[i].Size {
		return -1
	}
	return i
}

// trapViolations returns, for each rule broken, the call path from an entry stub.
func trapViolations(t *testing.T, path string) []string {
	im := loadText(t, path)
	byName := map[string]int{}
	for i, s := range im.funcs {
		byName[s.Name] = i
	}
	parent := map[int]int{}
	var queue []int
	for _, r := range trapRoots {
		i, ok := byName[r]
		if !ok {
			t.Fatalf("entry %s not in the kernel", r)
		}
		parent[i] = -1
		queue = append(queue, i)
	}
	pathTo := func(i int) string {
		var p []string
		for ; i >= 0; i = parent[i] {
			p = append([]string{im.funcs[i].Name}, p...)
		}
		return strings.Join(p, " -> ")
	}
	var bad []string
	for len(queue) > 0 {
		fi := queue[0]
		queue = queue[1:]
		fn := im.funcs[fi]
		code := im.code[fn.Value-im.text.Addr : fn.Value-im.text.Addr+fn.Size]
		for pc := uint64(0); pc < uint64(len(code)); {
			inst, err := x86asm.Decode(code[pc:], 64)
			if err != nil {
				pc++
				continue
			}
			next := fn.Value + pc + uint64(inst.Len)
			if inst.Op == x86asm.CALL || inst.Op == x86asm.JMP || inst.Op >= x86asm.JA && inst.Op <= x86asm.JS {
				switch a := inst.Args[0].(type) {
				case x86asm.Rel:
					target := uint64(int64(next) + int64(a))
					ti := im.find(target)
					if ti >= 0 && ti != fi {
						name := im.funcs[ti].Name
						if strings.HasPrefix(name, "runtime.morestack") {
							bad = append(bad, "stack check in "+pathTo(fi))
						} else if _, seen := parent[ti]; !seen {
							parent[ti] = fi
							queue = append(queue, ti)
						}
					}
				default:
					if inst.Op == x86asm.CALL {
						bad = append(bad, fmt.Sprintf("indirect call (%s) in %s", inst, pathTo(fi)))
					}
				}
			}
			pc += uint64(inst.Len)
		}
	}
	sort.Strings(bad)
	return bad
}

func TestTrapPathRules(t *testing.T) {
	if bad := trapViolations(t, kernel); len(bad) > 0 {
		t.Errorf("trap-path rule broken:\n%s", strings.Join(bad, "\n"))
	}
}

// Negative control: a kernel whose trap path allocates (built with -tags lazymm_trapalloc) links, and
// the check must catch it.
func TestTrapPathRulesCatchAllocation(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.elf")
	cmd := exec.Command("go", "build", "-tags", "lazymm_trapalloc", "-o", bad, "./kernel/cmd/lazymm")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", kernelGOFLAGS())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the injected kernel: %v\n%s", err, out)
	}
	found := false
	for _, v := range trapViolations(t, bad) {
		// trapInjected is inlined into trap: the path runs trap -> runtime.makeslice -> mallocgc
		if strings.HasPrefix(v, "stack check in ") && strings.Contains(v, "amd64.trap -> runtime.makeslice") {
			found = true
		}
	}
	if !found {
		t.Fatal("an allocation on the trap path (trapInjected's makeslice) was not caught")
	}
}
