package kernel

import "encoding/binary"

// Function names for PCs in fatal reports. runtime.FuncForPC allocates
// (for inlined frames), which trap context cannot do, so this reads the
// runtime's pclntab directly: the pcHeader (runtime/symtab.go), the
// functab of {entryoff, funcoff} pairs sorted by entry, and each _func's
// nameOff into the function-name table.

func pclntabAddress() (tab, text uintptr)

// funcName returns the name of the function containing pc, or nil.
func funcName(pc uintptr) []byte {
	tab, text := pclntabAddress()
	hdr := (*[72]byte)(ptrAt(tab))
	le := binary.LittleEndian
	if le.Uint32(hdr[0:]) != 0xfffffff1 || hdr[7] != 8 {
		return nil // not the pclntab version this was written for
	}
	nfunc := int(le.Uint64(hdr[8:]))
	funcnames := tab + uintptr(le.Uint64(hdr[32:]))
	pcln := tab + uintptr(le.Uint64(hdr[64:]))
	if pc < text || nfunc <= 0 {
		return nil
	}
	off := uint32(pc - text)
	entry := func(i int) (uint32, uint32) {
		e := (*[8]byte)(ptrAt(pcln + uintptr(i)*8))
		return le.Uint32(e[0:]), le.Uint32(e[4:])
	}
	if last, _ := entry(nfunc); off >= last {
		return nil
	}
	lo, hi := 0, nfunc
	for hi-lo > 1 {
		m := (lo + hi) / 2
		if e, _ := entry(m); e <= off {
			lo = m
		} else {
			hi = m
		}
	}
	_, funcoff := entry(lo)
	f := (*[8]byte)(ptrAt(pcln + uintptr(funcoff)))
	nameOff := int32(le.Uint32(f[4:]))
	name := (*[256]byte)(ptrAt(funcnames + uintptr(nameOff)))
	n := 0
	for n < len(name) && name[n] != 0 {
		n++
	}
	return name[:n]
}
