package amd64

import (
	"os"

	"lazymm/kernel"
	"lazymm/mm"
)

// machine is kernel.Machine on bare-metal amd64. It is registered only when bootMain ran, so the same
// binary started as a Linux process (host tests) keeps the hosted defaults.
type machine struct{}

// EntryPoint is the multiboot entry (boot32), for tools and tests.
var EntryPoint = bootEntry()

func bootEntry() uintptr

func init() {
	if bareMetal {
		kernel.Register(machine{})
	}
}

func (machine) Arch() string    { return "amd64" }
func (machine) BareMetal() bool { return true }
func (machine) CPUs() int       { return onlineCPUs }
func (machine) MemMB() int      { return int(memBytes >> 20) }
func (machine) Cmdline() string { return string(cmdlineBuf[:cmdlineLen]) }
func (machine) Exit(status int) { os.Exit(status) }

func (machine) SyscallCounts() map[int]uint64 {
	m := make(map[int]uint64)
	for nr := range syscallCounts {
		if n := syscallCounts[nr]; n != 0 {
			m[nr] = n
		}
	}
	return m
}

// ResidentFrames counts frames in use: the image, page tables, kernel objects and the runtime's memory.
func (machine) ResidentFrames() uint64 {
	return frames.Count(mm.Image) + frames.Count(mm.PageTable) + frames.Count(mm.Runtime) + frames.Count(mm.Object)
}
