package pci

// BAR is one decoded base address register.
type BAR struct {
	Index int  // 0-5
	IO    bool // I/O space; otherwise memory space
	// Addr is the base address as programmed (by the firmware, usually);
	// 0 if unassigned. On x86 bus and physical addresses are the same.
	Addr uint64
	// Size is the length of the decoded range in bytes; 0 if the
	// register is not implemented or is the upper half of a 64-bit BAR.
	Size     uint64
	Prefetch bool // memory: prefetchable
	Is64     bool // memory: 64-bit, taking register Index+1 as well
}

// Base address register bits (PCI 3.0 section 6.2.5.1).
const (
	barIO          uint32 = 1 << 0
	barMemType     uint32 = 3 << 1 // memory type field
	barMem64       uint32 = 2 << 1 // 00 is 32-bit, 01 below 1 MiB (legacy)
	barPrefetch    uint32 = 1 << 3
	barIOAddrMask  uint32 = ^uint32(0x3)
	barMemAddrMask uint32 = ^uint32(0xf)
)

// ProbeBARs decodes d's base address registers and measures each range
// the standard way (PCI 3.0 section 6.2.5.1): write all ones, read back
// which address bits stick, restore the original value. The lowest
// writable address bit is the size. I/O and memory decode are turned off
// in the command register while it probes, so the device never answers
// at the half-written addresses, and turned back on after; host bridges
// are left decoding (some need it for memory to work, and their BARs are
// rarely implemented). Type 0 headers have six BARs, type 1 two, other
// layouts none.
//
// Like Scan, it must not run while a driver uses the device.
func ProbeBARs(cs ConfigSpace, d *Device) [6]BAR {
	var bars [6]BAR
	for i := range bars {
		bars[i].Index = i
	}
	n := 0
	switch d.Layout() {
	case HeaderGeneral:
		n = 6
	case HeaderBridge:
		n = 2
	}
	if n == 0 {
		return bars
	}
	cmd := Read16(cs, d.Bus, d.Dev, d.Fn, regCommand)
	decode := cmd & (CommandIO | CommandMemory)
	hostBridge := d.Class == ClassBridge && d.Subclass == SubclassHostBridge
	if decode != 0 && !hostBridge {
		setCommand(cs, d, 0, decode)
		defer setCommand(cs, d, decode, 0)
	}
	for i := 0; i < n; i++ {
		if bars[i] = probeBAR(cs, d, i, i+1 < n); bars[i].Is64 {
			i++ // the next register is the upper half
		}
	}
	return bars
}

// probeBAR decodes and sizes BAR i; hiOK says register i+1 exists to be
// the upper half of a 64-bit BAR.
func probeBAR(cs ConfigSpace, d *Device, i int, hiOK bool) BAR {
	off := uint16(regBAR0 + 4*i)
	lo, loMask := sizeRegister(cs, d, off)
	b := BAR{Index: i}
	if lo == ^uint32(0) || loMask == ^uint32(0) {
		// No register keeps its type bits writable: the function is
		// gone (reads of a missing function return all ones).
		return b
	}
	var mask uint64
	if lo&barIO != 0 {
		b.IO = true
		b.Addr = uint64(lo & barIOAddrMask)
		mask = uint64(loMask & barIOAddrMask)
	} else {
		b.Addr = uint64(lo & barMemAddrMask)
		b.Prefetch = lo&barPrefetch != 0
		mask = uint64(loMask & barMemAddrMask)
		if lo&barMemType == barMem64 && hiOK {
			b.Is64 = true
			hi, hiMask := sizeRegister(cs, d, off+4)
			b.Addr |= uint64(hi) << 32
			mask |= uint64(hiMask) << 32
		}
	}
	// The writable bits are the address bits above the size; devices that
	// decode only 16 bits of I/O address return zeros above those, so the
	// lowest set bit, not the complement of the mask, gives the size.
	b.Size = mask & -mask
	return b
}

// sizeRegister returns the register at off and what it reads after all
// ones are written to it, and restores it.
func sizeRegister(cs ConfigSpace, d *Device, off uint16) (orig, mask uint32) {
	orig = cs.Read32(d.Bus, d.Dev, d.Fn, off)
	cs.Write32(d.Bus, d.Dev, d.Fn, off, ^uint32(0))
	mask = cs.Read32(d.Bus, d.Dev, d.Fn, off)
	cs.Write32(d.Bus, d.Dev, d.Fn, off, orig)
	return orig, mask
}
