package hw

import (
	"fmt"
	"sync"

	"gosv/drivers/pci"
	"gosv/drivers/virtio"
	"gosv/kernel"
)

// VirtioDevice is a virtio device found on some bus, with its transport
// and interrupt ready for a driver.
type VirtioDevice struct {
	// Where names the device for logs ("pci 00:03.0", "mmio 0xfeb00000").
	Where     string
	Type      virtio.DeviceType
	Transport virtio.Transport
	IRQ       *IRQ
}

// FindVirtio returns the virtio devices of the machine: virtio-mmio
// windows from the command line (Firecracker) and from ACPI (QEMU
// microvm), then virtio PCI functions (unless noPCI). Devices that fail
// to set up are reported in errs and left out.
func FindVirtio(mmioParams []string, noPCI bool) (devs []VirtioDevice, errs []error) {
	type window struct {
		virtio.MMIOWindow
		level bool
	}
	var windows []window
	for _, p := range mmioParams {
		w, err := virtio.ParseMMIOParam(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		windows = append(windows, window{w, false}) // Firecracker's lines are edge-triggered
	}
	for _, a := range kernel.ACPIVirtioMMIO() {
		windows = append(windows, window{virtio.MMIOWindow{Base: a.Base, Size: a.Size, GSI: int(a.GSI)}, a.Level})
	}
	seen := map[uint64]bool{}
	for _, w := range windows {
		if seen[w.Base] {
			continue
		}
		seen[w.Base] = true
		d, err := mmioDevice(w.MMIOWindow, w.level)
		if err == virtio.ErrNoDevice {
			continue // an empty slot (QEMU microvm has 24)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		devs = append(devs, d)
	}
	if !noPCI {
		d, e := pciVirtio()
		devs, errs = append(devs, d...), append(errs, e...)
	}
	return devs, errs
}

func mmioDevice(w virtio.MMIOWindow, level bool) (VirtioDevice, error) {
	where := fmt.Sprintf("mmio %#x", w.Base)
	regs, err := MapMMIO(w.Base, w.Size)
	if err != nil {
		return VirtioDevice{}, fmt.Errorf("virtio %s: %w", where, err)
	}
	t, err := virtio.NewMMIO(regs)
	if err != nil {
		return VirtioDevice{}, err
	}
	irq, err := RouteGSI(w.GSI, level, false)
	if err != nil {
		return VirtioDevice{}, fmt.Errorf("virtio %s: interrupt line %d: %w", where, w.GSI, err)
	}
	// Each MMIO device has a line of its own: the core acknowledges it.
	if err := kernel.AckIRQInCore(irq.line, regs.base+virtio.MMIOInterruptStatus, regs.base+virtio.MMIOInterruptACK); err != nil {
		return VirtioDevice{}, fmt.Errorf("virtio %s: %w", where, err)
	}
	return VirtioDevice{Where: where, Type: t.DeviceType(), Transport: coreAckedTransport{t, irq.line}, IRQ: irq}, nil
}

// coreAckedTransport is an MMIO transport whose interrupts the core
// acknowledges (kernel.AckIRQInCore): the status the driver reads is
// what the core collected, and there is nothing left to acknowledge.
type coreAckedTransport struct {
	virtio.Transport
	line int
}

func (t coreAckedTransport) InterruptStatus() uint32 { return kernel.TakeIRQStatus(t.line) }
func (t coreAckedTransport) AckInterrupt(uint32)     {}

var (
	pciOnce    sync.Once
	pciDevices []pci.Device
	pciConfig  pci.ConfigSpace
	pciErr     error
)

// pciMemWindow is where unassigned 32-bit BARs go: above RAM, reserved
// ranges and the ECAM window, from 3 GiB at the lowest, below the I/O
// APIC (0xfec00000).
func pciMemWindow() pci.Window {
	base := max(uint64(0xc0000000), kernel.PCIHoleStart())
	if b := kernel.ACPIMCFG(); b != nil {
		if regions, err := pci.ParseMCFG(b); err == nil {
			for _, r := range regions {
				if end := r.Start() + r.Size(); end > base && r.Start() < 0xfec00000 {
					base = end
				}
			}
		}
	}
	base = (base + 1<<20 - 1) &^ (1<<20 - 1)
	return pci.Window{Base: base, Limit: 0xfec00000}
}

// PCIDevices enumerates the PCI bus once (ECAM when ACPI has an MCFG
// table, else configuration mechanism #1).
func PCIDevices() ([]pci.Device, pci.ConfigSpace) {
	pciOnce.Do(func() {
		pciConfig = pci.NewPortIO(Ports{})
		if b := kernel.ACPIMCFG(); b != nil {
			if regions, err := pci.ParseMCFG(b); err == nil && len(regions) > 0 && regions[0].Segment == 0 {
				pciConfig = pci.NewECAM(PhysMemory{}, regions[0])
			}
		}
		pciDevices = pci.Scan(pciConfig)
		if err := pci.AssignBARs(pciConfig, pciDevices, pciMemWindow(), pci.Window{Base: 0xc000, Limit: 0x10000}); err != nil {
			pciErr = err
		}
	})
	return pciDevices, pciConfig
}

func pciVirtio() (devs []VirtioDevice, errs []error) {
	all, cs := PCIDevices()
	if pciErr != nil {
		errs = append(errs, fmt.Errorf("pci: assigning BARs: %w", pciErr))
	}
	for i := range all {
		d := &all[i]
		if d.Vendor != virtio.PCIVendor {
			continue
		}
		if _, ok := virtio.PCIDeviceType(d.DeviceID, d.SubsystemID); !ok {
			continue
		}
		v, err := pciDevice(cs, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		devs = append(devs, v)
	}
	return devs, errs
}

// pciDevice enables d and gives it one interrupt: MSI-X vector 0 for
// the configuration and every queue when it has MSI-X, else its INTx
// line through the I/O APIC.
func pciDevice(cs pci.ConfigSpace, d *pci.Device) (VirtioDevice, error) {
	where := fmt.Sprintf("pci %02x:%02x.%d", d.Bus, d.Dev, d.Fn)
	pci.EnableMemory(cs, d)
	pci.EnableIO(cs, d)
	pci.SetBusMaster(cs, d, true)
	var irq *IRQ
	msix := false
	if tbl, err := pci.NewMSIXTable(PhysMemory{}, d); err == nil {
		q, addr, data, err := AllocMSI()
		if err != nil {
			return VirtioDevice{}, fmt.Errorf("virtio %s: %w", where, err)
		}
		if err := tbl.Set(0, addr, data, false); err != nil {
			return VirtioDevice{}, fmt.Errorf("virtio %s: MSI-X: %w", where, err)
		}
		if err := pci.EnableMSIX(cs, d); err != nil {
			return VirtioDevice{}, fmt.Errorf("virtio %s: MSI-X: %w", where, err)
		}
		pci.DisableINTx(cs, d)
		irq, msix = q, true
	} else {
		if d.InterruptPin == 0 || d.InterruptLine == 0xff {
			return VirtioDevice{}, fmt.Errorf("virtio %s: no MSI-X (%v) and no interrupt line", where, err)
		}
		gsi, level, low := kernel.ISAIRQ(int(d.InterruptLine), true)
		q, err := RouteGSI(gsi, level, low)
		if err != nil {
			return VirtioDevice{}, fmt.Errorf("virtio %s: interrupt line %d: %w", where, gsi, err)
		}
		irq = q
	}
	t, err := virtio.PCITransport(d, mapBAR, msix)
	if err != nil {
		return VirtioDevice{}, err
	}
	if msix {
		t = msixTransport{Transport: t, router: t.(vectorRouter)}
	}
	return VirtioDevice{Where: where, Type: t.DeviceType(), Transport: t, IRQ: irq}, nil
}

func mapBAR(bar pci.BAR, off, n uint32) (virtio.SizedRegs, error) {
	if bar.IO {
		if bar.Addr > 0xffff {
			return nil, fmt.Errorf("I/O BAR at %#x", bar.Addr)
		}
		return NewIOPorts(uint16(bar.Addr)+uint16(off), n), nil
	}
	m, err := MapMMIO(bar.Addr, bar.Size)
	if err != nil {
		return nil, err
	}
	return m.Sub(off, n), nil
}

// vectorRouter is the MSI-X part of the PCI transports.
type vectorRouter interface {
	SetConfigVector(v uint16) uint16
	SetQueueVector(v uint16) uint16
}

// msixTransport routes the configuration and every queue to MSI-X vector
// 0 as the driver sets the device up, so drivers need not know about
// MSI-X: the configuration vector once the driver has acknowledged the
// device (a reset clears it), each queue's when its addresses are set
// (the queue is selected then).
type msixTransport struct {
	virtio.Transport
	router vectorRouter
}

func (t msixTransport) SetStatus(s uint8) {
	t.Transport.SetStatus(s)
	if s&virtio.StatusDriver != 0 && s&virtio.StatusDriverOK == 0 {
		t.router.SetConfigVector(0)
	}
}

func (t msixTransport) SetQueueAddrs(desc, driver, device uint64) error {
	t.router.SetQueueVector(0)
	return t.Transport.SetQueueAddrs(desc, driver, device)
}
