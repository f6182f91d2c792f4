package pci

import (
	"encoding/binary"
	"errors"
)

// Capability IDs (PCI Code and ID Assignment specification; PCI 3.0
// appendix H).
const (
	CapPowerManagement uint8 = 0x01
	CapMSI             uint8 = 0x05
	CapVendor          uint8 = 0x09 // vendor-specific; virtio's structures
	CapPCIExpress      uint8 = 0x10
	CapMSIX            uint8 = 0x11
)

// Capability list rules (PCI 3.0 section 6.7): the list starts at the
// pointer at regCapPtr; each entry is ID, next pointer, then its body.
// Pointers are dword aligned (the low two bits are reserved and masked
// off) and point past the 64-byte header; 0 ends the list.
const (
	capFirst    = 0x40
	capSpaceEnd = 0x100 // capabilities lie within the first 256 bytes
)

// MaxCapabilities bounds a capability list: one capability per dword of
// 0x40-0xff. A longer walk has revisited a dword, and loops.
const MaxCapabilities = (capSpaceEnd - capFirst) / 4

// Capability is one entry of a function's capability list. The typed
// field matching the ID is set when the body is well formed.
type Capability struct {
	ID     uint8
	Offset uint16 // in configuration space

	MSIX   *MSIXCap   // for CapMSIX
	Virtio *VirtioCap // for CapVendor on virtio devices (VendorVirtio)
}

// Errors from Capabilities, for lists that cannot be walked to the end.
var (
	ErrCapLoop    = errors.New("pci: capability list loops")
	ErrCapPointer = errors.New("pci: capability pointer into the header")
)

// Capabilities walks d's capability list. It reads at most
// MaxCapabilities entries, each dword once: a list that comes back to an
// entry it has visited stops with ErrCapLoop, and a pointer into the
// header with ErrCapPointer; both return the capabilities before the
// bad pointer. A function without a list (status bit 4 clear, or a
// CardBus header) has none.
func Capabilities(cs ConfigSpace, d *Device) ([]Capability, error) {
	if l := d.Layout(); l != HeaderGeneral && l != HeaderBridge {
		return nil, nil
	}
	if Read16(cs, d.Bus, d.Dev, d.Fn, regStatus)&statusCapList == 0 {
		return nil, nil
	}
	var (
		caps []Capability
		seen uint64 // one bit per dword of the first 256 bytes
	)
	p := Read8(cs, d.Bus, d.Dev, d.Fn, regCapPtr) &^ 3
	for p != 0 {
		if p < capFirst {
			return caps, ErrCapPointer
		}
		bit := uint64(1) << (p / 4)
		if seen&bit != 0 {
			return caps, ErrCapLoop
		}
		seen |= bit
		hdr := cs.Read32(d.Bus, d.Dev, d.Fn, uint16(p))
		c := Capability{ID: uint8(hdr), Offset: uint16(p)}
		switch {
		case c.ID == CapMSIX:
			c.MSIX = parseMSIX(cs, d, c.Offset)
		case c.ID == CapVendor && d.Vendor == VendorVirtio:
			c.Virtio = parseVirtio(cs, d, c.Offset)
		}
		caps = append(caps, c)
		p = uint8(hdr>>8) &^ 3
	}
	return caps, nil
}

// readCap returns n bytes of the capability at off, or nil if they do
// not fit in the first 256 bytes.
func readCap(cs ConfigSpace, d *Device, off uint16, n int) []byte {
	if int(off)+n > capSpaceEnd {
		return nil
	}
	b := make([]byte, 0, n)
	for i := 0; i < n; i += 4 {
		b = binary.LittleEndian.AppendUint32(b, cs.Read32(d.Bus, d.Dev, d.Fn, off+uint16(i)))
	}
	return b
}

// MSIXCap is the MSI-X capability: where the vector table and the
// pending bit array are (a BAR and an offset into it), the number of
// vectors, and the control bits as read.
type MSIXCap struct {
	Offset         uint16 // of the capability in configuration space
	TableSize      int    // vectors, 1-2048
	TableBAR       int    // BAR index (BIR); 6 and 7 are reserved
	TableOffset    uint32
	PBABAR         int
	PBAOffset      uint32
	Enabled        bool
	FunctionMasked bool
}

