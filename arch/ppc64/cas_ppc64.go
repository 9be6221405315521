package ppc64

import (
	"unsafe"

	"lazymm/kernel/shim"
)

// Client-architecture-support (CAS): before the MMU is registered, the guest tells the firmware which
// processors and which MMU it supports, as Linux's prom_init does (prom_send_capabilities with
// ibm_architecture_vec), through VOF's call-method "ibm,client-architecture-support" on the root's
// instance. QEMU then picks the MMU from option vector 5's byte 24 (radix, or hash: it allocates the
// hashed page table right there), records what was agreed in /chosen/ibm,architecture-vec-5 and
// rebuilds the device tree, whose /cpus nodes then carry the HPT's size (ibm,pft-size). Only the boot
// CPU may be running: the others are still stopped in RTAS.

const (
	// option vector 5's bytes (1-based, as LoPAPR and prom_init's OV5_INDX count them)
	ov5MMU       = 24   // OV5_MMU_SUPPORT's byte
	ov5MMURadix  = 0x40 // OV5_MMU_RADIX: radix only (0: hash only)
	ov5RadixExt  = 26   // OV5_RADIX_GTSE's byte
	ov5RadixGTSE = 0x40 // guest translation shootdown (tlbie from the guest)
	ov5Len       = 26
	pvrPOWER9    = 0x004e0000
	pvrArch300   = 0x0f000005 // logical PVR: architected ISA 3.00
)

var (
	// casVec is the architecture vector: a PVR list, then option vectors 1..5 (prom_init's
	// ibm_architecture_vec, cut to what QEMU reads).
	casVec [64]byte
	// what CAS agreed (casNegotiate): casOK if it succeeded; casOV5 if the agreed vector 5 was read,
	// then the MMU and GTSE it says; the compat PVR the CPUs run in (0: raw); the HPT's size as a
	// power of two (ibm,pft-size; 0 if unknown).
	casOK, casOV5, casRadix, casGTSE bool
	casPVR                           uint32
	casHPTShift                      uint
	ofMethod                         [32]byte
)

