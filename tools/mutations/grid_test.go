package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"lazymm/kernel/catalog"
)

// fixtureGrid renders the testdata reports: amd64 (killed on the machine and in memory, one survivor,
// one caught by luck, one from before caught_by, one garbled), ppc64 hash, and a ppc64 report that
// names no MMU mode (the default, radix).
func fixtureGrid(t *testing.T) string {
	t.Helper()
	g := grid{Cols: columns(), Command: "go run ./tools/mutations testdata/amd64.json", Commit: "abc1234", Produced: "2025-01-02"}
	for _, f := range []string{"testdata/amd64.json", "testdata/ppc64-hash.json", "testdata/ppc64-nommu.json"} {
		r, err := readReport(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := place(g.Cols, r); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	render(&b, g)
	return b.String()
}

// row is the grid's row of a mutation, its cells trimmed.
func row(t *testing.T, doc, name string) []string {
	t.Helper()
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(l, "| `"+name+"` |") {
			var cells []string
			for _, c := range strings.Split(strings.Trim(l, "|"), " | ") {
				cells = append(cells, strings.TrimSpace(c))
			}
			return cells[1:]
		}
	}
	t.Fatalf("no row for %s in:\n%s", name, doc)
	return nil
}

func TestGridCells(t *testing.T) {
	doc := fixtureGrid(t)
	if !strings.Contains(doc, "| mutation | amd64/mainline (4 CPUs) | ppc64/radix (2 CPUs) | ppc64/hash (4 CPUs) |") {
		t.Errorf("heading: want the three columns with reports, in the catalogue's order:\n%s", doc)
	}
	for name, want := range map[string][]string{
		"no-shootdown":      {"stale-tlb (machine)", "**not run**", "**not run**"},
		"write-after-free":  {"poison (memory)", "poison (memory)", "**not run**"},
		"skip-flush-ipi":    {"**survived**", "**not run**", "cr3-audit (machine)"},
		"leak-pagetable":    {"**luck**: crash (harness)", "**not run**", "**not run**"},
		"mmput-twice":       {"refcount (assertion)", "**not run**", "**not run**"},
		"membarrier-no-ipi": {"**no verdict**: protocol", "**not run**", "**not run**"},
		"skip-tlbie":        {"n/a", "**not run**", "n/a"},
		"skip-hpte-remove":  {"n/a", "n/a", "stale-tlb (machine)"},
		"skip-exit-flush":   {"**not run**", "n/a", "**not run**"},
	} {
		if got := row(t, doc, name); strings.Join(got, " | ") != strings.Join(want, " | ") {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	for _, want := range []string{
		"| **killed** (machine+memory) | 3 of 6 (67%) | 1 of 1 (100%) | 2 of 2 (100%) |",
		"6 killed by their detector (5, 83%, on machine or memory), 1 caught by another check only, 1 survived, 1 without a verdict",
		"Produced by `go run ./tools/mutations testdata/amd64.json` at commit abc1234, 2025-01-02.",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the grid lacks %q:\n%s", want, doc)
		}
	}
	for _, in := range catalog.Injections {
		if in.Harness && strings.Contains(doc, "`"+in.Name+"`") {
			t.Errorf("harness control %s is a row: the grid is of the bugs", in.Name)
		}
	}
}

func TestGridPlace(t *testing.T) {
	cols := columns()
	if err := place(cols, &report{Arch: "ppc64", MMU: "hash"}); err != nil {
		t.Fatal(err)
	}
	if err := place(cols, &report{Arch: "ppc64", MMU: "hash"}); err == nil {
		t.Error("a second report of ppc64/hash was placed")
	}
	if err := place(cols, &report{Arch: "ppc64", MMU: "segmented"}); err == nil {
		t.Error("a report of an unknown MMU mode was placed")
	}
}

func TestEquivalentReason(t *testing.T) {
	type plain struct{ Equivalent string }
	type perMode struct{ Equivalent map[string]string }
	type none struct{ Name string }
	for _, c := range []struct {
		v    any
		mmu  string
		want string
	}{
		{plain{"the flush is done anyway"}, "hash", "the flush is done anyway"},
		{perMode{map[string]string{"hash": "H_REMOVE flushes"}}, "hash", "H_REMOVE flushes"},
		{perMode{map[string]string{"hash": "H_REMOVE flushes"}}, "radix", ""},
		{none{"x"}, "", ""},
	} {
		if got := fieldReason(c.v, c.mmu); got != c.want {
			t.Errorf("fieldReason(%+v, %q) = %q, want %q", c.v, c.mmu, got, c.want)
		}
	}
}

func TestDocNamesTheCommand(t *testing.T) {
	var b bytes.Buffer
	writeDoc(&b, grid{Cols: columns(), Command: "go run ./tools/mutations -cpus 4 -o docs/MUTATIONS.md"})
	for _, want := range []string{"# Mutations", "## The grid", "go run ./tools/mutations -cpus 4 -o docs/MUTATIONS.md"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the document lacks %q", want)
		}
	}
	if code := run([]string{"testdata/amd64.json", "testdata/amd64.json"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("two reports of one column: exit %d, want 2", code)
	}
}
