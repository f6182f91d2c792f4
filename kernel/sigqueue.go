package kernel

import (
	"sync/atomic"
	"syscall"
)

// Signals from timers. The application's timers (alarm, setitimer,
// timer_create, kernel/appsys/timers.go) run in the system-call server;
// on expiry the server asks the core to send the signal (sysGosvSignal).
// The core records where each pending signal came from, so that its
// delivery fills in the siginfo a handler expects: si_code SI_KERNEL for
// setitimer's signals, SI_TIMER with the timer's id, overrun count and
// sigev_value for a POSIX timer's. A POSIX timer has at most one signal
// pending; expirations while it is pending count as overruns, and its
// delivery hands the count to the handler (si_overrun) and to
// timer_getoverrun, as on Linux.

const (
	sysGosvSignal     = 0x7ffa // (tid or 0 for the process, sig, source, value, expirations) -> 0 queued, 1 was pending
	sysGosvTimerReset = 0x7ffb // (timer slot): drop its pending signal, zero its overruns
	sysGosvCPUTime    = 0x7ffc // (tid, or 0 for the process) -> the application's CPU time, ns

	siKernel = 0x80
	siTimer  = -2
)

// MaxTimers bounds the application's POSIX timers (their ids are slots
// 0..MaxTimers-1).
const MaxTimers = 1024

// SourceKernel as a signal's source: a setitimer signal (SI_KERNEL).
const SourceKernel = -1

// Per-thread signal sources (thread.sigSource): what sent the pending
// signal.
const (
	sourceTkill  = 0 // kill, tkill, tgkill, the core's own (si_code SI_TKILL)
	sourceKernel = 1 // setitimer
	sourceTimer  = 2 // + POSIX timer slot
)

// timerSignals is each POSIX timer's signal state (under sigLock).
var timerSignals [MaxTimers]struct {
	value   uint64 // sigev_value
	overrun int32  // expirations while its signal was pending
	// lastOverrun is the overrun count of the last delivered signal
	// (timer_getoverrun).
	lastOverrun atomic.Int32
}

// sendTimerSignal queues sig for thread tid of the application, or for
// the application (tid 0: a thread that does not block it), from source
// (SourceKernel or a timer slot) after expirations expirations. Sig 0
// only checks that the thread exists. It returns 1 when the timer's
// signal was still pending (the expirations are overruns).
func sendTimerSignal(tid int32, sig int, source int32, value uint64, expirations uint64) int64 {
	if sig < 0 || sig > numSig || source < SourceKernel || source >= MaxTimers || expirations == 0 {
		return errnoResult(EINVAL)
	}
	var target *thread
	ti := int32(noThread)
	if tid == 0 {
		ti = processSignalTarget(procApp, sig)
		if ti != noThread {
			target = &threads[ti]
		}
	} else {
		target, ti = threadByTID(tid)
	}
	if target == nil || target.proc != procApp {
		return errnoResult(ESRCH)
	}
	if sig == 0 {
		return 0
	}
	bit := uint64(1) << (sig - 1)
	src := int32(sourceKernel)
	if source >= 0 {
		src = sourceTimer + source
	}
	sigLock.lock()
	if target.sigPending.Load()&bit != 0 {
		if source >= 0 && target.sigSource[sig-1] == src {
			addOverrun(source, expirations)
		}
		sigLock.unlock()
		return 1
	}
	target.sigSource[sig-1] = src
	if source >= 0 {
		timerSignals[source].value = value
		addOverrun(source, expirations-1)
	}
	target.sigPending.Or(bit)
	sigLock.unlock()
	signalPosted(target, ti, sig)
	return 0
}

// addOverrun adds n to a timer's overrun count, saturating (Linux caps
// it at DELAYTIMER_MAX, INT_MAX). Under sigLock.
func addOverrun(slot int32, n uint64) {
	o := &timerSignals[slot].overrun
	if n >= uint64(1<<31-1-*o) {
		*o = 1<<31 - 1
		return
	}
	*o += int32(n)
}

// resetTimerSignal forgets a timer slot's pending signal and overruns:
// the timer was re-armed or deleted (or the slot is reused), and its old
// expirations must not be reported.
func resetTimerSignal(slot int32) int64 {
	if slot < 0 || slot >= MaxTimers {
		return errnoResult(EINVAL)
	}
	sigLock.lock()
	defer sigLock.unlock()
	for i := range threads[:threadsHigh.Load()] {
		t := &threads[i]
		if t.proc != procApp {
			continue
		}
		for s := range t.sigSource {
			if t.sigSource[s] == sourceTimer+slot {
				t.sigSource[s] = sourceTkill
				t.sigPending.And(^(uint64(1) << s))
			}
		}
	}
	timerSignals[slot].overrun = 0
	timerSignals[slot].lastOverrun.Store(0)
	return 0
}

