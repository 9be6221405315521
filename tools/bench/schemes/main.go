// Command schemes measures what each lazy-mm scheme costs as CPUs grow and writes docs/BENCHMARKS.md
// with an SVG chart per figure. For each CPU count it boots the kernel -runs times with the
// switch-storm and exit-while-lazy scenarios under every scheme, takes the median of each figure over
// the boots, and reports ratios against refcount in the same run. The suite's speed is
// tools/bench/speed's section of the same report, kept as it is.
//
//	go run ./tools/bench/schemes [-runs 3] [-cpus 1,2,4,8] [-out docs/BENCHMARKS.md] [-svg docs/bench]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"lazymm/kernel/catalog"
	"lazymm/tools/internal/stats"
)

var schemes = catalog.Schemes

// figure is one benchmark figure, computed from a test's metrics.
type figure struct {
	key, title, unit string
	scenario         string
	f                func(m map[string]float64) (float64, bool)
}

func per(num, den string, scale float64) func(map[string]float64) (float64, bool) {
	return func(m map[string]float64) (float64, bool) {
		if m[den] == 0 {
			return 0, false
		}
		return m[num] * scale / m[den], true
	}
}

var figures = []figure{
	{"atomics", "mm_count atomics per 1000 context switches", "atomics", "switch-storm", per("mm_count_atomics", "switches", 1000)},
	{"lines", "cache-line transfers of mm_count per 1000 context switches", "transfers", "switch-storm", per("line_transfers", "switches", 1000)},
	{"cr3", "CR3 writes per context switch", "writes", "switch-storm", func(m map[string]float64) (float64, bool) {
		if m["switches"] == 0 {
			return 0, false
		}
		return (m["cr3_flush"] + m["cr3_noflush"]) / m["switches"], true
	}},
	{"switchcyc", "median TSC cycles per context switch", "cycles", "switch-storm", func(m map[string]float64) (float64, bool) {
		v, ok := m["switch_cycles_median"]
		return v, ok
	}},
	{"ipis", "shootdown IPIs per exit (the sender's own call included)", "IPIs", "exit-while-lazy", per("shoot_ipis", "exits", 1)},
	{"exitcyc", "mean TSC cycles per exit (exit_mm + mmput)", "cycles", "exit-while-lazy", func(m map[string]float64) (float64, bool) {
		v, ok := m["exit_cycles_mean"]
		return v, ok
	}},
}

