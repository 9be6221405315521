package protocol

import (
	"strings"
	"testing"
)

// TestRoundTrip: what Format writes, ParseLine reads back whole, for plain, quoted, empty and
// awkward values.
func TestRoundTrip(t *testing.T) {
	vals := []string{"plain", "two words", "", `quote " inside`, "a=b", "tab\tand\nnewline", "ünïcode", "-", "0x1f"}
	for _, v := range vals {
		s := Format("fail", "name", "smoke/x", "check", "assert", "detail", v)
		if !strings.HasSuffix(s, "\n") {
			t.Fatalf("%q: no newline", s)
		}
		l, err := ParseLine(strings.TrimSuffix(s, "\n"))
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want := v
		if v == "-" { // "-" is how an empty value is written: it reads back as absent
			want = ""
		}
		if l.Kind != "fail" || l.Get("name") != "smoke/x" || l.Get("detail") != want {
			t.Errorf("%q read back as kind %q detail %q", s, l.Kind, l.Get("detail"))
		}
	}
	for _, n := range []float64{0, 7, -3, 1.5, 123456789} {
		l, err := ParseLine(strings.TrimSuffix(Format("metric", "name", "x", "value", Number(n)), "\n"))
		if err != nil || l.Get("value") != Number(n) {
			t.Errorf("metric %v: %v %q", n, err, l.Get("value"))
		}
	}
}
