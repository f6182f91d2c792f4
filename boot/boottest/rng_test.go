package boottest

import (
	"strings"
	"testing"

	"gosv/boot/qemu"
)

// TestVirtioRNG: on a CPU without RDRAND/RDSEED, getrandom is served
// from the pool a virtio-rng device fills (virtio-mmio on microvm,
// virtio-pci on q35).
func TestVirtioRNG(t *testing.T) {
	for _, tc := range []struct{ machine, device string }{
		{"microvm", "virtio-rng-device"},
		{"q35", "virtio-rng-pci"},
	} {
		t.Run(tc.machine, func(t *testing.T) {
			res := Boot(t, qemu.Config{Machine: tc.machine, Cmdline: "--test=entropy",
				ExtraArgs: []string{"-device", tc.device, "-cpu", "max,-rdrand,-rdseed"}})
			if !strings.Contains(res.Serial, "selftest: entropy from hardware RNG pool") || res.GuestStatus != 0 {
				t.Errorf("getrandom not served from the virtio-rng pool (status %d):\n%s", res.GuestStatus, res.Serial)
			}
		})
	}
}