// processSignalTarget picks the thread of process proc that gets a
// process-directed signal: the lowest-numbered thread that does not
// block it, else (all block it) the lowest-numbered thread, where it
// waits until unblocked. Linux keeps such a signal pending for the whole
// process; gosv's pending sets are per thread.
func processSignalTarget(proc uint8, sig int) int32 {
	best, bestOpen := int32(noThread), int32(noThread)
	var bit uint64
	if sig > 0 {
		bit = 1 << (sig - 1)
	}
	for i := range threads[:threadsHigh.Load()] {
		t := &threads[i]
		s := t.state.Load()
		if s == threadFree || s == threadIdle || s == threadExiting || t.proc != proc {
			continue
		}
		if best == noThread || t.tid < threads[best].tid {
			best = int32(i)
		}
		if t.sigMask&bit == 0 && (bestOpen == noThread || t.tid < threads[bestOpen].tid) {
			bestOpen = int32(i)
		}
	}
	if bestOpen != noThread {
		return bestOpen
	}
	return best
}

// takeSignalSource returns and clears where t's pending sig came from,
// with the timer's sigev_value and overrun count for a timer's signal,
// and clears sig's pending bit (under sigLock, so a timer's expiry
// either counts as an overrun of this signal or queues a new one).
func takeSignalSource(t *thread, sig int) (src int32, value uint64, overrun int32) {
	sigLock.lock()
	t.sigPending.And(^(uint64(1) << (sig - 1)))
	src = t.sigSource[sig-1]
	t.sigSource[sig-1] = sourceTkill
	if src >= sourceTimer {
		ts := &timerSignals[src-sourceTimer]
		value, overrun = ts.value, ts.overrun
		ts.overrun = 0
		ts.lastOverrun.Store(overrun)
	}
	sigLock.unlock()
	return src, value, overrun
}

// fillSignalSource rewrites the siginfo pushSignalFrame wrote at info
// for a signal from src (see takeSignalSource).
func fillSignalSource(info uintptr, src int32, value uint64, overrun int32) {
	switch {
	case src == sourceKernel:
		*(*int32)(ptrAt(info + 8)) = siKernel
		*(*int32)(ptrAt(info + 16)) = 0 // no sender pid
	case src >= sourceTimer:
		*(*int32)(ptrAt(info + 8)) = siTimer
		*(*int32)(ptrAt(info + 16)) = src - sourceTimer // si_timerid
		*(*int32)(ptrAt(info + 20)) = overrun           // si_overrun
		*(*uint64)(ptrAt(info + 24)) = value            // si_value
	}
}

// SendSignal sends sig to application thread tid, or to the application
// (tid 0), for a timer: source is SourceKernel (setitimer) or a POSIX
// timer's slot, value its sigev_value, expirations how many intervals
// passed (more than 1 when the timer fired late). pending reports that
// the timer's signal had not been delivered yet: the expirations were
// counted as overruns. Sig 0 checks that tid is an application thread.
func SendSignal(tid int32, sig int, source int32, value uint64, expirations uint64) (pending bool, err error) {
	r, _, e := syscall.RawSyscall6(sysGosvSignal, uintptr(tid), uintptr(sig), uintptr(source), uintptr(value), uintptr(expirations), 0)
	if e != 0 {
		return false, e
	}
	return r == 1, nil
}

// ResetTimerSignal drops timer slot's pending signal and its overrun
// counts (timer_settime, timer_delete, a new timer in the slot).
func ResetTimerSignal(slot int32) {
	syscall.RawSyscall(sysGosvTimerReset, uintptr(slot), 0, 0)
}

// TimerOverrun is timer slot's overrun count for its last delivered
// signal (timer_getoverrun).
func TimerOverrun(slot int32) int32 {
	if slot < 0 || slot >= MaxTimers {
		return 0
	}
	return timerSignals[slot].lastOverrun.Load()
}

// appCPUTime is the CPU time of application thread tid, or of the
// application (tid 0), for CPU-time timers.
func appCPUTime(tid int32) int64 {
	now := nanotime()
	if tid == 0 {
		return processCPU(procApp, now)
	}
	t, _ := threadByTID(tid)
	if t == nil || t.proc != procApp {
		return errnoResult(ESRCH)
	}
	return threadCPU(t, now)
}

// CPUTime is the CPU time application thread tid (0: the whole
// application) has used; ESRCH when there is no such thread.
func CPUTime(tid int32) (int64, error) {
	r, _, e := syscall.RawSyscall(sysGosvCPUTime, uintptr(tid), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int64(r), nil
}
