package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// TestCpioRoundTrip writes every kind of member and reads them back as written, 4-byte aligned.
func TestCpioRoundTrip(t *testing.T) {
	in := []cpioEntry{
		{Name: "bin", Mode: modeDir | 0o755},
		{Name: "dev/console", Mode: modeChar | 0o600, Major: 5, Minor: 1},
		{Name: "bin/x", Mode: modeFile | 0o755, Data: []byte("12345")},
		{Name: "bin/sh", Mode: modeSymlink | 0o777, Data: []byte("busybox")},
		{Name: "e", Mode: modeFile | 0o644},
	}
	var buf bytes.Buffer
	if err := writeCpio(&buf, in); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%4 != 0 {
		t.Errorf("archive of %d bytes, not 4-aligned", buf.Len())
	}
	if !strings.Contains(buf.String(), cpioTrailer) {
		t.Error("no trailer")
	}
	out, err := readCpio(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if in[i].Data == nil {
			in[i].Data = []byte{}
		}
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("read back\n%+v\nwant\n%+v", out, in)
	}
}

func TestCpioErrors(t *testing.T) {
	if err := writeCpio(&bytes.Buffer{}, []cpioEntry{{Name: ""}}); err == nil {
		t.Error("an empty name was written")
	}
	for _, bad := range []string{"", "070701zz", strings.Repeat("1", 110)} {
		if _, err := readCpio(strings.NewReader(bad)); err == nil {
			t.Errorf("read %q without an error", bad)
		}
	}
}

// TestInitramfs checks the guest's members: /init runs the guest program with the patterns, the
// console device is there, and the child program is the tiny ELF.
func TestInitramfs(t *testing.T) {
	es, err := initramfsEntries([]byte("busybox"), []byte("guest"), []string{"idle", "membarrier"}, true)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]cpioEntry{}
	for _, e := range es {
		byName[e.Name] = e
	}
	if init := string(byName["init"].Data); !strings.Contains(init, "/bin/lrguest run -dump idle membarrier") || !strings.Contains(init, "poweroff -f") {
		t.Errorf("/init:\n%s", init)
	}
	if c := byName["dev/console"]; c.Mode&0o170000 != modeChar || c.Major != 5 || c.Minor != 1 {
		t.Errorf("dev/console: %+v", c)
	}
	if !bytes.HasPrefix(byName["bin/lrchild"].Data, []byte("\x7fELF")) {
		t.Error("bin/lrchild is not an ELF file")
	}
	if string(byName["bin/sh"].Data) != "busybox" {
		t.Error("bin/sh is not a link to busybox")
	}
}
