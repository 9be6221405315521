package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The initramfs is a cpio archive in the "new ASCII" (newc) format, the one the kernel unpacks
// (Documentation/driver-api/early-userspace/buffer-format.rst): a 110-byte header of hex fields,
// the NUL-terminated name, the data, each padded to 4 bytes, closed by the entry TRAILER!!!.

// cpio file modes (the type bits of st_mode).
const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeChar    = 0o020000
)

// cpioEntry is one member: a directory, a regular file, a symlink (Data is the target) or a
// character device (Major, Minor).
type cpioEntry struct {
	Name         string
	Mode         uint32 // type and permission bits
	Data         []byte
	Major, Minor uint32
}

const cpioTrailer = "TRAILER!!!"

// writeCpio writes the entries and the trailer, numbering inodes from 1.
func writeCpio(w io.Writer, entries []cpioEntry) error {
	bw := bufio.NewWriter(w)
	for i, e := range append(entries, cpioEntry{Name: cpioTrailer}) {
		if err := writeCpioEntry(bw, e, i+1); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func writeCpioEntry(w *bufio.Writer, e cpioEntry, ino int) error {
	if e.Name == "" || len(e.Name) > 4096 {
		return fmt.Errorf("cpio: bad name %q", e.Name)
	}
	nlink := 1
	if e.Mode&0o170000 == modeDir {
		nlink = 2
	}
	if e.Name == cpioTrailer {
		ino = 0
	}
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor,
	// namesize, check
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, e.Mode, 0, 0, nlink, 0, len(e.Data), 0, 0, e.Major, e.Minor, len(e.Name)+1, 0)
	w.WriteString(hdr)
	w.WriteString(e.Name)
	w.WriteByte(0)
	pad(w, len(hdr)+len(e.Name)+1)
	w.Write(e.Data)
	_, err := w.Write(make([]byte, (4-len(e.Data)%4)%4))
	return err
}

func pad(w *bufio.Writer, n int) {
	w.Write(make([]byte, (4-n%4)%4))
}

// readCpio reads a newc archive back, up to its trailer (the tests' round trip, and a check of what
// was written).
func readCpio(r io.Reader) ([]cpioEntry, error) {
	br := bufio.NewReader(r)
	var out []cpioEntry
	for {
		e, err := readCpioEntry(br)
		if err != nil {
			return nil, err
		}
		if e.Name == cpioTrailer {
			return out, nil
		}
		out = append(out, e)
	}
}

func readCpioEntry(r *bufio.Reader) (cpioEntry, error) {
	hdr := make([]byte, 110)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return cpioEntry{}, fmt.Errorf("cpio: header: %w", err)
	}
	if string(hdr[:6]) != "070701" {
		return cpioEntry{}, errors.New("cpio: not a newc header")
	}
	field := func(i int) (uint64, error) { return strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 32) }
	var f [13]uint64
	for i := range f {
		v, err := field(i)
		if err != nil {
			return cpioEntry{}, fmt.Errorf("cpio: header field %d: %w", i, err)
		}
		f[i] = v
	}
	name, err := readPadded(r, int(f[11]), 110)
	if err != nil || len(name) == 0 {
		return cpioEntry{}, fmt.Errorf("cpio: name: %v", err)
	}
	data, err := readPadded(r, int(f[6]), 0)
	if err != nil {
		return cpioEntry{}, fmt.Errorf("cpio: data of %s: %w", name[:len(name)-1], err)
	}
	return cpioEntry{Name: string(name[:len(name)-1]), Mode: uint32(f[1]), Data: data, Major: uint32(f[9]), Minor: uint32(f[10])}, nil
}

// readPadded reads n bytes and the padding that aligns offset+n to 4.
func readPadded(r *bufio.Reader, n, offset int) ([]byte, error) {
	b := make([]byte, n+(4-(offset+n)%4)%4)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b[:n], nil
}
