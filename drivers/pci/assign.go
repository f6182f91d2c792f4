package pci

import (
	"errors"
	"slices"
)

// Window is a range of bus addresses the host bridge forwards to PCI,
// from which unassigned BARs get addresses: [Base, Limit).
type Window struct{ Base, Limit uint64 }

// ErrNoSpace is returned when a BAR does not fit its window.
var ErrNoSpace = errors.New("pci: no room in the window for a BAR")

// AssignBARs gives addresses to the BARs of devs on bus 0 that firmware
// left unassigned (address 0 with a size), as minimal firmware such as
// qboot does not program devices, and records them in devs. Memory BARs
// come from mem, I/O BARs from io, each aligned to its size (PCI 3.0
// section 6.2.5.1: a BAR decodes a naturally aligned range); larger BARs
// are placed first so alignment wastes little. Devices behind bridges
// keep what they have: assigning them would mean programming the
// bridges' windows too. It returns the first BAR that did not fit, after
// placing all that did.
//
// Like Scan, it must not run while a driver uses the devices.
func AssignBARs(cs ConfigSpace, devs []Device, mem, io Window) error {
	type ref struct{ dev, bar int }
	var refs []ref
	used := [2][]Window{}
	for i := range devs {
		d := &devs[i]
		if d.Bus != 0 || d.Layout() != HeaderGeneral {
			continue
		}
		for j, b := range d.BARs {
			switch {
			case b.Size == 0:
			case b.Addr == 0:
				refs = append(refs, ref{i, j})
			case b.IO:
				used[1] = append(used[1], Window{b.Addr, b.Addr + b.Size})
			default:
				used[0] = append(used[0], Window{b.Addr, b.Addr + b.Size})
			}
		}
	}
	slices.SortStableFunc(refs, func(a, b ref) int {
		sa, sb := devs[a.dev].BARs[a.bar].Size, devs[b.dev].BARs[b.bar].Size
		switch {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return 0
	})
	var firstErr error
	for _, r := range refs {
		d := &devs[r.dev]
		b := &d.BARs[r.bar]
		w, kind := mem, 0
		if b.IO {
			w, kind = io, 1
		}
		addr, ok := place(w, b.Size, used[kind])
		if !ok || (!b.Is64 && !b.IO && addr+b.Size > 1<<32) {
			if firstErr == nil {
				firstErr = ErrNoSpace
			}
			continue
		}
		used[kind] = append(used[kind], Window{addr, addr + b.Size})
		off := uint16(regBAR0 + 4*b.Index)
		old := setCommand(cs, d, 0, CommandIO|CommandMemory)
		lo := cs.Read32(d.Bus, d.Dev, d.Fn, off)
		if b.IO {
			cs.Write32(d.Bus, d.Dev, d.Fn, off, uint32(addr)|lo&^barIOAddrMask)
		} else {
			cs.Write32(d.Bus, d.Dev, d.Fn, off, uint32(addr)|lo&^barMemAddrMask)
			if b.Is64 {
				cs.Write32(d.Bus, d.Dev, d.Fn, off+4, uint32(addr>>32))
			}
		}
		setCommand(cs, d, old&(CommandIO|CommandMemory), 0)
		b.Addr = addr
	}
	return firstErr
}

// place finds the lowest size-aligned address in w that overlaps none
// of used.
func place(w Window, size uint64, used []Window) (uint64, bool) {
	if size == 0 || size&(size-1) != 0 {
		return 0, false
	}
	a := (w.Base + size - 1) &^ (size - 1)
	for a+size <= w.Limit && a+size > a {
		clash := false
		for _, u := range used {
			if a < u.Limit && u.Base < a+size {
				clash = true
				a = (u.Limit + size - 1) &^ (size - 1)
				break
			}
		}
		if !clash {
			return a, true
		}
	}
	return 0, false
}
