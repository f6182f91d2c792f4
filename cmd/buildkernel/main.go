// Command buildkernel builds the bootable gosv kernel image (see
// boot/kbuild). `make kernel` runs it.
package main

import (
	"flag"
	"fmt"
	"os"

	"gosv/boot/kbuild"
)

func main() {
	out := flag.String("o", "build/gosv.elf", "image to write")
	version := flag.String("version", "", "version string for the banner")
	verbose := flag.Bool("v", false, "print the build command and image layout")
	flag.Parse()
	info, err := kbuild.Build(kbuild.Options{Out: *out, Version: *version, Verbose: *verbose})
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildkernel:", err)
		os.Exit(1)
	}
	if *verbose {
		fmt.Fprintf(os.Stderr, "%s: PVH entry %#x, %d KiB physical span\n", *out, info.Entry, info.Span()>>10)
	}
}
