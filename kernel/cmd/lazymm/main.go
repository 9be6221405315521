// Command lazymm is the kernel's main: on bare metal it runs as the hosted Go program the arch layer
// boots into; started as a Linux process it runs the same suite on the host. Which tests run is
// catalog.Plan of the command line, the list the runner expects too.
package main

import (
	"os"
	"runtime"
	"strings"

	"lazymm/kernel/catalog"
	"lazymm/kernel/ktest"
	"lazymm/kernel/lazy"
	"lazymm/kernel/machine"
)

func main() {
	m := machine.M
	cmdline := m.Cmdline()
	if cmdline == "" {
		cmdline = strings.Join(os.Args[1:], " ")
	}
	ktest.CPU = m.CPU
	ktest.Boot(m.Arch(), m.CPUs(), m.MemMB(), runtime.Version(), cmdline)

	errs := catalog.CheckCmdline(cmdline)
	sel := catalog.SelectionOf(cmdline, m.Arch(), m.BareMetal())
	sel.CPUs = m.CPUs()
	if v, ok := catalog.WordValue(cmdline, "trace"); ok {
		lazy.SetTrace(v == "1")
	}
	lazy.SetInjection(sel.Inject)
	tests := bind(catalog.Plan(sel), registry())
	if len(errs) > 0 {
		tests = append([]ktest.Test{{Name: "cmdline", Run: func(t *ktest.T) {
			for _, err := range errs {
				t.Check("cmdline", false, "%v", err)
			}
		}}}, tests...)
	}
	ok, unexpected := ktest.Run(tests)
	ktest.Summary(len(tests), ok, unexpected)
	if unexpected > 0 {
		m.Exit(1)
	}
	m.Exit(0)
}

// bind gives each planned test its body. A planned name without one is the kernel's own bug: it
// fails, so the catalogue and the suites cannot drift apart unseen.
func bind(plan []catalog.Test, runs map[string]func(*ktest.T)) []ktest.Test {
	tests := make([]ktest.Test, 0, len(plan))
	for _, p := range plan {
		run, ok := runs[p.Name]
		if !ok {
			name := p.Name
			run = func(t *ktest.T) { t.Errorf("the catalogue plans %s, and no suite has it", name) }
		} else if p.Scenario != "" {
			run = needAddressSpaces(run)
		}
		tests = append(tests, ktest.Test{Name: p.Name, Scheme: p.Scheme, Scenario: p.Scenario, Inject: p.Inject,
			Expect: p.Expect, Catch: p.Catch, Run: run})
	}
	return tests
}

// needAddressSpaces makes a test skip, saying why, on a machine without test address spaces.
func needAddressSpaces(run func(*ktest.T)) func(*ktest.T) {
	return func(t *ktest.T) {
		if err := machine.M.AddressSpaces(); err != nil {
			t.Skipf("%v", err)
		}
		run(t)
	}
}
