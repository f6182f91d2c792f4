package kernel

// Virtual memory areas of the single address space. Every mapping the
// kernel's Go runtime or the application asks for is a vma; page frames
// arrive on first touch (demand-zero), so a reservation costs no RAM.

import "gosv/arch/amd64"

// Linux mmap constants (include/uapi/asm-generic/mman-common.h).
const (
	protRead  = 0x1
	protWrite = 0x2
	protExec  = 0x4

	mapShared         = 0x01
	mapPrivate        = 0x02
	mapFixed          = 0x10
	mapAnonymous      = 0x20
	mapGrowsDown      = 0x100
	mapNoReserve      = 0x4000
	mapPopulate       = 0x8000
	mapStack          = 0x20000
	mapFixedNoReplace = 0x100000

	madvDontNeed = 4
	madvFree     = 8
	madvRemove   = 9
)

// vma flags.
const (
	// vmaKernel marks the kernel image: always mapped, never replaced.
	vmaKernel = 1 << 0
)

type vma struct {
	start, end uintptr
	prot       uint32
	flags      uint32
}

const maxVMAs = 4096

// addressSpace is the sorted, non-overlapping list of vmas.
type addressSpace struct {
	lock spinLock
	list [maxVMAs]vma
	n    int
	pt   *pageTables
}

var space addressSpace

