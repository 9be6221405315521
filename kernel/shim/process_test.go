package shim_test

import (
	"testing"
	"time"

	_ "lazymm/arch/amd64" // provides the shim's port (shim/port.go) to the linker; its machine stays unregistered on the host
	"lazymm/kernel/shim"
)

// UnixSeconds turns the machine clock's calendar time (CMOS on amd64, RTAS on ppc64) into Unix time.
func TestUnixSeconds(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 23, 59, 59, 0, time.UTC),
		time.Date(2024, 12, 31, 12, 0, 1, 0, time.UTC),
		time.Date(2026, 11, 28, 23, 26, 8, 0, time.UTC),
		time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC),
	} {
		got := shim.UnixSeconds(int64(tm.Year()), int64(tm.Month()), int64(tm.Day()), int64(tm.Hour()), int64(tm.Minute()), int64(tm.Second()))
		if got != tm.Unix() {
			t.Errorf("%v: %d, want %d", tm, got, tm.Unix())
		}
	}
}

// CmdlineHas matches whole words of the boot command line only.
func TestCmdlineHas(t *testing.T) {
	for _, b := range []byte("inject=hang tests=smoke/ nopcid") {
		shim.CmdlineAppend(b)
	}
	for word, want := range map[string]bool{"inject=hang": true, "nopcid": true, "tests=smoke/": true,
		"inject=han": false, "pcid": false, "hang": false, "": false} {
		if got := shim.CmdlineHas(word); got != want {
			t.Errorf("CmdlineHas(%q) = %v, want %v", word, got, want)
		}
	}
}
