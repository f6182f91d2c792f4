package boottest

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gosv/boot/kimage"
	"gosv/boot/qemu"
	"gosv/kernel/selftest"
)

// TestSelftests runs the whole in-kernel suite on each machine type the
// kernel must boot on, and checks every test reported ok.
func TestSelftests(t *testing.T) {
	for _, m := range []struct {
		machine string
		cpus    int
	}{{"microvm", 1}, {"q35", 1}} {
		t.Run(m.machine, func(t *testing.T) {
			res := Boot(t, qemu.Config{Machine: m.machine, CPUs: m.cpus, MemoryMB: 128, Cmdline: "--test=all"})
			for _, st := range selftest.Tests {
				if st.Crash {
					continue
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

// TestBanner checks `make run`'s banner: version, hypervisor, CPUs,
// memory, command line and boot time, then a clean power-off.
func TestBanner(t *testing.T) {
	res := Boot(t, qemu.Config{MemoryMB: 64, Cmdline: "--hostname=banner"})
	for _, re := range []string{
		`gosv \S+ on \S.*, 1 CPU\(s\), 6\d MiB memory`,
		`command line: "--hostname=banner"`,
		`boot time \d+\.\d+ ms`,
		`no application configured; powering off`,
	} {
		if !regexp.MustCompile(re).MatchString(res.Serial) {
			t.Errorf("serial output does not match %q", re)
		}
	}
	if !res.Exited || res.GuestStatus != 0 {
		t.Errorf("guest status %d, want 0", res.GuestStatus)
	}
	if t.Failed() {
		t.Logf("serial output:\n%s", res.Serial)
	}
}

// TestBadCommandLine: an unknown option is refused with a message naming
// it, and the VM stops with the command-line status.
func TestBadCommandLine(t *testing.T) {
	res := Boot(t, qemu.Config{Cmdline: "--no-such-option"})
	if !strings.Contains(res.Serial, `unknown option "--no-such-option"`) {
		t.Errorf("no clear message for an unknown option:\n%s", res.Serial)
	}
	if res.GuestStatus != 0x72 {
		t.Errorf("guest status %#x, want 0x72", res.GuestStatus)
	}
}

// TestTooLittleMemory: a VM too small to run says how much it needs and
// powers off instead of hanging.
func TestTooLittleMemory(t *testing.T) {
	// Enough for loaders to place the image (they refuse a VM smaller
	// than it) and for the kernel to start, not to run.
	f, err := os.Open(Kernel(t))
	if err != nil {
		t.Fatal(err)
	}
	info, err := kimage.Inspect(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	res := Boot(t, qemu.Config{MemoryMB: int(info.PhysEnd>>20) + 1})
	if !strings.Contains(res.Serial, "not enough memory") || !strings.Contains(res.Serial, "MiB needed") {
		t.Errorf("no clear out-of-memory message:\n%s", res.Serial)
	}
	if res.GuestStatus != 0x71 {
		t.Errorf("guest status %#x, want 0x71", res.GuestStatus)
	}
}

// TestProbe: --probe answers at once with status 0x5a (the runner's
// accelerator probe relies on it).
func TestProbe(t *testing.T) {
	res := Boot(t, qemu.Config{Cmdline: "--probe"})
	if res.GuestStatus != qemu.ProbeStatus {
		t.Errorf("guest status %#x, want %#x", res.GuestStatus, qemu.ProbeStatus)
	}
}

// TestSmallMemory runs the whole suite in a 16 MiB machine: the GC test
// then allocates four times the machine's memory, which only works if
// the runtime knows the limit (GOMEMLIMIT from the kernel) and freed
// memory goes back to the kernel and is reused.
func TestSmallMemory(t *testing.T) {
	// 32 MiB: the image (network stack and HTTP server included) loads
	// about 13 MiB; the recursion and stress tests need several more.
	res := Boot(t, qemu.Config{MemoryMB: 32, Cmdline: "--test=all"})
	if !strings.Contains(res.Serial, "selftest: gc: ok") || !strings.Contains(res.Serial, " passed, 0 failed") {
		t.Errorf("self-tests failed in 32 MiB:\n%s", res.Serial)
	}
	if !res.Exited || res.GuestStatus != 0 {
		t.Errorf("guest status %d, want 0", res.GuestStatus)
	}
}
