//go:build linux && amd64

package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// event is one line of tracefs's trace: the CPU it happened on, its name and its fields.
type event struct {
	cpu        int
	name, args string
}

// traceLine matches the CPU column, the flags and the timestamp, then "name: fields". The task's
// name before it may hold anything, brackets included.
var traceLine = regexp.MustCompile(`\[(\d{3,})\]\s+\S+\s+[\d.]+:\s+(\w+):\s?(.*)$`)

func parseEvent(line string) (event, bool) {
	if strings.HasPrefix(line, "#") {
		return event{}, false
	}
	m := traceLine.FindStringSubmatch(line)
	if m == nil {
		return event{}, false
	}
	cpu, err := strconv.Atoi(m[1])
	if err != nil {
		return event{}, false
	}
	return event{cpu: cpu, name: m[2], args: m[3]}, true
}

// field is the value of key=value in an event's fields ("" if absent).
func field(args, key string) string {
	for _, w := range strings.Fields(args) {
		if v, ok := strings.CutPrefix(w, key+"="); ok {
			return v
		}
	}
	return ""
}

func number(s string) (int64, bool) {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		u, uerr := strconv.ParseUint(s, 0, 64)
		return int64(u), uerr == nil
	}
	return v, true
}

// tlb_flush's reasons (include/trace/events/tlb.h), and its pages for a full flush (TLB_FLUSH_ALL).
const (
	flushOnTaskSwitch = iota
	flushRemoteShootdown
	flushLocalShootdown
	flushLocalMMShootdown
	flushRemoteSendIPI
)

// tlbFlush parses "pages:%ld reason:%s (%d)".
func tlbFlush(args string) (pages, reason int64, ok bool) {
	p, ok1 := strings.CutPrefix(strings.Fields(args + " ")[0], "pages:")
	i, j := strings.LastIndex(args, "("), strings.LastIndex(args, ")")
	if !ok1 || i < 0 || j < i {
		return 0, 0, false
	}
	pages, err1 := strconv.ParseInt(p, 10, 64)
	reason, err2 := strconv.ParseInt(args[i+1:j], 10, 64)
	return pages, reason, err1 == nil && err2 == nil
}

// tally is what a window counted: per counter, per CPU.
type tally struct {
	n      int
	counts map[string][]int64
	order  []string
}

// newTally has the counters named, at 0, in that order; others are added as they come.
func newTally(n int, names []string) *tally {
	t := &tally{n: n, counts: map[string][]int64{}}
	for _, name := range names {
		t.add(name, -1, 0)
	}
	return t
}

func (t *tally) add(name string, cpu int, v int64) {
	c, ok := t.counts[name]
	if !ok {
		c = make([]int64, t.n)
		t.counts[name] = c
		t.order = append(t.order, name)
	}
	if cpu >= 0 && cpu < t.n {
		c[cpu] += v
	}
}

// window counts the events between the lz-begin and lz-end markers (or, with endAtExitMmap, the
// return of the first exit_mmap after lz-begin); it says whether it saw both ends.
func window(r io.Reader, n int, initMM uint64, endAtExitMmap bool, counters []string) (*tally, bool, bool) {
	t := newTally(n, counters)
	c := &counter{t: t, initMM: initMM, sameMM: make([]bool, n), loaded: make([]uint64, n)}
	begun, ended := false, false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		ev, ok := parseEvent(sc.Text())
		if !ok {
			continue
		}
		if ev.name == "tracing_mark_write" {
			begun = begun || strings.HasPrefix(ev.args, "lz-begin")
			ended = ended || begun && strings.HasPrefix(ev.args, "lz-end")
			continue
		}
		if begun && !ended && ev.cpu < n {
			if dumpTrace {
				fmt.Println("LRT " + strings.TrimSpace(sc.Text()))
			}
			c.count(ev)
			ended = endAtExitMmap && ev.name == "xm"
		}
	}
	return t, begun, ended
}