// MSI-X capability layout (PCI 3.0 section 6.8.2).
const (
	msixControl       = 2 // message control, 16 bits
	msixTable         = 4 // table offset (31:3) and BIR (2:0)
	msixPBA           = 8 // PBA offset and BIR, likewise
	msixCapLen        = 12
	msixTableSizeMask = 0x7ff // table size - 1
	msixFunctionMask  = 1 << 14
	msixEnable        = 1 << 15
	msixBIRMask       = 0x7
)

func parseMSIX(cs ConfigSpace, d *Device, off uint16) *MSIXCap {
	b := readCap(cs, d, off, msixCapLen)
	if b == nil {
		return nil
	}
	ctl := binary.LittleEndian.Uint16(b[msixControl:])
	table := binary.LittleEndian.Uint32(b[msixTable:])
	pba := binary.LittleEndian.Uint32(b[msixPBA:])
	return &MSIXCap{
		Offset:         off,
		TableSize:      int(ctl&msixTableSizeMask) + 1,
		TableBAR:       int(table & msixBIRMask),
		TableOffset:    table &^ msixBIRMask,
		PBABAR:         int(pba & msixBIRMask),
		PBAOffset:      pba &^ msixBIRMask,
		Enabled:        ctl&msixEnable != 0,
		FunctionMasked: ctl&msixFunctionMask != 0,
	}
}

// VirtioCap is a virtio structure capability (virtio 1.2 section 4.1.4):
// which of the device's structures (CfgType) lives where (BAR, Offset,
// Length).
type VirtioCap struct {
	CfgType uint8 // VirtioCommonCfg...
	BAR     uint8 // BAR index; 0x0-0x5
	ID      uint8 // tells apart several capabilities of one type
	Offset  uint32
	Length  uint32
	// NotifyOffMultiplier is set for VirtioNotifyCfg: queue n is
	// notified at Offset + queue_notify_off(n) * NotifyOffMultiplier
	// (section 4.1.4.4).
	NotifyOffMultiplier uint32
}

// Virtio structure types, cfg_type (virtio 1.2 section 4.1.4).
const (
	VirtioCommonCfg       uint8 = 1
	VirtioNotifyCfg       uint8 = 2
	VirtioISRCfg          uint8 = 3
	VirtioDeviceCfg       uint8 = 4
	VirtioPCICfg          uint8 = 5
	VirtioSharedMemoryCfg uint8 = 8
	VirtioVendorCfg       uint8 = 9
)

// struct virtio_pci_cap layout (virtio 1.2 section 4.1.4).
const (
	virtioCapLen        = 2 // cap_len: the capability's length in bytes
	virtioCfgType       = 3
	virtioBAR           = 4
	virtioID            = 5
	virtioOffset        = 8  // le32
	virtioLength        = 12 // le32
	virtioNotifyMult    = 16 // le32, struct virtio_pci_notify_cap only
	virtioCapSize       = 16
	virtioNotifyCapSize = 20
)

func parseVirtio(cs ConfigSpace, d *Device, off uint16) *VirtioCap {
	b := readCap(cs, d, off, virtioCapSize)
	if b == nil || int(b[virtioCapLen]) < virtioCapSize {
		return nil
	}
	v := &VirtioCap{
		CfgType: b[virtioCfgType],
		BAR:     b[virtioBAR],
		ID:      b[virtioID],
		Offset:  binary.LittleEndian.Uint32(b[virtioOffset:]),
		Length:  binary.LittleEndian.Uint32(b[virtioLength:]),
	}
	if v.CfgType == VirtioNotifyCfg {
		m := readCap(cs, d, off+virtioNotifyMult, virtioNotifyCapSize-virtioNotifyMult)
		if m == nil || int(b[virtioCapLen]) < virtioNotifyCapSize {
			return nil
		}
		v.NotifyOffMultiplier = binary.LittleEndian.Uint32(m)
	}
	return v
}
