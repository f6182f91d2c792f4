package kernel

import "gosv/arch/amd64"

// Page-table entry bits (Intel SDM vol. 3, 4.5).
const (
	ptePresent  = 1 << 0
	pteWrite    = 1 << 1
	pteUser     = 1 << 2
	pteWT       = 1 << 3
	pteNoCache  = 1 << 4
	pteAccessed = 1 << 5
	pteDirty    = 1 << 6
	pteHuge     = 1 << 7
	pteGlobal   = 1 << 8
	pteNX       = 1 << 63
	pteAddrMask = 0x000ffffffffff000
)

// pageTables is the single address space: one PML4 shared by every CPU,
// the kernel and the application.
type pageTables struct {
	pml4 uint64 // physical
}

var kernelPT pageTables

// table views a page table through the direct map.
func table(pa uint64) *[512]uint64 {
	return (*[512]uint64)(ptrAt(directBase + uintptr(pa&pteAddrMask)))
}

func ptIndex(va uintptr, level uint) int { return int(va>>(12+9*level)) & 511 }

// walk returns the level-0 (4 KiB) PTE slot for va, creating missing
// intermediate tables when create is set. It returns nil if a table is
// missing (and !create), memory ran out, or a huge page covers va.
func (pt *pageTables) walk(va uintptr, create bool) *uint64 {
	t := table(pt.pml4)
	for level := uint(3); level > 0; level-- {
		e := &t[ptIndex(va, level)]
		if *e&ptePresent == 0 {
			if !create {
				return nil
			}
			pa := phys.allocZeroed()
			if pa == 0 {
				return nil
			}
			// Intermediate entries allow everything; leaves decide.
			*e = pa | ptePresent | pteWrite
		} else if *e&pteHuge != 0 {
			return nil
		}
		t = table(*e)
	}
	return &t[ptIndex(va, 0)]
}

// lookup returns the PTE for va if a 4 KiB page is mapped there.
func (pt *pageTables) lookup(va uintptr) (uint64, bool) {
	e := pt.walk(va, false)
	if e == nil || *e&ptePresent == 0 {
		return 0, false
	}
	return *e, true
}

// unmapRange clears every 4 KiB mapping in [start, end), frees the pages
// and flushes the TLB. Empty subtrees are skipped a whole table at a
// time, so unmapping a large untouched reservation is cheap.
func (pt *pageTables) unmapRange(start, end uintptr) (freed int) {
	var batch pageBatch
	defer finishUnmap(&batch, false)
	va := start
	for va < end {
		t := table(pt.pml4)
		level := uint(3)
		var e *uint64
		for {
			e = &t[ptIndex(va, level)]
			if level == 0 || *e&ptePresent == 0 || *e&pteHuge != 0 {
				break
			}
			t = table(*e)
			level--
		}
		span := uintptr(1) << (12 + 9*level)
		if level == 0 && *e&(ptePresent|pteProtNone) != 0 {
			batch.add(*e & pteAddrMask)
			*e = 0
			amd64.INVLPG(va)
			freed++
		}
		// Next address aligned to this level's span.
		next := (va &^ (span - 1)) + span
		if next <= va {
			break
		}
		va = next
	}
	return freed
}

// protectRange rewrites the permission bits of the pages in
// [start, end) that own a frame.
func (pt *pageTables) protectRange(start, end uintptr, prot uint32) {
	defer finishUnmap(&pageBatch{}, true)
	for va := start; va < end; va += pageSize {
		e := pt.walk(va, false)
		if e == nil || *e&(ptePresent|pteProtNone) == 0 {
			continue
		}
		frame := *e & pteAddrMask
		if prot&(protRead|protWrite|protExec) == 0 {
			// PROT_NONE must fault, but the contents survive for a
			// later mprotect back, as on Linux.
			*e = frame | pteProtNone
		} else {
			*e = leafBits(frame, prot)
		}
		amd64.INVLPG(va)
	}
}

// pteProtNone marks a non-present PTE that still owns a frame (its
// contents survive a PROT_NONE period). Bit 9 is free for software use.
const pteProtNone = 1 << 9

// leafBits builds a 4 KiB leaf entry for frame pa with permissions prot.
func leafBits(pa uint64, prot uint32) uint64 {
	e := pa | ptePresent
	if prot&protWrite != 0 {
		e |= pteWrite
	}
	if prot&protExec == 0 {
		e |= pteNX
	}
	return e
}

// moveRange moves the frames mapped in [from, from+size) to
// [to, to+size) without copying: each leaf entry is re-pointed. The
// destination must be free of mappings. It reports false if a page table
// could not be allocated (the pages moved so far stay moved).
func (pt *pageTables) moveRange(from, to, size uintptr) bool {
	defer finishUnmap(&pageBatch{}, true)
	for off := uintptr(0); off < size; off += pageSize {
		src := pt.walk(from+off, false)
		if src == nil || *src&(ptePresent|pteProtNone) == 0 {
			continue
		}
		dst := pt.walk(to+off, true)
		if dst == nil {
			return false
		}
		*dst = *src
		*src = 0
		amd64.INVLPG(from + off)
	}
	return true
}
