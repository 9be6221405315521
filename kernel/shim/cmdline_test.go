package shim

import (
	"strings"
	"testing"
	"unsafe"

	"lazymm/kernel/catalog"
)

// setCmdline replaces the boot command line for a test and returns the function that restores it.
func setCmdline(line string) (restore func()) {
	buf, n, given := cmdlineBuf, cmdlineLen, cmdlineGiven
	cmdlineLen, cmdlineGiven = 0, 0
	for i := 0; i < len(line); i++ {
		CmdlineAppend(line[i])
	}
	return func() { cmdlineBuf, cmdlineLen, cmdlineGiven = buf, n, given }
}

// A line up to catalog.MaxCmdline is kept whole; a longer one is kept in part, and its whole length
// is known, never lost.
func TestCmdlineLength(t *testing.T) {
	for _, n := range []int{0, 1, 1024, 1025, 3900, catalog.MaxCmdline, catalog.MaxCmdline + 1, 9000} {
		line := strings.Repeat("smoke/,", n/7+1)[:n]
		restore := setCmdline(line)
		kept := min(n, catalog.MaxCmdline)
		if got := Cmdline(); got != line[:kept] {
			t.Errorf("%d bytes given: Cmdline has %d bytes, want the first %d", n, len(got), kept)
		}
		if got := CmdlineGiven(); got != n {
			t.Errorf("%d bytes given: CmdlineGiven = %d", n, got)
		}
		restore()
	}
	// ppc64: the firmware copies what fits and says how long the property is
	restore := setCmdline(strings.Repeat("a", catalog.MaxCmdline))
	defer restore()
	CmdlineSize(5000)
	if got := CmdlineGiven(); got != 5000 {
		t.Errorf("CmdlineSize(5000): CmdlineGiven = %d", got)
	}
	CmdlineSize(10)
	if got := CmdlineGiven(); got != 5000 {
		t.Errorf("CmdlineSize(10) after 5000: CmdlineGiven = %d", got)
	}
}

// InitialStack passes every word of a long command line as argv, and its strings fit on mainStack.
func TestInitialStackArgv(t *testing.T) {
	var words []string
	for i := 0; len(strings.Join(words, " ")) < catalog.MaxCmdline-8; i++ {
		words = append(words, "w"+strings.Repeat("x", i%5))
	}
	line := strings.Join(words, "  ")[:catalog.MaxCmdline]
	restore := setCmdline(line)
	defer restore()
	want := append([]string{"lazymm"}, strings.Fields(line)...)
	sp := InitialStack([][2]uintptr{{AuxHWCap, 0x1234}})
	lo, hi := uintptr(unsafe.Pointer(&mainStack[0])), uintptr(unsafe.Pointer(&mainStack[0]))+uintptr(len(mainStack))
	if sp < lo || sp >= hi || sp%16 != 0 {
		t.Fatalf("sp %#x is not an aligned address in mainStack [%#x, %#x)", sp, lo, hi)
	}
	at := func(a uintptr) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(&mainStack[0]), a-lo) }
	w := unsafe.Slice((*uintptr)(at(sp)), (hi-sp)/8)
	if int(w[0]) != len(want) {
		t.Fatalf("argc = %d, want %d", w[0], len(want))
	}
	for i, s := range want {
		p := w[1+i]
		if p < sp || p >= hi {
			t.Fatalf("argv[%d] = %#x, outside the stack", i, p)
		}
		var b []byte
		for ; *(*byte)(at(p)) != 0; p++ {
			b = append(b, *(*byte)(at(p)))
		}
		if string(b) != s {
			t.Fatalf("argv[%d] = %q, want %q", i, b, s)
		}
	}
	k := 1 + len(want)
	if w[k] != 0 || w[k+1] != 0 {
		t.Fatalf("argv or envp not terminated: %#x %#x", w[k], w[k+1])
	}
	aux := map[uintptr]uintptr{}
	for k += 2; w[k] != 0; k += 2 {
		aux[w[k]] = w[k+1]
	}
	if aux[6] != 4096 || aux[AuxHWCap] != 0x1234 || aux[25] == 0 {
		t.Errorf("auxv %v lacks AT_PAGESZ, AT_RANDOM or the arch's AT_HWCAP", aux)
	}
}
