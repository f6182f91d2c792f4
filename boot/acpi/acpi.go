// Package acpi reads the ACPI tables the kernel needs at boot: the MADT
// (which CPUs exist, for SMP start) and the FADT (how to power off and
// reset). ACPI 6.5 specification, chapter 5.
//
// Like bootinfo, it runs before the Go runtime exists: it reads physical
// memory through a byte slice and never allocates.
package acpi

import "encoding/binary"

// Memory is physical memory from address 0 (see bootinfo.Memory).
type Memory []byte

func (m Memory) bytes(addr, n uint64) ([]byte, bool) {
	if addr > uint64(len(m)) || n > uint64(len(m))-addr {
		return nil, false
	}
	return m[addr : addr+n], true
}

var le = binary.LittleEndian

// MaxCPUs bounds the CPU list.
const MaxCPUs = 256

// GAS is a Generic Address Structure (section 5.2.3.2).
type GAS struct {
	Space    uint8 // 0 system memory, 1 system I/O
	BitWidth uint8
	Address  uint64
}

// Tables is what the kernel uses from ACPI.
type Tables struct {
	Found bool
	// APIC IDs of enabled CPUs, in MADT order (the boot CPU first on
	// every firmware seen; the kernel does not rely on it).
	CPUs     [MaxCPUs]uint32
	NCPUs    int
	IOAPIC   uint64 // physical address of the first I/O APIC
	IOAPICID uint8
	// IOAPICs lists every I/O APIC with the first GSI it serves (QEMU
	// microvm has a second one for GSIs 24-47, its virtio-mmio lines).
	IOAPICs  [MaxIOAPICs]IOAPIC
	NIOAPICs int
	// Overrides are the MADT's interrupt source overrides: ISA IRQs
	// wired to other GSIs or with other polarity/trigger.
	Overrides  [16]Override
	NOverrides int
	// MCFG is the physical address of the MCFG table (PCIe ECAM), 0 if
	// none.
	MCFG uint64
	// VirtioMMIO lists the virtio-mmio devices the DSDT describes
	// (_HID LNRO0005, as QEMU microvm does).
	VirtioMMIO  [MaxMMIODevices]MMIODevice
	NVirtioMMIO int

	// Power off: write SLP_TYPa<<10|SLP_EN to PM1a_CNT (fixed hardware),
	// or SLP_TYPa<<2|SLP_EN to the sleep control register (hardware-
	// reduced ACPI, e.g. QEMU microvm).
	PM1aCnt, PM1bCnt uint32
	SleepControl     GAS
	HardwareReduced  bool
	S5Type           uint8
	S5Found          bool
	Reset            GAS
	ResetValue       uint8
	ResetSupported   bool
}

// Table sizes.
const (
	MaxIOAPICs     = 4
	MaxMMIODevices = 32
)

// IOAPIC is one MADT I/O APIC entry (ACPI 6.4 section 5.2.12.3).
type IOAPIC struct {
	ID      uint8
	Addr    uint64
	GSIBase uint32
}

// Override is an interrupt source override (5.2.12.5).
type Override struct {
	IRQ   uint8  // ISA IRQ
	GSI   uint32 // the line it is wired to
	Flags uint16 // MPS INTI flags: polarity bits 1:0, trigger 3:2
}

// MMIODevice is a device's memory window and interrupt from the DSDT.
type MMIODevice struct {
	Base, Size uint64
	GSI        uint32
	// Level and ActiveLow describe the interrupt's trigger mode.
	Level, ActiveLow bool
}

// FindRSDP scans the BIOS area (0xe0000-0xfffff) for the RSDP, for
// loaders that do not pass it (Firecracker).
func FindRSDP(m Memory) uint64 {
	for a := uint64(0xe0000); a < 0x100000; a += 16 {
		b, ok := m.bytes(a, 20)
		if ok && string(b[:8]) == "RSD PTR " && checksum(b) == 0 {
			return a
		}
	}
	return 0
}

func checksum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return s
}

