package main

import (
	"testing"

	"lazymm/kernel/catalog"
)

// TestRegistryMatchesCatalogue: every test the catalogue can plan has a body, and every body is
// plannable, so the kernel and the runner expect the same tests.
func TestRegistryMatchesCatalogue(t *testing.T) {
	runs := registry()
	planned := map[string]bool{}
	for _, p := range catalog.Plan(catalog.Selection{BareMetal: true}) {
		planned[p.Name] = true
	}
	for _, in := range catalog.Injections {
		planned[catalog.InjectTest(in.Name)] = true
	}
	for name := range planned {
		if runs[name] == nil {
			t.Errorf("the catalogue plans %s, and the kernel has no body for it", name)
		}
	}
	for name := range runs {
		if !planned[name] {
			t.Errorf("the kernel has a body for %s, which the catalogue never plans", name)
		}
	}
}
