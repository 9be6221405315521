//go:build !lazymm_trapalloc

package amd64

// trapInjected is a hook on the trap path for the negative control of the nosplit check (see
// inject_trapalloc.go); in a normal build it does nothing and is inlined away.
//
//go:nosplit
func trapInjected() {}