// Parse reads the tables reachable from the RSDP at rsdp.
func Parse(m Memory, rsdp uint64, t *Tables) bool {
	*t = Tables{}
	// A revision 0 (ACPI 1.0) RSDP is only 20 bytes long.
	r, ok := m.bytes(rsdp, 20)
	if !ok || string(r[:8]) != "RSD PTR " || checksum(r) != 0 {
		return false
	}
	var h []byte
	entry := uint64(8) // XSDT
	if x, ok := m.bytes(rsdp, 36); ok && r[15] >= 2 && le.Uint64(x[24:]) != 0 {
		h, _ = table(m, le.Uint64(x[24:]))
	}
	if h == nil {
		// ACPI 1.0, or an unusable XSDT: the RSDT (Linux falls back
		// the same way).
		if h, ok = table(m, uint64(le.Uint32(r[16:]))); !ok {
			return false
		}
		entry = 4
	}
	t.Found = true
	for off := uint64(36); off+entry <= uint64(len(h)); off += entry {
		var addr uint64
		if entry == 8 {
			addr = le.Uint64(h[off:])
		} else {
			addr = uint64(le.Uint32(h[off:]))
		}
		sdt, ok := table(m, addr)
		if !ok {
			continue
		}
		switch string(sdt[:4]) {
		case "APIC":
			parseMADT(sdt, t)
		case "FACP":
			parseFADT(m, sdt, t)
		case "MCFG":
			t.MCFG = addr
		}
	}
	return true
}

// table returns a whole SDT at addr if its header and checksum are sane.
func table(m Memory, addr uint64) ([]byte, bool) {
	h, ok := m.bytes(addr, 36)
	if !ok {
		return nil, false
	}
	n := uint64(le.Uint32(h[4:]))
	if n < 36 || n > 1<<20 {
		return nil, false
	}
	b, ok := m.bytes(addr, n)
	if !ok || checksum(b) != 0 {
		return nil, false
	}
	return b, true
}

func parseMADT(b []byte, t *Tables) {
	for off := 44; off+2 <= len(b); {
		typ, n := b[off], int(b[off+1])
		if n < 2 || off+n > len(b) {
			return
		}
		e := b[off : off+n]
		switch {
		case typ == 0 && n >= 8: // processor local APIC
			if le.Uint32(e[4:])&1 != 0 && t.NCPUs < MaxCPUs {
				t.CPUs[t.NCPUs] = uint32(e[3])
				t.NCPUs++
			}
		case typ == 1 && n >= 12: // I/O APIC
			if t.IOAPIC == 0 {
				t.IOAPICID = e[2]
				t.IOAPIC = uint64(le.Uint32(e[4:]))
			}
			if t.NIOAPICs < MaxIOAPICs {
				t.IOAPICs[t.NIOAPICs] = IOAPIC{ID: e[2], Addr: uint64(le.Uint32(e[4:])), GSIBase: le.Uint32(e[8:])}
				t.NIOAPICs++
			}
		case typ == 2 && n >= 10: // interrupt source override
			if t.NOverrides < len(t.Overrides) {
				t.Overrides[t.NOverrides] = Override{IRQ: e[3], GSI: le.Uint32(e[4:]), Flags: le.Uint16(e[8:])}
				t.NOverrides++
			}
		case typ == 9 && n >= 16: // processor local x2APIC
			if le.Uint32(e[8:])&1 != 0 && t.NCPUs < MaxCPUs {
				t.CPUs[t.NCPUs] = le.Uint32(e[4:])
				t.NCPUs++
			}
		}
		off += n
	}
}

func gas(b []byte) GAS {
	return GAS{Space: b[0], BitWidth: b[1], Address: le.Uint64(b[4:])}
}

