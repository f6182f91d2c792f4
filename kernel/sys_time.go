package kernel

// Time system calls.

import "sync/atomic"

const (
	clockRealtime        = 0
	clockMonotonic       = 1
	clockProcessCPUTime  = 2
	clockThreadCPUTime   = 3
	clockMonotonicRaw    = 4
	clockRealtimeCoarse  = 5
	clockMonotonicCoarse = 6
	clockBoottime        = 7
	timerAbstime         = 1
)

func readTimespec(addr uintptr) (int64, errno) {
	if !space.access(addr, 16, false) {
		return 0, EFAULT
	}
	sec := *(*int64)(ptrAt(addr))
	nsec := *(*int64)(ptrAt(addr + 8))
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return 0, EINVAL
	}
	if sec > 1<<33 {
		sec = 1 << 33 // centuries: as good as forever, and no overflow
	}
	return sec*1e9 + nsec, 0
}

func writeTimespec(addr uintptr, ns int64) errno {
	if !space.access(addr, 16, true) {
		return EFAULT
	}
	*(*int64)(ptrAt(addr)) = ns / 1e9
	*(*int64)(ptrAt(addr + 8)) = ns % 1e9
	return 0
}

func clockNow(id uint64, t *thread) (int64, bool) {
	switch id {
	case clockRealtime, clockRealtimeCoarse:
		return walltime(), true
	case clockMonotonic, clockMonotonicRaw, clockMonotonicCoarse, clockBoottime:
		return nanotime(), true
	case clockProcessCPUTime:
		return processCPU(t.proc, nanotime()), true
	case clockThreadCPUTime:
		return threadCPU(t, nanotime()), true
	}
	return 0, false
}

func sysClockGettime(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	now, ok := clockNow(f.RDI, t)
	if !ok {
		return errnoResult(EINVAL)
	}
	return errnoResult(writeTimespec(uintptr(f.RSI), now))
}

func sysClockGetres(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if _, ok := clockNow(f.RDI, t); !ok {
		return errnoResult(EINVAL)
	}
	if f.RSI == 0 {
		return 0
	}
	return errnoResult(writeTimespec(uintptr(f.RSI), 1))
}

func sysGettimeofday(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if tv := uintptr(f.RDI); tv != 0 {
		if !space.access(tv, 16, true) {
			return errnoResult(EFAULT)
		}
		now := walltime()
		*(*int64)(ptrAt(tv)) = now / 1e9
		*(*int64)(ptrAt(tv + 8)) = now % 1e9 / 1000
	}
	return 0
}

func sysTime(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	now := walltime() / 1e9
	if p := uintptr(f.RDI); p != 0 {
		if !space.access(p, 8, true) {
			return errnoResult(EFAULT)
		}
		*(*int64)(ptrAt(p)) = now
	}
	return now
}

func sysNanosleep(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	d, err := readTimespec(uintptr(f.RDI))
	if err != 0 {
		return errnoResult(err)
	}
	if d <= spinSleepMax && c.sched.runnable == 0 && atomic.LoadUint64(&idlePollSpins) != 0 {
		// Go's sysmon sleeps 20 µs at a time while the scheduler is
		// busy, and runqgrab 3 µs. Blocking for that costs a timer arm
		// (an APIC write), a timer interrupt and two switches, and the
		// CPU would only poll its inbox meanwhile (idleLoop); with
		// nothing else to run here, wait it out in place. A thread
		// woken for this CPU meanwhile ends the wait: the rest is
		// slept the usual way, so the trap's end can switch to it.
		// --idle-poll=0 (halt when idle) turns this off too: both
		// trade host CPU for fewer halts.
		end := nanotime() + d
		for nanotime() < end {
			if c.sched.inbox.Load() != noThread {
				return sleepUntil(c, i, f, end)
			}
		}
		return 0
	}
	return sleepUntil(c, i, f, nanotime()+d)
}

// spinSleepMax is the longest nanosleep the core waits out in place.
const spinSleepMax = 25_000

func sysClockNanosleep(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	d, err := readTimespec(uintptr(f.RDX))
	if err != 0 {
		return errnoResult(err)
	}
	now, ok := clockNow(f.RDI, t)
	if !ok {
		return errnoResult(EINVAL)
	}
	deadline := nanotime() + d
	if f.RSI&timerAbstime != 0 {
		deadline = nanotime() + (d - now)
	}
	return sleepUntil(c, i, f, deadline)
}

// sleepInterrupted writes the time a nanosleep or relative
// clock_nanosleep that a signal interrupted had left to its rem
// argument, as Linux does: a loop that sleeps on with it after EINTR
// (as C programs do under a periodic timer) then ends.
func sleepInterrupted(t *thread, f *Frame) {
	var rem uintptr
	switch t.syscallNr {
	case 35: // nanosleep(req, rem)
		rem = uintptr(f.RSI)
	case 230: // clock_nanosleep(clock, flags, req, rem)
		if f.RSI&timerAbstime != 0 {
			return
		}
		rem = uintptr(f.R10)
	}
	if rem == 0 || t.deadline == 0 {
		return
	}
	writeTimespec(rem, max(t.deadline-nanotime(), 0))
}

func sleepUntil(c *cpuLocal, i int32, f *Frame, deadline int64) int64 {
	if deadline <= nanotime() {
		return 0
	}
	c.sched.block(i, f, waitSleep, deadline, 0, 0)
	return sysBlocked
}

// getrusage's who.
const (
	rusageSelf     = 0
	rusageChildren = -1
	rusageThread   = 1
)

// threadCPU is t's CPU time until now: what it has run, and its current
// run if it is on a CPU.
func threadCPU(t *thread, now int64) int64 {
	if t.state.Load() == threadRunning {
		return t.cpuNanos + now - t.lastRun
	}
	return t.cpuNanos
}

// processCPU is the CPU time of process proc's live threads (the time
// of threads that have exited is not kept).
func processCPU(proc uint8, now int64) int64 {
	var sum int64
	for k := range threads[:threadsHigh.Load()] {
		t := &threads[k]
		switch t.state.Load() {
		case threadFree, threadIdle, threadExiting:
			continue
		}
		if t.proc == proc {
			sum += threadCPU(t, now)
		}
	}
	return sum
}

// sysGetrusage reports CPU time as user time: gosv does not tell the
// application's time in its system calls apart. The other fields (page
// faults, context switches, memory) are zero.
func sysGetrusage(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	const size = 144 // struct rusage: two timevals, fourteen longs
	out := uintptr(f.RSI)
	var ns int64
	switch int32(f.RDI) {
	case rusageSelf:
		ns = processCPU(t.proc, nanotime())
	case rusageThread:
		ns = threadCPU(t, nanotime())
	case rusageChildren: // there are none
	default:
		return errnoResult(EINVAL)
	}
	if !space.access(out, size, true) {
		return errnoResult(EFAULT)
	}
	clear((*[size]byte)(ptrAt(out))[:])
	*(*int64)(ptrAt(out)) = ns / 1e9
	*(*int64)(ptrAt(out + 8)) = ns % 1e9 / 1000
	return 0
}
