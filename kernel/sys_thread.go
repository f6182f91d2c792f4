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
	flags := f.RDI
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
	if f.RSI != 0 {
		ct.ctx.Frame.RSP = f.RSI
	}
	if flags&cloneSetTLS != 0 {
		ct.ctx.Frame.FSBase = f.R8
	}
	ct.sigMask = t.sigMask
	ct.proc = t.proc
	ct.cpu = placeThread()
	tid := ct.tid
	if flags&cloneParentSetTID != 0 && space.access(uintptr(f.RDX), 4, true) {
		*(*int32)(ptrAt(uintptr(f.RDX))) = tid
	}
	if flags&cloneChildSetTID != 0 && space.access(uintptr(f.R10), 4, true) {
		*(*int32)(ptrAt(uintptr(f.R10))) = tid
	}
	if flags&cloneChildClearTID != 0 {
		ct.clearTID = uintptr(f.R10)
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
	for i := range threads {
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
	return signalThread(t.proc, t.tid, int(f.RSI))
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
	// A thread blocked in an interruptible call sees EINTR, as on Linux.
	if target.state.Load() == threadBlocked && target.sigMask&(1<<(sig-1)) == 0 &&
		target.wait != waitServer && target.wait != waitServerIdle {
		cancelWait(ti)
		wake(ti, -int64(EINTR))
	} else if c := &cpus[target.cpu]; c != thisCPU() && target.state.Load() == threadRunning {
		// Running elsewhere: interrupt it so the signal is delivered
		// now (Go's preemption needs that), not at its next trap.
		sendIPI(c.apicID, vecWakeup)
	}
	return 0
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
