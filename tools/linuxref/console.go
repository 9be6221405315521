package main

import (
	"fmt"
	"strconv"
	"strings"
)

// The guest prints one "LR1 KIND key=value ..." line per fact (tools/linuxref/guest); a value has no
// spaces, except msg=, which takes the rest of the line:
//
//	LR1 linux release=R cpus=N pcid=BOOL invpcid=BOOL uptime_s=S
//	LR1 cmdline msg=...
//	LR1 probe name=P ok=yes|no [msg=...]
//	LR1 note msg=...
//	LR1 begin pattern=NAME
//	LR1 count name=C value=V [cpus=V0,V1,...]     (inside a pattern)
//	LR1 error msg=...                              (inside a pattern: that pattern's)
//	LR1 end pattern=NAME ms=M
//	LR1 done
//	LR1 exit status=N                              (the /init script's, after the guest program)

// linuxRun is what the console says.
type linuxRun struct {
	release, cmdline string
	desc             string // which image booted (set by the caller)
	cpus             int
	pcid, invpcid    bool
	uptime           float64
	probes           map[string]string // probe -> "" (working) or why not
	notes, errors    []string
	patterns         []*linuxPattern
	done             bool
}

// linuxPattern is one pattern's counts.
type linuxPattern struct {
	name   string
	counts map[string]int64
	perCPU map[string][]int64
	ms     int64
	errors []string
	ended  bool
}

// parseConsole reads the LR1 lines of a console; other lines (the kernel's) are ignored. A malformed
// LR1 line, none at all, or a console cut off before "LR1 done" is an error.
func parseConsole(text string) (*linuxRun, error) {
	r := &linuxRun{probes: map[string]string{}}
	var cur *linuxPattern
	seen := false
	for n, line := range strings.Split(text, "\n") {
		i := strings.Index(line, "LR1 ")
		if i < 0 {
			continue
		}
		seen = true
		kind, kv, err := splitLine(line[i+4:])
		if err == nil {
			cur, err = r.apply(cur, kind, kv)
		}
		if err != nil {
			return nil, fmt.Errorf("console line %d: %v: %q", n+1, err, line)
		}
	}
	switch {
	case !seen:
		return nil, fmt.Errorf("the console has no LR1 line: the guest program never ran")
	case !r.done:
		return nil, fmt.Errorf("the console ends before \"LR1 done\": the guest was cut off")
	}
	return r, nil
}

// splitLine splits "KIND k=v k=v msg=free text" into the kind and its fields.
func splitLine(s string) (string, map[string]string, error) {
	kind, rest, _ := strings.Cut(strings.TrimSpace(s), " ")
	kv := map[string]string{}
	for rest != "" {
		if m, ok := strings.CutPrefix(rest, "msg="); ok {
			kv["msg"] = m
			break
		}
		var w string
		w, rest, _ = strings.Cut(rest, " ")
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return "", nil, fmt.Errorf("field %q is not key=value", w)
		}
		kv[k] = v
	}
	if kind == "" {
		return "", nil, fmt.Errorf("no kind")
	}
	return kind, kv, nil
}

// apply takes one line into the run; cur is the pattern under way (nil between patterns).
func (r *linuxRun) apply(cur *linuxPattern, kind string, kv map[string]string) (*linuxPattern, error) {
	switch kind {
	case "linux":
		return cur, r.applyLinux(kv)
	case "cmdline":
		r.cmdline = kv["msg"]
	case "probe":
		if kv["ok"] == "yes" {
			r.probes[kv["name"]] = ""
		} else {
			r.probes[kv["name"]] = "not available: " + kv["msg"]
		}
	case "note":
		r.notes = append(r.notes, kv["msg"])
	case "error":
		if cur != nil {
			cur.errors = append(cur.errors, kv["msg"])
		} else {
			r.errors = append(r.errors, kv["msg"])
		}
	case "begin", "end", "count":
		return r.applyPattern(cur, kind, kv)
	case "done":
		r.done = true
	case "exit":
		if kv["status"] != "0" {
			r.errors = append(r.errors, "the guest program ended with status "+kv["status"])
		}
	default:
		return cur, fmt.Errorf("unknown kind %s", kind)
	}
	return cur, nil
}

func (r *linuxRun) applyLinux(kv map[string]string) error {
	var err error
	r.release = kv["release"]
	if r.cpus, err = strconv.Atoi(kv["cpus"]); err != nil {
		return fmt.Errorf("cpus: %v", err)
	}
	r.pcid, r.invpcid = kv["pcid"] == "true", kv["invpcid"] == "true"
	r.uptime, _ = strconv.ParseFloat(kv["uptime_s"], 64)
	return nil
}

func (r *linuxRun) applyPattern(cur *linuxPattern, kind string, kv map[string]string) (*linuxPattern, error) {
	switch {
	case kind == "begin" && cur != nil:
		return cur, fmt.Errorf("pattern %s begins inside %s", kv["pattern"], cur.name)
	case kind == "begin":
		p := &linuxPattern{name: kv["pattern"], counts: map[string]int64{}, perCPU: map[string][]int64{}}
		r.patterns = append(r.patterns, p)
		return p, nil
	case cur == nil:
		return nil, fmt.Errorf("%s outside a pattern", kind)
	case kind == "end":
		if kv["pattern"] != cur.name {
			return cur, fmt.Errorf("end of %s inside %s", kv["pattern"], cur.name)
		}
		cur.ms, _ = strconv.ParseInt(kv["ms"], 10, 64)
		cur.ended = true
		return nil, nil
	}
	v, err := strconv.ParseInt(kv["value"], 10, 64)
	if err != nil || kv["name"] == "" {
		return cur, fmt.Errorf("count without a name or an integer value")
	}
	cur.counts[kv["name"]] += v
	if cpus := kv["cpus"]; cpus != "" {
		per, err := intList(cpus)
		if err != nil {
			return cur, err
		}
		cur.perCPU[kv["name"]] = per
	}
	return cur, nil
}

func intList(s string) ([]int64, error) {
	var out []int64
	for _, w := range strings.Split(s, ",") {
		v, err := strconv.ParseInt(w, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("cpus: %v", err)
		}
		out = append(out, v)
	}
	return out, nil
}
