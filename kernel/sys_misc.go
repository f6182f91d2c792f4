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

// prctl options (include/uapi/linux/prctl.h) gosv answers; the rest are
// EINVAL, as Linux answers options it does not know.
const (
	prSetPdeathsig = 1
	prGetPdeathsig = 2
	prGetDumpable  = 3
	prSetDumpable  = 4
	prGetKeepCaps  = 7
	prSetKeepCaps  = 8
)

// prctlState is what prctl sets. gosv keeps one per process: it has one
// set of credentials, so a per-thread keep-caps flag would mean nothing.
type prctlState struct {
	pdeathSig uint8
	// notDumpable is the inverse of SUID_DUMP_USER, so that the zero
	// value is Linux's default (dumpable).
	notDumpable bool
	keepCaps    bool
}

// prctl applies option op to s; out is where PR_GET_PDEATHSIG stores
// the signal (nil when the address is bad).
func (s *prctlState) prctl(op, arg2 uint64, out *int32) int64 {
	switch op {
	case prSetPdeathsig:
		if arg2 > numSig {
			return errnoResult(EINVAL)
		}
		// Stored for PR_GET_PDEATHSIG: the application's parent is
		// the kernel, which never exits before it.
		s.pdeathSig = uint8(arg2)
	case prGetPdeathsig:
		if out == nil {
			return errnoResult(EFAULT)
		}
		*out = int32(s.pdeathSig)
	case prGetDumpable:
		if s.notDumpable {
			return 0
		}
		return 1
	case prSetDumpable:
		if arg2 > 1 { // SUID_DUMP_ROOT (2) is not settable either
			return errnoResult(EINVAL)
		}
		s.notDumpable = arg2 == 0
	case prGetKeepCaps:
		if s.keepCaps {
			return 1
		}
	case prSetKeepCaps:
		if arg2 > 1 {
			return errnoResult(EINVAL)
		}
		s.keepCaps = arg2 == 1
	default:
		return errnoResult(EINVAL)
	}
	return 0
}

func sysPrctl(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	var out *int32
	if f.RDI == prGetPdeathsig && space.access(uintptr(f.RSI), 4, true) {
		out = (*int32)(ptrAt(uintptr(f.RSI)))
	}
	return procOf(t).prctl.prctl(f.RDI, f.RSI, out)
}

// Capability versions (include/uapi/linux/capability.h): version 1 has
// one 32-bit word per set, versions 2 and 3 two.
const (
	capVersion1 = 0x19980330
	capVersion2 = 0x20071026
	capVersion3 = 0x20080522
	// The application runs as root with every capability up to
	// CAP_LAST_CAP (40), as /proc/self/status says.
	capAllLow, capAllHigh = 0xffffffff, 0x1ff
)

func sysCapget(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	hdr, data := uintptr(f.RDI), uintptr(f.RSI)
	if !space.access(hdr, 8, true) {
		return errnoResult(EFAULT)
	}
	h := (*[2]int32)(ptrAt(hdr))
	var out *[6]uint32
	if data != 0 && space.access(data, 24, true) {
		out = (*[6]uint32)(ptrAt(data))
	}
	return capget(h, data != 0, out, procOf(t).pid, t.tid)
}

// capget answers capget for the header h (version, pid) and the data
// out (nil when the address is bad; hasData says whether there was
// one), for a caller with process id pid and thread id tid.
func capget(h *[2]int32, hasData bool, out *[6]uint32, pid, tid int32) int64 {
	words := 2
	switch uint32(h[0]) {
	case capVersion1:
		words = 1
	case capVersion2, capVersion3:
	default:
		// Linux tells the caller its version; a probe without data
		// succeeds.
		h[0] = capVersion3
		if !hasData {
			return 0
		}
		return errnoResult(EINVAL)
	}
	if !hasData {
		return 0
	}
	switch {
	case h[1] < 0:
		return errnoResult(EINVAL)
	case h[1] != 0 && h[1] != pid && h[1] != tid:
		return errnoResult(ESRCH)
	case out == nil:
		return errnoResult(EFAULT)
	}
	// Each word: effective, permitted, inheritable.
	out[0], out[1], out[2] = capAllLow, capAllLow, 0
	if words == 2 {
		out[3], out[4], out[5] = capAllHigh, capAllHigh, 0
	}
	return 0
}
