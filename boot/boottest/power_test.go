package boottest

import (
	"strings"
	"testing"
	"time"

	"gosv/boot/qemu"
)

// TestACPIPowerOff boots without the isa-debug-exit device, as on a real
// hypervisor: the kernel must switch the machine off through ACPI (the
// FADT's PM1 control block on q35, the hardware-reduced sleep control
// register on microvm), so QEMU exits by itself.
func TestACPIPowerOff(t *testing.T) {
	for _, m := range []string{"microvm", "q35"} {
		t.Run(m, func(t *testing.T) {
			res := Boot(t, qemu.Config{Machine: m, NoDebugExit: true, Timeout: 60 * time.Second})
			if res.Exited {
				t.Errorf("guest used isa-debug-exit, which is not there")
			}
			if res.ExitCode != 0 {
				t.Errorf("QEMU exit code %d, want 0 (guest powered off)", res.ExitCode)
			}
			if !strings.Contains(res.Serial, "powering off") || strings.Contains(res.Serial, "power off failed") {
				t.Errorf("no clean power-off:\n%s", res.Serial)
			}
		})
	}
}

// TestReboot: a reboot request resets the machine (QEMU runs with
// -no-reboot, so the reset ends it) after the kernel says so.
func TestReboot(t *testing.T) {
	res := Boot(t, qemu.Config{Machine: "q35", Cmdline: "--test=crash-reboot", Timeout: 60 * time.Second})
	if res.Exited {
		t.Errorf("guest exited with status %d instead of resetting", res.GuestStatus)
	}
	if !strings.Contains(res.Serial, "gosv: rebooting") {
		t.Errorf("no reboot message:\n%s", res.Serial)
	}
}
