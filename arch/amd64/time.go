package amd64

import (
	"lazymm/kernel/machine"

	"math/bits"
	"sync/atomic"

	"github.com/usbarmory/tamago/amd64/lapic"
	"lazymm/kernel/paging"
	"lazymm/kernel/shim"
)

// Time: the TSC is the clock (calibrated once against the PIT), the LAPIC timer ticks at hz for
// preemption and sleeps. lapic's register map is tamago's; its accessors are not nosplit, so MMIO is
// done here directly.
const (
	hz          = 1000
	lapicTMRDiv = 0x3e0
	lapicTMRIni = 0x380
	lapicTMRCur = 0x390
)

var (
	lapicBase uintptr
	tscHz     uint64
	tscBoot   uint64
	nsMult    uint64 // ns = tsc * nsMult >> 32
	lapicInit uint32 // LAPIC timer initial count for one tick
	bootUnix  int64  // wall clock at boot (CMOS RTC), seconds
)

//go:nosplit
func lapicRead(off uintptr) uint32 { return atomic.LoadUint32((*uint32)(ptr(lapicBase + off))) }

//go:nosplit
func lapicWrite(off uintptr, v uint32) { atomic.StoreUint32((*uint32)(ptr(lapicBase+off)), v) }

//go:nosplit
func lapicEOI() { lapicWrite(lapic.LAPIC_EOI, 0) }

// calibrate measures the TSC and LAPIC timer rates over 10 ms of PIT channel 2 (the gate-driven
// one-shot Linux's pit_calibrate_tsc uses), then starts the periodic LAPIC tick.
//
//go:nosplit
func timeInit() {
	// 8259 PICs fully masked: firmware leaves the PIT on vector 8 (#DF's).
	outb(0x21, 0xff)
	outb(0xa1, 0xff)

	lapicBase = uintptr(rdmsr(msrAPICBase) &^ 0xfff)
	lapicWrite(lapic.LAPIC_SVR, 1<<lapic.SVR_ENABLE|vecSpurious)
	lapicWrite(lapicTMRDiv, 0x3)             // divide by 16
	lapicWrite(lapic.LAPIC_LVT_TIMER, 1<<16) // masked while calibrating
	lapicWrite(lapicTMRIni, 0xffffffff)

	const pitHz = 1193182
	const count = pitHz / 100 // 10 ms
	outb(0x61, inb(0x61)&^0x02|0x01)
	outb(0x43, 0xb0) // channel 2, lobyte/hibyte, mode 0
	outb(0x42, count&0xff)
	outb(0x42, count>>8)
	t0 := machine.ReadCycles()
	a0 := lapicRead(lapicTMRCur)
	for i := 0; i < 1<<28 && inb(0x61)&0x20 == 0; i++ {
	}
	t1 := machine.ReadCycles()
	a1 := lapicRead(lapicTMRCur)

	tscHz = (t1 - t0) * 100
	if tscHz == 0 {
		tscHz = 1e9
	}
	tscBoot = t0
	hi, lo := bits.Mul64(1e9, 1<<32)
	nsMult, _ = bits.Div64(hi, lo, tscHz)
	lapicInit = (a0 - a1) * 100 / hz
	if lapicInit == 0 {
		lapicInit = 1e5
	}
	bootUnix = readRTC()
	lapicStart()
}

// lapicStart enables this CPU's LAPIC and starts its periodic tick (every CPU calls it once).
//
//go:nosplit
func lapicStart() {
	lapicWrite(lapic.LAPIC_SVR, 1<<lapic.SVR_ENABLE|vecSpurious)
	lapicWrite(lapicTMRDiv, 0x3)
	lapicWrite(lapic.LAPIC_LVT_TIMER, lapic.TIMER_MODE_PERIODIC<<lapic.TIMER_MODE|vecTimer)
	lapicWrite(lapicTMRIni, lapicInit)
}

// nanotime is CLOCK_MONOTONIC: nanoseconds since calibration.
//
//go:nosplit
func nanotime() uint64 { return tscToNs(machine.ReadCycles() - tscBoot) }

//go:nosplit
func tscToNs(d uint64) uint64 {
	hi, lo := bits.Mul64(d, nsMult)
	return hi<<32 | lo>>32
}

// nsToTSC converts a duration to TSC cycles (for deadlines).
//
//go:nosplit
func nsToTSC(ns uint64) uint64 {
	hi, lo := bits.Mul64(ns, tscHz)
	if hi >= 1e9 {
		return ^uint64(0) >> 1
	}
	q, _ := bits.Div64(hi, lo, 1e9)
	return q
}

// readRTC reads the CMOS clock (assumes BCD, 24-hour, as QEMU and PC firmware set it) as Unix seconds.
//
//go:nosplit
func readRTC() int64 {
	for i := 0; i < 1<<16; i++ { // wait for no update in progress
		outb(0x70, 0x0a)
		if inb(0x71)&0x80 == 0 {
			break
		}
	}
	sec, min, hour := cmosBCD(0), cmosBCD(2), cmosBCD(4)
	day, mon, year := cmosBCD(7), cmosBCD(8), cmosBCD(9)+2000
	return shim.UnixSeconds(year, mon, day, hour, min, sec)
}

// timerTick is the LAPIC tick without the kernel lock: the shim counts it (and says whether its
// locked part, shim.TimerInterrupt, has work), then the periodic CR3 audit.
//
//go:nosplit
func timerTick(c *percpu) bool {
	need := shim.Tick()
	lapicEOI()
	paging.PeriodicAudit(int(c.id), shim.CPUs[c.id].Ticks)
	return need
}

//go:nosplit
func cmosBCD(r uint8) int64 {
	outb(0x70, r)
	v := int64(inb(0x71))
	return v&0xf + (v>>4)*10
}
