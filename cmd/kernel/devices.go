package main

import (
	"fmt"
	"os"

	"gosv/boot/cmdline"
	"gosv/drivers/nic"
	"gosv/drivers/virtio"
	"gosv/kernel/hw"
)

// startDevices finds the machine's devices and sets up their drivers,
// and returns the network interfaces in eth0, eth1... order. A device
// that fails is reported and left out; the kernel goes on without it.
func startDevices(opts *cmdline.Options) []nic.Device {
	devs, errs := hw.FindVirtio(opts.VirtioMMIO, opts.NoPCI)
	for _, err := range errs {
		fmt.Fprintf(os.Stderr, "gosv: device: %v\n", err)
	}
	var nics []nic.Device
	for _, d := range devs {
		switch d.Type {
		case virtio.DeviceNet:
			name := fmt.Sprintf("virtio-net%d", len(nics))
			n, err := virtio.NewNet(d.Transport, hw.DMA{}, d.IRQ, virtio.NetOptions{Name: name})
			if err != nil {
				fmt.Fprintf(os.Stderr, "gosv: %s at %s: %v\n", name, d.Where, err)
				continue
			}
			if opts.Verbose {
				f := n.Features()
				fmt.Printf("gosv: eth%d: %s at %s, MAC %s, MTU %d, offloads csum=%v tso4=%v tso6=%v\n",
					len(nics), name, d.Where, macString(n.MAC()), n.MTU(), f.TxChecksum, f.TSO4, f.TSO6)
			}
			nics = append(nics, n)
		default:
			if opts.Verbose {
				fmt.Printf("gosv: virtio %s at %s: no driver\n", d.Type, d.Where)
			}
		}
	}
	return nics
}

func macString(m nic.MAC) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}
