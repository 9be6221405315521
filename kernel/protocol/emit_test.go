package protocol

import "testing"

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
		if got := Format(c.kind, c.kv...); got != c.want {
			t.Errorf("Format(%q, %q) = %q, want %q", c.kind, c.kv, got, c.want)
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
