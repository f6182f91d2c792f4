package kernel

// I/O APIC (82093AA datasheet): device interrupt lines (GSIs) are routed
// to a vector on one CPU. At boot every line is masked; drivers route
// the lines they own (the legacy PIC stays masked for good).

const (
	ioapicRegSel = 0x00
	ioapicWin    = 0x10
	ioapicVer    = 0x01
	ioapicRedir  = 0x10
	redirMasked  = 1 << 16
	redirLevel   = 1 << 15
	redirLowActv = 1 << 13
)

var (
	ioapicBase  uintptr
	ioapicLines int
)

func ioapicRead(reg uint32) uint32 {
	*(*uint32)(ptrAt(ioapicBase + ioapicRegSel)) = reg
	return *(*uint32)(ptrAt(ioapicBase + ioapicWin))
}

func ioapicWrite(reg, v uint32) {
	*(*uint32)(ptrAt(ioapicBase + ioapicRegSel)) = reg
	*(*uint32)(ptrAt(ioapicBase + ioapicWin)) = v
}

// initIOAPIC masks every redirection entry of the I/O APIC ACPI names.
func initIOAPIC(phys uint64) {
	if phys == 0 || phys >= 4<<30 {
		return
	}
	ioapicBase = directBase + uintptr(phys)
	ioapicLines = int(ioapicRead(ioapicVer)>>16&0xff) + 1
	for i := 0; i < ioapicLines; i++ {
		ioapicWrite(ioapicRedir+2*uint32(i), redirMasked)
		ioapicWrite(ioapicRedir+2*uint32(i)+1, 0)
	}
}

// ioapicRoute delivers line gsi as vector to the CPU with apicID.
// Level-triggered, active-low is the PCI INTx convention; ISA lines are
// edge-triggered, active-high.
func ioapicRoute(gsi int, vector uint8, apicID uint32, level bool) bool {
	if ioapicBase == 0 || gsi < 0 || gsi >= ioapicLines {
		return false
	}
	lo := uint32(vector)
	if level {
		lo |= redirLevel | redirLowActv
	}
	ioapicWrite(ioapicRedir+2*uint32(gsi)+1, apicID<<24)
	ioapicWrite(ioapicRedir+2*uint32(gsi), lo)
	return true
}
