//go:build lazymm_trapalloc

package amd64

// Negative control of the mechanical trap-path check: built with -tags lazymm_trapalloc, the trap path
// allocates, and the link must fail with the linker's nosplit report (TestTrapPathCheck).

var sink []byte

//go:nosplit
func trapInjected() { sink = make([]byte, 64) }
