package pci

import (
	"cmp"
	"fmt"
	"slices"
)

// Device is one PCI function as Scan found it.
type Device struct {
	Bus, Dev, Fn uint8

	Vendor, DeviceID                  uint16
	Class, Subclass, ProgIF, Revision uint8
	// HeaderType is the raw register: the layout (HeaderGeneral,
	// HeaderBridge...) in bits 6:0 and HeaderMultiFunction in bit 7.
	HeaderType uint8

	// Subsystem IDs, from type 0 headers. Transitional virtio devices
	// give their virtio device type as SubsystemID (virtio 1.2 section
	// 4.1.2.3).
	SubsystemVendor, SubsystemID uint16
	// Bus numbers behind a bridge, from type 1 headers.
	SecondaryBus, SubordinateBus uint8

	InterruptLine uint8 // as the firmware left it; 0xff: not connected
	InterruptPin  uint8 // 0 none, 1-4 INTA-INTD

	BARs         [6]BAR
	Capabilities []Capability
}

// Layout is the header layout: HeaderGeneral, HeaderBridge or
// HeaderCardBus.
func (d *Device) Layout() uint8 { return d.HeaderType &^ HeaderMultiFunction }

// String is the device's location and identity, as lspci -n prints them.
func (d *Device) String() string {
	return fmt.Sprintf("%02x:%02x.%d %04x:%04x class %02x%02x%02x",
		d.Bus, d.Dev, d.Fn, d.Vendor, d.DeviceID, d.Class, d.Subclass, d.ProgIF)
}

// Capability returns the first capability with the given ID.
func (d *Device) Capability(id uint8) (Capability, bool) {
	for _, c := range d.Capabilities {
		if c.ID == id {
			return c, true
		}
	}
	return Capability{}, false
}

// MSIX returns the device's MSI-X capability, or nil.
func (d *Device) MSIX() *MSIXCap {
	c, _ := d.Capability(CapMSIX)
	return c.MSIX
}

// present reports whether a function answers at bus:dev.fn. A missing
// function reads as all ones (PCI 3.0 section 6.2.1); vendor ID 0 is not
// valid either, and some bridges return it for empty slots.
func present(cs ConfigSpace, bus, dev, fn uint8) bool {
	v := Read16(cs, bus, dev, fn, regVendorID)
	return v != 0xffff && v != 0
}

// Scan enumerates the functions reachable from bus 0: every device on a
// bus, functions 1-7 of multi-function devices, and the buses behind
// PCI-to-PCI bridges. It returns them sorted by bus, device and function,
// with their BARs probed (ProbeBARs) and capabilities read
// (Capabilities; a malformed list is kept up to its first bad pointer).
//
// Scan relies on the firmware's bus numbering: a bridge whose secondary
// bus is 0 has not been configured and is not followed. Each bus is
// scanned at most once, so bridges that point at a bus already seen,
// including their own, cannot make it loop: the work is bounded by 256
// buses of 32 devices of 8 functions. Root buses not reachable from
// bus 0 (host bridges of other segments or expander bridges) are not
// scanned.
//
// Scan writes configuration space while it probes BARs and must not run
// while drivers use the devices.
func Scan(cs ConfigSpace) []Device {
	s := scanner{cs: cs}
	s.scanBus(0)
	slices.SortFunc(s.devs, func(a, b Device) int {
		return cmp.Or(cmp.Compare(a.Bus, b.Bus), cmp.Compare(a.Dev, b.Dev), cmp.Compare(a.Fn, b.Fn))
	})
	return s.devs
}

type scanner struct {
	cs   ConfigSpace
	seen [256 / 64]uint64 // buses scanned
	devs []Device
}

func (s *scanner) scanBus(bus uint8) {
	if s.seen[bus/64]&(1<<(bus%64)) != 0 {
		return
	}
	s.seen[bus/64] |= 1 << (bus % 64)
	for dev := range uint8(32) {
		// Function 0 is implemented by every device (PCI 3.0 section
		// 6.2.1); devices that are not multi-function may answer for
		// functions 1-7 with function 0's registers.
		if !present(s.cs, bus, dev, 0) {
			continue
		}
		nfn := uint8(1)
		if Read8(s.cs, bus, dev, 0, regHeaderType)&HeaderMultiFunction != 0 {
			nfn = 8
		}
		for fn := range nfn {
			if !present(s.cs, bus, dev, fn) {
				continue
			}
			d := probe(s.cs, bus, dev, fn)
			s.devs = append(s.devs, d)
			if d.Layout() == HeaderBridge && d.SecondaryBus != 0 {
				s.scanBus(d.SecondaryBus)
			}
		}
	}
}

// probe reads the function at bus:dev.fn.
func probe(cs ConfigSpace, bus, dev, fn uint8) Device {
	id := cs.Read32(bus, dev, fn, regVendorID)
	class := cs.Read32(bus, dev, fn, regRevision)
	irq := cs.Read32(bus, dev, fn, regInterrupt)
	d := Device{
		Bus: bus, Dev: dev, Fn: fn,
		Vendor:        uint16(id),
		DeviceID:      uint16(id >> 16),
		Revision:      uint8(class),
		ProgIF:        uint8(class >> 8),
		Subclass:      uint8(class >> 16),
		Class:         uint8(class >> 24),
		HeaderType:    Read8(cs, bus, dev, fn, regHeaderType),
		InterruptLine: uint8(irq),
		InterruptPin:  uint8(irq >> 8),
	}
	switch d.Layout() {
	case HeaderGeneral:
		sub := cs.Read32(bus, dev, fn, regSubsystemVendor)
		d.SubsystemVendor, d.SubsystemID = uint16(sub), uint16(sub>>16)
	case HeaderBridge:
		b := cs.Read32(bus, dev, fn, regBusNumbers)
		d.SecondaryBus, d.SubordinateBus = uint8(b>>8), uint8(b>>16)
	}
	d.BARs = ProbeBARs(cs, &d)
	d.Capabilities, _ = Capabilities(cs, &d)
	return d
}
