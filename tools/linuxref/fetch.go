package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// The Linux side needs a kernel image and busybox. Both come from Debian's packages, fetched with
// apt-get download into the work directory (once: a .deb already there is used again) and unpacked
// with dpkg-deb; a kernel of one's own (LINUX_KERNEL) replaces the package.

// errInput marks an error of the user's input (exit status 2).
var errInput = errors.New("bad input")

// kernelImage is the Linux image to boot, and what it is.
func kernelImage(userPath, dir string) (string, string, error) {
	if userPath != "" {
		st, err := os.Stat(userPath)
		if err != nil || !st.Mode().IsRegular() {
			return "", "", fmt.Errorf("%w: LINUX_KERNEL=%s: no such kernel image file", errInput, userPath)
		}
		return userPath, "LINUX_KERNEL=" + userPath, nil
	}
	pkg, err := currentKernelPackage()
	if err != nil {
		return "", "", err
	}
	img, err := debianFile(dir, pkg, "./boot/vmlinuz-")
	return img, "Debian's " + pkg, err
}

// currentKernelPackage is the unsigned image package linux-image-amd64 depends on now.
func currentKernelPackage() (string, error) {
	out, err := exec.Command("apt-cache", "depends", "linux-image-amd64").Output()
	if err != nil {
		return "", fmt.Errorf("%w: apt-cache depends linux-image-amd64: %v (set LINUX_KERNEL=path, or run on Debian)", errInput, err)
	}
	m := regexp.MustCompile(`Depends: (linux-image-[0-9][^\s]*-amd64)\b`).FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%w: apt knows no linux-image-amd64 image package: run apt-get update, or set LINUX_KERNEL=path", errInput)
	}
	return string(m[1]) + "-unsigned", nil
}

// debianFile downloads pkg's .deb into dir unless one is there, and extracts the first member whose
// path starts with prefix, into dir under its base name; it returns that file.
func debianFile(dir, pkg, prefix string) (string, error) {
	deb, err := download(dir, pkg)
	if err != nil {
		return "", err
	}
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("dpkg-deb: %v", err)
	}
	file, ferr := extractMember(out, prefix, dir)
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil && ferr == nil {
		ferr = fmt.Errorf("dpkg-deb --fsys-tarfile %s: %v: %s", deb, err, strings.TrimSpace(stderr.String()))
	}
	return file, ferr
}

// download runs apt-get download in dir, unless dir has a .deb of pkg already.
func download(dir, pkg string) (string, error) {
	if m, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.deb")); len(m) > 0 {
		return m[len(m)-1], nil
	}
	fmt.Fprintf(os.Stderr, "linuxref: apt-get download %s\n", pkg)
	cmd := exec.Command("apt-get", "download", pkg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: apt-get download %s: %v (run apt-get update, or set LINUX_KERNEL=path)", errInput, pkg, err)
	}
	m, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
	if len(m) == 0 {
		return "", fmt.Errorf("apt-get download %s left no .deb in %s", pkg, dir)
	}
	return m[len(m)-1], nil
}

// extractMember copies the first regular file of the tar stream whose name starts with prefix into
// dir, keeping its base name.
func extractMember(r io.Reader, prefix, dir string) (string, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return "", fmt.Errorf("no %s* in the package", prefix)
		}
		if err != nil {
			return "", err
		}
		if h.Typeflag != tar.TypeReg || !strings.HasPrefix(h.Name, prefix) {
			continue
		}
		dst := filepath.Join(dir, path.Base(h.Name))
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return dst, err
	}
}
