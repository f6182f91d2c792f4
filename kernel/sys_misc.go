package kernel

// Identity and limits.

const (
	rlimitStack  = 3
	rlimitNofile = 7
	rlimInfinity = ^uint64(0)
)

// Version is the kernel version reported by uname and the API; the
// build may override it with -X.
var Version = "0.1.0"

func sysUname(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	const field = 65
	buf := uintptr(f.RDI)
	if !space.access(buf, 6*field, true) {
		return errnoResult(EFAULT)
	}
	u := (*[6 * field]byte)(ptrAt(buf))
	clear(u[:])
	// Core code cannot concatenate strings (that allocates): copy
	// the pieces.
	put := func(k, off int, s string) int {
		return off + copy(u[k*field+off:(k+1)*field-1], s)
	}
	put(0, 0, "Linux") // programs test for Linux; gosv serves its ABI
	copy(u[field:2*field-1], hostname())
	put(2, 0, "5.15.0-gosv")
	put(3, put(3, 0, "#1 SMP gosv "), Version)
	put(4, 0, "x86_64")
	put(5, 0, "(none)")
	return 0
}

// hostnameBuf is set by the kernel's boot code (cloud-init, the API).
var (
	hostnameBuf [64]byte
	hostnameLen int
)

func hostname() []byte {
	if hostnameLen == 0 {
		setHostname("gosv")
	}
	return hostnameBuf[:hostnameLen]
}

func setHostname(s string) {
	hostnameLen = copy(hostnameBuf[:], s)
}

func sysGetrlimit(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	return getRlimit(int(f.RDI), uintptr(f.RSI))
}

func sysPrlimit64(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if f.RDI != 0 && int32(f.RDI) != procOf(t).pid {
		return errnoResult(ESRCH)
	}
	if old := uintptr(f.R10); old != 0 {
		if r := getRlimit(int(f.RSI), old); r != 0 {
			return r
		}
	}
	// Setting limits is accepted and ignored: nothing enforces them.
	return 0
}

func getRlimit(res int, out uintptr) int64 {
	if !space.access(out, 16, true) {
		return errnoResult(EFAULT)
	}
	cur, max := rlimInfinity, rlimInfinity
	switch res {
	case rlimitNofile:
		cur, max = maxFDs, maxFDs
	case rlimitStack:
		cur = 8 << 20
	}
	*(*uint64)(ptrAt(out)) = cur
	*(*uint64)(ptrAt(out + 8)) = max
	return 0
}

func sysPrctl(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	return errnoResult(EINVAL)
}
