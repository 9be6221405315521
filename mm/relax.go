//go:build amd64 || ppc64

package mm

// Relax is the spin-wait hint every spin loop runs, mm's locks and those above: x86's PAUSE, and on
// 64-bit POWER Linux's cpu_relax (HMT_low, HMT_medium: or 1,1,1; or 2,2,2). QEMU's TCG leaves the
// vCPU's loop on either, so a spinning vCPU gives its turn back (single-threaded TCG) instead of
// spinning out its slice while the CPU it waits for cannot run.
func Relax()
