package ppc64

import "lazymm/kernel/shim"

// Frame and FPState are what trapEntry (trap_ppc64.s) saves at every kernel entry and restores on the
// way out; trap may replace both (a thread switch copies another thread's Frame over *f and points
// percpu.curFP at that thread's FPState). They are the shim's types (shim/frame_ppc64.go), so the
// shared system-call and scheduler code works on them directly; layout_ppc64.go pins the offsets
// the assembly uses.
type (
	Frame   = shim.Frame
	FPState = shim.FPArea
)
