package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"gosv/boot/cmdline"
	"gosv/drivers/nic"
	"gosv/drivers/virtio"
	"gosv/kernel"
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
		case virtio.DeviceRNG:
			r, err := virtio.NewRNG(d.Transport, hw.DMA{}, d.IRQ, virtio.RNGOptions{})
			if err != nil {
				fmt.Fprintf(os.Stderr, "gosv: virtio-rng at %s: %v\n", d.Where, err)
				continue
			}
			if opts.Verbose {
				fmt.Printf("gosv: virtio-rng at %s feeds getrandom\n", d.Where)
			}
			go feedEntropy(r)
		default:
			if opts.Verbose {
				fmt.Printf("gosv: virtio %s at %s: no driver\n", d.Type, d.Where)
			}
		}
	}
	return nics
}

// feedEntropy keeps the kernel's entropy pool full from a hardware RNG:
// getrandom draws from it on CPUs without RDRAND.
func feedEntropy(r *virtio.RNG) {
	buf := make([]byte, 512)
	for {
		want := kernel.EntropyWanted()
		if want < 512 {
			// Full enough: look again later rather than wake an
			// idle machine often (getrandom draws a little at a time).
			time.Sleep(time.Second)
			continue
		}
		n, err := r.Read(buf[:min(want, len(buf))])
		if errors.Is(err, virtio.ErrRNGBroken) {
			fmt.Fprintf(os.Stderr, "gosv: virtio-rng: %v\n", err)
			return
		}
		if err != nil {
			time.Sleep(100 * time.Millisecond) // slow device: try again
			continue
		}
		kernel.FeedEntropy(buf[:n])
	}
}

func macString(m nic.MAC) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}
