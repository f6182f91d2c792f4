package boottest

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gosv/boot/grubimage"
	"gosv/boot/qemu"
	"gosv/kernel/selftest"
)

// TestGRUBMultiboot2 boots the kernel the way a physical machine or a
// cloud image would: SeaBIOS loads GRUB from a raw disk, and GRUB's
// multiboot2 command loads the kernel from a FAT partition. The whole
// self-test suite must pass, as under PVH in TestSelftests.
func TestGRUBMultiboot2(t *testing.T) {
	if err := grubimage.Check(); err != nil {
		t.Skipf("GRUB tools missing: %v (make test installs them with scripts/install-deps.sh)", err)
	}
	kernel := Kernel(t)
	for _, machine := range []string{"pc", "q35"} {
		t.Run(machine, func(t *testing.T) {
			t.Parallel()
			// A disk each: QEMU locks the image while it runs.
			disk := filepath.Join(t.TempDir(), "gosv.img")
			if err := grubimage.Build(kernel, disk, "--test=all"); err != nil {
				t.Fatal(err)
			}
			res, err := qemu.Run(context.Background(), qemu.Config{
				Disk: disk, Machine: machine, Accel: "tcg", MemoryMB: 128, Timeout: 3 * time.Minute,
			})
			if errors.Is(err, qemu.ErrNoQEMU) {
				t.Skip("qemu-system-x86_64 not installed (make test installs it)")
			}
			if err != nil {
				t.Fatalf("GRUB boot on %s: %v", machine, err)
			}
			t.Logf("GRUB boot on %s (%s): status %d in %v", machine, res.Accel, res.GuestStatus, res.Elapsed)

			for _, want := range []string{"booted via Multiboot2", `command line: "--test=all"`, " passed, 0 failed"} {
				if !strings.Contains(res.Serial, want) {
					t.Errorf("serial output lacks %q", want)
				}
			}
			for _, st := range selftest.Tests {
				if st.Crash {
					continue // not part of "all"
				}
				if !strings.Contains(res.Serial, "selftest: "+st.Name+": ok") {
					t.Errorf("self-test %s did not pass", st.Name)
				}
			}
			if !res.Exited || res.GuestStatus != 0 {
				t.Errorf("guest status %d (exited via debug-exit: %v), want 0", res.GuestStatus, res.Exited)
			}
			if t.Failed() {
				t.Logf("serial output:\n%s", res.Serial)
			}
		})
	}
}
