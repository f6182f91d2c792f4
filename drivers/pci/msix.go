package pci

import (
	"errors"
	"fmt"
)

// ErrNoMSIX is returned for devices without a usable MSI-X capability.
var ErrNoMSIX = errors.New("pci: no MSI-X capability")

// EnableMSIX turns MSI-X on for d and clears its function mask, so
// unmasked table entries deliver; while MSI-X is on the device does not
// use INTx (PCI 3.0 section 6.8.2.3). Program the table entries (masked)
// and enable bus mastering first. d's MSIXCap is updated.
func EnableMSIX(cs ConfigSpace, d *Device) error {
	return setMSIXControl(cs, d, msixEnable, msixFunctionMask)
}

// DisableMSIX turns MSI-X off for d.
func DisableMSIX(cs ConfigSpace, d *Device) error {
	return setMSIXControl(cs, d, 0, msixEnable)
}

func setMSIXControl(cs ConfigSpace, d *Device, set, clear uint16) error {
	m := d.MSIX()
	if m == nil {
		return ErrNoMSIX
	}
	// Message control is the upper half of the capability's first dword;
	// the lower half (ID, next pointer) is read-only.
	v := cs.Read32(d.Bus, d.Dev, d.Fn, m.Offset)
	ctl := uint16(v>>16)&^clear | set
	cs.Write32(d.Bus, d.Dev, d.Fn, m.Offset, v&0xffff|uint32(ctl)<<16)
	m.Enabled = ctl&msixEnable != 0
	m.FunctionMasked = ctl&msixFunctionMask != 0
	return nil
}

// MSI-X table entry layout (PCI 3.0 section 6.8.2.6-6.8.2.9).
const (
	msixEntrySize    = 16
	msixEntryAddrLo  = 0
	msixEntryAddrHi  = 4
	msixEntryData    = 8
	msixEntryControl = 12 // vector control; bits 31:1 reserved
	msixEntryMasked  = 1 << 0
)

// MSIXTable is a device's MSI-X vector table in memory space.
type MSIXTable struct {
	Mem  Memory
	Base uint64 // physical address of entry 0
	Size int    // entries
}

// NewMSIXTable locates d's MSI-X table: in the BAR and at the offset its
// capability gives. The BAR must be an assigned memory BAR holding the
// whole table. The caller maps it uncached and enables memory decode.
func NewMSIXTable(mem Memory, d *Device) (MSIXTable, error) {
	m := d.MSIX()
	if m == nil {
		return MSIXTable{}, ErrNoMSIX
	}
	if m.TableBAR >= len(d.BARs) {
		return MSIXTable{}, fmt.Errorf("%w: table in reserved BIR %d", ErrNoMSIX, m.TableBAR)
	}
	b := d.BARs[m.TableBAR]
	end := uint64(m.TableOffset) + uint64(m.TableSize)*msixEntrySize
	if b.IO || b.Size == 0 || b.Addr == 0 || end > b.Size {
		return MSIXTable{}, fmt.Errorf("%w: %d-entry table at %#x does not fit BAR%d (%+v)",
			ErrNoMSIX, m.TableSize, m.TableOffset, m.TableBAR, b)
	}
	return MSIXTable{Mem: mem, Base: b.Addr + uint64(m.TableOffset), Size: m.TableSize}, nil
}

func (t MSIXTable) entry(i int) (uint64, error) {
	if i < 0 || i >= t.Size {
		return 0, fmt.Errorf("pci: MSI-X entry %d of %d", i, t.Size)
	}
	return t.Base + uint64(i)*msixEntrySize, nil
}

// Set programs entry i to write data to addr (see X86MSIAddress and
// X86MSIData), masked or not. The entry is masked while its message
// changes, so the device never sends half of an old and half of a new
// one, and the vector control's reserved bits are preserved (PCI 3.0
// section 6.8.2.9).
func (t MSIXTable) Set(i int, addr uint64, data uint32, masked bool) error {
	a, err := t.entry(i)
	if err != nil {
		return err
	}
	ctl := t.Mem.Read32(a + msixEntryControl)
	if ctl&msixEntryMasked == 0 {
		t.Mem.Write32(a+msixEntryControl, ctl|msixEntryMasked)
	}
	t.Mem.Write32(a+msixEntryAddrLo, uint32(addr))
	t.Mem.Write32(a+msixEntryAddrHi, uint32(addr>>32))
	t.Mem.Write32(a+msixEntryData, data)
	if !masked {
		t.Mem.Write32(a+msixEntryControl, ctl&^msixEntryMasked)
	}
	return nil
}

// Mask masks or unmasks entry i.
func (t MSIXTable) Mask(i int, masked bool) error {
	a, err := t.entry(i)
	if err != nil {
		return err
	}
	ctl := t.Mem.Read32(a+msixEntryControl) &^ msixEntryMasked
	if masked {
		ctl |= msixEntryMasked
	}
	t.Mem.Write32(a+msixEntryControl, ctl)
	return nil
}

// x86 MSI message (Intel SDM vol. 3A, "Message Signalled Interrupts"):
// the address selects the destination APIC, the data the vector. Fixed
// delivery, edge trigger and physical destination mode are all zeros.
const (
	x86MSIBase      = 0xfee00000
	x86MSIDestShift = 12 // destination APIC ID in bits 19:12
)

// X86MSIAddress is the message address that interrupts the CPU with
// local APIC ID apicID (xAPIC: 8-bit IDs).
func X86MSIAddress(apicID uint8) uint64 {
	return x86MSIBase | uint64(apicID)<<x86MSIDestShift
}

// X86MSIData is the message data for vector, fixed delivery, edge
// triggered.
func X86MSIData(vector uint8) uint32 { return uint32(vector) }
