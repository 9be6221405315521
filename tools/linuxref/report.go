package main

import (
	"fmt"
	"io"
	"strings"
)

// report prints the header, one table per pattern, the legend and the verdict; it returns the exit
// status: 1 if a difference is unexplained (or a pattern failed on Linux), else 0.
func report(w io.Writer, o *options, lr *linuxRun, boot *bootResult, lz *lazymmRun) int {
	printHeader(w, o, lr, boot, lz)
	bad, diffs := 0, 0
	for _, p := range lr.patterns {
		rows := patternRows(p, lz.metrics[p.name], lr.probes)
		title := fmt.Sprintf("== %s (Linux's run: %d ms)", p.name, p.ms)
		if p.name == "idle" {
			title += ": the noise floor, 4 threads spinning 100 ms; lazymm has no such scenario"
		} else if lz.metrics[p.name] == nil {
			title += ": lazymm did not report it"
		}
		printTable(w, title, rows)
		for _, r := range rows {
			if r.note != "same" && r.lazymm != "-" && r.linux != "-" {
				diffs++
			}
			if r.unexplained {
				bad++
			}
		}
		for _, e := range p.errors {
			fmt.Fprintf(w, "  Linux: %s\n", e)
			bad++
		}
	}
	printLegend(w)
	for _, e := range lr.errors {
		fmt.Fprintf(w, "Linux: %s\n", e)
		bad++
	}
	fmt.Fprintf(w, "\nlinuxref: %d patterns, %d differences from lazymm, %d unexplained or failed\n", len(lr.patterns), diffs, bad)
	if bad > 0 {
		return 1
	}
	return 0
}

func printHeader(w io.Writer, o *options, lr *linuxRun, boot *bootResult, lz *lazymmRun) {
	desc := lr.desc
	if desc == "" {
		desc = "console " + o.console
	}
	fmt.Fprintf(w, "Linux %s (%s), %d CPUs, PCID %s, INVPCID %s, under QEMU's TCG (-cpu max, q35)\n",
		lr.release, desc, lr.cpus, yesNo(lr.pcid), yesNo(lr.invpcid))
	fmt.Fprintf(w, "  command line: %s\n", lr.cmdline)
	if boot != nil {
		fmt.Fprintf(w, "  boot: %s from QEMU's start to the guest program's first line (the guest's uptime then: %.1f s); QEMU ran %s in all\n",
			seconds(boot.firstLine), lr.uptime, seconds(boot.wall))
	}
	var off []string
	for name, why := range lr.probes {
		if why != "" {
			off = append(off, name+" "+why)
		}
	}
	if len(off) > 0 {
		fmt.Fprintf(w, "  probes: %s\n", strings.Join(off, "; "))
	}
	for _, n := range lr.notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintf(w, "lazymm: %s (scheme %s: Linux's x86 keeps a lazy mm alive by refcount)\n", lz.command, linuxScheme)
	for _, n := range lz.notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if strings.HasPrefix(lr.release, "6.1.") && o.rules != "6.1" {
		fmt.Fprintf(w, "  note: Linux is 6.1 but lazymm ran its %s rules (RULES=6.1 matches it)\n", o.rules)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
