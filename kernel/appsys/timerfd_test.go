package appsys

import (
	"encoding/binary"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"gosv/kernel"
)

// readiness records a timerfd's reports.
type readiness struct {
	mu   sync.Mutex
	last map[int32]uint32
}

func (r *readiness) set(h int32, ev uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last[h] = ev
}

func (r *readiness) get(h int32) uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[h]
}

// newTimerfdServer gives s a timerfd at handle h (as timerfd_create
// would, without the core's fd).
func newTimerfdServer(t *testing.T, nonblock bool) (*Server, *fakeClock, *readiness) {
	t.Helper()
	s, clk, _ := newTimerServer()
	rd := &readiness{last: map[int32]uint32{}}
	s.timers.ready = rd.set
	const h = 3
	flags := oRdwr
	if nonblock {
		flags |= oNonblock
	}
	f := &openFile{node: timerfdNode{}, tfd: newTimerFD(clk, unix.CLOCK_MONOTONIC, rd.set), flags: flags, handle: h}
	s.files[h] = f
	f.tfd.attach(h)
	return s, clk, rd
}

// readCount reads the timerfd at handle 3 through the read handler.
func readCount(s *Server, thread int32, seq uint32) (uint64, int64) {
	var buf [8]byte
	r := kernel.Request{Thread: thread, Seq: seq, Handle: 3, Nr: syscall.SYS_READ,
		Args: [6]uint64{3, addr(&buf), 8}}
	res := s.run(&r)
	return binary.LittleEndian.Uint64(buf[:]), res
}

func settime(s *Server, flags uint64, value, interval int64, old *[4]int64) int64 {
	var o uint64
	if old != nil {
		o = addr(old)
	}
	r := kernel.Request{Thread: -1, Handle: 3, Nr: syscall.SYS_TIMERFD_SETTIME,
		Args: [6]uint64{3, flags, addr(itimerspec(value, interval)), o}}
	return s.call(&r)
}

