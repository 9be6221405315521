package ktest

import (
	"os"
	"strings"
	"testing"
)

func TestLine(t *testing.T) {
	cases := []struct {
		kind string
		kv   []string
		want string
	}{
		{"begin", []string{"name", "smoke/gc", "scheme", ""}, "LZ1 begin name=smoke/gc scheme=-\n"},
		{"fail", []string{"detail", "got 3, want 4"}, "LZ1 fail detail=\"got 3, want 4\"\n"},
		{"fail", []string{"detail", "a=b"}, "LZ1 fail detail=\"a=b\"\n"},
		{"fail", []string{"detail", "quote\"d"}, "LZ1 fail detail=\"quote\\\"d\"\n"},
		{"boot", []string{"go", "go1.26.8"}, "LZ1 boot go=go1.26.8\n"},
		{"fail", []string{"detail", "ünï"}, "LZ1 fail detail=\"ünï\"\n"},
	}
	for _, c := range cases {
		if got := Line(c.kind, c.kv...); got != c.want {
			t.Errorf("Line(%q, %q) = %q, want %q", c.kind, c.kv, got, c.want)
		}
	}
}

func TestNumber(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 42: "42", -7: "-7", 1.5: "1.500", 1e15: "1000000000000000", 0.12345: "0.123"} {
		if got := Number(v); got != want {
			t.Errorf("Number(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestRunOutcomes(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	Out = f
	defer func() { Out = os.Stdout }()
	ok, bad := Run([]Test{
		{Name: "a", Run: func(t *T) { t.Metric("x", 3) }},
		{Name: "b", Run: func(t *T) { t.Fatalf("boom %d", 1); panic("not reached") }},
		{Name: "c", Expect: "fail", Run: func(t *T) { panic("kaput") }},
		{Name: "d", Expect: "fail", Run: func(t *T) {}},
	})
	if ok != 2 || bad != 2 {
		t.Errorf("Run = %d as expected, %d unexpected; want 2, 2", ok, bad)
	}
	out, _ := os.ReadFile(f.Name())
	for _, want := range []string{
		"LZ1 metric name=a x=3\n", "LZ1 end name=a outcome=pass",
		"check=assert", "detail=\"boom 1\"", "LZ1 end name=b outcome=fail",
		"check=panic", "LZ1 end name=c outcome=fail", "LZ1 end name=d outcome=pass",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
