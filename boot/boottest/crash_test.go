package boottest

import (
	"strings"
	"testing"

	"gosv/boot/qemu"
)

// TestGoPanicReport: an unrecovered panic in a kernel goroutine prints
// the Go runtime's report with function names and powers the machine
// off with the runtime's exit status 2, instead of hanging.
func TestGoPanicReport(t *testing.T) {
	res := Boot(t, qemu.Config{Cmdline: "--test=crash-panic"})
	for _, want := range []string{"panic: selftest crash-panic", "goroutine ", "gosv/kernel/selftest.crashPanic"} {
		if !strings.Contains(res.Serial, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if !res.Exited || res.GuestStatus != 2 {
		t.Errorf("guest status %d, want 2", res.GuestStatus)
	}
	if t.Failed() {
		t.Logf("serial output:\n%s", res.Serial)
	}
}

// TestCoreFaultReport: a CPU exception inside the kernel's core prints
// vector, error code, RIP, CR2, registers and a named backtrace, then
// powers off with status 0x70.
func TestCoreFaultReport(t *testing.T) {
	res := Boot(t, qemu.Config{Cmdline: "--test=crash-core"})
	for _, want := range []string{
		"gosv: FATAL", "exception 14 (page fault) error code", "RIP 0x", "CR2 0xdead0000",
		"RAX 0x", "R15 0x", "backtrace:", "gosv/kernel.debugFault pc=", "gosv/kernel/selftest.crashCore pc=",
	} {
		if !strings.Contains(res.Serial, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if !res.Exited || res.GuestStatus != 0x70 {
		t.Errorf("guest status %#x, want 0x70", res.GuestStatus)
	}
	if t.Failed() {
		t.Logf("serial output:\n%s", res.Serial)
	}
}

// TestSMP boots two CPUs under multi-threaded TCG: the runtime sees both
// (sched_getaffinity), the whole suite passes, and CPU-bound work runs
// on both (the smp self-test checks the speed-up).
func TestSMP(t *testing.T) {
	res := Boot(t, qemu.Config{CPUs: 2, Cmdline: "--test=all"})
	if !strings.Contains(res.Serial, ", 2 CPU(s),") {
		t.Errorf("banner does not report 2 CPUs")
	}
	if !strings.Contains(res.Serial, "selftest: smp: ok") || !strings.Contains(res.Serial, " passed, 0 failed") {
		t.Errorf("self-tests did not all pass on 2 CPUs")
	}
	if !res.Exited || res.GuestStatus != 0 {
		t.Errorf("guest status %d, want 0", res.GuestStatus)
	}
	if t.Failed() {
		t.Logf("serial output:\n%s", res.Serial)
	}
}
