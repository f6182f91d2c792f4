package kernel

import "gosv/arch/amd64"

// Threads, scheduling, futexes and process identity.

const (
	cloneVM            = 0x100
	cloneFS            = 0x200
	cloneFiles         = 0x400
	cloneSighand       = 0x800
	cloneThread        = 0x10000
	cloneSetTLS        = 0x80000
	cloneParentSetTID  = 0x100000
	cloneChildClearTID = 0x200000
	cloneChildSetTID   = 0x1000000

	archSetGS = 0x1001
	archSetFS = 0x1002
	archGetFS = 0x1003
	archGetGS = 0x1004
)

// sysClone creates a thread. Only threads exist here: without CLONE_VM
// and CLONE_THREAD it would be fork, which gosv does not have (as OSv).
func sysClone(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	// clone(flags, stack, parent_tid, child_tid, tls)
	return newClone(c, t, f, f.RDI, f.RSI, f.RDX, f.R10, f.R8)
}

// clone3's struct clone_args (Linux 5.3), the fields gosv reads.
const (
	cloneArgsMinSize   = 64 // CLONE_ARGS_SIZE_VER0
	cloneArgsFlags     = 0
	cloneArgsPidfd     = 8
	cloneArgsChildTID  = 16
	cloneArgsParentTID = 24
	cloneArgsStack     = 40
	cloneArgsStackSize = 48
	cloneArgsTLS       = 56
	cloneArgsSetTID    = 64 // VER1 (80 bytes): set_tid, set_tid_size
	cloneArgsSetTIDLen = 72
)

// sysClone3 is clone3(args, size): clone with its arguments in a struct,
// and the child's stack given as lowest address and size.
func sysClone3(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	args, size := uintptr(f.RDI), uintptr(f.RSI)
	if size < cloneArgsMinSize || size > 4096 {
		return errnoResult(EINVAL)
	}
	if !space.access(args, cloneArgsMinSize, false) {
		return errnoResult(EFAULT)
	}
	word := func(off uintptr) uint64 { return *(*uint64)(ptrAt(args + off)) }
	const clonePidfd = 0x1000
	if word(cloneArgsFlags)&clonePidfd != 0 {
		return errnoResult(EINVAL) // no pidfds (glibc fills the field anyway; it counts only with the flag)
	}
	if size >= cloneArgsSetTIDLen+8 && space.access(args+cloneArgsSetTID, 16, false) &&
		(word(cloneArgsSetTID) != 0 || word(cloneArgsSetTIDLen) != 0) {
		return errnoResult(EINVAL) // choosing TIDs is for checkpoint/restore
	}
	stack, stackSize := word(cloneArgsStack), word(cloneArgsStackSize)
	if (stack == 0) != (stackSize == 0) {
		return errnoResult(EINVAL)
	}
	return newClone(c, t, f, word(cloneArgsFlags), stack+stackSize,
		word(cloneArgsParentTID), word(cloneArgsChildTID), word(cloneArgsTLS))
}

// newClone creates a thread of the caller's process: the flags must
// ask for a thread (CLONE_VM|CLONE_THREAD; gosv has no fork), sp is the
// child's stack pointer (0: the caller's).
func newClone(c *cpuLocal, t *thread, f *Frame, flags, sp, parentTID, childTID, tls uint64) int64 {
	if flags&(cloneVM|cloneThread) != cloneVM|cloneThread {
		return errnoResult(ENOSYS)
	}
	child := newThread()
	if child == noThread {
		return errnoResult(EAGAIN)
	}
	ct := &threads[child]
	// The child resumes from the same SYSCALL with RAX = 0 on its own
	// stack; it inherits registers, FPU state and signal mask.
	ct.ctx = threadContextOf(c, f)
	ct.ctx.Frame.RAX = 0
	if sp != 0 {
		ct.ctx.Frame.RSP = sp
	}
	if flags&cloneSetTLS != 0 {
		ct.ctx.Frame.FSBase = tls
	}
	ct.sigMask = t.sigMask
	ct.proc = t.proc
	ct.cpu = placeThread()
	tid := ct.tid
	if flags&cloneParentSetTID != 0 && space.access(uintptr(parentTID), 4, true) {
		*(*int32)(ptrAt(uintptr(parentTID))) = tid
	}
	if flags&cloneChildSetTID != 0 && space.access(uintptr(childTID), 4, true) {
		*(*int32)(ptrAt(uintptr(childTID))) = tid
	}
	if flags&cloneChildClearTID != 0 {
		ct.clearTID = uintptr(childTID)
	}
	makeRunnable(child)
	return int64(tid)
}

