package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lazymm/kernel/protocol"
)

// checkTraceSchema checks a file against the trace-event format Perfetto and chrome://tracing read:
// an object with a traceEvents array; every event with a name, a phase this writer uses (X complete,
// i instant, M metadata), integer pid and tid, and a non-negative ts; X with a non-negative dur, i
// with a scope, M naming a process or thread in args.name.
func checkTraceSchema(t *testing.T, b []byte) (slices, instants int) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatalf("not a JSON object: %v", err)
	}
	var evs []map[string]any
	if err := json.Unmarshal(top["traceEvents"], &evs); err != nil {
		t.Fatalf("traceEvents: %v", err)
	}
	for i, e := range evs {
		name, _ := e["name"].(string)
		ph, _ := e["ph"].(string)
		ts, tsOK := e["ts"].(float64)
		pid, pidOK := e["pid"].(float64)
		tid, tidOK := e["tid"].(float64)
		if name == "" || !pidOK || !tidOK || pid != float64(int(pid)) || tid != float64(int(tid)) {
			t.Fatalf("event %d lacks name, pid or tid: %v", i, e)
		}
		switch ph {
		case "X":
			dur, ok := e["dur"].(float64)
			if !tsOK || ts < 0 || !ok || dur < 0 {
				t.Fatalf("complete event %d: ts %v dur %v", i, e["ts"], e["dur"])
			}
			slices++
		case "i":
			if s := e["s"]; !tsOK || ts < 0 || (s != "t" && s != "p" && s != "g") {
				t.Fatalf("instant event %d: ts %v scope %v", i, e["ts"], s)
			}
			instants++
		case "M":
			args, _ := e["args"].(map[string]any)
			if (name != "process_name" && name != "thread_name") || args["name"] == nil {
				t.Fatalf("metadata event %d: %v", i, e)
			}
		default:
			t.Fatalf("event %d: phase %q", i, ph)
		}
	}
	return slices, instants
}

func TestTrace(t *testing.T) {
	r := protocol.NewRun()
	for _, l := range []string{
		"LZ1 begin name=lazy/x/y scheme=x scenario=y inject=- expect=pass",
		// CPU 0: a user task, then lazy in a kernel thread, an exit, a free; CPU 1: NMIs and a shot
		"LZ1 trace name=lazy/x/y cpu=0 tsc_hz=1000000000 events=3e8:1:5:2:2,7d0:2:2:0:0,7d0:1:9:0:2,bb8:7:5:2:0,fa0:6:2:0:0,1388:1:9:0:1",
		"LZ1 trace name=lazy/x/y cpu=1 tsc_hz=1000000000 events=3e8:5:0:0:0,5dc:5:2:1:0,7d0:3:3:2:0,7d0:4:2:1:0,9c4:8:1:0:0",
		"LZ1 end name=lazy/x/y outcome=pass ms=1",
		"LZ1 summary tests=1 passed=1 failed=0",
	} {
		r.Feed(l)
	}
	r.Finish()
	path := filepath.Join(t.TempDir(), "t.json")
	if err := writeTrace(path, &Result{Run: r}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	slices, instants := checkTraceSchema(t, b)
	if slices != 3 || instants != 8 {
		t.Errorf("%d slices and %d instants, want 3 (task 5, kthread 9 lazy on mm 2, then on init_mm) and 8:\n%s", slices, instants, b)
	}
	for _, want := range []string{`"task 5 (mm 2)"`, `"kthread 9 (lazy on mm 2)"`, `"__mmdrop"`, `"NMI reads mm"`, `"CPU 1"`, `"lazy/x/y"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("trace lacks %s", want)
		}
	}
	for _, bad := range []string{"events=zz:1:1:1:1", "events=1:1:1", "events=1:63:0:0:0"} {
		r := protocol.NewRun()
		r.Feed("LZ1 begin name=a scheme=- scenario=- inject=- expect=pass")
		r.Feed("LZ1 trace name=a cpu=0 tsc_hz=1000 " + bad)
		if _, err := buildTrace(&Result{Run: r}); err == nil {
			t.Errorf("trace %q accepted", bad)
		}
	}
	if err := writeTrace(path, &Result{Run: protocol.NewRun()}); err == nil {
		t.Error("an empty trace written without a word")
	}
}
