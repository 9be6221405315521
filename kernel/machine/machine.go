// Package machine is the small interface through which the
// core asks the machine it runs on for facts; arch/<arch> registers the bare-metal implementation at init.
package machine

import (
	"errors"
	"os"
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
var M Machine = Hosted{NoPaging{errNoPaging}}

// Register installs the bare-metal machine; called from the arch package's init.
func Register(m Machine) { M = m }

// Hosted is the machine of a kernel run as an ordinary Linux process (host tests): no IPIs, no MMU.
type Hosted struct{ NoPaging }

func (Hosted) Arch() string                  { return runtime.GOARCH }
func (Hosted) BareMetal() bool               { return false }
func (Hosted) CPUs() int                     { return runtime.NumCPU() }
func (Hosted) MemMB() int                    { return 0 }
func (Hosted) Cmdline() string               { return "" }
func (Hosted) SyscallCounts() map[int]uint64 { return nil }
func (Hosted) ResidentFrames() uint64        { return 0 }
func (Hosted) Exit(status int)               { os.Exit(status) }

func (Hosted) CPU() int                                    { return 0 }
func (Hosted) FirmwareCPUs() int                           { return runtime.NumCPU() }
func (Hosted) APICID(cpu int) int                          { return cpu }
func (Hosted) SendTestIPI(int)                             {}
func (Hosted) SendNMI(int)                                 {}
func (Hosted) CPUSource() string                           { return "Hosted" }
func (Hosted) NMIAnywhere() error                          { return nil }
func (Hosted) SendTestIPIMask(uint64)                      {}
func (Hosted) SendTestIPIAllButSelf()                      {}
func (Hosted) CrossCall(uint64, CrossCallOp, uint64, bool) {}
func (Hosted) IPICounts(int) IPICounts                     { return IPICounts{} }
func (Hosted) CPUOnline(cpu int) bool                      { return cpu < runtime.NumCPU() }
func (Hosted) PingPong(int, int) ([]uint64, error)         { return nil, errHosted }
func (Hosted) Cycles() uint64                              { return uint64(time.Now().UnixNano()) }
func (Hosted) TSCHz() uint64                               { return 1e9 }

var errHosted = errors.New("not on bare metal: no IPIs")

func (Hosted) Memory(bool) MemReport { return MemReport{} }
