package lazy

import (
	"errors"

	"lazymm/kernel/machine"
	"lazymm/mm"
)

var errForkNoMM = errors.New("fork: the current task has no mm of its own")

// Injected bugs of the fork-cow scenario, carried out by the paging layer: dup_mmap skips
// flush_tlb_mm(oldmm), so a CPU running the parent keeps writable translations of pages now shared
// with the child; wp_page_copy's ptep_clear_flush clears the entry without the flush, so CPUs keep
// translating the page to the old frame.
var (
	InjectForkNoFlush bool
	InjectCOWNoFlush  bool
)

// Fork is fork()'s copy_mm on the current user task (kernel/fork.c, 6.1: copy_mm → dup_mm →
// dup_mmap): the child gets a new mm, a copy-on-write copy of the current task's (every private
// writable page write-protected in both, then flush_tlb_mm on the parent's: machine.Paging.ForkMM),
// with its own mm_users and mm_count; the parent's mm gains no reference. The child does not run
// until the caller switches to it. Left out: everything of fork that is not the mm.
func (c *CPU) Fork() (*Task, error) {
	t := c.Curr()
	if t.MM == 0 || t.IsKthread() {
		return nil, errForkNoMM
	}
	if !checkMM(c.ID, t.MM, t.MMCtx, atGet) {
		return nil, errForkNoMM
	}
	child, err := machine.M.ForkMM(mm.At(t.MM))
	if err != nil {
		return nil, err
	}
	nt, err := NewTask(child)
	if err != nil { // the child's mm goes as its mmput would take it: exit_mmap, then __mmdrop's free
		machine.M.ExitMMap(child, false)
		machine.M.FreePGD(child)
		return nil, err
	}
	return nt, nil
}
