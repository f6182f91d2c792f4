package appsys

import (
	"encoding/binary"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"gosv/kernel"
	"gosv/vfs"
)

// timerfd: a timer read as a file. A read returns the number of
// expirations since the last read or settime (8 bytes), waiting for one
// unless the file is non-blocking; poll and epoll see it readable while
// that count is not 0 (kernel.SetReady).

const (
	tfdTimerCancelOnSet = 2
	tfdCreateFlags      = oNonblock | oCloexec
)

type timerFD struct {
	e *expiry
	// count (under e.mu) is the expirations not yet read.
	count uint64
	cond  *sync.Cond
	// handle is the file's server handle (-1 until it has one).
	handle int32
	ready  func(h int32, events uint32)
}

func newTimerFD(clk clock, id int32, ready func(int32, uint32)) *timerFD {
	t := &timerFD{handle: -1, ready: ready}
	t.e = newExpiry(clk, clockRef{id: id}, t.fire)
	t.cond = sync.NewCond(&t.e.mu)
	return t
}

// fire counts expirations (e.mu held).
func (t *timerFD) fire(n uint64) {
	t.count += n
	t.cond.Broadcast()
	t.publish()
}

// publish reports readiness (e.mu held).
func (t *timerFD) publish() {
	if t.handle < 0 {
		return
	}
	var ev uint32
	if t.count > 0 {
		ev = kernel.ReadyIn
	}
	t.ready(t.handle, ev)
}

func (t *timerFD) attach(h int32) {
	t.e.mu.Lock()
	defer t.e.mu.Unlock()
	t.handle = h
	t.publish()
}

// read takes the expiration count, waiting for one unless nonblock or
// until the call is interrupted.
func (t *timerFD) read(sl *inflight, b []byte, nonblock bool) (int64, error) {
	if len(b) < 8 {
		return 0, syscall.EINVAL
	}
	t.e.mu.Lock()
	defer t.e.mu.Unlock()
	for t.count == 0 {
		if nonblock {
			return 0, syscall.EAGAIN
		}
		if sl.waitCond(t.cond) {
			return 0, kernel.ErrRestart
		}
	}
	binary.LittleEndian.PutUint64(b, t.count)
	t.count = 0
	t.publish()
	return 8, nil
}

// set re-arms the timer; expirations not read yet are dropped, as on
// Linux.
func (t *timerFD) set(value, interval int64, abs bool) (oldValue, oldInterval int64) {
	t.e.mu.Lock()
	defer t.e.mu.Unlock()
	oldValue, oldInterval = t.e.setLocked(value, interval, abs)
	t.count = 0
	t.publish()
	return oldValue, oldInterval
}

func (t *timerFD) get() (value, interval int64) {
	t.e.mu.Lock()
	defer t.e.mu.Unlock()
	return t.e.getLocked()
}

// close stops the timer with the file's last fd.
func (t *timerFD) close() {
	t.e.mu.Lock()
	defer t.e.mu.Unlock()
	t.e.setLocked(0, 0, false)
	t.handle = -1
}

// timerfdNode gives a timerfd its stat: an anonymous inode.
type timerfdNode struct{}

func (timerfdNode) Stat() (vfs.Stat, error)           { return vfs.Stat{Mode: 0o600, Nlink: 1}, nil }
func (timerfdNode) ReadAt([]byte, int64) (int, error) { return 0, syscall.EINVAL }
func (timerfdNode) Readdir() ([]vfs.Dirent, error)    { return nil, syscall.ENOTDIR }
func (timerfdNode) Lookup(string) (vfs.Node, error)   { return nil, syscall.ENOTDIR }
func (timerfdNode) Readlink() (string, error)         { return "", syscall.EINVAL }

// timerfdCreate serves timerfd_create(clockid, flags).
func (s *Server) timerfdCreate(r *kernel.Request) (int64, error) {
	// No CPU-time clocks, and EINVAL for the rest, as on Linux.
	c, err := timerClock(int32(r.Args[0]), r.TID)
	if err != nil || c.id == unix.CLOCK_PROCESS_CPUTIME_ID || c.id == unix.CLOCK_THREAD_CPUTIME_ID {
		return 0, syscall.EINVAL
	}
	clk := c.id
	flags := int(r.Args[1])
	if flags&^tfdCreateFlags != 0 {
		return 0, syscall.EINVAL
	}
	t := newTimerFD(s.timers.clk, clk, s.timers.ready)
	return s.add(&openFile{node: timerfdNode{}, tfd: t, path: "anon_inode:[timerfd]", flags: oRdwr | flags&oNonblock}, flags&oCloexec != 0)
}

// timerFile returns the timerfd behind a request's fd.
func (s *Server) timerFile(r *kernel.Request) (*timerFD, error) {
	f, err := s.file(r)
	if err != nil {
		return nil, err
	}
	if f.tfd == nil {
		return nil, syscall.EINVAL
	}
	return f.tfd, nil
}

// timerfdSettime serves timerfd_settime(fd, flags, new, old).
func (s *Server) timerfdSettime(r *kernel.Request) (int64, error) {
	if r.Args[1]&^(timerAbstime|tfdTimerCancelOnSet) != 0 {
		return 0, syscall.EINVAL
	}
	t, err := s.timerFile(r)
	if err != nil {
		return 0, err
	}
	value, interval, err := getItimerspec(r.Args[2])
	if err != nil {
		return 0, err
	}
	ov, oi := t.set(value, interval, r.Args[1]&timerAbstime != 0)
	if old := r.Args[3]; old != 0 {
		putItimerspec(old, ov, oi)
	}
	return 0, nil
}

func (s *Server) timerfdGettime(r *kernel.Request) (int64, error) {
	t, err := s.timerFile(r)
	if err != nil {
		return 0, err
	}
	v, i := t.get()
	putItimerspec(r.Args[1], v, i)
	return 0, nil
}