func TestTimerfdCountsAndReadiness(t *testing.T) {
	s, clk, rd := newTimerfdServer(t, true)
	if _, r := readCount(s, -1, 0); r != -int64(syscall.EAGAIN) {
		t.Errorf("read of an unarmed non-blocking timerfd = %d, want EAGAIN", r)
	}
	if r := settime(s, 0, 10*ms, 10*ms, nil); r != 0 {
		t.Fatalf("timerfd_settime = %d", r)
	}
	clk.step(9*ms, 9)
	if rd.get(3) != 0 {
		t.Errorf("readiness %#x before the first expiry, want 0", rd.get(3))
	}
	clk.step(26*ms, 26) // 35ms: three expirations
	if rd.get(3) != kernel.ReadyIn {
		t.Errorf("readiness %#x after expiries, want ReadyIn", rd.get(3))
	}
	if n, r := readCount(s, -1, 0); r != 8 || n != 3 {
		t.Errorf("read = %d, count %d; want 8, 3", r, n)
	}
	if rd.get(3) != 0 {
		t.Errorf("readiness %#x after the read, want 0", rd.get(3))
	}
	clk.advance(50 * ms) // late: five intervals at once
	if n, r := readCount(s, -1, 0); r != 8 || n != 5 {
		t.Errorf("read after 50ms = %d, count %d; want 8, 5", r, n)
	}
	var cur [4]int64
	rq := kernel.Request{Thread: -1, Handle: 3, Nr: syscall.SYS_TIMERFD_GETTIME, Args: [6]uint64{3, addr(&cur)}}
	if r := s.call(&rq); r != 0 || cur != *itimerspec(5*ms, 10*ms) {
		t.Errorf("timerfd_gettime = %d, %v; want 5ms left of 10ms", r, cur)
	}
	// settime drops expirations not read.
	clk.advance(20 * ms)
	var old [4]int64
	if r := settime(s, timerAbstime, clk.wall()+100*ms, 0, &old); r != 0 || old != *itimerspec(5*ms, 10*ms) {
		t.Errorf("timerfd_settime = %d, old %v; want 0, 5ms left of 10ms", r, old)
	}
	if _, r := readCount(s, -1, 0); r != -int64(syscall.EAGAIN) || rd.get(3) != 0 {
		t.Errorf("read after re-arm = %d (readiness %#x), want EAGAIN and not ready", r, rd.get(3))
	}
	clk.advance(100 * ms)
	if n, r := readCount(s, -1, 0); r != 8 || n != 1 {
		t.Errorf("read after the absolute time = %d, count %d; want 8, 1", r, n)
	}
	for _, c := range []struct {
		name string
		r    kernel.Request
		want syscall.Errno
	}{
		{"short buffer", kernel.Request{Thread: -1, Handle: 3, Nr: syscall.SYS_READ, Args: [6]uint64{3, addr(&cur), 4}}, syscall.EINVAL},
		{"unknown flags", kernel.Request{Thread: -1, Handle: 3, Nr: syscall.SYS_TIMERFD_SETTIME, Args: [6]uint64{3, 4, addr(itimerspec(ms, 0))}}, syscall.EINVAL},
		{"no value", kernel.Request{Thread: -1, Handle: 3, Nr: syscall.SYS_TIMERFD_SETTIME, Args: [6]uint64{3, 0, 0}}, syscall.EFAULT},
		{"not a timerfd", kernel.Request{Thread: -1, Handle: 9, Nr: syscall.SYS_TIMERFD_GETTIME, Args: [6]uint64{9, addr(&cur)}}, syscall.EBADF},
		{"create with unknown flags", kernel.Request{Thread: -1, Handle: -1, Nr: syscall.SYS_TIMERFD_CREATE, Args: [6]uint64{unix.CLOCK_MONOTONIC, 1}}, syscall.EINVAL},
		{"create on a CPU clock", kernel.Request{Thread: -1, Handle: -1, Nr: syscall.SYS_TIMERFD_CREATE, Args: [6]uint64{unix.CLOCK_MONOTONIC_RAW, 0}}, syscall.EINVAL},
		{"write", kernel.Request{Thread: -1, Handle: 3, Nr: syscall.SYS_WRITE, Args: [6]uint64{3, addr(&cur), 8}}, syscall.EINVAL},
	} {
		if got := s.call(&c.r); got != -int64(c.want) {
			t.Errorf("%s: %d, want %d (%v)", c.name, got, -int64(c.want), c.want)
		}
	}
}

func TestTimerfdBlockingRead(t *testing.T) {
	s, clk, _ := newTimerfdServer(t, false)
	settime(s, 0, 10*ms, 0, nil)
	type result struct {
		n uint64
		r int64
	}
	done := make(chan result, 1)
	go func() { n, r := readCount(s, 0, 1); done <- result{n, r} }()
	if blocked(wrap(done)) != true {
		t.Fatal("a blocking read returned before the timer expired")
	}
	clk.advance(10 * ms)
	if got := <-done; got != (result{1, 8}) {
		t.Errorf("blocking read = %+v, want count 1, 8 bytes", got)
	}
	// A signal interrupts the wait (kernel.ErrRestart: EINTR or restart).
	go func() { n, r := readCount(s, 0, 2); done <- result{n, r} }()
	if blocked(wrap(done)) != true {
		t.Fatal("read of an unarmed timerfd returned")
	}
	s.interrupt(0, 2)
	if got := <-done; got.r != -int64(kernel.ErrRestart) {
		t.Errorf("interrupted read = %d, want ErrRestart", got.r)
	}
}

// wrap turns a result channel into the error channel blocked takes.
func wrap[T any](c chan T) chan error {
	out := make(chan error, 1)
	go func() {
		v := <-c
		c <- v
		out <- nil
	}()
	return out
}
