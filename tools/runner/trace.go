package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"lazymm/kernel/protocol"
)

// The kernel's event trace (kernel/trace.go), as a Chrome trace-event file that Perfetto and
// chrome://tracing open: one process per test, one thread per CPU; a slice for each stretch a task
// ran (named by task and mm, lazy stretches marked), and instants for lazy entries, the schemes'
// IPIs sent and received, NMIs, mm frees, exits and membarriers.

// Trace event kinds, as kernel/trace.go defines them.
const (
	evSwitch     = 1
	evLazy       = 2
	evShootSend  = 3
	evShootRecv  = 4
	evNMI        = 5
	evFree       = 6
	evExit       = 7
	evMembarrier = 8
)

type traceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	TS   float64        `json:"ts"` // microseconds
	Dur  *float64       `json:"dur,omitempty"`
	PID  int            `json:"pid"`
	TID  int            `json:"tid"`
	S    string         `json:"s,omitempty"` // instant scope
	Args map[string]any `json:"args,omitempty"`
}

type traceFile struct {
	TraceEvents     []traceEvent `json:"traceEvents"`
	DisplayTimeUnit string       `json:"displayTimeUnit"`
}

type kev struct {
	tsc           uint64
	kind, a, b, c uint64
}

// parseTrace decodes one trace line's events ("tsc:kind:a:b:c" in hex, comma-separated).
func parseTrace(l protocol.Line) (cpu int, hz uint64, evs []kev, err error) {
	if cpu, err = strconv.Atoi(l.Get("cpu")); err != nil {
		return 0, 0, nil, fmt.Errorf("trace line without cpu")
	}
	if hz, err = strconv.ParseUint(l.Get("tsc_hz"), 10, 64); err != nil || hz == 0 {
		return 0, 0, nil, fmt.Errorf("trace line without tsc_hz")
	}
	for _, f := range strings.Split(l.Get("events"), ",") {
		p := strings.Split(f, ":")
		if len(p) != 5 {
			return 0, 0, nil, fmt.Errorf("bad trace event %q", f)
		}
		var v [5]uint64
		for i := range p {
			if v[i], err = strconv.ParseUint(p[i], 16, 64); err != nil {
				return 0, 0, nil, fmt.Errorf("bad trace event %q", f)
			}
		}
		evs = append(evs, kev{v[0], v[1], v[2], v[3], v[4]})
	}
	return cpu, hz, evs, nil
}

// buildTrace turns the tests' trace lines into trace events. Timestamps are microseconds from the
// first event of each test.
func buildTrace(res *Result) (*traceFile, error) {
	tf := &traceFile{TraceEvents: []traceEvent{}, DisplayTimeUnit: "ns"}
	pid := 0
	for _, t := range res.Run.Tests {
		if len(t.Trace) == 0 {
			continue
		}
		pid++
		byCPU := map[int][]kev{}
		var hz uint64
		for _, l := range t.Trace {
			cpu, h, evs, err := parseTrace(l)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", t.Name, err)
			}
			hz = h
			byCPU[cpu] = append(byCPU[cpu], evs...)
		}
		t0 := ^uint64(0)
		for _, evs := range byCPU {
			for _, e := range evs {
				t0 = min(t0, e.tsc)
			}
		}
		tr := &cpuTrack{pid: pid, us: func(tsc uint64) float64 { return float64(tsc-t0) * 1e6 / float64(hz) }}
		tf.TraceEvents = append(tf.TraceEvents, traceEvent{Name: "process_name", Ph: "M", PID: pid, Args: map[string]any{"name": t.Name}})
		cpus := make([]int, 0, len(byCPU))
		for cpu := range byCPU {
			cpus = append(cpus, cpu)
		}
		sort.Ints(cpus)
		for _, cpu := range cpus {
			tr.cpu, tr.open = cpu, nil
			if err := tr.add(tf, byCPU[cpu]); err != nil {
				return nil, fmt.Errorf("%s: %v", t.Name, err)
			}
		}
	}
	return tf, nil
}

// cpuTrack converts one CPU's events of one test: a slice per stretch a task ran, instants for the rest.
type cpuTrack struct {
	pid, cpu int
	us       func(tsc uint64) float64
	open     *traceEvent // the running task's slice, until the next switch
}

func (tr *cpuTrack) add(tf *traceFile, evs []kev) error {
	tf.TraceEvents = append(tf.TraceEvents, traceEvent{Name: "thread_name", Ph: "M", PID: tr.pid, TID: tr.cpu, Args: map[string]any{"name": fmt.Sprintf("CPU %d", tr.cpu)}})
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].tsc < evs[j].tsc })
	for _, e := range evs {
		if err := tr.event(tf, e); err != nil {
			return err
		}
	}
	if n := len(evs); n > 0 {
		tr.closeAt(tf, evs[n-1].tsc)
	}
	return nil
}

func (tr *cpuTrack) closeAt(tf *traceFile, tsc uint64) {
	if tr.open != nil {
		d := tr.us(tsc) - tr.open.TS
		tr.open.Dur = &d
		tf.TraceEvents = append(tf.TraceEvents, *tr.open)
		tr.open = nil
	}
}

func (tr *cpuTrack) event(tf *traceFile, e kev) error {
	ts := tr.us(e.tsc)
	inst := func(name, cat string, args map[string]any) {
		tf.TraceEvents = append(tf.TraceEvents, traceEvent{Name: name, Cat: cat, Ph: "i", S: "t", TS: ts, PID: tr.pid, TID: tr.cpu, Args: args})
	}
	switch e.kind {
	case evSwitch:
		tr.closeAt(tf, e.tsc)
		name := fmt.Sprintf("task %d (mm %d)", e.a, e.b)
		cat := "user"
		if e.b == 0 {
			name, cat = fmt.Sprintf("kthread %d (lazy on mm %d)", e.a, e.c), "lazy"
			if e.c <= 1 {
				name, cat = fmt.Sprintf("kthread %d", e.a), "kernel"
			}
		}
		tr.open = &traceEvent{Name: name, Cat: cat, Ph: "X", TS: ts, PID: tr.pid, TID: tr.cpu, Args: map[string]any{"task": e.a, "mm": e.b, "active_mm": e.c}}
	case evLazy:
		inst("enter_lazy_tlb", "lazy", map[string]any{"mm": e.a})
	case evShootSend:
		inst("shoot lazy CPUs", "ipi", map[string]any{"targets": fmt.Sprintf("%#x", e.a), "mm": e.b})
	case evShootRecv:
		inst("shot", "ipi", map[string]any{"mm": e.a, "held": e.b == 1})
	case evNMI:
		if e.b == 1 {
			inst("NMI reads mm", "nmi", map[string]any{"mm": e.a})
		} else {
			inst("NMI", "nmi", nil)
		}
	case evFree:
		inst("__mmdrop", "free", map[string]any{"mm": e.a})
	case evExit:
		inst("exit", "exit", map[string]any{"task": e.a, "mm": e.b})
	case evMembarrier:
		inst("membarrier", "ipi", map[string]any{"targets": fmt.Sprintf("%#x", e.a)})
	default:
		return fmt.Errorf("unknown trace event kind %d", e.kind)
	}
	return nil
}

// writeTrace writes the run's trace as a Chrome trace-event JSON file.
func writeTrace(path string, res *Result) error {
	tf, err := buildTrace(res)
	if err != nil {
		return err
	}
	if len(tf.TraceEvents) == 0 {
		return fmt.Errorf("no test recorded a trace (only the lazy-mm scenarios do)")
	}
	b, err := json.Marshal(tf)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