// threadContextOf returns a copy of the running thread's full context
// (registers from f, FPU state from the trap Context around it).
func threadContextOf(c *cpuLocal, f *Frame) Context {
	ctx := contextOf(f)
	completeFX(ctx)
	return *ctx
}

// sysExit ends the calling thread.
func sysExit(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if t.clearTID != 0 && space.access(t.clearTID, 4, true) {
		*(*int32)(ptrAt(t.clearTID)) = 0
		futexWakeUp(t.clearTID, 1, futexBitsetAny)
	}
	threadMu.lock()
	t.state.Store(threadExiting)
	threadMu.unlock()
	if liveThreads(t.proc) == 0 {
		processExited(t.proc, int(f.RDI)&0xff)
	}
	c.sched.needResched = true
	return sysBlocked
}

func liveThreads(proc uint8) int {
	n := 0
	for i := range threads[:threadsHigh.Load()] {
		if s := threads[i].state.Load(); s != threadFree && s != threadIdle && s != threadExiting && threads[i].proc == proc {
			n++
		}
	}
	return n
}

func sysExitGroup(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	processExited(t.proc, int(f.RDI)&0xff)
	return 0
}

// processExited ends the machine: with one application per VM, its exit
// status is the VM's (and the kernel's own runtime exiting means the
// boot sequence is over).
func processExited(proc uint8, status int) {
	if proc == procApp {
		l := line{}
		l.s("gosv: application exited with status ").u(uint64(status)).print()
	}
	powerOff(status)
}

// sysNoChildren serves wait4 and waitid: a gosv process has no children.
func sysNoChildren(c *cpuLocal, t *thread, i int32, f *Frame) int64 { return errnoResult(ECHILD) }

func sysGettid(c *cpuLocal, t *thread, i int32, f *Frame) int64 { return int64(t.tid) }
func sysGetpid(c *cpuLocal, t *thread, i int32, f *Frame) int64 { return int64(procOf(t).pid) }
func sysZero(c *cpuLocal, t *thread, i int32, f *Frame) int64   { return 0 }

func sysSetTidAddress(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	t.clearTID = uintptr(f.RDI)
	return int64(t.tid)
}

func sysArchPrctl(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	switch f.RDI {
	case archSetFS:
		// The trap return path loads FS from the frame.
		f.FSBase = f.RSI
		return 0
	case archGetFS:
		if !space.access(uintptr(f.RSI), 8, true) {
			return errnoResult(EFAULT)
		}
		*(*uint64)(ptrAt(uintptr(f.RSI))) = f.FSBase
		return 0
	}
	// GS holds the per-CPU block and cannot be given away.
	return errnoResult(EINVAL)
}

func sysSchedYield(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if c.sched.runnable > 0 {
		c.sched.needResched = true
	}
	return 0
}

func sysSchedGetaffinity(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	size := uintptr(f.RSI)
	if size < 8 || size&7 != 0 {
		return errnoResult(EINVAL)
	}
	buf := uintptr(f.RDX)
	if !space.access(buf, 8, true) {
		return errnoResult(EFAULT)
	}
	mask := uint64(1)<<cpuCount - 1
	if cpuCount >= 64 {
		mask = ^uint64(0)
	}
	*(*uint64)(ptrAt(buf)) = mask
	return 8
}

// sysFutex implements FUTEX_WAIT/WAKE and the BITSET variants.
func sysFutex(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	addr := uintptr(f.RDI)
	op := int(f.RSI)
	val := uint32(f.RDX)
	switch op & futexCmdMask {
	case futexWait, futexWaitBitset:
		bitset := uint32(futexBitsetAny)
		if op&futexCmdMask == futexWaitBitset {
			bitset = uint32(f.R9)
		}
		var deadline int64
		if ts := uintptr(f.R10); ts != 0 {
			d, err := readTimespec(ts)
			if err != 0 {
				return errnoResult(err)
			}
			if op&futexCmdMask == futexWait {
				deadline = nanotime() + d // relative
			} else if op&futexClockRT != 0 {
				deadline = d - walltime() + nanotime() // absolute realtime
			} else {
				deadline = d // absolute monotonic
			}
			if deadline <= 0 {
				deadline = 1
			}
		}
		return futexWaitOn(c, i, f, addr, val, bitset, deadline)
	case futexWake, futexWakeBitset:
		bitset := uint32(futexBitsetAny)
		if op&futexCmdMask == futexWakeBitset {
			bitset = uint32(f.R9)
		}
		return int64(futexWakeUp(addr, int(val), bitset))
	}
	return errnoResult(ENOSYS)
}

