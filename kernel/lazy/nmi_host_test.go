package lazy

import _ "unsafe" // go:linkname

// simLoadedRoot stands in for the arch's archLoadedRoot in host tests, which link no arch: 0 says
// there is no MMU, and HandleNMI then reads no user memory.
//
//go:linkname simLoadedRoot lazymm/kernel/paging.archLoadedRoot
func simLoadedRoot() uint64 { return 0 }
