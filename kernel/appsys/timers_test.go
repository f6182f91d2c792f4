package appsys

import (
	"fmt"
	"reflect"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"gosv/kernel"
	"gosv/vfs"
)

// fakeClock is a clock moved by hand: advance runs the functions that
// have come due, as late Go timers would. cpu holds CPU-time clocks by
// thread (0: the process), moved with run.
type fakeClock struct {
	mu     sync.Mutex
	t      int64
	cpu    map[int32]int64
	timers []*fakeTimer
}

type fakeTimer struct {
	at            int64
	f             func()
	stopped, done bool
}

func (c *fakeClock) now(r clockRef) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch r.id {
	case unix.CLOCK_PROCESS_CPUTIME_ID:
		return c.cpu[0], true
	case unix.CLOCK_THREAD_CPUTIME_ID:
		ns, ok := c.cpu[r.tid]
		return ns, ok
	}
	return c.t, true
}

// wall is the fake's real time.
func (c *fakeClock) wall() int64 {
	ns, _ := c.now(clockRef{})
	return ns
}

// run moves thread tid's CPU time (and the process's) by d.
func (c *fakeClock) run(tid int32, d int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cpu[tid] += d
	c.cpu[0] += d
}

func (c *fakeClock) afterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ft := &fakeTimer{at: c.t + int64(d), f: f}
	c.timers = append(c.timers, ft)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !ft.stopped && !ft.done
		ft.stopped = true
		return was
	}
}

// advance moves the clock by d and runs what came due, in order.
func (c *fakeClock) advance(d int64) {
	c.mu.Lock()
	c.t += d
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at < c.timers[j].at })
		var due *fakeTimer
		for _, ft := range c.timers {
			if !ft.stopped && !ft.done && ft.at <= c.t {
				due = ft
				break
			}
		}
		if due != nil {
			due.done = true
		}
		c.mu.Unlock()
		if due == nil {
			return
		}
		due.f()
	}
}

// step advances by d in n equal steps (timers on time).
func (c *fakeClock) step(d int64, n int) {
	for range n {
		c.advance(d / int64(n))
	}
}

// sent is one signal a timer asked for.
type sent struct {
	TID         int32
	Sig         int
	Source      int32
	Value       uint64
	Expirations uint64
}

// fakeSignaller records signals; threads are the thread ids that exist.
type fakeSignaller struct {
	mu       sync.Mutex
	sent     []sent
	resets   []int32
	threads  map[int32]bool
	overruns map[int32]int32
}

func (f *fakeSignaller) send(tid int32, sig int, source int32, value uint64, n uint64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tid != 0 && !f.threads[tid] {
		return false, syscall.ESRCH
	}
	if sig != 0 {
		f.sent = append(f.sent, sent{tid, sig, source, value, n})
	}
	return false, nil
}

func (f *fakeSignaller) reset(slot int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets = append(f.resets, slot)
}

func (f *fakeSignaller) overrun(slot int32) int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.overruns[slot]
}

// take returns and forgets the signals sent so far.
func (f *fakeSignaller) take() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sent
	f.sent = nil
	return s
}

func newTimerServer() (*Server, *fakeClock, *fakeSignaller) {
	var fs vfs.FS
	s := New(&fs, "/")
	clk := &fakeClock{t: 1e12, cpu: map[int32]int64{0: 0, 7: 0}}
	sig := &fakeSignaller{threads: map[int32]bool{7: true}, overruns: map[int32]int32{}}
	s.timers = newTimers(clk, sig, func(int32, uint32) {})
	return s, clk, sig
}

// call runs the handler for system call nr with args.
func call(s *Server, nr uint64, args ...uint64) int64 {
	r := kernel.Request{Thread: -1, Handle: -1, Nr: nr}
	copy(r.Args[:], args)
	return s.call(&r)
}

const ms = int64(time.Millisecond)