// find returns the index of the first vma whose end is above addr.
func (as *addressSpace) find(addr uintptr) int {
	lo, hi := 0, as.n
	for lo < hi {
		m := (lo + hi) / 2
		if as.list[m].end <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// lookupVMA returns the vma containing addr.
func (as *addressSpace) lookupVMA(addr uintptr) (*vma, bool) {
	i := as.find(addr)
	if i < as.n && as.list[i].start <= addr {
		return &as.list[i], true
	}
	return nil, false
}

// overlaps reports whether any vma intersects [start, end), and whether
// one of those is the kernel's.
func (as *addressSpace) overlaps(start, end uintptr) (any, kernel bool) {
	for i := as.find(start); i < as.n && as.list[i].start < end; i++ {
		any = true
		if as.list[i].flags&vmaKernel != 0 {
			kernel = true
		}
	}
	return any, kernel
}

// insert adds [start, end) which must be free, merging with equal
// neighbours to keep the list short.
func (as *addressSpace) insert(start, end uintptr, prot, flags uint32) bool {
	i := as.find(start)
	if i > 0 {
		p := &as.list[i-1]
		if p.end == start && p.prot == prot && p.flags == flags {
			p.end = end
			if i < as.n && as.list[i].start == end && as.list[i].prot == prot && as.list[i].flags == flags {
				p.end = as.list[i].end
				as.remove(i)
			}
			return true
		}
	}
	if i < as.n && as.list[i].start == end && as.list[i].prot == prot && as.list[i].flags == flags {
		as.list[i].start = start
		return true
	}
	if as.n == maxVMAs {
		return false
	}
	copy(as.list[i+1:as.n+1], as.list[i:as.n])
	as.list[i] = vma{start, end, prot, flags}
	as.n++
	return true
}

func (as *addressSpace) remove(i int) {
	copy(as.list[i:as.n-1], as.list[i+1:as.n])
	as.n--
}

// split makes addr a vma boundary if it falls inside one.
func (as *addressSpace) split(addr uintptr) bool {
	i := as.find(addr)
	if i >= as.n || as.list[i].start >= addr {
		return true
	}
	if as.n == maxVMAs {
		return false
	}
	copy(as.list[i+1:as.n+1], as.list[i:as.n])
	as.n++
	as.list[i].end = addr
	as.list[i+1].start = addr
	return true
}

// unmap removes [start, end) from the vmas and frees its frames. The
// caller has checked no kernel vma is involved.
func (as *addressSpace) unmap(start, end uintptr) {
	if !as.split(start) || !as.split(end) {
		return
	}
	i := as.find(start)
	for i < as.n && as.list[i].start < end {
		as.remove(i)
	}
	as.pt.unmapRange(start, end)
}

// findFree returns the highest free gap of size bytes below top.
func (as *addressSpace) findFree(size, top uintptr) (uintptr, bool) {
	end := top
	i := as.find(top)
	if i < as.n {
		end = min(end, as.list[i].start) // a vma may straddle top
	}
	for i--; ; i-- {
		var gapStart uintptr = userMin
		if i >= 0 {
			gapStart = max(as.list[i].end, userMin)
		}
		if end > gapStart && end-gapStart >= size {
			return end - size, true
		}
		if i < 0 {
			return 0, false
		}
		end = min(end, as.list[i].start)
	}
}

// mmap implements anonymous mmap; file mappings are added with the VFS.
func (as *addressSpace) mmap(addr, length uintptr, prot, flags uint32, fd int64) (uintptr, errno) {
	if length == 0 || length > userMax {
		return 0, EINVAL
	}
	if flags&mapAnonymous == 0 {
		return 0, ENODEV
	}
	if flags&(mapShared|mapPrivate) == 0 {
		return 0, EINVAL
	}
	size := (length + pageSize - 1) &^ (pageSize - 1)
	fixed := flags&(mapFixed|mapFixedNoReplace) != 0
	if fixed && addr&(pageSize-1) != 0 {
		return 0, EINVAL
	}
	addr &^= pageSize - 1

	as.lock.lock()
	defer as.lock.unlock()
	inRange := addr >= userMin && addr <= userMax && size <= userMax-addr
	switch {
	case fixed:
		if !inRange {
			return 0, ENOMEM
		}
		any, kernel := as.overlaps(addr, addr+size)
		if kernel {
			return 0, ENOMEM
		}
		if any {
			if flags&mapFixedNoReplace != 0 {
				return 0, EEXIST
			}
			as.unmap(addr, addr+size)
		}
	default:
		if any, _ := as.overlaps(addr, addr+size); addr == 0 || !inRange || any {
			var ok bool
			if addr, ok = as.findFree(size, mmapTop); !ok {
				if addr, ok = as.findFree(size, userMax); !ok {
					return 0, ENOMEM
				}
			}
		}
	}
	if !as.insert(addr, addr+size, prot, 0) {
		return 0, ENOMEM
	}
	if flags&mapPopulate != 0 {
		for va := addr; va < addr+size; va += pageSize {
			if !as.populate(va, prot) {
				break // Linux ignores a failed populate, too
			}
		}
	}
	return addr, 0
}

func (as *addressSpace) munmap(addr, length uintptr) errno {
	if addr&(pageSize-1) != 0 || length == 0 {
		return EINVAL
	}
	end := addr + (length+pageSize-1)&^(pageSize-1)
	if end < addr || end > userMax+pageSize {
		return EINVAL
	}
	as.lock.lock()
	defer as.lock.unlock()
	if _, kernel := as.overlaps(addr, end); kernel {
		return EINVAL
	}
	as.unmap(addr, end)
	return 0
}

func (as *addressSpace) mprotect(addr, length uintptr, prot uint32) errno {
	if addr&(pageSize-1) != 0 {
		return EINVAL
	}
	end := addr + (length+pageSize-1)&^(pageSize-1)
	if end < addr {
		return ENOMEM
	}
	as.lock.lock()
	defer as.lock.unlock()
	// Every page in the range must be mapped.
	for a := addr; a < end; {
		v, ok := as.lookupVMA(a)
		if !ok {
			return ENOMEM
		}
		if v.flags&vmaKernel != 0 {
			return EACCES
		}
		a = v.end
	}
	if !as.split(addr) || !as.split(end) {
		return ENOMEM
	}
	for i := as.find(addr); i < as.n && as.list[i].start < end; i++ {
		as.list[i].prot = prot
	}
	as.pt.protectRange(addr, end, prot)
	return 0
}

func (as *addressSpace) madvise(addr, length uintptr, advice int) errno {
	if addr&(pageSize-1) != 0 {
		return EINVAL
	}
	end := addr + (length+pageSize-1)&^(pageSize-1)
	switch advice {
	case madvDontNeed, madvFree, madvRemove:
		as.lock.lock()
		defer as.lock.unlock()
		for a := addr; a < end; {
			v, ok := as.lookupVMA(a)
			if !ok {
				i := as.find(a)
				if i >= as.n || as.list[i].start >= end {
					break
				}
				a = as.list[i].start
				continue
			}
			if v.flags&vmaKernel == 0 {
				// Dropping the frames is exactly "reads see zeros
				// again", which is what DONTNEED promises for
				// private anonymous memory.
				as.pt.unmapRange(max(a, v.start), min(end, v.end))
			}
			a = v.end
		}
	}
	// Other advice is a hint; a failing madvise makes the Go runtime
	// remap live memory, so say yes.
	return 0
}

// populate maps a zeroed frame at page va if none is there yet.
func (as *addressSpace) populate(va uintptr, prot uint32) bool {
	e := as.pt.walk(va, true)
	if e == nil {
		return false
	}
	if *e&ptePresent != 0 {
		return true
	}
	if *e&pteProtNone != 0 {
		return false
	}
	pa := phys.allocZeroed()
	if pa == 0 {
		return false
	}
	*e = leafBits(pa, prot)
	return true
}

// faultResult says what a page fault was.
type faultResult int

const (
	faultHandled faultResult = iota
	faultNoMapping
	faultProtection
	faultNoMemory
)

// Page-fault error code bits.
const (
	pfPresent = 1 << 0
	pfWrite   = 1 << 1
	pfFetch   = 1 << 4
)

// handleFault resolves a fault at addr: a first touch of a mapped page
// gets a zeroed frame; anything else is the caller's SIGSEGV.
func (as *addressSpace) handleFault(addr uintptr, code uint64) faultResult {
	as.lock.lock()
	defer as.lock.unlock()
	return as.faultLocked(addr, code&pfWrite != 0, code&pfFetch != 0)
}

func (as *addressSpace) faultLocked(addr uintptr, write, fetch bool) faultResult {
	v, ok := as.lookupVMA(addr)
	if !ok || v.flags&vmaKernel != 0 {
		return faultNoMapping
	}
	if v.prot&(protRead|protWrite|protExec) == 0 ||
		write && v.prot&protWrite == 0 || fetch && v.prot&protExec == 0 {
		return faultProtection
	}
	page := addr &^ (pageSize - 1)
	if e := as.pt.walk(page, false); e != nil && *e&ptePresent != 0 {
		// Present and allowed: another CPU raced us here, or the TLB
		// held a stale entry. Flush and retry.
		amd64.INVLPG(page)
		return faultHandled
	}
	if !as.populate(page, v.prot) {
		return faultNoMemory
	}
	return faultHandled
}

// access makes every page of [addr, addr+n) present with the wanted
// access, for core code that reads or writes user memory. It reports
// false for an unmapped or forbidden range: the syscall's EFAULT.
func (as *addressSpace) access(addr, n uintptr, write bool) bool {
	if n == 0 {
		return true
	}
	end := addr + n
	if end < addr {
		return false
	}
	// Pages already mapped for the access are found without as.lock:
	// page tables are never freed, so walking them while another CPU
	// maps or unmaps is safe, and the answer is no staler than the
	// locked one is once the lock is released. Almost every check on
	// the data path (socket buffers, epoll arrays, futex words) ends
	// here; the rest (unmapped, copy-on-write, the image's huge pages)
	// takes the lock and faults pages in.
	page := addr &^ (pageSize - 1)
	for ; page < end; page += pageSize {
		e := as.pt.walk(page, false)
		if e == nil {
			break
		}
		if pte := *e; pte&ptePresent == 0 || write && pte&pteWrite == 0 {
			break
		}
	}
	if page >= end {
		return true
	}
	as.lock.lock()
	defer as.lock.unlock()
	for ; page < end; page += pageSize {
		v, ok := as.lookupVMA(page)
		if !ok {
			return false
		}
		if v.flags&vmaKernel != 0 {
			continue // the image is mapped whole
		}
		if e := as.pt.walk(page, false); e != nil && *e&ptePresent != 0 && (!write || *e&pteWrite != 0) {
			continue
		}
		if as.faultLocked(page, write, false) != faultHandled {
			return false
		}
	}
	return true
}

// readable reports whether [addr, addr+n) is mapped now, without taking
// locks or mapping anything: for the fatal path's stack walk.
func (as *addressSpace) readable(addr, n uintptr) bool {
	lazy, _ := lazyRange()
	for page := addr &^ (pageSize - 1); page < addr+n; page += pageSize {
		if page >= kernelVirtBase && page < kernelVirtBase+kernelMappedBytes && (lazy == 0 || page < lazy&^(hugePage-1)) {
			continue // the image, mapped with 2 MiB pages
		}
		if _, ok := as.pt.lookup(page); !ok {
			return false
		}
	}
	return true
}

// mmapKernel maps size bytes of populated memory for the kernel's own
// use (per-CPU stacks). The vma is marked as the kernel's, so no
// application call can unmap it.
func (as *addressSpace) mmapKernel(size uintptr) (uintptr, errno) {
	size = (size + pageSize - 1) &^ (pageSize - 1)
	as.lock.lock()
	defer as.lock.unlock()
	addr, ok := as.findFree(size, mmapTop)
	if !ok || !as.insert(addr, addr+size, protRead|protWrite, vmaKernel) {
		return 0, ENOMEM
	}
	for va := addr; va < addr+size; va += pageSize {
		if !as.populate(va, protRead|protWrite) {
			return 0, ENOMEM
		}
	}
	return addr, 0
}

const (
	mremapMayMove = 1
	mremapFixed   = 2
)

// mremap resizes or moves a mapping. Growing happens in place when the
// pages above are free, else (with MREMAP_MAYMOVE) the frames move to a
// new range by rewriting page-table entries: no data is copied.
func (as *addressSpace) mremap(old, oldSize, newSize uintptr, flags uint32, newAddr uintptr) (uintptr, errno) {
	if old&(pageSize-1) != 0 || flags&^(mremapMayMove|mremapFixed) != 0 ||
		flags&mremapFixed != 0 && flags&mremapMayMove == 0 {
		return 0, EINVAL
	}
	oldSize = (oldSize + pageSize - 1) &^ (pageSize - 1)
	newSize = (newSize + pageSize - 1) &^ (pageSize - 1)
	if newSize == 0 || oldSize == 0 || old+oldSize < old || newSize > userMax {
		return 0, EINVAL
	}
	as.lock.lock()
	defer as.lock.unlock()
	v, ok := as.lookupVMA(old)
	if !ok || v.flags&vmaKernel != 0 || v.end < old+oldSize {
		return 0, EFAULT
	}
	prot, vflags := v.prot, v.flags
	if flags&mremapFixed == 0 {
		if newSize <= oldSize {
			as.unmap(old+newSize, old+oldSize)
			return old, 0
		}
		if any, _ := as.overlaps(old+oldSize, old+newSize); !any && old+newSize <= userMax {
			if !as.insert(old+oldSize, old+newSize, prot, vflags) {
				return 0, ENOMEM
			}
			return old, 0
		}
		if flags&mremapMayMove == 0 {
			return 0, ENOMEM
		}
	}
	dst := newAddr
	if flags&mremapFixed != 0 {
		if dst&(pageSize-1) != 0 || dst < userMin || dst+newSize > userMax || dst+newSize > old && dst < old+oldSize {
			return 0, EINVAL
		}
		if _, kernel := as.overlaps(dst, dst+newSize); kernel {
			return 0, ENOMEM
		}
		as.unmap(dst, dst+newSize)
	} else {
		var ok bool
		if dst, ok = as.findFree(newSize, mmapTop); !ok {
			return 0, ENOMEM
		}
	}
	if !as.insert(dst, dst+newSize, prot, vflags) {
		return 0, ENOMEM
	}
	moved := min(oldSize, newSize)
	if !as.pt.moveRange(old, dst, moved) {
		return 0, ENOMEM
	}
	// Drop the old range's vma; its frames now belong to dst (any
	// beyond newSize are freed by unmap).
	as.unmap(old, old+oldSize)
	return dst, 0
}
