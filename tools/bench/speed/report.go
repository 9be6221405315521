package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"lazymm/kernel/catalog"
	"lazymm/tools/internal/stats"
)

// markdown is the Suite speed section: wall times, the TCG modes' ratio, fork-exit-storm's scaling.
func (s *samples) markdown(runs int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Suite speed\n\nMade by `go run ./tools/bench/speed -runs %d` (part of `make bench`): medians of %d rounds, the commands interleaved (the order reverses every other round), on this machine's cores. Runner wall time, from start to exit.\n\n", runs, runs)
	b.WriteString("| run | median | TCG boots |\n|---|---|---|\n")
	row := func(what, key string) {
		fmt.Fprintf(&b, "| %s | %.1f s | %s |\n", what, stats.Median(s.wall[key])/1000, s.tcg[key])
	}
	row("`runner -cpus 4 -matrix` (`make run ARCH=amd64`)", "amd64/4/auto")
	row("`runner -cpus 4 -matrix -tcg multi`", "amd64/4/multi")
	row("`runner -cpus 8 -matrix` (`make run ARCH=amd64 CPUS=8`)", "amd64/8/auto")
	a, _ := catalog.ArchByName("ppc64")
	var ppc float64
	for _, m := range a.MMUs {
		row("`runner -arch ppc64 -mmu "+m+" -cpus 4 -matrix`", "ppc64/"+m)
		ppc += stats.Median(s.wall["ppc64/"+m])
	}
	fmt.Fprintf(&b, "| `make run ARCH=ppc64` (the %d modes above, one after another) | %.1f s | |\n\n", len(a.MMUs), ppc/1000)
	fmt.Fprintf(&b, "-tcg auto against multi-threaded TCG at 4 CPUs: %.2f× the wall time (median of the per-round ratios).\n\n",
		medianRatio(s.wall["amd64/4/auto"], s.wall["amd64/4/multi"]))
	b.WriteString("fork-exit-storm's mean exit (exit_mm + mmput, TSC cycles, `-scheme all -scenario fork-exit-storm`) at 4 CPUs against 1:\n\n| scheme | 1 CPU | 4 CPUs | ratio |\n|---|---|---|---|\n")
	for _, sch := range catalog.Schemes {
		one, four := s.exit["fes/1/"+sch], s.exit["fes/4/"+sch]
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.2f× |\n", sch, stats.Median(one), stats.Median(four), stats.Median(four)/max(stats.Median(one), 1))
	}
	b.WriteString("\n")
	return b.String()
}

// kutSection runs tools/bench/kut.sh when KUT names a built kvm-unit-tests tree, else says why not.
func kutSection(log io.Writer) string {
	if os.Getenv("KUT") == "" {
		return "Boot against kvm-unit-tests: skipped (`make bench KUT=<built kvm-unit-tests tree> [KUT_PPC64=<ppc64 tree>]` includes it; tools/bench/kut.sh says how to build them).\n\n"
	}
	fmt.Fprintln(log, "boot against kvm-unit-tests: tools/bench/kut.sh")
	out, err := exec.Command("tools/bench/kut.sh").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("Boot against kvm-unit-tests: tools/bench/kut.sh failed (%v):\n\n```\n%s\n```\n\n", err, tail(string(out)))
	}
	return "Boot against kvm-unit-tests (`tools/bench/kut.sh`, with the environment's KUT, KUT_PPC64, N, CPUS):\n\n```\n" + strings.TrimSpace(string(out)) + "\n```\n\n"
}

// replaceSection puts section in place of the file's "## Suite speed" section (up to the next "## "),
// or after its first paragraph when it has none.
func replaceSection(path, section string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc := string(b)
	start := strings.Index(doc, "## Suite speed\n")
	if start < 0 {
		start = strings.Index(doc, "\n## ") + 1
		return os.WriteFile(path, []byte(doc[:start]+section+doc[start:]), 0o644)
	}
	end := strings.Index(doc[start+3:], "\n## ")
	if end < 0 {
		return os.WriteFile(path, []byte(doc[:start]+section), 0o644)
	}
	return os.WriteFile(path, []byte(doc[:start]+section+doc[start+3+end+1:]), 0o644)
}

func medianRatio(a, b []float64) float64 {
	var r []float64
	for i := range min(len(a), len(b)) {
		r = append(r, a[i]/max(b[i], 1))
	}
	return stats.Median(r)
}
