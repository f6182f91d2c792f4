package kernel

import "gosv/arch/amd64"

// lazyBSS is the virtual range [start, end) of the image's lazily
// mapped BSS, written into the image by boot/kimage (writeLazyBSS): the
// Go FIPS DRBG's 32 MiB entropy scratch buffer, which crypto/rand links
// (net/http pulls it in through crypto/tls) and only FIPS mode touches.
// kimage ends the image's last segment before it, so no loader spends
// RAM on it; the kernel backs it with a demand-zero vma. The nonzero
// initial value keeps the variable in the image's file so it can be
// patched; an unpatched image leaves {1, 1}, an empty range.
var lazyBSS = [2]uint64{1, 1}

// lazyRange returns lazyBSS if kimage set it.
func lazyRange() (start, end uintptr) {
	s, e := uintptr(lazyBSS[0]), uintptr(lazyBSS[1])
	if s < kernelVirtBase || e <= s || s&(pageSize-1) != 0 || e > kernelVirtBase+1<<30 {
		return 0, 0
	}
	return s, e
}

// releaseLazyBSS unmaps the boot stub's mappings from the lazy range's
// start to the end of the window it mapped: past the image's new end
// they point at physical memory the page allocator hands out. The
// 2 MiB page holding the start is split into 4 KiB pages so the image
// part of it stays mapped. It runs once at boot, before any other CPU
// or thread exists.
func releaseLazyBSS() {
	s, _ := lazyRange()
	if s == 0 {
		return
	}
	top := uintptr(kernelVirtBase + kernelMappedBytes)
	pd := table(table(table(kernelPT.pml4)[ptIndex(s, 3)])[ptIndex(s, 2)])
	if s&(hugePage-1) != 0 {
		base := s &^ (hugePage - 1)
		pde := &pd[ptIndex(base, 1)]
		if *pde&(ptePresent|pteHuge) == ptePresent|pteHuge {
			pt := phys.allocZeroed()
			if pt == 0 {
				earlyPanic("out of memory splitting the kernel mapping")
			}
			flags := *pde &^ (pteAddrMask | pteHuge)
			frames := *pde & pteAddrMask
			ptes := table(pt)
			for i := uintptr(0); i < (s-base)/pageSize; i++ {
				ptes[i] = (frames + uint64(i*pageSize)) | flags
			}
			*pde = pt | ptePresent | pteWrite
		}
		s = base + hugePage
	}
	for va := s; va < top; va += hugePage {
		if pde := &pd[ptIndex(va, 1)]; *pde&ptePresent != 0 {
			*pde = 0
		}
	}
	amd64.WriteCR3(amd64.ReadCR3()) // flush every kernel-window entry
}
