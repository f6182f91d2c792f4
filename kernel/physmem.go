package kernel

// Physical page allocator. Free pages form a singly linked list through
// their first word (reached through the direct map); memory never handed
// out yet is kept as ranges and carved from the bottom. One lock, taken
// with interrupts off; per-CPU page caches are the next step for SMP
// scalability (docs/design.md).

const maxPhysRanges = 64

type physRange struct{ start, end uint64 }

type physAllocator struct {
	lock       spinLock
	freeList   uint64 // physical address of the first free page, 0 = none
	ranges     [maxPhysRanges]physRange
	nranges    int
	freePages  uint64
	totalPages uint64
	// limit caps addresses handed out while only the boot direct map
	// (the first GiB) exists.
	limit uint64
	// limbo holds frames waiting for TLB flushes (tlbshootdown.go), in
	// epoch order; each frame's second word is its epoch.
	limboHead, limboTail uint64
	limboPages           uint64
}

// retire parks a chain of frames until every CPU has seen epoch.
func (p *physAllocator) retire(chain uint64, epoch uint64) {
	p.lock.lock()
	defer p.lock.unlock()
	for pa := chain; pa != 0; {
		w := (*[2]uint64)(ptrAt(directBase + uintptr(pa)))
		next := w[0]
		w[0], w[1] = 0, epoch
		if p.limboTail == 0 {
			p.limboHead = pa
		} else {
			(*[2]uint64)(ptrAt(directBase + uintptr(p.limboTail)))[0] = pa
		}
		p.limboTail = pa
		p.limboPages++
		pa = next
	}
}

// reclaimLocked moves frames whose epoch every CPU has seen to the free
// list.
func (p *physAllocator) reclaimLocked() {
	if p.limboHead == 0 {
		return
	}
	seen := minTLBSeen()
	for p.limboHead != 0 {
		w := (*[2]uint64)(ptrAt(directBase + uintptr(p.limboHead)))
		if w[1] > seen {
			return
		}
		pa := p.limboHead
		p.limboHead = w[0]
		if p.limboHead == 0 {
			p.limboTail = 0
		}
		p.limboPages--
		w[0] = p.freeList
		p.freeList = pa
		p.freePages++
	}
}

var phys physAllocator

// addRange gives [start, end) to the allocator, page-aligned inward.
func (p *physAllocator) addRange(start, end uint64) {
	start = (start + pageSize - 1) &^ (pageSize - 1)
	end &^= pageSize - 1
	if end <= start || p.nranges == maxPhysRanges {
		return
	}
	p.ranges[p.nranges] = physRange{start, end}
	p.nranges++
	n := (end - start) / pageSize
	p.freePages += n
	p.totalPages += n
}

// reserve removes [start, end) from the not-yet-used ranges. It is only
// used while building the pool, before any page is handed out.
func (p *physAllocator) reserve(start, end uint64) {
	start &^= pageSize - 1
	end = (end + pageSize - 1) &^ (pageSize - 1)
	if end <= start {
		return // empty: nothing to split
	}
	for i := 0; i < p.nranges; i++ {
		r := p.ranges[i]
		if end <= r.start || start >= r.end {
			continue
		}
		removed := (min(end, r.end) - max(start, r.start)) / pageSize
		p.freePages -= removed
		p.totalPages -= removed
		switch {
		case start <= r.start && end >= r.end: // whole range
			p.ranges[i] = p.ranges[p.nranges-1]
			p.nranges--
			i--
		case start <= r.start: // head
			p.ranges[i].start = end
		case end >= r.end: // tail
			p.ranges[i].end = start
		default: // middle: split
			p.ranges[i].end = start
			if p.nranges < maxPhysRanges {
				p.ranges[p.nranges] = physRange{end, r.end}
				p.nranges++
			} else { // no room: the part above is lost
				lost := (r.end - end) / pageSize
				p.freePages -= lost
				p.totalPages -= lost
			}
		}
	}
}

// alloc returns one page, not zeroed, or 0 when memory is exhausted.
func (p *physAllocator) alloc() uint64 {
	p.lock.lock()
	defer p.lock.unlock()
	if p.freeList == 0 {
		p.reclaimLocked()
	}
	if pa := p.freeList; pa != 0 {
		p.freeList = *(*uint64)(ptrAt(directBase + uintptr(pa)))
		p.freePages--
		return pa
	}
	best := -1
	for i := 0; i < p.nranges; i++ {
		r := &p.ranges[i]
		if r.start < r.end && (p.limit == 0 || r.start+pageSize <= p.limit) {
			if best < 0 || r.start < p.ranges[best].start {
				best = i
			}
		}
	}
	if best < 0 {
		return 0
	}
	pa := p.ranges[best].start
	p.ranges[best].start += pageSize
	p.freePages--
	return pa
}

// free returns a page to the pool.
func (p *physAllocator) free(pa uint64) {
	p.lock.lock()
	*(*uint64)(ptrAt(directBase + uintptr(pa))) = p.freeList
	p.freeList = pa
	p.freePages++
	p.lock.unlock()
}

// allocZeroed returns a zeroed page, or 0.
func (p *physAllocator) allocZeroed() uint64 {
	pa := p.alloc()
	if pa != 0 {
		clear(physPage(pa)[:])
	}
	return pa
}

// physPage views a physical page through the direct map.
func physPage(pa uint64) *[pageSize]byte {
	return (*[pageSize]byte)(ptrAt(directBase + uintptr(pa)))
}

// MemoryStats reports total and free RAM in bytes, for the API and the
// banner.
func MemoryStats() (total, free uint64) {
	return phys.totalPages * pageSize, (phys.freePages + phys.limboPages) * pageSize
}
