package kernel

// Memory system calls.

func sysMmap(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
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

// sysBrk has no heap to grow until an application is loaded: report the
// break as 0 and refuse to move it, which makes libcs fall back to mmap.
func sysBrk(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	return 0
}
