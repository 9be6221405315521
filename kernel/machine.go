// Package kernel is the arch-neutral core of lazymm. This file is the small interface through which the
// core asks the machine it runs on for facts; arch/<arch> registers the bare-metal implementation at init.
package kernel

import (
	"errors"
	"runtime"
	"time"
)

// Machine is what the arch layer tells the arch-neutral kernel about the hardware and the hosting shim.
type Machine interface {
	Arch() string                  // "amd64", "ppc64"
	BareMetal() bool               // false when the image runs as an ordinary Linux process (host tests)
	CPUs() int                     // CPUs online
	MemMB() int                    // usable RAM in MiB
	Cmdline() string               // the boot command line as the loader gave it
	SyscallCounts() map[int]uint64 // system calls the hosted runtime made, by number
	ResidentFrames() uint64        // physical frames in use by the kernel and the runtime
	Exit(status int)               // end the machine with this status (never returns)
	// Memory reports frames by kind and the writes found in quarantined (freed) frames; drain first
	// releases the whole quarantine, so every freed frame's poison is checked now.
	Memory(drain bool) MemReport
	SMP
	Paging
}

// MemReport is a leak and use-after-free report of physical frames.
type MemReport struct {
	Frames     map[string]uint64 // by kind
	Violations uint64            // quarantined frames found written to
	First      []string          // the first few: frame, offset, value
}

// M is the machine this kernel runs on; hosted until an arch package registers itself.
var M Machine = hosted{NoPaging{errNoPaging}}

// Register installs the bare-metal machine; called from the arch package's init.
func Register(m Machine) { M = m }

type hosted struct{ NoPaging }

func (hosted) Arch() string                  { return runtime.GOARCH }
func (hosted) BareMetal() bool               { return false }
func (hosted) CPUs() int                     { return runtime.NumCPU() }
func (hosted) MemMB() int                    { return 0 }
func (hosted) Cmdline() string               { return "" }
func (hosted) SyscallCounts() map[int]uint64 { return nil }
func (hosted) ResidentFrames() uint64        { return 0 }
func (hosted) Exit(status int)               { exitHosted(status) }

func (hosted) CPU() int                                    { return 0 }
func (hosted) FirmwareCPUs() int                           { return runtime.NumCPU() }
func (hosted) APICID(cpu int) int                          { return cpu }
func (hosted) SendTestIPI(int)                             {}
func (hosted) SendNMI(int)                                 {}
func (hosted) CPUSource() string                           { return "hosted" }
func (hosted) NMIAnywhere() error                          { return nil }
func (hosted) SendTestIPIMask(uint64)                      {}
func (hosted) SendTestIPIAllButSelf()                      {}
func (hosted) CrossCall(uint64, CrossCallOp, uint64, bool) {}
func (hosted) IPICounts(int) IPICounts                     { return IPICounts{} }
func (hosted) CPUOnline(cpu int) bool                      { return cpu < runtime.NumCPU() }
func (hosted) PingPong(int, int) ([]uint64, error)         { return nil, errHosted }
func (hosted) Cycles() uint64                              { return uint64(time.Now().UnixNano()) }
func (hosted) TSCHz() uint64                               { return 1e9 }

var errHosted = errors.New("not on bare metal: no IPIs")

func (hosted) Memory(bool) MemReport { return MemReport{} }
