// Package boottest boots the gosv kernel under QEMU for tests: it builds
// the image once per test binary and runs it with a timeout, returning
// the serial output and the guest's status.
package boottest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gosv/boot/kbuild"
	"gosv/boot/qemu"
)

var (
	buildOnce sync.Once
	image     string
	buildErr  error
	buildDir  string
)

// Kernel returns the path of a freshly built kernel image, building it
// on first use. GOSV_KERNEL names a prebuilt image instead.
func Kernel(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("GOSV_KERNEL"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			buildErr = err
			return
		}
		root, err := kbuild.ModuleRoot(wd)
		if err != nil {
			buildErr = err
			return
		}
		buildDir, err = os.MkdirTemp("", "gosv-boottest-")
		if err != nil {
			buildErr = err
			return
		}
		image = filepath.Join(buildDir, "gosv.elf")
		_, buildErr = kbuild.Build(kbuild.Options{Out: image, Dir: root, Version: "test"})
	})
	if buildErr != nil {
		t.Fatalf("building the kernel: %v", buildErr)
	}
	return image
}

// Boot runs the kernel with cfg (Kernel is filled in when empty) and
// fails the test on QEMU errors or timeouts, printing the serial output.
func Boot(t testing.TB, cfg qemu.Config) *qemu.Result {
	t.Helper()
	if cfg.Kernel == "" {
		cfg.Kernel = Kernel(t)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Minute
	}
	res, err := qemu.Run(context.Background(), cfg)
	if err == qemu.ErrNoQEMU {
		t.Skip("qemu-system-x86_64 not installed (make test installs it)")
	}
	if err != nil {
		t.Fatalf("boot %q on %s: %v", cfg.Cmdline, cfg.Machine, err)
	}
	t.Logf("boot %q on %s (%s): status %d in %v", cfg.Cmdline, cfg.Machine, res.Accel, res.GuestStatus, res.Elapsed)
	return res
}