func parseFADT(m Memory, b []byte, t *Tables) {
	if len(b) >= 72 {
		t.PM1aCnt = le.Uint32(b[64:])
		t.PM1bCnt = le.Uint32(b[68:])
	}
	if len(b) >= 129 {
		flags := le.Uint32(b[112:])
		t.HardwareReduced = flags&(1<<20) != 0
		t.ResetSupported = flags&(1<<10) != 0
		t.Reset = gas(b[116:])
		t.ResetValue = b[128]
	}
	if len(b) >= 184 {
		if x := gas(b[172:]); x.Address != 0 && x.Space == 1 {
			t.PM1aCnt = uint32(x.Address)
		}
	}
	if len(b) >= 256 {
		t.SleepControl = gas(b[244:])
	}
	dsdt := uint64(0)
	if len(b) >= 44 {
		dsdt = uint64(le.Uint32(b[40:]))
	}
	if len(b) >= 148 && le.Uint64(b[140:]) != 0 {
		dsdt = le.Uint64(b[140:])
	}
	if d, ok := table(m, dsdt); ok {
		t.S5Type, t.S5Found = findS5(d)
		t.NVirtioMMIO = findVirtioMMIO(d, t.VirtioMMIO[:])
	}
}

// findS5 finds the \_S5 package in AML and returns its first value
// (SLP_TYPa). Full AML interpretation is not needed for this one
// object: it is always Name(_S5, Package(){a, b, ...}).
func findS5(aml []byte) (uint8, bool) {
	for i := 36; i+4 < len(aml); i++ {
		if string(aml[i:i+4]) != "_S5_" {
			continue
		}
		j := i + 4
		if j >= len(aml) || aml[j] != 0x12 { // PackageOp
			continue
		}
		j++
		if j >= len(aml) {
			return 0, false
		}
		j += int(aml[j]>>6) + 1 // PkgLength: lead byte + follow bytes
		j++                     // NumElements
		if j >= len(aml) {
			return 0, false
		}
		switch aml[j] {
		case 0x0a: // BytePrefix
			if j+1 < len(aml) {
				return aml[j+1], true
			}
		case 0x00, 0x01: // ZeroOp, OneOp
			return aml[j], true
		}
		return 0, false
	}
	return 0, false
}

// findVirtioMMIO finds devices whose _HID is "LNRO0005" (virtio-mmio)
// and reads the first Memory32Fixed and Extended Interrupt descriptors
// of the _CRS that follows each (ACPI 6.4 sections 6.4.3.4 and 6.4.3.6).
// QEMU microvm writes each as Device(VRxx){_HID, _UID, _CCA,
// _CRS(ResourceTemplate(){Memory32Fixed; Interrupt})}; a full AML
// interpreter is not needed for this shape. It returns how many it
// stored in out.
func findVirtioMMIO(aml []byte, out []MMIODevice) int {
	const hid = "LNRO0005"
	n := 0
	for i := 36; i+len(hid) <= len(aml) && n < len(out); i++ {
		if string(aml[i:i+len(hid)]) != hid {
			continue
		}
		end := len(aml)
		if k := indexFrom(aml, hid, i+len(hid)); k >= 0 {
			end = k
		}
		var d MMIODevice
		var haveMem, haveIRQ bool
		for j := i + len(hid); j < end && !(haveMem && haveIRQ); j++ {
			switch {
			case !haveMem && aml[j] == 0x86 && j+12 <= end && aml[j+1] == 9 && aml[j+2] == 0:
				// Memory32Fixed: tag, length 9, info, base, size.
				d.Base = uint64(le.Uint32(aml[j+4:]))
				d.Size = uint64(le.Uint32(aml[j+8:]))
				haveMem = true
				j += 11
			case !haveIRQ && aml[j] == 0x89 && j+9 <= end && le.Uint16(aml[j+1:]) >= 6 && aml[j+4] >= 1:
				// Extended Interrupt: tag, length, flags, count, GSIs.
				flags := aml[j+3]
				d.Level = flags&2 == 0
				d.ActiveLow = flags&4 != 0
				d.GSI = le.Uint32(aml[j+5:])
				haveIRQ = true
				j += 8
			}
		}
		if haveMem && haveIRQ && d.Size != 0 {
			out[n] = d
			n++
		}
		i = end - 1
	}
	return n
}

func indexFrom(b []byte, s string, from int) int {
	for k := from; k+len(s) <= len(b); k++ {
		if string(b[k:k+len(s)]) == s {
			return k
		}
	}
	return -1
}
