package kernel

import "gosv/arch/amd64"

// lazyBSS is the virtual range [start, end) of the image's largest BSS
// symbol, written into the image by boot/kimage (writeLazyBSS): the Go
// FIPS DRBG's 32 MiB entropy scratch buffer, which crypto/rand links
// (net/http pulls it in through crypto/tls) and only FIPS mode touches.
// The nonzero initial value keeps the variable in the image's file so it
// can be patched; an unpatched image leaves {1, 1}, an empty range.
var lazyBSS = [2]uint64{1, 1}

const hugePageSize = 2 << 20

// lazyRange returns the 2 MiB-aligned part of lazyBSS: the boot stub maps
// the image with 2 MiB pages, so only whole ones can be dropped.
func lazyRange() (start, end uintptr) {
	s := (uintptr(lazyBSS[0]) + hugePageSize - 1) &^ (hugePageSize - 1)
	e := uintptr(lazyBSS[1]) &^ (hugePageSize - 1)
	if lazyBSS[0] < kernelVirtBase || e <= s || e > kernelVirtBase+1<<30 {
		return 0, 0
	}
	return s, e
}

// releaseLazyBSS unmaps the lazy range's 2 MiB pages and gives their
// frames to the page allocator. The range then belongs to an ordinary
// demand-zero vma (initAddressSpace), so a first touch maps a zeroed
// page, as a fresh BSS would read. It runs once at boot, before any
// other CPU or thread exists.
func releaseLazyBSS() {
	s, e := lazyRange()
	if s == e {
		return
	}
	for va := s; va < e; va += hugePageSize {
		pd := table(table(table(kernelPT.pml4)[ptIndex(va, 3)])[ptIndex(va, 2)])
		if pde := &pd[ptIndex(va, 1)]; *pde&(ptePresent|pteHuge) == ptePresent|pteHuge {
			*pde = 0
			amd64.INVLPG(va)
		}
	}
	phys.addRange(uint64(s-kernelVirtBase)+kernelPhysBase, uint64(e-kernelVirtBase)+kernelPhysBase)
}
