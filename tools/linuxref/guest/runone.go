//go:build linux && amd64

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runOne plays one pattern: the trace cleared and on, the pattern process started pinned to CPU 0 and
// waited for, the orchestrator's part after it, the window closed; then the counts it held.
func runOne(p pattern, n int, initMM uint64, counters []string) {
	fmt.Printf("LR1 begin pattern=%s\n", p.name)
	t0 := time.Now()
	writeFile(tracefs+"/trace", "") // truncating it empties the buffers
	before := readInterrupts(n)
	writeFile(tracefs+"/tracing_on", "1")
	var status int
	var err error
	if p.run != nil {
		status, err = runPatternChild(p.name, n)
	}
	if err == nil && p.after != nil {
		err = p.after(n)
	}
	if p.orchestratorEnds {
		appendFile(tracefs+"/trace_marker", "lz-end")
	}
	writeFile(tracefs+"/tracing_on", "0")
	after := readInterrupts(n)
	if err != nil {
		fmt.Printf("LR1 error msg=%s: %v\n", p.name, err)
	} else if status != 0 {
		fmt.Printf("LR1 error msg=%s: the pattern process ended with status %d\n", p.name, status)
	}
	printWindow(n, initMM, p.endAtExitMmap, counters)
	for _, k := range []string{"TLB", "CAL", "RES"} {
		printCount(strings.ToLower(k)+"_irqs", diff(after[k], before[k]))
	}
	fmt.Printf("LR1 end pattern=%s ms=%d\n", p.name, time.Since(t0).Milliseconds())
}

// runPatternChild starts "lrguest pattern NAME N" from this (CPU 0's) thread and waits for it.
func runPatternChild(name string, n int) (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	pid, err := syscall.ForkExec(self, []string{"lrguest", "pattern", name, strconv.Itoa(n)},
		&syscall.ProcAttr{Env: []string{"GOMAXPROCS=32", "GODEBUG=asyncpreemptoff=1"}, Files: []uintptr{0, 1, 2}})
	if err != nil {
		return 0, err
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return 0, err
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// printWindow counts the trace's window and prints each counter, and the events the buffer lost.
func printWindow(n int, initMM uint64, endAtExitMmap bool, counters []string) {
	f, err := os.Open(tracefs + "/trace")
	if err != nil {
		fmt.Printf("LR1 error msg=%v\n", err)
		return
	}
	defer f.Close()
	t, begun, ended := window(f, n, initMM, endAtExitMmap, counters)
	if !begun || !ended {
		fmt.Printf("LR1 error msg=the trace holds no whole window (begin %v, end %v)\n", begun, ended)
	}
	for _, name := range t.order {
		printCount(name, t.counts[name])
	}
	printCount("trace_lost", lostEvents(n))
}

func printCount(name string, perCPU []int64) {
	var sum int64
	parts := make([]string, len(perCPU))
	for i, v := range perCPU {
		sum += v
		parts[i] = strconv.FormatInt(v, 10)
	}
	fmt.Printf("LR1 count name=%s value=%d cpus=%s\n", name, sum, strings.Join(parts, ","))
}

// lostEvents sums the per-CPU buffers' overruns and dropped events.
func lostEvents(n int) []int64 {
	out := make([]int64, n)
	for cpu := range out {
		b, _ := os.ReadFile(fmt.Sprintf("%s/per_cpu/cpu%d/stats", tracefs, cpu))
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if ok && (k == "overrun" || k == "dropped events") {
				x, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				out[cpu] += x
			}
		}
	}
	return out
}

// readInterrupts reads /proc/interrupts's per-CPU rows by name (TLB, CAL, RES, ...).
func readInterrupts(n int) map[string][]int64 {
	b, _ := os.ReadFile("/proc/interrupts")
	return parseInterrupts(string(b), n)
}

func parseInterrupts(text string, n int) map[string][]int64 {
	out := map[string][]int64{}
	for _, l := range strings.Split(text, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
		f := strings.Fields(rest)
		if !ok || len(f) < n {
			continue
		}
		row := make([]int64, n)
		for i := range row {
			row[i], _ = strconv.ParseInt(f[i], 10, 64)
		}
		out[name] = row
	}
	return out
}

func diff(a, b []int64) []int64 {
	out := make([]int64, len(a))
	for i := range a {
		if i < len(b) {
			out[i] = a[i] - b[i]
		}
	}
	return out
}
