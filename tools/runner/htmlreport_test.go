package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lazymm/kernel/protocol"
)

func TestHTMLReport(t *testing.T) {
	r := protocol.NewRun()
	feed := func(ls ...string) {
		for _, l := range ls {
			r.Feed(l)
		}
	}
	for _, s := range []string{"refcount", "hazard"} {
		for _, sc := range []string{"exit-nmi", "torture"} {
			name := "lazy/" + s + "/" + sc
			feed("LZ1 begin name="+name+" scheme="+s+" scenario="+sc+" inject=- expect=pass",
				"LZ1 metric name="+name+" switches=100 mm_count_atomics=40 line_transfers=7 shoot_ipis=3 switch_cycles_median=2000")
			if s == "hazard" && sc == "torture" {
				feed(`LZ1 fail name=` + name + ` check=lazy-freed-mm cpu=1 loc=a detail="CPU 1 <script>alert(1)</script>"`)
			}
			if s == "hazard" && sc == "torture" {
				feed("LZ1 end name=" + name + " outcome=fail ms=3")
			} else {
				feed("LZ1 end name=" + name + " outcome=pass ms=3")
			}
		}
	}
	feed("LZ1 begin name=smoke/gc scheme=- scenario=- inject=- expect=pass", "LZ1 end name=smoke/gc outcome=pass ms=9",
		"LZ1 begin name=inject/hazard-no-scan scheme=hazard scenario=exit-while-lazy inject=hazard-no-scan expect=fail catch=lazy-freed-mm",
		"LZ1 fail name=inject/hazard-no-scan check=lazy-freed-mm cpu=2 loc=a detail=d",
		"LZ1 end name=inject/hazard-no-scan outcome=fail ms=5", "LZ1 summary tests=6 passed=5 failed=1")
	r.Finish()
	dir := t.TempDir()
	if err := writeHTMLReport(dir, &Config{Arch: archNamed("amd64"), CPUs: 4}, &Result{Run: r, Boots: 2, WallMS: 1500}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{"<th>exit-nmi</th>", "<th>torture</th>", "<th>refcount</th>", `class="fail"`, `class="pass"`,
		"hazard-no-scan", "lazy-freed-mm", "<td>yes</td>", "smoke/gc", "<svg", "MM_COUNT_ATOMICS", "6 tests, 5 as expected, 1 not"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") {
		t.Error("a failure detail reached the page unescaped")
	}
	if n := strings.Count(page, "<svg"); n != len(costColumns) {
		t.Errorf("%d charts, want %d (one per cost column)", n, len(costColumns))
	}
	if strings.Count(page, "<svg") != strings.Count(page, "</svg>") || strings.Count(page, "<table>") != strings.Count(page, "</table>") {
		t.Error("unbalanced svg or table elements")
	}
}
