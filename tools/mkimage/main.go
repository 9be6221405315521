// Command mkimage makes a GOOS=linux Go ELF bootable by multiboot 1 loaders (QEMU -kernel, GRUB) by
// writing a multiboot header with the a.out-kludge address fields (flags bit 16) into the zero padding
// after the ELF's headers in its first page. The result is still the same ELF, symbols included, so crash
// dumps are symbolized from the very file that booted.
//
//	mkimage -entry SYMBOL [-o OUT] IN.elf   write the header (in place without -o); rerunning changes nothing
//	mkimage -check [-entry SYMBOL] IMAGE     verify the header and print its fields
//
// Errors are reported in one line on stderr, with exit status 2.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = "usage: mkimage -entry SYMBOL [-o OUT] IN.elf | mkimage -check [-entry SYMBOL] IMAGE"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintln(stderr, "mkimage: "+oneLine(fmt.Sprintf(format, a...)))
		return 2
	}
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	entry := fs.String("entry", "", "`SYMBOL` of the 32-bit multiboot entry, e.g. lazymm/arch/amd64.boot32")
	out := fs.String("o", "", "write the image to `OUT` instead of rewriting IN in place")
	arch := fs.String("arch", "amd64", "amd64 (a multiboot header) or ppc64 (a relocating trampoline segment for QEMU's pseries, docs/PPC64.md)")
	check := fs.Bool("check", false, "only verify that IMAGE carries a valid multiboot header and print it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		return fail("%v; %s", err, usage)
	}
	if fs.NArg() != 1 {
		return fail("want exactly one image file, got %d arguments; %s", fs.NArg(), usage)
	}
	in := fs.Arg(0)

	if *check {
		if *out != "" {
			return fail("-o makes no sense with -check")
		}
		r, err := Inspect(in, *entry)
		if err != nil {
			return fail("%v", err)
		}
		fmt.Fprintln(stdout, r)
		return 0
	}

	if *entry == "" {
		return fail("-entry SYMBOL is required; %s", usage)
	}
	switch *arch {
	case "amd64":
	case "ppc64":
		image, err := os.ReadFile(in)
		if err != nil {
			return fail("%v", err)
		}
		at, err := PatchPPC64(image, *entry)
		if err != nil {
			return fail("%s: %v", in, err)
		}
		dst := in
		if *out != "" {
			dst = *out
		}
		if err := os.WriteFile(dst, image, 0o755); err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(stdout, "ppc64 trampoline: entered at %#x, jumps to %s\n", at, *entry)
		return 0
	default:
		return fail("-arch %q: want amd64 or ppc64", *arch)
	}
	image, err := os.ReadFile(in)
	if err != nil {
		return fail("%v", err)
	}
	orig := append([]byte(nil), image...)
	h, err := Patch(image, *entry)
	if err != nil {
		return fail("%s: %v", in, err)
	}
	if err := save(in, *out, orig, image, h); err != nil {
		return fail("%v", err)
	}
	return 0
}

// save writes the patched image: in place by rewriting only the header's bytes (not at all when they are
// unchanged), or as a new file OUT with IN's permissions.
func save(in, out string, orig, image []byte, h Header) error {
	fi, err := os.Stat(in)
	if err != nil {
		return err
	}
	if out != "" {
		if oi, err := os.Stat(out); err != nil || !os.SameFile(fi, oi) {
			return os.WriteFile(out, image, fi.Mode().Perm())
		}
	}
	hdr := image[h.Offset : h.Offset+mbHeaderLen]
	if string(hdr) == string(orig[h.Offset:h.Offset+mbHeaderLen]) {
		return nil
	}
	f, err := os.OpenFile(in, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(hdr, int64(h.Offset)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