//go:nosplit
func put32(b *[64]byte, i int, v uint32) {
	b[i], b[i+1], b[i+2], b[i+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// buildCASVec fills casVec: POWER9 by its PVR or any CPU architected for ISA 3.00; ISA 2.07 and
// 3.00 (vector 1); FP and VMX (vector 3); radix with GTSE, or hash only (vector 5), XICS (byte 23
// zero). Vectors 2 and 4 are one zero byte each: QEMU only walks past them.
//
//go:nosplit
func buildCASVec(hash bool) {
	v := &casVec
	*v = [64]byte{}
	put32(v, 0, 0xffff0000)
	put32(v, 4, pvrPOWER9)
	put32(v, 8, 0xffffffff)
	put32(v, 12, pvrArch300)
	put32(v, 16, 0xfffffffe) // the terminator (mask & value disagree), as prom_init's last entry
	put32(v, 20, 0x0f000001)
	i := 24
	v[i] = 5 - 1 // vectors
	i++
	v[i], v[i+1], v[i+2], v[i+3] = 3-1, 0, 0x01, 0x80 // vector 1: byte 2 ISA 2.07, byte 3 ISA 3.00
	i += 4
	v[i], v[i+1] = 0, 0 // vector 2
	i += 2
	v[i], v[i+1], v[i+2] = 2-1, 0, 0x80|0x40 // vector 3: FP, VMX
	i += 3
	v[i], v[i+1] = 0, 0 // vector 4
	i += 2
	v[i] = ov5Len - 1 // vector 5, bytes 1..26 follow
	if !hash {
		v[i+ov5MMU] = ov5MMURadix
		v[i+ov5RadixExt] = ov5RadixGTSE
	}
}

// casNegotiate runs CAS through VOF (after readFirmware: the command line says radix or hash) and
// reads back what was agreed; it prints one console line either way. On failure nothing changes:
// the MMU is registered as without CAS (QEMU's POWER9 pseries starts in radix; H_REGISTER_PROC_TBL
// for hash allocates the HPT).
//
//go:nosplit
func casNegotiate(hash bool) {
	if promEntry == 0 {
		return
	}
	var name, path [32]byte
	root, ok := of(&name, "open", 1, cstr(&path, "/"), 0, 0, 0)
	if !ok || root == 0 || root == 0xffffffff {
		casFailed("no instance of /", 0)
		return
	}
	buildCASVec(hash)
	a := &ofArgs
	a[0] = cstr(&name, "call-method")
	a[1], a[2] = 3, 2
	a[3] = cstr(&ofMethod, "ibm,client-architecture-support")
	a[4] = root
	a[5] = uint32(uintptr(unsafe.Pointer(&casVec[0])))
	a[6], a[7] = 0xffffffff, 0xffffffff
	rc := ofCall(uintptr(promEntry), uintptr(unsafe.Pointer(a)))
	ret, status := a[6], a[7]
	a[0], a[1], a[2], a[3] = cstr(&name, "close"), 1, 0, root
	ofCall(uintptr(promEntry), uintptr(unsafe.Pointer(a)))
	switch {
	case rc != 0:
		casFailed("the client interface refused call-method", 0)
		return
	case ret != 0 || status != 0: // ret: the hypervisor's answer (H_HARDWARE -1: no PVR matched)
		casFailed("the hypervisor answered ", int64(int32(ret|status)))
		return
	}
	casOK = true
	casReadBack()
	casReport(hash)
}

//go:nosplit
func casFailed(why string, code int64) {
	shim.Puts("lazymm: ppc64 CAS FAILED: ")
	shim.Puts(why)
	if code < 0 {
		shim.Puts("-")
		shim.PutDec(uint64(-code))
	} else if code > 0 {
		shim.PutDec(uint64(code))
	}
	shim.Puts("; registering the MMU without negotiation\n")
}

// casReadBack reads the rebuilt device tree: /chosen/ibm,architecture-vec-5 (the agreed option
// vector 5: its length - 1, then bytes 1..n), and the first CPU's cpu-version (the compat PVR, if
// any) and ibm,pft-size (0, log2 of the HPT's size in bytes).
//
//go:nosplit
func casReadBack() {
	var name, path, prop [32]byte
	buf := &fwBuf
	if chosen, ok := of(&name, "finddevice", 1, cstr(&path, "/chosen"), 0, 0, 0); ok && chosen != 0 && chosen != 0xffffffff {
		n, ok := of(&name, "getprop", 4, chosen, cstr(&prop, "ibm,architecture-vec-5"), uint32(uintptr(unsafe.Pointer(&buf[0]))), uint32(len(buf)))
		if ok && n != 0xffffffff && n <= uint32(len(buf)) {
			casOV5 = true
			if n > ov5MMU {
				casRadix = buf[ov5MMU]&ov5MMURadix != 0
			}
			if n > ov5RadixExt {
				casGTSE = buf[ov5RadixExt]&ov5RadixGTSE != 0
			}
		}
	}
	cpusNode, ok := of(&name, "finddevice", 1, cstr(&path, "/cpus"), 0, 0, 0)
	if !ok || cpusNode == 0 || cpusNode == 0xffffffff {
		return
	}
	cpu, ok := of(&name, "child", 1, cpusNode, 0, 0, 0)
	if !ok || cpu == 0 || cpu == 0xffffffff {
		return
	}
	var val [2]uint32
	if n, ok := of(&name, "getprop", 4, cpu, cstr(&prop, "cpu-version"), uint32(uintptr(unsafe.Pointer(&val[0]))), 4); ok && n == 4 {
		casPVR = val[0]
	}
	if n, ok := of(&name, "getprop", 4, cpu, cstr(&prop, "ibm,pft-size"), uint32(uintptr(unsafe.Pointer(&val[0]))), 8); ok && n == 8 && val[1] >= 18 && val[1] <= 46 {
		casHPTShift = uint(val[1])
	}
}

// casReport prints what was agreed: `lazymm: ppc64 CAS: radix, GTSE` or `lazymm: ppc64 CAS: hash,
// HPT 4 MiB`, then the compat mode, and says so loudly if it is not what was asked.
//
//go:nosplit
func casReport(hash bool) {
	shim.Puts("lazymm: ppc64 CAS: ")
	if !casOV5 {
		shim.Puts("done, but /chosen/ibm,architecture-vec-5 is unreadable\n")
		return
	}
	if casRadix {
		shim.Puts("radix")
		if casGTSE {
			shim.Puts(", GTSE")
		}
	} else {
		shim.Puts("hash")
		if casHPTShift != 0 {
			shim.Puts(", HPT ")
			if casHPTShift >= 20 {
				shim.PutDec(1 << (casHPTShift - 20))
				shim.Puts(" MiB")
			} else {
				shim.PutDec(1 << (casHPTShift - 10))
				shim.Puts(" KiB")
			}
		}
	}
	if casPVR == pvrArch300 {
		shim.Puts(" (architected 3.00)")
	} else if casPVR != 0 {
		shim.Puts(" (compat PVR ")
		shim.PutHex(uint64(casPVR))
		shim.Puts(")")
	}
	shim.Puts("\n")
	if casRadix == hash || (!hash && !casGTSE) {
		shim.Puts("lazymm: ppc64 CAS FAILED to agree on what was asked: ")
		if hash {
			shim.Puts("hash\n")
		} else {
			shim.Puts("radix, GTSE\n")
		}
	}
}
