package kernel

// Memory system calls.

func sysMmap(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if f.R10&mapAnonymous == 0 && t.proc == procApp {
		// File mappings are copies made by the server.
		h := procOf(t).handleOf(int64(int32(f.R8)))
		if h < 0 {
			return errnoResult(EBADF)
		}
		return forward(c, t, i, f, h)
	}
	addr, err := space.mmap(uintptr(f.RDI), uintptr(f.RSI), uint32(f.RDX), uint32(f.R10), int64(f.R8))
	if err != 0 {
		return errnoResult(err)
	}
	return int64(addr)
}

func sysMunmap(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	return errnoResult(space.munmap(uintptr(f.RDI), uintptr(f.RSI)))
}

func sysMprotect(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	return errnoResult(space.mprotect(uintptr(f.RDI), uintptr(f.RSI), uint32(f.RDX)))
}

func sysMadvise(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	return errnoResult(space.madvise(uintptr(f.RDI), uintptr(f.RSI), int(f.RDX)))
}

// brkMax bounds how far the program break may grow past the image.
const brkMax = 1 << 30

// sysBrk moves the program break. The heap between the end of the
// image and the break is ordinary anonymous memory; growing maps more
// (never over another mapping), shrinking unmaps. Like Linux, it
// returns the break, unchanged on failure. The kernel's own runtime has
// no break.
func sysBrk(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	p := procOf(t)
	want := uintptr(f.RDI)
	if p.brkStart == 0 || want < p.brkStart || want > p.brkStart+brkMax {
		return int64(p.brk)
	}
	oldTop := (p.brk + pageSize - 1) &^ (pageSize - 1)
	newTop := (want + pageSize - 1) &^ (pageSize - 1)
	switch {
	case newTop > oldTop:
		if _, err := space.mmap(oldTop, newTop-oldTop, protRead|protWrite,
			mapPrivate|mapAnonymous|mapFixedNoReplace, -1); err != 0 {
			return int64(p.brk)
		}
	case newTop < oldTop:
		space.munmap(newTop, oldTop-newTop)
	}
	p.brk = want
	return int64(want)
}

func sysMremap(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	addr, err := space.mremap(uintptr(f.RDI), uintptr(f.RSI), uintptr(f.RDX), uint32(f.R10), uintptr(f.R8))
	if err != 0 {
		return errnoResult(err)
	}
	return int64(addr)
}