type report struct {
	BootMS int64 `json:"boot_ms"`
	WallMS int64 `json:"wall_ms"`
	Tests  []struct {
		Name     string             `json:"name"`
		Scheme   string             `json:"scheme"`
		Scenario string             `json:"scenario"`
		Outcome  string             `json:"outcome"`
		Metrics  map[string]float64 `json:"metrics"`
	} `json:"tests"`
	Outcome string `json:"outcome"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "schemes:", err)
		os.Exit(2)
	}
}

func run(args []string, log io.Writer) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	vals, err := c.measureSchemes(log)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.svgDir, 0o755); err != nil {
		return err
	}
	var md strings.Builder
	c.writeIntro(&md)
	if err := c.writeFigures(&md, vals); err != nil {
		return err
	}
	if err := writeHostBenchmarks(&md, log); err != nil {
		return err
	}
	if err := os.WriteFile(c.out, []byte(md.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(log, "wrote %s and %d charts in %s\n", c.out, len(figures), c.svgDir)
	return nil
}

// config is the command line: what to boot, how often, and where the report goes.
type config struct {
	runner, kernel string
	runs           int
	cpuList        string // as given, for the report's text
	cpus           []int
	out, svgDir    string
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("schemes", flag.ContinueOnError)
	fs.StringVar(&c.runner, "runner", "build/amd64/runner", "the runner")
	fs.StringVar(&c.kernel, "kernel", "build/amd64/lazymm.elf", "the kernel image")
	fs.IntVar(&c.runs, "runs", 3, "boots per CPU count (medians over them)")
	fs.StringVar(&c.cpuList, "cpus", "1,2,4,8", "CPU counts")
	fs.StringVar(&c.out, "out", "docs/BENCHMARKS.md", "the report")
	fs.StringVar(&c.svgDir, "svg", "docs/bench", "where the charts go")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if c.runs < 1 {
		return nil, errors.New("-runs must be at least 1")
	}
	for _, s := range strings.Split(c.cpuList, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 32 {
			return nil, fmt.Errorf("bad -cpus entry %q", s)
		}
		c.cpus = append(c.cpus, n)
	}
	for _, p := range []string{c.runner, c.kernel} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s: %v (make kernel runner first)", p, err)
		}
	}
	return c, nil
}

// boot runs the runner once with args and returns its JSON report (the runner's exit status says
// nothing here: a report with a failing outcome is still a report).
func (c *config) boot(args ...string) (*report, error) {
	f, err := os.CreateTemp("", "lazymm-bench-*.json")
	if err != nil {
		return nil, err
	}
	f.Close()
	defer os.Remove(f.Name())
	cmd := exec.Command(c.runner, append([]string{"-kernel", c.kernel, "-json", f.Name(), "-timeout", "300s"}, args...)...)
	outp, _ := cmd.CombinedOutput()
	b, err := os.ReadFile(f.Name())
	var r report
	if err != nil || json.Unmarshal(b, &r) != nil {
		return nil, fmt.Errorf("runner %v wrote no report:\n%s", args, outp)
	}
	return &r, nil
}

// measureSchemes boots -runs times at each CPU count and returns, per figure and scheme, the median
// over the boots at each CPU count: vals[fig][scheme][cpuIndex].
func (c *config) measureSchemes(log io.Writer) (map[string]map[string][]float64, error) {
	vals := map[string]map[string][]float64{}
	for _, fg := range figures {
		vals[fg.key] = map[string][]float64{}
		for _, s := range schemes {
			vals[fg.key][s] = make([]float64, len(c.cpus))
		}
	}
	for ci, n := range c.cpus {
		samples := map[string]map[string][]float64{} // fig -> scheme -> per run
		for r := 0; r < c.runs; r++ {
			fmt.Fprintf(log, "%d CPUs, boot %d of %d\n", n, r+1, c.runs)
			rep, err := c.boot("-cpus", strconv.Itoa(n), "-scheme", "all", "-scenario", "switch-storm,exit-while-lazy")
			if err != nil {
				return nil, err
			}
			if rep.Outcome != "pass" {
				return nil, fmt.Errorf("the run at %d CPUs did not pass: a benchmark of failing schemes means nothing", n)
			}
			addSamples(samples, rep)
		}
		for _, fg := range figures {
			for _, s := range schemes {
				vals[fg.key][s][ci] = stats.Median(samples[fg.key][s])
			}
		}
	}
	return vals, nil
}

// addSamples adds each figure that a test of rep yields to samples[fig][scheme].
func addSamples(samples map[string]map[string][]float64, rep *report) {
	for _, t := range rep.Tests {
		for _, fg := range figures {
			if t.Scenario != fg.scenario {
				continue
			}
			if v, ok := fg.f(t.Metrics); ok {
				if samples[fg.key] == nil {
					samples[fg.key] = map[string][]float64{}
				}
				samples[fg.key][t.Scheme] = append(samples[fg.key][t.Scheme], v)
			}
		}
	}
}

// writeIntro writes the report's title, how it was made, the suite speed section tools/bench/speed
// wrote into the report before (kept as it is) and how to read the figures.
func (c *config) writeIntro(md *strings.Builder) {
	fmt.Fprintf(md, "# Benchmarks\n\nRegenerated by `make bench` (`go run ./tools/bench/speed`, then `go run ./tools/bench/schemes -runs %d -cpus %s`). Every figure is the median over %d boots. The machine: QEMU TCG (`-accel tcg -cpu max`, q35) on the host that ran it, whose cores are shared by every virtual CPU: above as many virtual CPUs as host cores, latencies measure host scheduling. The counters are exact (they count events); the cycle figures are TCG's TSC.\n\n", c.runs, c.cpuList, c.runs)
	md.WriteString(keptSpeed(c.out))
	md.WriteString(reading)
}

// keptSpeed is the "## Suite speed" section of the report at path, up to the next section ("" if none).
func keptSpeed(path string) string {
	b, _ := os.ReadFile(path)
	doc := string(b)
	start := strings.Index(doc, "## Suite speed\n")
	if start < 0 {
		return ""
	}
	if end := strings.Index(doc[start+3:], "\n## "); end >= 0 {
		return doc[start : start+3+end+1]
	}
	return doc[start:]
}

// writeFigures writes each figure's chart to the SVG directory and its table, with ratios to
// refcount's, to the report.
func (c *config) writeFigures(md *strings.Builder, vals map[string]map[string][]float64) error {
	fmt.Fprintf(md, "## Scheme cost as CPUs grow\n\nWorkloads: `switch-storm` (per-switch figures) and `exit-while-lazy` (per-exit figures), under each scheme, at %s CPUs. Each table gives the figure and, in parentheses, its ratio to refcount's at the same CPU count.\n\n", c.cpuList)
	for _, fg := range figures {
		name := "bench-" + fg.key + ".svg"
		if err := os.WriteFile(filepath.Join(c.svgDir, name), []byte(lineChart(fg.title, fg.unit, c.cpus, vals[fg.key])), 0o644); err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(c.out), filepath.Join(c.svgDir, name))
		fmt.Fprintf(md, "### %s (%s)\n\n![%s](%s)\n\n| scheme |", fg.title, fg.scenario, fg.title, rel)
		for _, n := range c.cpus {
			fmt.Fprintf(md, " %s |", cpuLabel(n))
		}
		md.WriteString("\n|---|" + strings.Repeat("---|", len(c.cpus)) + "\n")
		for _, s := range schemes {
			writeFigureRow(md, s, vals[fg.key])
		}
		md.WriteString("\n")
	}
	return nil
}

// writeFigureRow writes scheme s's row of a figure's table: each value, with its ratio to refcount's
// where that is not zero.
func writeFigureRow(md *strings.Builder, s string, vals map[string][]float64) {
	fmt.Fprintf(md, "| %s |", s)
	for ci := range vals[s] {
		v, ref := vals[s][ci], vals[catalog.Refcount][ci]
		if ref != 0 {
			fmt.Fprintf(md, " %s (%.2f×) |", num(v), v/ref)
		} else {
			fmt.Fprintf(md, " %s |", num(v))
		}
	}
	md.WriteString("\n")
}

// writeHostBenchmarks runs the runner's own Go benchmarks and writes their result lines.
func writeHostBenchmarks(md *strings.Builder, log io.Writer) error {
	fmt.Fprintln(log, "host-side benchmarks")
	gb, err := exec.Command("go", "test", "-run", "^$", "-bench", ".", "-benchtime", "1s", "-count", "1",
		"./kernel/protocol", "./tools/runner").CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test -bench: %v\n%s", err, gb)
	}
	md.WriteString("## Host side\n\nThe runner's own costs, from Go's benchmark harness (`go test -run '^$' -bench . ./kernel/protocol ./tools/runner`): parsing a 400-line console, and rendering the table, the cost table and the JSON of a 100-test run.\n\n```\n")
	for _, l := range strings.Split(string(gb), "\n") {
		if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "goos") || strings.HasPrefix(l, "goarch") || strings.HasPrefix(l, "cpu:") {
			md.WriteString(l + "\n")
		}
	}
	md.WriteString("```\n")
	return nil
}

