package lazy

import (
	"lazymm/kernel/protocol"
	"strconv"

	"lazymm/kernel/machine"

	"fmt"
	"strings"
	"sync/atomic"

	"lazymm/mm"
)

// The engine's event trace: each CPU records timestamped events (context switches, lazy entries, the
// schemes' IPIs, NMIs, mm frees, exits, membarriers) in a ring of its own, without locks or
// allocation (interrupt context records too); a test dumps the rings at its end as protocol lines
// (kind trace) and the runner turns them into a Chrome/Perfetto trace (runner -trace). Off unless the
// boot command line says trace=1.

// Trace event kinds, as the runner knows them (tools/runner/trace.go).
const (
	EvSwitch     = 1 // a: next task's id, b: its mm's ctx_id (0: a kernel thread), c: active (borrowed) ctx_id
	EvLazy       = 2 // a: the mm ctx_id the CPU keeps loaded
	EvShootSend  = 3 // a: target CPU mask, b: mm ctx_id
	EvShootRecv  = 4 // a: mm ctx_id, b: 1 if the CPU held it
	EvNMI        = 5 // an NMI arrived (b 0), or it dereferenced mm ctx_id a (b 1)
	EvFree       = 6 // a: mm ctx_id freed
	EvExit       = 7 // a: task id, b: mm ctx_id
	EvMembarrier = 8 // a: target mask
)

const (
	traceCPUs = 32
	traceLen  = 2048 // events kept per CPU: the most recent
)

type traceEv struct{ tsc, kind, a, b, c uint64 }

var (
	traceOn   uint32
	traceRing [traceCPUs][traceLen]traceEv
	traceN    [traceCPUs]uint64
)

// SetTrace turns the recording on or off.
func SetTrace(on bool) {
	v := uint32(0)
	if on {
		v = 1
	}
	atomic.StoreUint32(&traceOn, v)
}

// record notes one event on cpu (nosplit: switch paths and interrupt handlers call it).
//
//go:nosplit
func record(cpu int, kind, a, b, c uint64) {
	if atomic.LoadUint32(&traceOn) == 0 || cpu >= traceCPUs {
		return
	}
	e := &traceRing[cpu][(atomic.AddUint64(&traceN[cpu], 1)-1)%traceLen] // field by field: a small frame
	e.tsc = machine.ReadCycles()
	e.kind, e.a, e.b, e.c = kind, a, b, c
}

// ctxOf is the ctx_id behind an mm handle, 0 for none (read only: the mm may be freed).
//
//go:nosplit
func ctxOf(h uintptr) uint64 {
	if h == 0 {
		return 0
	}
	if h == initH {
		return 1
	}
	return atomic.LoadUint64(&mm.At(h).CtxID)
}

// ResetTrace forgets what CPUs [0, n) recorded.
func ResetTrace(n int) {
	for cpu := 0; cpu < n && cpu < traceCPUs; cpu++ {
		atomic.StoreUint64(&traceN[cpu], 0)
	}
}

// TraceLines returns the recorded events of CPUs [0, n) as protocol trace lines for test name (each
// line at most ~3.5 KB: "ts:kind:a:b:c" in hex, comma-separated) and clears the rings. lost counts
// events the rings overwrote.
func TraceLines(name string, n int) (lines []string, lost uint64) {
	for cpu := 0; cpu < n && cpu < traceCPUs; cpu++ {
		total := atomic.SwapUint64(&traceN[cpu], 0)
		first := uint64(0)
		if total > traceLen {
			first, lost = total-traceLen, lost+total-traceLen
		}
		var b strings.Builder
		flush := func() {
			if b.Len() > 0 {
				lines = append(lines, protocol.Format("trace", "name", name, "cpu", strconv.Itoa(cpu),
					"tsc_hz", strconv.FormatUint(machine.M.TSCHz(), 10), "events", b.String()))
				b.Reset()
			}
		}
		for i := first; i < total; i++ {
			e := traceRing[cpu][i%traceLen]
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%x:%x:%x:%x:%x", e.tsc, e.kind, e.a, e.b, e.c)
			if b.Len() > 3500 {
				flush()
			}
		}
		flush()
	}
	return lines, lost
}
