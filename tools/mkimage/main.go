// Command mkimage makes a GOOS=linux Go ELF bootable by multiboot loaders (QEMU -kernel, GRUB) by writing
// a multiboot header with the a.out-kludge address fields into the zero padding of its first page. The
// result is still the same ELF, symbols included, so crash dumps are symbolized from it.
//
//	mkimage -entry lazymm/arch/amd64.boot32 [-o OUT] IN.elf
//	mkimage -check IMAGE
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	entry := fs.String("entry", "", "symbol of the 32-bit multiboot entry")
	out := fs.String("o", "", "output file (default: rewrite IN in place)")
	check := fs.Bool("check", false, "only verify that IMAGE carries a valid multiboot header")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "mkimage: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() != 1 {
		return fail("want exactly one image file, got %d arguments", fs.NArg())
	}
	in := fs.Arg(0)
	image, err := os.ReadFile(in)
	if err != nil {
		return fail("%v", err)
	}
	if *check {
		h, err := Find(image)
		if err != nil {
			return fail("%s: %v", in, err)
		}
		fmt.Fprintln(stdout, h)
		return 0
	}
	if *entry == "" {
		return fail("-entry SYMBOL is required")
	}
	h, err := Plan(image, *entry)
	if err != nil {
		return fail("%s: %v", in, err)
	}
	Write(image, h)
	if *out == "" {
		*out = in
	}
	if err := os.WriteFile(*out, image, 0o755); err != nil {
		return fail("%v", err)
	}
	return 0
}
