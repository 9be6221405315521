package main

import (
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lazymm/kernel/protocol"
)

// -report DIR writes DIR/index.html: the run at a glance (the scheme × scenario matrix coloured by
// result, the injected bugs and the detector that caught each, the other tests) and one SVG bar chart
// per column of the cost table. Self-contained: no scripts, no external files.

type cell struct {
	Class, Text, Title string
}

type injRow struct {
	Name, Scheme, Scenario, Catch, Caught, KilledBy, DetectorClass, Class, First string
}

type otherRow struct {
	Name, Expect, Outcome, Class, First string
	MS                                  float64
}

type reportPage struct {
	Title, Summary string
	Scenarios      []string
	Matrix         []struct {
		Scheme string
		Cells  []cell
	}
	Injects   []injRow
	Mutations string // the mutation summary line
	Others    []otherRow
	Charts    []template.HTML
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:sans-serif;margin:24px;color:#222}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3}
.pass{background:#c8e6c9}.fail{background:#ffcdd2}.skip{background:#e0e0e0}.none{background:#fff}
.charts{display:flex;flex-wrap:wrap;gap:16px}
</style></head><body>
<h1>{{.Title}}</h1>
<p>{{.Summary}}</p>
{{if .Matrix}}<h2>Schemes × scenarios</h2>
<table><tr><th>scheme</th>{{range .Scenarios}}<th>{{.}}</th>{{end}}</tr>
{{range .Matrix}}<tr><th>{{.Scheme}}</th>{{range .Cells}}<td class="{{.Class}}" title="{{.Title}}">{{.Text}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{if .Injects}}<h2>Mutations: the injected bugs</h2>
<p>{{.Mutations}}. A mutation is killed when its test fails, reported by the detector it must be caught by; the class says what that detector reads (machine: the loaded roots, faults and stale reads through the MMU; memory: poisoned or reused freed memory; assertion: the kernel's bookkeeping; harness: a crash or a hang).</p>
<table><tr><th>injection</th><th>scheme</th><th>scenario</th><th>must be caught by</th><th>caught</th><th>killed by</th><th>class</th><th>first report</th></tr>
{{range .Injects}}<tr class="{{.Class}}"><td>{{.Name}}</td><td>{{.Scheme}}</td><td>{{.Scenario}}</td><td>{{.Catch}}</td><td>{{.Caught}}</td><td>{{.KilledBy}}</td><td>{{.DetectorClass}}</td><td>{{.First}}</td></tr>
{{end}}</table>{{end}}
{{if .Charts}}<h2>Cost per scheme</h2>
<p>Counters summed over each scheme's passing scenarios; cycles are the median over them (TSC cycles).</p>
<div class="charts">{{range .Charts}}{{.}}{{end}}</div>{{end}}
{{if .Others}}<h2>Other tests</h2>
<table><tr><th>test</th><th>expect</th><th>outcome</th><th>ms</th><th>first failure</th></tr>
{{range .Others}}<tr class="{{.Class}}"><td>{{.Name}}</td><td>{{.Expect}}</td><td>{{.Outcome}}</td><td>{{.MS}}</td><td>{{.First}}</td></tr>
{{end}}</table>{{end}}
</body></html>
`))

func resultClass(t *protocol.Test) string {
	switch {
	case !t.AsExpected():
		return "fail"
	case t.Outcome == "skip":
		return "skip"
	}
	return "pass"
}

// firstFailure is what to show of a test: its skip reason, or its first failure (for an injected bug,
// the first report of the detector that had to catch it).
func firstFailure(t *protocol.Test) string {
	if t.Outcome == "skip" {
		return "skipped: " + t.Reason
	}
	for _, f := range t.Failures {
		if f.Check == t.Catch {
			return f.Check + ": " + oneLine(f.Detail, 140)
		}
	}
	if len(t.Failures) == 0 {
		return ""
	}
	return t.Failures[0].Check + ": " + oneLine(t.Failures[0].Detail, 140)
}

// writeHTMLReport writes DIR/index.html.
func writeHTMLReport(dir string, c *Config, res *Result) error {
	p := reportPage{Title: fmt.Sprintf("lazymm %s, %d CPUs, %s", c.Arch.Name, c.CPUs, time.Now().Format("2006-01-02 15:04"))}
	asExpected := 0
	for _, t := range res.Run.Tests {
		if t.AsExpected() {
			asExpected++
		}
	}
	p.Summary = fmt.Sprintf("%d tests, %d as expected, %d not; %d boot(s), wall %.1f s.", len(res.Run.Tests), asExpected, len(res.Run.Tests)-asExpected, max(res.Boots, 1), float64(res.WallMS)/1000)

	lazy := map[string]*protocol.Test{}
	var schemeOrder, scenarioOrder []string
	seenS, seenSc := map[string]bool{}, map[string]bool{}
	for _, t := range res.Run.Tests {
		switch {
		case t.Inject != "":
			r := injRow{Name: t.Inject, Scheme: t.Scheme, Scenario: t.Scenario, Catch: t.Catch, Class: resultClass(t), First: firstFailure(t)}
			r.Caught = "no"
			if t.AsExpected() {
				r.Caught = "yes"
			}
			r.KilledBy, r.DetectorClass = injVerdict(t)
			p.Injects = append(p.Injects, r)
		case strings.HasPrefix(t.Name, "lazy/") && t.Scheme != "":
			lazy[t.Scheme+"\x00"+t.Scenario] = t
			if !seenS[t.Scheme] {
				seenS[t.Scheme] = true
				schemeOrder = append(schemeOrder, t.Scheme)
			}
			if !seenSc[t.Scenario] {
				seenSc[t.Scenario] = true
				scenarioOrder = append(scenarioOrder, t.Scenario)
			}
		default:
			p.Others = append(p.Others, otherRow{Name: t.Name, Expect: t.Expect, Outcome: t.Outcome, Class: resultClass(t), First: firstFailure(t), MS: t.MS})
		}
	}
	p.Scenarios = scenarioOrder
	for _, s := range schemeOrder {
		row := struct {
			Scheme string
			Cells  []cell
		}{Scheme: s}
		for _, sc := range scenarioOrder {
			t := lazy[s+"\x00"+sc]
			if t == nil {
				row.Cells = append(row.Cells, cell{Class: "none", Text: "—"})
				continue
			}
			text := t.Outcome
			if t.AsExpected() && t.Outcome == "pass" {
				text = "pass"
			}
			row.Cells = append(row.Cells, cell{Class: resultClass(t), Text: text, Title: firstFailure(t)})
		}
		p.Matrix = append(p.Matrix, row)
	}

	p.Mutations = tallyMutations(res.Run.Tests).String()
	p.Charts = costCharts(res)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "index.html"))
	if err != nil {
		return err
	}
	if err := pageTmpl.Execute(f, p); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// injVerdict is the page's "killed by" and "class" of an injected test: the detector that killed
// it, "survived", or why there is no verdict.
func injVerdict(t *protocol.Test) (by, class string) {
	k := killedBy(t)
	switch {
	case k.Own:
		return k.Detector, string(k.Class)
	case k.Detector != "":
		return "not killed: caught by " + k.Detector + " only", string(k.Class)
	case t.Outcome == "pass" && equivalentOf(t.Inject) != "":
		return "equivalent: " + equivalentOf(t.Inject), ""
	case t.Outcome == "pass":
		return "survived", ""
	case t.Outcome == "skip":
		return "skipped", ""
	}
	return "no verdict", ""
}

// costCharts is a bar chart per column of the cost table.
func costCharts(res *Result) []template.HTML {
	var out []template.HTML
	costs := schemeCosts(res)
	for _, col := range costColumns {
		var vals []float64
		for _, s := range costs.order {
			vals = append(vals, costs.value(s, col.metric, col.sum))
		}
		if len(vals) > 0 {
			out = append(out, template.HTML(barChart(col.head, costs.order, vals)))
		}
	}
	return out
}

// barChart is a horizontal bar chart as inline SVG (labels escaped).
func barChart(title string, labels []string, vals []float64) string {
	const w, barH, left, right, top = 380, 18, 130, 70, 28
	h := top + len(vals)*(barH+6) + 8
	maxV := 0.0
	for _, v := range vals {
		maxV = max(maxV, v)
	}
	if maxV == 0 {
		maxV = 1
	}
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12" role="img" aria-label="%s">`, w, h, esc(title))
	fmt.Fprintf(&b, `<text x="4" y="16" font-size="13" font-weight="bold">%s</text>`, esc(title))
	for i, v := range vals {
		y := top + i*(barH+6)
		bw := float64(w-left-right) * v / maxV
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-6, y+13, esc(labels[i]))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="#5c7cfa"/>`, left, y, bw, barH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%.0f</text>`, float64(left)+bw+4, y+13, v)
	}
	b.WriteString(`</svg>`)
	return b.String()
}
