package ppc64

import "unsafe"

// A reader of the flattened device tree skiboot passes in r3 on powernv (the devicetree
// specification's FDT: a header, a structure block of tokens, a strings block). Boot code only,
// nosplit, no allocation: offsets into the blob stand for nodes. Big-endian, as the kernel is.

const (
	fdtMagic     = 0xd00dfeed
	fdtBeginNode = 1
	fdtEndNode   = 2
	fdtProp      = 3
	fdtNop       = 4
)

// fdtAddr is r3 at a hypervisor-mode entry (boot_ppc64.s): the device tree's physical address.
var fdtAddr uint64

//go:nosplit
func fdtU32(off uint64) uint32 { return *(*uint32)(unsafe.Add(nil, uintptr(fdtAddr+off))) }

//go:nosplit
func fdtU64(off uint64) uint64 { return uint64(fdtU32(off))<<32 | uint64(fdtU32(off+4)) }

//go:nosplit
func fdtByte(off uint64) byte { return *(*byte)(unsafe.Add(nil, uintptr(fdtAddr+off))) }

// fdtOK says whether fdtAddr holds a device tree.
//
//go:nosplit
func fdtOK() bool { return fdtAddr != 0 && fdtAddr&3 == 0 && fdtU32(0) == fdtMagic }

// fdtStr says whether the NUL-terminated string at off is s.
//
//go:nosplit
func fdtStr(off uint64, s string) bool {
	for i := 0; i < len(s); i++ {
		if fdtByte(off+uint64(i)) != s[i] {
			return false
		}
	}
	return fdtByte(off+uint64(len(s))) == 0
}

// fdtSkipName returns the offset after the node name that starts at off, padded to 4.
//
//go:nosplit
func fdtSkipName(off uint64) uint64 {
	for fdtByte(off) != 0 {
		off++
	}
	return (off + 4) &^ 3
}

// fdtSkipProps returns the offset of the first token at or after off that is no property or NOP.
//
//go:nosplit
func fdtSkipProps(off uint64) uint64 {
	for {
		switch fdtU32(off) {
		case fdtProp:
			off += (12 + uint64(fdtU32(off+4)) + 3) &^ 3
		case fdtNop:
			off += 4
		default:
			return off
		}
	}
}

// fdtSkipNode returns the offset after the node whose BEGIN_NODE token is at off.
//
//go:nosplit
func fdtSkipNode(off uint64) uint64 {
	depth := 0
	for {
		switch fdtU32(off) {
		case fdtBeginNode:
			depth++
			off = fdtSkipName(off + 4)
		case fdtEndNode:
			depth--
			off += 4
			if depth == 0 {
				return off
			}
		case fdtProp, fdtNop:
			off = fdtSkipProps(off)
		default:
			return off // END or garbage: stop
		}
	}
}

// fdtRoot is the root node's BEGIN_NODE offset.
//
//go:nosplit
func fdtRoot() uint64 { return fdtSkipProps(uint64(fdtU32(8))) }

// fdtFirstChild and fdtNextChild iterate over a node's children (BEGIN_NODE offsets; 0: no more).
//
//go:nosplit
func fdtFirstChild(node uint64) uint64 {
	return fdtBegin(fdtSkipProps(fdtSkipName(node + 4)))
}

//go:nosplit
func fdtNextChild(child uint64) uint64 { return fdtBegin(fdtSkipProps(fdtSkipNode(child))) }

//go:nosplit
func fdtBegin(off uint64) uint64 {
	if fdtU32(off) == fdtBeginNode {
		return off
	}
	return 0
}

// fdtChild finds the child of node named name (with its unit address, if it has one); 0 if none.
//
//go:nosplit
func fdtChild(node uint64, name string) uint64 {
	for c := fdtFirstChild(node); c != 0; c = fdtNextChild(c) {
		if fdtStr(c+4, name) {
			return c
		}
	}
	return 0
}

// fdtGetProp returns the offset and length of node's property name's value (ok false if absent).
//
//go:nosplit
func fdtGetProp(node uint64, name string) (val uint64, n uint32, ok bool) {
	strs := uint64(fdtU32(12))
	for off := fdtSkipName(node + 4); ; {
		switch fdtU32(off) {
		case fdtNop:
			off += 4
		case fdtProp:
			n = fdtU32(off + 4)
			if fdtStr(strs+uint64(fdtU32(off+8)), name) {
				return off + 12, n, true
			}
			off += (12 + uint64(n) + 3) &^ 3
		default:
			return 0, 0, false
		}
	}
}

// fdtPropU64 reads a property of one or two cells (0 if absent).
//
//go:nosplit
func fdtPropU64(node uint64, name string) uint64 {
	v, n, ok := fdtGetProp(node, name)
	switch {
	case !ok:
		return 0
	case n == 4:
		return uint64(fdtU32(v))
	case n >= 8:
		return fdtU64(v)
	}
	return 0
}

// fdtCompatible says whether s is one of the strings of node's compatible property.
//
//go:nosplit
func fdtCompatible(node uint64, s string) bool {
	v, n, ok := fdtGetProp(node, "compatible")
	for off := uint64(0); ok && off < uint64(n); off++ {
		if fdtStr(v+off, s) {
			return true
		}
		for off < uint64(n) && fdtByte(v+off) != 0 {
			off++
		}
	}
	return false
}
