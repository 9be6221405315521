package ktest

import (
	"fmt"
	"hash/crc32"
	"os"
	"strings"
	"testing"
)

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

// The boot line echoes the command line by length and CRC-32, and by itself only while the line
// stays within BootLineMax; a line the kernel could not keep whole is a cmdline failure.
func TestBootCmdline(t *testing.T) {
	boot := func(cmdline string, given int) string {
		f, err := os.CreateTemp(t.TempDir(), "out")
		if err != nil {
			t.Fatal(err)
		}
		Out = f
		CmdlineGiven = func() int { return given }
		defer func() { Out, CmdlineGiven = os.Stdout, nil }()
		Boot("amd64", 4, 512, "go1.26", cmdline)
		out, _ := os.ReadFile(f.Name())
		return string(out)
	}
	if got, want := boot("tests=smoke/ nopcid", 0), `LZ1 boot arch=amd64 cpus=4 mem_mb=512 go=go1.26 cmdline_len=19 cmdline_crc32=0x`; !strings.HasPrefix(got, want) ||
		!strings.HasSuffix(got, ` cmdline="tests=smoke/ nopcid"`+"\n") || strings.Contains(got, "check=cmdline") {
		t.Errorf("short line: %q", got)
	}
	if got := boot("", 0); !strings.Contains(got, " cmdline_len=0 cmdline_crc32=0x00000000 cmdline=-\n") {
		t.Errorf("empty line: %q", got)
	}
	long := "tests=" + strings.Repeat("smoke/,", 556) // 3,898 bytes
	got := boot(long, len(long))
	if want := fmt.Sprintf(" cmdline_len=%d cmdline_crc32=0x%08x cmdline=-\n", len(long), crc32.ChecksumIEEE([]byte(long))); !strings.HasSuffix(got, want) {
		t.Errorf("long line: %q, want it to end %q", got, want)
	}
	if strings.Contains(got, "check=cmdline") {
		t.Errorf("a line kept whole is a failure: %q", got)
	}
	// the longest line that still carries cmdline= is BootLineMax bytes
	for n := 2000; n < 4000; n++ {
		line := boot(strings.Repeat("x", n), n)
		if i := strings.IndexByte(line, '\n'); i+1 > BootLineMax {
			t.Fatalf("a %d-byte command line makes a %d-byte boot line", n, i+1)
		} else if strings.HasSuffix(line[:i], " cmdline=-") {
			if i+1+n-1 <= BootLineMax {
				t.Errorf("a %d-byte command line is left out of a boot line that had room", n)
			}
			break
		}
	}
	cut := strings.Repeat("x", 4096)
	got = boot(cut, 5000)
	if !strings.Contains(got, " cmdline_len=5000 ") || !strings.Contains(got, "LZ1 fail name=- check=cmdline cpu=0 ") {
		t.Errorf("a line cut short must say so: %q", got)
	}
}