// sysTgkill and sysTkill send a signal to one thread.
func sysTgkill(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if int32(f.RDI) != procOf(t).pid {
		return errnoResult(ESRCH)
	}
	return signalThread(t.proc, int32(f.RSI), int(f.RDX))
}

func sysTkill(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	return signalThread(t.proc, int32(f.RDI), int(f.RSI))
}

func sysKill(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if int32(f.RDI) != procOf(t).pid && int32(f.RDI) != 0 {
		return errnoResult(ESRCH)
	}
	sig := int(f.RSI)
	// The caller takes a signal it sends itself unless it blocks it
	// (Linux delivers it on the way out of kill); otherwise a thread
	// that does not block it.
	tid := t.tid
	if sig > 0 && sig <= numSig && t.sigMask&(1<<(sig-1)) != 0 {
		if ti := processSignalTarget(t.proc, sig); ti != noThread {
			tid = threads[ti].tid
		}
	}
	return signalThread(t.proc, tid, sig)
}

// signalThread sends sig to thread tid of process proc (a process can
// only signal its own threads).
func signalThread(proc uint8, tid int32, sig int) int64 {
	if sig < 0 || sig > numSig {
		return errnoResult(EINVAL)
	}
	target, ti := threadByTID(tid)
	if target == nil || target.proc != proc {
		return errnoResult(ESRCH)
	}
	if sig == 0 {
		return 0
	}
	target.sigPending.Or(1 << (sig - 1))
	signalPosted(target, ti, sig)
	return 0
}

// signalPosted makes a signal just made pending for target (thread ti)
// take effect.
func signalPosted(target *thread, ti int32, sig int) {
	// A thread blocked in an interruptible call sees EINTR or has the
	// call restarted, as on Linux (signal.go); a call the server serves
	// is interrupted by the server.
	if target.state.Load() == threadBlocked && target.sigMask&(1<<(sig-1)) == 0 &&
		!signalIgnored(procOf(target), sig) {
		interruptThread(ti)
	} else if c := &cpus[target.cpu]; c != thisCPU() && target.state.Load() == threadRunning {
		// Running elsewhere: interrupt it so the signal is delivered
		// now (Go's preemption needs that), not at its next trap.
		thisCPU().wakeIPIs |= 1 << c.id
	}
}

func sysGetrandom(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	buf, n := uintptr(f.RDI), uintptr(f.RSI)
	if n > 1<<20 {
		n = 1 << 20
	}
	if !space.access(buf, n, true) {
		return errnoResult(EFAULT)
	}
	for off := uintptr(0); off < n; off += 8 {
		v := randomUint64()
		for b := uintptr(0); b < 8 && off+b < n; b++ {
			*(*byte)(ptrAt(buf + off + b)) = byte(v >> (8 * b))
		}
	}
	return int64(n)
}

// randomUint64 draws from RDRAND (RDSEED if that is all there is), then
// from the pool a hardware RNG device fills (virtio-rng, entropy.go),
// and falls back to a TSC-seeded xorshift generator when there is
// nothing else.
func randomUint64() uint64 {
	if cpu.rdrand {
		for i := 0; i < 10; i++ {
			if v, ok := amd64.RDRAND(); ok {
				return v
			}
		}
	}
	if cpu.rdseed {
		for i := 0; i < 100; i++ {
			if v, ok := amd64.RDSEED(); ok {
				return v
			}
		}
	}
	if v, ok := entropyPool.take8(); ok {
		return v
	}
	if fallbackRandom == 0 {
		fallbackRandom = amd64.RDTSC() | 1
	}
	x := fallbackRandom ^ amd64.RDTSC()<<17
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	fallbackRandom = x
	return x
}

var fallbackRandom uint64

func sysCannotSplice(c *cpuLocal, t *thread, i int32, f *Frame) int64 { return errnoResult(EINVAL) }
