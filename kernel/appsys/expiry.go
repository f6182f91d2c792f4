package appsys

import (
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"gosv/kernel"
)

// clockRef names the clock a timer runs on: a clock id, and for
// CLOCK_THREAD_CPUTIME_ID the thread whose CPU time it is.
type clockRef struct {
	id  int32
	tid int32
}

// clock is what timers need of time: the time on a clock (false when
// the clock is gone: a CPU-time clock's thread exited), and a function
// run later. realClock is the core's clocks and Go timers; tests use a
// fake they move by hand.
type clock interface {
	now(c clockRef) (int64, bool) // ns
	afterFunc(d time.Duration, f func()) (stop func() bool)
}

// realClock reads the core's clocks, the ones the application reads:
// Go's own timers run on the same monotonic clock.
type realClock struct{}

func (realClock) now(c clockRef) (int64, bool) {
	switch c.id {
	case unix.CLOCK_PROCESS_CPUTIME_ID:
		ns, err := kernel.CPUTime(0)
		return ns, err == nil
	case unix.CLOCK_THREAD_CPUTIME_ID:
		ns, err := kernel.CPUTime(c.tid)
		return ns, err == nil
	}
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, uintptr(c.id), uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano(), true
}

func (realClock) afterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// expiry is one timer: armed, it expires at next on its clock, and
// again every interval if that is not 0. On expiry it calls fire with
// the number of intervals that passed (more than one when it ran late:
// the rest are overruns), with mu held, so that a re-arm or delete that
// takes mu is never followed by an expiry of the old setting.
type expiry struct {
	mu  sync.Mutex
	clk clock
	src clockRef
	// parallel is how many times faster than real time the clock can
	// run: a process's CPU time runs on every CPU at once. A Go timer
	// set for (time left)/parallel finds a CPU-time timer due, or not
	// yet (then it waits again).
	parallel int64
	// next is when the timer expires next (ns on clockID; 0: disarmed).
	next, interval int64
	// gen tells a stale Go timer (of an older setting) from the current
	// one.
	gen  uint64
	stop func() bool
	fire func(n uint64)
}

func newExpiry(clk clock, src clockRef, fire func(n uint64)) *expiry {
	e := &expiry{clk: clk, src: src, parallel: 1, fire: fire}
	if src.id == unix.CLOCK_PROCESS_CPUTIME_ID {
		e.parallel = int64(runtime.NumCPU())
	}
	return e
}

// setLocked arms the timer to expire after value ns (at value, if abs)
// and then every interval ns; value 0 disarms it. It returns the old
// setting as getLocked does. mu held.
func (e *expiry) setLocked(value, interval int64, abs bool) (oldValue, oldInterval int64) {
	now, ok := e.clk.now(e.src)
	oldValue, oldInterval = e.remaining(now), e.interval
	e.gen++
	if e.stop != nil {
		e.stop()
		e.stop = nil
	}
	e.next, e.interval = 0, interval
	if value == 0 || !ok {
		return oldValue, oldInterval
	}
	if abs {
		e.next = value
	} else {
		e.next = now + value
	}
	e.arm(now)
	return oldValue, oldInterval
}

// getLocked returns the time left until the next expiry (0: disarmed)
// and the interval. mu held.
func (e *expiry) getLocked() (value, interval int64) {
	now, _ := e.clk.now(e.src)
	return e.remaining(now), e.interval
}

// remaining is the time from now to the next expiry: at least 1 ns for
// an armed timer whose expiry is being served, as Linux reports.
func (e *expiry) remaining(now int64) int64 {
	if e.next == 0 {
		return 0
	}
	return max(e.next-now, 1)
}

// arm starts a Go timer for e.next.
func (e *expiry) arm(now int64) {
	gen := e.gen
	e.stop = e.clk.afterFunc(time.Duration(max(e.next-now, 0)/e.parallel), func() { e.expire(gen) })
}

// expire runs when the Go timer of setting gen goes off.
func (e *expiry) expire(gen uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if gen != e.gen || e.next == 0 {
		return
	}
	now, ok := e.clk.now(e.src)
	if !ok {
		e.next, e.stop = 0, nil // its thread is gone: it never expires
		return
	}
	if now < e.next {
		// Early on this clock (a CPU-time clock ran slower than real
		// time, CLOCK_REALTIME was set back): wait on.
		e.arm(now)
		return
	}
	n := uint64(1)
	if e.interval > 0 {
		n += uint64((now - e.next) / e.interval)
		e.next += int64(n) * e.interval
		e.arm(now)
	} else {
		e.next = 0
		e.stop = nil
	}
	e.fire(n)
}

// cancel disarms the timer for good (its owner is gone).
func (e *expiry) cancel() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setLocked(0, 0, false)
}

// Timespecs and timevals in application memory.

// maxTimerSec keeps times in int64 ns (with room to add the current
// time).
const maxTimerSec = (1<<63 - 1) / 1_000_000_000 / 2

// getTimespec reads a struct timespec as ns; EINVAL unless valid (as
// Linux's timespec64_valid: tv_sec >= 0, 0 <= tv_nsec < 1e9).
func getTimespec(addr uint64) (int64, error) {
	sec, nsec := int64(get64(addr)), int64(get64(addr+8))
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return 0, syscall.EINVAL
	}
	sec = min(sec, maxTimerSec) // KTIME_MAX, as Linux saturates
	return sec*1e9 + nsec, nil
}

func putTimespec(addr uint64, ns int64) {
	put64(addr, uint64(ns/1e9))
	put64(addr+8, uint64(ns%1e9))
}

// getTimeval reads a struct timeval as ns (valid: tv_sec >= 0,
// 0 <= tv_usec < 1e6).
func getTimeval(addr uint64) (int64, error) {
	sec, usec := int64(get64(addr)), int64(get64(addr+8))
	if sec < 0 || usec < 0 || usec >= 1e6 {
		return 0, syscall.EINVAL
	}
	sec = min(sec, maxTimerSec)
	return sec*1e9 + usec*1e3, nil
}

// putTimeval writes ns as a struct timeval, rounding a non-zero time
// below a microsecond up to one (an armed timer never reads as off).
func putTimeval(addr uint64, ns int64) {
	if ns > 0 && ns < 1000 {
		ns = 1000
	}
	put64(addr, uint64(ns/1e9))
	put64(addr+8, uint64(ns%1e9/1000))
}