func num(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v == float64(int64(v)):
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

var colors = []string{"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"}

// lineChart draws one line per scheme over the CPU counts, as a self-contained SVG.
func lineChart(title, unit string, cpus []int, series map[string][]float64) string {
	const w, h, left, right, top, bottom = 720, 380, 70, 170, 40, 50
	maxV := 0.0
	for _, v := range series {
		for _, x := range v {
			maxV = max(maxV, x)
		}
	}
	if maxV == 0 {
		maxV = 1
	}
	x := func(i int) float64 {
		if len(cpus) == 1 {
			return left
		}
		return left + float64(i)*float64(w-left-right)/float64(len(cpus)-1)
	}
	y := func(v float64) float64 { return top + (1-v/maxV)*float64(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14">%s</text>`+"\n", left, esc(title))
	for k := 0; k <= 4; k++ {
		v := maxV * float64(k) / 4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
			left, w-right, y(v), y(v), left-6, y(v)+4, esc(num(v)))
	}
	for i, n := range cpus {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x(i), h-bottom+18, n)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">CPUs</text>`+"\n", (left+w-right)/2, h-10)
	fmt.Fprintf(&b, `<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>`+"\n", (top+h-bottom)/2, (top+h-bottom)/2, esc(unit))
	for si, s := range schemes {
		v := series[s]
		var pts []string
		for i := range v {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v[i])))
		}
		c := colors[si%len(colors)]
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, strings.Join(pts, " "))
		for i := range v {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(i), y(v[i]), c)
		}
		ly := top + 18*si
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/><text x="%d" y="%d">%s</text>`+"\n",
			w-right+12, w-right+32, ly, ly, c, w-right+38, ly+4, esc(s))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func cpuLabel(n int) string {
	if n == 1 {
		return "1 CPU"
	}
	return strconv.Itoa(n) + " CPUs"
}

// reading is how to read the figures: what each counts, and what TCG does to it.
const reading = `## Reading these figures

- **mm_count atomics** count every atomic operation on an mm's mm_users and mm_count. Per context switch this is a property of the scheme, not of the CPU count: refcount takes and drops a reference on every lazy switch, and the others touch the counts only on fork, clone, use_mm and exit.
- **Cache-line transfers** count the atomics made by a different CPU than the line's last writer: what would move the line between caches. Under TCG the host runs each virtual CPU in bursts: at 4 and 8 CPUs, more vCPUs than the host's 2 cores, the runner's -tcg auto runs them one at a time, each until it pauses, halts or takes an interrupt. Consecutive switches of one vCPU then find the line where it left it, so the count measures how finely the vCPUs are interleaved as much as how many CPUs there are. Expect it to grow with CPUs on hardware (KVM), where the CPUs really run at once; here it is highest at 2 vCPUs on 2 host cores, where they do.
- **Shootdown IPIs per exit** are exact. Shootdown's grow with the CPU count: it interrupts every CPU, because x86's mm_cpumask is no superset of lazy users (docs/LAZY.md). The targeted schemes send one per exit: the exiting CPU's own call, found through the mask, the hazard slots or the exit flush. loaded-mm and no-active-mm send none here, because the x86 freed-tables flush has already moved the lazy CPUs off by the time of __mmdrop.
- **Cycles** are TCG's TSC: they rank nothing across schemes within the noise of host scheduling, which grows with the number of virtual CPUs per host core. The exit figures include the scheme's IPIs and waits, and leave out the lab's own CR3 and lazy-reference audits (metric audit_cycles), which Linux has not.

`
