package kernel

// I/O APICs (82093AA datasheet): device interrupt lines (GSIs) are
// routed to a vector on one CPU. At boot every line of every I/O APIC
// ACPI names is masked; drivers route the lines they own (the legacy
// PIC stays masked for good). QEMU microvm has two I/O APICs: GSIs 0-23
// and 24-47, its virtio-mmio lines.

import "gosv/boot/acpi"

const (
	ioapicRegSel = 0x00
	ioapicWin    = 0x10
	ioapicVer    = 0x01
	ioapicRedir  = 0x10
	redirMasked  = 1 << 16
	redirLevel   = 1 << 15
	redirLowActv = 1 << 13
)

type ioapicUnit struct {
	base    uintptr
	gsiBase int
	lines   int
}

var (
	ioapics  [acpi.MaxIOAPICs]ioapicUnit
	nioapics int
	// ioapicLock keeps each register-select write with its window
	// access; taken with interrupts off.
	ioapicLock spinLock
)

func (u *ioapicUnit) read(reg uint32) uint32 {
	*(*uint32)(ptrAt(u.base + ioapicRegSel)) = reg
	return *(*uint32)(ptrAt(u.base + ioapicWin))
}

func (u *ioapicUnit) write(reg, v uint32) {
	*(*uint32)(ptrAt(u.base + ioapicRegSel)) = reg
	*(*uint32)(ptrAt(u.base + ioapicWin)) = v
}

// initIOAPICs masks every redirection entry of the I/O APICs ACPI names.
func initIOAPICs(t *acpi.Tables) {
	for i := 0; i < t.NIOAPICs; i++ {
		a := t.IOAPICs[i]
		if a.Addr == 0 || a.Addr >= 4<<30 {
			continue
		}
		u := &ioapics[nioapics]
		u.base = directBase + uintptr(a.Addr)
		u.gsiBase = int(a.GSIBase)
		u.lines = int(u.read(ioapicVer)>>16&0xff) + 1
		for l := 0; l < u.lines; l++ {
			u.write(ioapicRedir+2*uint32(l), redirMasked)
			u.write(ioapicRedir+2*uint32(l)+1, 0)
		}
		nioapics++
	}
}

// ioapicFor returns the I/O APIC serving gsi and the pin it is on.
func ioapicFor(gsi int) (*ioapicUnit, uint32, bool) {
	for i := 0; i < nioapics; i++ {
		u := &ioapics[i]
		if gsi >= u.gsiBase && gsi < u.gsiBase+u.lines {
			return u, uint32(gsi - u.gsiBase), true
		}
	}
	return nil, 0, false
}

// ioapicRoute delivers line gsi as vector to the CPU with apicID,
// unmasked. Level-triggered lines are PCI INTx and virtio-mmio's;
// activeLow is the PCI INTx convention. Interrupts must be off.
func ioapicRoute(gsi int, vector uint8, apicID uint32, level, activeLow bool) bool {
	u, pin, ok := ioapicFor(gsi)
	if !ok {
		return false
	}
	lo := uint32(vector)
	if level {
		lo |= redirLevel
	}
	if activeLow {
		lo |= redirLowActv
	}
	ioapicLock.lock()
	u.write(ioapicRedir+2*pin+1, apicID<<24)
	u.write(ioapicRedir+2*pin, lo)
	ioapicLock.unlock()
	return true
}

// ioapicSetMask masks or unmasks gsi, keeping its routing. Interrupts
// must be off.
func ioapicSetMask(gsi int, masked bool) {
	u, pin, ok := ioapicFor(gsi)
	if !ok {
		return
	}
	ioapicLock.lock()
	lo := u.read(ioapicRedir + 2*pin)
	if masked {
		lo |= redirMasked
	} else {
		lo &^= redirMasked
	}
	u.write(ioapicRedir+2*pin, lo)
	ioapicLock.unlock()
}
