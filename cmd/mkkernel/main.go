// Command mkkernel turns the linked kernel ELF into a bootable image.
//
// The kernel is linked high, e.g.
//
//	go build -ldflags "-T 0x4000001000 -R 0x200000 -E gosv/arch/amd64.entry32" -o kernel.elf
//
// and mkkernel gives its segments low physical load addresses, a PVH entry
// note (QEMU -kernel, Firecracker) and a Multiboot2 header (GRUB):
//
//	mkkernel -in kernel.elf -out gosv.elf -kvbase 0x4000000000 -pbase 0x200000 -entry gosv/arch/amd64.entry32
//
// With -check it only verifies that an existing image is bootable:
//
//	mkkernel -check gosv.elf
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"gosv/boot/kimage"
)

func main() {
	in := flag.String("in", "", "kernel ELF `file` as linked by go build")
	out := flag.String("out", "", "bootable image `file` to write")
	kvbase, pbase := addr(0x4000000000), addr(0x200000)
	flag.Var(&kvbase, "kvbase", "virtual `address` the kernel is linked at")
	flag.Var(&pbase, "pbase", "physical `address` kvbase is loaded to")
	entry := flag.String("entry", "gosv/arch/amd64.entry32", "`symbol` of the 32-bit entry point")
	check := flag.Bool("check", false, "only check that the image named by the argument is bootable")
	verbose := flag.Bool("v", false, "print the entry point and segments")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: mkkernel -in kernel.elf -out gosv.elf [-kvbase addr] [-pbase addr] [-entry symbol] [-v]\n")
		fmt.Fprintf(os.Stderr, "       mkkernel -check [-v] gosv.elf\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	var err error
	switch {
	case *check && flag.NArg() == 1:
		err = checkImage(flag.Arg(0), *verbose)
	case !*check && flag.NArg() == 0 && *in != "" && *out != "":
		l := kimage.Layout{KVBase: uint64(kvbase), PBase: uint64(pbase), EntrySymbol: *entry}
		err = convert(*in, *out, l, *verbose)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkkernel:", err)
		os.Exit(1)
	}
}

// addr is an address flag, shown in hex in the usage message.
type addr uint64

func (a *addr) String() string { return fmt.Sprintf("%#x", uint64(*a)) }

func (a *addr) Set(s string) error {
	v, err := strconv.ParseUint(s, 0, 64)
	*a = addr(v)
	return err
}

func convert(in, out string, l kimage.Layout, verbose bool) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	img, info, err := kimage.Convert(data, l)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := writeExecutable(out, img); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if verbose {
		report(os.Stdout, info)
	}
	return nil
}

func checkImage(name string, verbose bool) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := kimage.Inspect(f)
	if err != nil {
		return fmt.Errorf("%s is not bootable: %w", name, err)
	}
	if verbose {
		report(os.Stdout, info)
	}
	return nil
}

// writeExecutable writes through a temporary file and renames it, so a
// failed run never leaves a half-written kernel behind.
func writeExecutable(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".mkkernel-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	// Chmod rather than a create mode: the umask must not strip the x bits.
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

func report(w io.Writer, info kimage.Info) {
	fmt.Fprintf(w, "entry      %#x (PVH note at %#x, Multiboot2 header at %#x)\n", info.Entry, info.NoteOffset, info.MB2Offset)
	for _, s := range info.Segments {
		fmt.Fprintf(w, "segment    vaddr %#x paddr %#x filesz %#x memsz %#x %v\n", s.VAddr, s.PAddr, s.FileSize, s.MemSize, s.Flags)
	}
	fmt.Fprintf(w, "image      %#x-%#x (%d KiB of %d MiB)\n", info.PhysStart, info.PhysEnd, info.Span()>>10, kimage.MaxImageSpan>>20)
}
