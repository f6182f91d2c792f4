package virtio

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gosv/drivers/pci"
)

// MMIOWindow is a virtio-mmio device's register window and interrupt
// line, as a loader parameter or ACPI describes it.
type MMIOWindow struct {
	Base, Size uint64
	GSI        int
}

// ErrMMIOParam is returned for a malformed virtio_mmio.device= value.
var ErrMMIOParam = errors.New("virtio: bad virtio_mmio.device parameter")

// ParseMMIOParam parses the value of a virtio_mmio.device= loader
// parameter, <size>@<base>:<irq>[:<id>] as Linux reads it (size with an
// optional K, M or G suffix; base and irq in C notation), e.g.
// "4K@0xc0001000:5" (Firecracker) or "512@0xfeb00e00:12" (QEMU microvm).
func ParseMMIOParam(s string) (MMIOWindow, error) {
	size, rest, ok := strings.Cut(s, "@")
	if !ok {
		return MMIOWindow{}, fmt.Errorf("%w %q: want SIZE@BASE:IRQ", ErrMMIOParam, s)
	}
	base, irq, ok := strings.Cut(rest, ":")
	if !ok {
		return MMIOWindow{}, fmt.Errorf("%w %q: want SIZE@BASE:IRQ", ErrMMIOParam, s)
	}
	irq, _, _ = strings.Cut(irq, ":") // a platform device id may follow
	mult := uint64(1)
	if n := len(size); n > 0 {
		switch size[n-1] {
		case 'K', 'k':
			mult, size = 1<<10, size[:n-1]
		case 'M', 'm':
			mult, size = 1<<20, size[:n-1]
		case 'G', 'g':
			mult, size = 1<<30, size[:n-1]
		}
	}
	sz, err := strconv.ParseUint(size, 0, 32)
	if err != nil || sz == 0 {
		return MMIOWindow{}, fmt.Errorf("%w %q: size", ErrMMIOParam, s)
	}
	b, err := strconv.ParseUint(base, 0, 64)
	if err != nil || b+sz*mult < b || b >= 1<<46 {
		return MMIOWindow{}, fmt.Errorf("%w %q: base address", ErrMMIOParam, s)
	}
	q, err := strconv.ParseUint(irq, 0, 8)
	if err != nil {
		return MMIOWindow{}, fmt.Errorf("%w %q: interrupt line", ErrMMIOParam, s)
	}
	return MMIOWindow{Base: b, Size: sz * mult, GSI: int(q)}, nil
}

// PCIMapper maps a PCI memory BAR region (bar, offset, length) for the
// driver, or returns I/O ports for an I/O BAR.
type PCIMapper func(bar pci.BAR, off, n uint32) (SizedRegs, error)

// PCITransport builds the transport for virtio PCI function d: modern
// when it has the virtio capabilities (4.1.4), legacy through I/O BAR 0
// otherwise (4.1.4.10). msix says whether MSI-X will be enabled, which
// moves the legacy device configuration.
func PCITransport(d *pci.Device, m PCIMapper, msix bool) (Transport, error) {
	typ, ok := PCIDeviceType(d.DeviceID, d.SubsystemID)
	if !ok || d.Vendor != PCIVendor {
		return nil, fmt.Errorf("virtio: %s is not a virtio device", d)
	}
	var reg PCIRegions
	for _, c := range d.Capabilities {
		v := c.Virtio
		if v == nil || v.BAR > 5 {
			continue
		}
		var dst *SizedRegs
		switch v.CfgType {
		case pci.VirtioCommonCfg:
			dst = &reg.Common
		case pci.VirtioNotifyCfg:
			dst = &reg.Notify
			reg.NotifyOffMultiplier = v.NotifyOffMultiplier
		case pci.VirtioISRCfg:
			dst = &reg.ISR
		case pci.VirtioDeviceCfg:
			dst = &reg.Device
		default:
			continue
		}
		if *dst != nil {
			continue // the first of each type is the preferred one (4.1.4)
		}
		bar := d.BARs[v.BAR]
		if bar.Size == 0 || bar.Addr == 0 || uint64(v.Offset)+uint64(v.Length) > bar.Size {
			continue
		}
		r, err := m(bar, v.Offset, v.Length)
		if err != nil {
			return nil, err
		}
		*dst = r
	}
	if reg.Common != nil && reg.Notify != nil && reg.ISR != nil {
		return NewPCIModern(typ, reg)
	}
	bar := d.BARs[0]
	if !bar.IO || bar.Addr == 0 || bar.Size < legacyConfig {
		return nil, fmt.Errorf("virtio: %s has neither the modern capabilities nor a legacy I/O BAR", d)
	}
	r, err := m(bar, 0, uint32(bar.Size))
	if err != nil {
		return nil, err
	}
	return NewPCILegacy(typ, r, msix), nil
}
