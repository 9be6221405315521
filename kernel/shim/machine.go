package shim

import (
	"fmt"
	"os"

	"lazymm/kernel/machine"
	"lazymm/mm"
)

// Machine is the arch-neutral half of machine.Machine on bare metal: what the shim knows (CPUs, the
// command line, system calls, IPIs and cross-calls) and mm.Frames. An arch's machine embeds it (and
// paging.Core) and adds what is its own: the arch's name, memory size, firmware CPUs, the cycle
// counter, its NMI's limits.
type Machine struct{}

func (Machine) BareMetal() bool                     { return true }
func (Machine) CPUs() int                           { return OnlineCPUs }
func (Machine) CPUOnline(cpu int) bool              { return cpu < OnlineCPUs }
func (Machine) CPU() int                            { return CPUID() }
func (Machine) Cmdline() string                     { return Cmdline() }
func (Machine) Exit(status int)                     { os.Exit(status) }
func (Machine) SyscallCounts() map[int]uint64       { return SyscallCounts() }
func (Machine) SendTestIPI(cpu int)                 { SendIPI(cpu, IPITest) }
func (Machine) SendTestIPIMask(mask uint64)         { SendIPIMask(mask, IPITest) }
func (Machine) SendTestIPIAllButSelf()              { SendIPIAllButSelf(IPITest) }
func (Machine) SendNMI(cpu int)                     { SendIPI(cpu, IPINMI) }
func (Machine) IPICounts(cpu int) machine.IPICounts { return IPICounts(cpu) }

func (Machine) CrossCall(mask uint64, op machine.CrossCallOp, arg uint64, wait bool) {
	PostCall(mask, uint32(op), arg, wait)
}

// ResidentFrames counts frames in use: the image, page tables, kernel objects and the runtime's memory.
func (Machine) ResidentFrames() uint64 {
	f := &mm.Frames
	return f.Count(mm.Image) + f.Count(mm.PageTable) + f.Count(mm.MMTable) + f.Count(mm.Runtime) + f.Count(mm.Object)
}

// Memory reports mm.Frames by kind and the quarantine's violations, read with interrupts off on this
// CPU (the allocator's lock is also taken in trap context).
func (Machine) Memory(drain bool) machine.MemReport {
	fl := IRQSave()
	if drain {
		mm.Frames.Drain()
	}
	n, v := mm.Frames.Violations()
	var counts [mm.NumKinds]uint64
	for k := range counts {
		counts[k] = mm.Frames.Count(mm.Kind(k))
	}
	IRQRestore(fl)
	r := machine.MemReport{Frames: map[string]uint64{}, Violations: n}
	for k, c := range counts {
		r.Frames[mm.Kind(k).String()] = c
	}
	for i := uint64(0); i < n && i < mm.MaxViolations; i++ {
		r.First = append(r.First, fmt.Sprintf("frame %#x offset %#x holds %#x", v[i].Frame, v[i].Offset, v[i].Value))
	}
	return r
}
