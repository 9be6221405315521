package lazy

import (
	"testing"

	"lazymm/kernel/catalog"
)

// TestEveryEngineBugHasASwitch: a catalogued bug of a scheme is the engine's, and its name must turn a
// switch on; else its boot would run the unbroken engine, and an equivalent mutant would pass for
// nothing.
func TestEveryEngineBugHasASwitch(t *testing.T) {
	n := 0
	for _, in := range catalog.Injections {
		if in.Scheme == "" {
			continue
		}
		n++
		if injections[in.Name] == nil {
			t.Errorf("%s breaks %s, and SetInjection knows no switch for it", in.Name, in.Scheme)
		}
	}
	for name := range injections {
		if _, ok := catalog.InjectionByName(name); !ok {
			t.Errorf("switch %s is no catalogued injection", name)
		}
	}
	if n == 0 {
		t.Fatal("no engine bug in the catalogue: the test checks nothing")
	}
}
