// Package kbuild builds the gosv kernel image: `go build` of cmd/kernel
// with the link layout the boot stub expects, then kimage.Convert to add
// the PVH note and Multiboot2 header. The Makefile (through
// cmd/buildkernel) and the boot tests both build through here, so the
// layout lives in one place.
package kbuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"gosv/boot/kimage"
)

// Layout of the kernel image; kernel/layout.go and layout_amd64.h hold
// the same numbers for the kernel itself.
const (
	KernelVirtBase = 0x4000000000
	KernelPhysBase = 0x200000
	EntrySymbol    = "gosv/kernel.entry32"
	Package        = "gosv/cmd/kernel"
)

// Options control a build.
type Options struct {
	// Out is the bootable image to write.
	Out string
	// Version is stamped into kernel.Version.
	Version string
	// Dir is the module root to build in ("" = current directory).
	Dir string
	// Verbose prints the go build command.
	Verbose bool
}

// Build compiles and converts the kernel, returning the image's layout.
func Build(o Options) (kimage.Info, error) {
	raw := o.Out + ".raw"
	ldflags := fmt.Sprintf("-w -E %s -T %#x -R 0x200000", EntrySymbol, KernelVirtBase+0x1000)
	if o.Version != "" {
		ldflags += " -X gosv/kernel.Version=" + o.Version
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", raw, "-ldflags", ldflags, Package)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if o.Verbose {
		fmt.Fprintln(os.Stderr, cmd.String())
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return kimage.Info{}, err
	}
	if err := cmd.Run(); err != nil {
		return kimage.Info{}, fmt.Errorf("go build %s: %w", Package, err)
	}
	defer os.Remove(raw)
	in, err := os.ReadFile(raw)
	if err != nil {
		return kimage.Info{}, err
	}
	out, info, err := kimage.Convert(in, kimage.Layout{KVBase: KernelVirtBase, PBase: KernelPhysBase, EntrySymbol: EntrySymbol})
	if err != nil {
		return kimage.Info{}, err
	}
	return info, os.WriteFile(o.Out, out, 0o755)
}

// ModuleRoot finds the directory holding go.mod, starting at dir.
func ModuleRoot(dir string) (string, error) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}