func TestExpiry(t *testing.T) {
	for _, c := range []struct {
		name            string
		value, interval int64
		abs             bool
		run             func(clk *fakeClock)
		want            []uint64 // expirations per fire
	}{
		{"one-shot fires once", 10 * ms, 0, false, func(c *fakeClock) { c.step(100*ms, 50) }, []uint64{1}},
		{"one-shot not before its time", 10 * ms, 0, false, func(c *fakeClock) { c.advance(9 * ms) }, nil},
		{"periodic fires every interval", 10 * ms, 10 * ms, false, func(c *fakeClock) { c.step(40*ms, 40) }, []uint64{1, 1, 1, 1}},
		{"late periodic counts missed intervals", 10 * ms, 10 * ms, false, func(c *fakeClock) { c.advance(45 * ms) }, []uint64{4}},
		{"absolute time in the past fires at once", 5, 0, true, func(c *fakeClock) { c.advance(0) }, []uint64{1}},
		{"absolute periodic in the past counts every interval since", 1e12 - 35*ms, 10 * ms, true, func(c *fakeClock) { c.advance(0) }, []uint64{4}},
		{"zero value stays off", 0, 10 * ms, false, func(c *fakeClock) { c.step(100*ms, 10) }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := &fakeClock{t: 1e12, cpu: map[int32]int64{0: 0, 7: 0}}
			var got []uint64
			e := newExpiry(clk, clockRef{id: unix.CLOCK_MONOTONIC}, func(n uint64) { got = append(got, n) })
			e.mu.Lock()
			e.setLocked(c.value, c.interval, c.abs)
			e.mu.Unlock()
			c.run(clk)
			if diff := diff(c.want, got); diff != "" {
				t.Errorf("expirations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExpiryRearmAndRemaining(t *testing.T) {
	clk := &fakeClock{t: 1e12, cpu: map[int32]int64{0: 0, 7: 0}}
	fired := 0
	e := newExpiry(clk, clockRef{id: unix.CLOCK_MONOTONIC}, func(uint64) { fired++ })
	e.mu.Lock()
	e.setLocked(10*ms, 0, false)
	e.mu.Unlock()
	clk.advance(4 * ms)
	e.mu.Lock()
	v, i := e.getLocked()
	// Re-armed: the first setting's Go timer must not fire.
	ov, oi := e.setLocked(20*ms, 5*ms, false)
	e.mu.Unlock()
	if v != 6*ms || i != 0 || ov != 6*ms || oi != 0 {
		t.Errorf("before re-arm: get = %d,%d, set's old = %d,%d; want 6ms,0 twice", v, i, ov, oi)
	}
	clk.advance(10 * ms)
	if fired != 0 {
		t.Errorf("fired %d times at the first setting's time", fired)
	}
	clk.advance(10 * ms)
	if fired != 1 {
		t.Errorf("fired %d times at the second setting's time, want 1", fired)
	}
	e.mu.Lock()
	v, i = e.getLocked()
	e.mu.Unlock()
	if v != 5*ms || i != 5*ms {
		t.Errorf("after first expiry: %d,%d, want 5ms,5ms", v, i)
	}
	e.cancel()
	clk.advance(100 * ms)
	if fired != 1 {
		t.Errorf("fired after cancel (%d times)", fired)
	}
}

// itimerspec builds a struct itimerspec {interval, value}.
func itimerspec(value, interval int64) *[4]int64 {
	return &[4]int64{interval / 1e9, interval % 1e9, value / 1e9, value % 1e9}
}

// sigevent builds a struct sigevent.
func sigevent(value uint64, signo, notify, tid int32) *[8]uint64 {
	return &[8]uint64{value, uint64(uint32(signo)) | uint64(uint32(notify))<<32, uint64(uint32(tid))}
}

func TestTimerCreateArguments(t *testing.T) {
	for _, c := range []struct {
		name  string
		clock uint64
		sev   *[8]uint64
		want  int64
	}{
		{"SIGEV_SIGNAL", unix.CLOCK_MONOTONIC, sigevent(1, 10, sigevSignal, 0), 0},
		{"SIGEV_NONE ignores the signal number", unix.CLOCK_REALTIME, sigevent(1, 0, sigevNone, 0), 0},
		{"SIGEV_THREAD_ID", unix.CLOCK_BOOTTIME, sigevent(1, 10, sigevThreadID, 7), 0},
		{"SIGEV_THREAD_ID of no thread", unix.CLOCK_MONOTONIC, sigevent(1, 10, sigevThreadID, 8), -int64(syscall.EINVAL)},
		{"SIGEV_THREAD is the C library's", unix.CLOCK_MONOTONIC, sigevent(1, 10, sigevThread, 0), -int64(syscall.EINVAL)},
		{"signal 0", unix.CLOCK_MONOTONIC, sigevent(1, 0, sigevSignal, 0), -int64(syscall.EINVAL)},
		{"signal 65", unix.CLOCK_MONOTONIC, sigevent(1, 65, sigevSignal, 0), -int64(syscall.EINVAL)},
		{"unknown clock", 42, nil, -int64(syscall.EINVAL)},
		{"clock without timers", unix.CLOCK_MONOTONIC_RAW, nil, -int64(syscall.EOPNOTSUPP)},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _, _ := newTimerServer()
			var id int32 = -1
			var sev uint64
			if c.sev != nil {
				sev = addr(c.sev)
			}
			if got := call(s, syscall.SYS_TIMER_CREATE, c.clock, sev, addr(&id)); got != c.want {
				t.Errorf("timer_create = %d, want %d", got, c.want)
			}
			if c.want == 0 && id != 0 {
				t.Errorf("first timer's id %d, want 0", id)
			}
		})
	}
	t.Run("bad id pointer", func(t *testing.T) {
		s, _, _ := newTimerServer()
		if got := call(s, syscall.SYS_TIMER_CREATE, unix.CLOCK_MONOTONIC, 0, 0); got != -int64(syscall.EFAULT) {
			t.Errorf("timer_create = %d, want EFAULT", got)
		}
		if len(s.timers.posix) != 0 {
			t.Errorf("a timer was left behind: %v", s.timers.posix)
		}
	})
}

func TestTimerSignals(t *testing.T) {
	s, clk, sig := newTimerServer()
	var a, b, c int32
	call(s, syscall.SYS_TIMER_CREATE, unix.CLOCK_MONOTONIC, 0, addr(&a))                                        // SIGALRM, value = id
	call(s, syscall.SYS_TIMER_CREATE, unix.CLOCK_MONOTONIC, addr(sigevent(99, 12, sigevThreadID, 7)), addr(&b)) // SIGUSR2 to 7
	call(s, syscall.SYS_TIMER_CREATE, unix.CLOCK_MONOTONIC, addr(sigevent(5, 10, sigevNone, 0)), addr(&c))
	if a != 0 || b != 1 || c != 2 {
		t.Fatalf("ids %d %d %d, want 0 1 2", a, b, c)
	}
	for _, id := range []int32{a, b, c} {
		if r := call(s, syscall.SYS_TIMER_SETTIME, uint64(id), 0, addr(itimerspec(10*ms, 10*ms)), 0); r != 0 {
			t.Fatalf("timer_settime(%d) = %d", id, r)
		}
	}
	clk.step(20*ms, 20)
	clk.advance(25 * ms) // late: two intervals and a half
	want := []sent{
		{0, 14, a, uint64(a), 1}, {7, 12, b, 99, 1},
		{0, 14, a, uint64(a), 1}, {7, 12, b, 99, 1},
		{0, 14, a, uint64(a), 2}, {7, 12, b, 99, 2},
	}
	if diff := diff(want, sig.take()); diff != "" {
		t.Errorf("signals (-want +got):\n%s", diff)
	}
	var cur [4]int64
	if r := call(s, syscall.SYS_TIMER_GETTIME, uint64(c), addr(&cur)); r != 0 || cur != *itimerspec(5*ms, 10*ms) {
		t.Errorf("timer_gettime = %d, %v; want 0, 5ms left of 10ms", r, cur)
	}
	sig.overruns[b] = 3
	if r := call(s, syscall.SYS_TIMER_GETOVERRUN, uint64(b)); r != 3 {
		t.Errorf("timer_getoverrun = %d, want the core's 3", r)
	}
	// Disarmed by a zero value; the old setting comes back.
	var old [4]int64
	sig.resets = nil
	if r := call(s, syscall.SYS_TIMER_SETTIME, uint64(a), 0, addr(itimerspec(0, 0)), addr(&old)); r != 0 || old != *itimerspec(5*ms, 10*ms) {
		t.Errorf("timer_settime = %d, old %v; want 0, 5ms left of 10ms", r, old)
	}
	if r := call(s, syscall.SYS_TIMER_DELETE, uint64(b)); r != 0 {
		t.Errorf("timer_delete = %d", r)
	}
	if diff := diff([]int32{a, b}, sig.resets); diff != "" {
		t.Errorf("pending signals dropped for (-want +got):\n%s", diff)
	}
	clk.step(100*ms, 10)
	if got := sig.take(); len(got) != 0 {
		t.Errorf("disarmed and deleted timers sent %v", got)
	}
	for _, c := range []struct {
		name string
		nr   uint64
		args []uint64
		want syscall.Errno
	}{
		{"settime of a deleted timer", syscall.SYS_TIMER_SETTIME, []uint64{uint64(b), 0, addr(itimerspec(ms, 0)), 0}, syscall.EINVAL},
		{"gettime of no timer", syscall.SYS_TIMER_GETTIME, []uint64{77, addr(&cur)}, syscall.EINVAL},
		{"getoverrun of no timer", syscall.SYS_TIMER_GETOVERRUN, []uint64{77}, syscall.EINVAL},
		{"delete twice", syscall.SYS_TIMER_DELETE, []uint64{uint64(b)}, syscall.EINVAL},
		{"settime without a value", syscall.SYS_TIMER_SETTIME, []uint64{uint64(a), 0, 0, 0}, syscall.EINVAL},
		{"nanoseconds out of range", syscall.SYS_TIMER_SETTIME, []uint64{uint64(a), 0, addr(&[4]int64{0, 0, 1, 1e9}), 0}, syscall.EINVAL},
		{"negative seconds", syscall.SYS_TIMER_SETTIME, []uint64{uint64(a), 0, addr(&[4]int64{-1, 0, 1, 0}), 0}, syscall.EINVAL},
		{"gettime to a bad pointer", syscall.SYS_TIMER_GETTIME, []uint64{uint64(a), 0}, syscall.EFAULT},
	} {
		if got := call(s, c.nr, c.args...); got != -int64(c.want) {
			t.Errorf("%s: %d, want %d (%v)", c.name, got, -int64(c.want), c.want)
		}
	}
	// TIMER_ABSTIME: an absolute time on the timer's clock.
	if r := call(s, syscall.SYS_TIMER_SETTIME, uint64(a), timerAbstime, addr(itimerspec(clk.wall()+30*ms, 0)), 0); r != 0 {
		t.Fatalf("timer_settime(TIMER_ABSTIME) = %d", r)
	}
	clk.advance(29 * ms)
	if got := sig.take(); len(got) != 0 {
		t.Errorf("absolute timer fired early: %v", got)
	}
	clk.advance(ms)
	if diff := diff([]sent{{0, 14, a, uint64(a), 1}}, sig.take()); diff != "" {
		t.Errorf("absolute timer (-want +got):\n%s", diff)
	}
}

func TestItimerReal(t *testing.T) {
	s, clk, sig := newTimerServer()
	itv := func(value, interval int64) *[4]int64 {
		return &[4]int64{interval / 1e9, interval % 1e9 / 1e3, value / 1e9, value % 1e9 / 1e3}
	}
	if r := call(s, syscall.SYS_SETITIMER, itimerReal, addr(itv(10*ms, 20*ms)), 0); r != 0 {
		t.Fatalf("setitimer = %d", r)
	}
	clk.step(50*ms, 50)
	alrm := sent{0, 14, kernel.SourceKernel, 0, 1}
	if diff := diff([]sent{alrm, alrm, alrm}, sig.take()); diff != "" {
		t.Errorf("SIGALRMs (-want +got):\n%s", diff)
	}
	var cur [4]int64
	if r := call(s, syscall.SYS_GETITIMER, itimerReal, addr(&cur)); r != 0 || cur != *itv(20*ms, 20*ms) {
		t.Errorf("getitimer = %d, %v; want 20ms left of 20ms (just fired)", r, cur)
	}
	// alarm shares the timer: it returns the seconds left, rounded.
	call(s, syscall.SYS_SETITIMER, itimerReal, addr(itv(2600*ms, 0)), 0)
	if r := call(s, syscall.SYS_ALARM, 5); r != 3 {
		t.Errorf("alarm after 2.6s setitimer = %d, want 3", r)
	}
	clk.advance(4999 * ms)
	if r := call(s, syscall.SYS_ALARM, 0); r != 1 {
		t.Errorf("alarm with 1ms left = %d, want 1", r)
	}
	clk.advance(10e9)
	if got := sig.take(); len(got) != 0 {
		t.Errorf("alarm(0) left the timer armed: %v", got)
	}
	var old [4]int64
	call(s, syscall.SYS_ALARM, 1)
	if r := call(s, syscall.SYS_SETITIMER, itimerReal, 0, addr(&old)); r != 0 || old != *itv(1e9, 0) {
		t.Errorf("setitimer(NULL) = %d, old %v; want 0, 1s", r, old)
	}
	for _, c := range []struct {
		name string
		nr   uint64
		args []uint64
		want syscall.Errno
	}{
		{"unknown timer", syscall.SYS_SETITIMER, []uint64{3, addr(itv(ms, 0)), 0}, syscall.EINVAL},
		{"microseconds out of range", syscall.SYS_SETITIMER, []uint64{itimerReal, addr(&[4]int64{0, 0, 0, 1e6}), 0}, syscall.EINVAL},
		{"getitimer to a bad pointer", syscall.SYS_GETITIMER, []uint64{itimerReal, 0}, syscall.EFAULT},
	} {
		if got := call(s, c.nr, c.args...); got != -int64(c.want) {
			t.Errorf("%s: %d, want %d (%v)", c.name, got, -int64(c.want), c.want)
		}
	}
}

// diff describes how got differs from want ("" if equal).
func diff(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return fmt.Sprintf("-%v\n+%v", want, got)
}

// callAs runs system call nr for application thread tid.
func callAs(s *Server, tid int32, nr uint64, args ...uint64) int64 {
	r := kernel.Request{Thread: -1, TID: tid, Handle: -1, Nr: nr}
	copy(r.Args[:], args)
	return s.call(&r)
}

func TestTimerClock(t *testing.T) {
	for _, c := range []struct {
		name string
		id   int32
		want clockRef
		err  error
	}{
		{"CLOCK_THREAD_CPUTIME_ID is the caller's", unix.CLOCK_THREAD_CPUTIME_ID, clockRef{unix.CLOCK_THREAD_CPUTIME_ID, 7}, nil},
		{"CLOCK_PROCESS_CPUTIME_ID", unix.CLOCK_PROCESS_CPUTIME_ID, clockRef{unix.CLOCK_PROCESS_CPUTIME_ID, 0}, nil},
		{"alarm clock", unix.CLOCK_BOOTTIME_ALARM, clockRef{unix.CLOCK_BOOTTIME, 0}, nil},
		{"pthread_getcpuclockid of thread 9", (-9-1)*8 + 6, clockRef{unix.CLOCK_THREAD_CPUTIME_ID, 9}, nil},
		{"clock_getcpuclockid of pid 1", (-1-1)*8 + 2, clockRef{unix.CLOCK_PROCESS_CPUTIME_ID, 0}, nil},
		{"clock_getcpuclockid of pid 0 (self)", (-0-1)*8 + 0, clockRef{unix.CLOCK_PROCESS_CPUTIME_ID, 0}, nil},
		{"clock_getcpuclockid of another process", (-5-1)*8 + 2, clockRef{}, syscall.EINVAL},
		{"CPUCLOCK_MAX", (-1-1)*8 + 3, clockRef{}, syscall.EINVAL},
		{"CLOCK_MONOTONIC_RAW", unix.CLOCK_MONOTONIC_RAW, clockRef{}, syscall.EOPNOTSUPP},
		{"unknown", 12, clockRef{}, syscall.EINVAL},
	} {
		got, err := timerClock(c.id, 7)
		if got != c.want || err != c.err {
			t.Errorf("%s: timerClock(%d) = %+v, %v; want %+v, %v", c.name, c.id, got, err, c.want, c.err)
		}
	}
}

// TestCPUTimeTimers: timers on CPU-time clocks expire by the CPU time
// their thread (or the process) used, however much real time passes.
func TestCPUTimeTimers(t *testing.T) {
	s, clk, sig := newTimerServer()
	var id int32
	if r := callAs(s, 7, syscall.SYS_TIMER_CREATE, unix.CLOCK_THREAD_CPUTIME_ID, addr(sigevent(3, sigPROF, sigevThreadID, 7)), addr(&id)); r != 0 {
		t.Fatalf("timer_create(CLOCK_THREAD_CPUTIME_ID) = %d", r)
	}
	callAs(s, 7, syscall.SYS_TIMER_SETTIME, uint64(id), 0, addr(itimerspec(10*ms, 10*ms)), 0)
	clk.step(100*ms, 20) // the thread sleeps
	clk.run(7, 5*ms)
	clk.step(100*ms, 20)
	if got := sig.take(); len(got) != 0 {
		t.Errorf("signals after 5ms of CPU time: %v", got)
	}
	clk.run(7, 5*ms)
	clk.advance(5 * ms)
	clk.run(7, 25*ms) // 35ms in all: two more intervals
	clk.advance(30 * ms)
	prof := sent{7, sigPROF, id, 3, 1}
	if diff := diff([]sent{prof, {7, sigPROF, id, 3, 2}}, sig.take()); diff != "" {
		t.Errorf("SIGPROFs (-want +got):\n%s", diff)
	}
	var cur [4]int64
	callAs(s, 7, syscall.SYS_TIMER_GETTIME, uint64(id), addr(&cur))
	if cur != *itimerspec(5*ms, 10*ms) {
		t.Errorf("timer_gettime = %v, want 5ms of CPU time left of 10ms", cur)
	}
	// The thread exits: its timer never expires, and stops checking.
	clk.mu.Lock()
	delete(clk.cpu, 7)
	clk.mu.Unlock()
	clk.advance(100 * ms)
	clk.advance(100 * ms)
	clk.mu.Lock()
	live := 0
	for _, ft := range clk.timers {
		if !ft.stopped && !ft.done {
			live++
		}
	}
	clk.mu.Unlock()
	if got := sig.take(); len(got) != 0 || live != 0 {
		t.Errorf("after the thread exited: signals %v, Go timers left %d", got, live)
	}
	if r := callAs(s, 8, syscall.SYS_TIMER_CREATE, unix.CLOCK_THREAD_CPUTIME_ID, 0, addr(&id)); r != -int64(syscall.EINVAL) {
		t.Errorf("timer_create on the CPU clock of no thread = %d, want EINVAL", r)
	}

	// ITIMER_PROF and ITIMER_VIRTUAL count the process's CPU time.
	itv := &[4]int64{0, 10000, 0, 10000}
	callAs(s, 7, syscall.SYS_SETITIMER, itimerProf, addr(itv), 0)
	callAs(s, 7, syscall.SYS_SETITIMER, itimerVirtual, addr(itv), 0)
	clk.step(50*ms, 10)
	if got := sig.take(); len(got) != 0 {
		t.Errorf("CPU-time itimers sent %v with no CPU time used", got)
	}
	clk.run(9, 10*ms)
	clk.step(10*ms, 10)
	if diff := diff([]sent{{0, sigVTALRM, kernel.SourceKernel, 0, 1}, {0, sigPROF, kernel.SourceKernel, 0, 1}}, sortSent(sig.take())); diff != "" {
		t.Errorf("itimer signals (-want +got):\n%s", diff)
	}
	req := kernel.Request{Thread: -1, TID: 7, Handle: -1, Nr: syscall.SYS_TIMERFD_CREATE, Args: [6]uint64{unix.CLOCK_THREAD_CPUTIME_ID}}
	if r := s.call(&req); r != -int64(syscall.EINVAL) {
		t.Errorf("timerfd_create on a CPU clock = %d, want EINVAL", r)
	}
}

// sortSent orders signals by number (timers due at once fire in any
// order).
func sortSent(s []sent) []sent {
	sort.Slice(s, func(i, j int) bool { return s[i].Sig < s[j].Sig })
	return s
}

// FuzzTimerClock: any clock id either fails with EINVAL or EOPNOTSUPP
// or names a clock timers can run on (a CPU-time clock of a thread
// names one).
func FuzzTimerClock(f *testing.F) {
	for _, id := range []int32{0, 1, 2, 3, 4, 7, 8, 9, 11, -1, -2, -6, -74, -80, 1 << 31 / -1} {
		f.Add(id, int32(7))
	}
	f.Fuzz(func(t *testing.T, id, tid int32) {
		c, err := timerClock(id, tid)
		if err != nil {
			if err != syscall.EINVAL && err != syscall.EOPNOTSUPP {
				t.Errorf("timerClock(%d) error %v", id, err)
			}
			return
		}
		switch c.id {
		case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME, unix.CLOCK_PROCESS_CPUTIME_ID:
			if c.tid != 0 {
				t.Errorf("timerClock(%d) = %+v: a thread for a clock without one", id, c)
			}
		case unix.CLOCK_THREAD_CPUTIME_ID:
			if c.tid == 0 && tid != 0 {
				t.Errorf("timerClock(%d) = %+v: no thread", id, c)
			}
		default:
			t.Errorf("timerClock(%d) = %+v: no such timer clock", id, c)
		}
	})
}
