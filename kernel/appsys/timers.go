package appsys

import (
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"gosv/kernel"
)

// The application's timers: alarm and setitimer's ITIMER_REAL, which
// send SIGALRM to the process, and POSIX timers (timer_create), which
// send a signal to the process (SIGEV_SIGNAL) or to one thread
// (SIGEV_THREAD_ID), or nothing (SIGEV_NONE). They are Go timers
// (expiry); the core sends their signals and counts a POSIX timer's
// overruns while its signal is pending (kernel/sigqueue.go).

// sigevent's sigev_notify values.
const (
	sigevSignal   = 0
	sigevNone     = 1
	sigevThread   = 2 // the C library's, built on SIGEV_THREAD_ID
	sigevThreadID = 4
)

const (
	itimerReal    = 0
	itimerVirtual = 1
	itimerProf    = 2
	timerAbstime  = 1 // TIMER_ABSTIME, TFD_TIMER_ABSTIME
	sigALRM       = 14
	sigVTALRM     = 26
	sigPROF       = 27
)

// signaller is the core's signal delivery for timers (kernel.SendSignal
// and the rest); tests record instead.
type signaller interface {
	send(tid int32, sig int, source int32, value uint64, expirations uint64) (pending bool, err error)
	reset(slot int32)
	overrun(slot int32) int32
}

type coreSignaller struct{}

func (coreSignaller) send(tid int32, sig int, source int32, value uint64, n uint64) (bool, error) {
	return kernel.SendSignal(tid, sig, source, value, n)
}
func (coreSignaller) reset(slot int32)         { kernel.ResetTimerSignal(slot) }
func (coreSignaller) overrun(slot int32) int32 { return kernel.TimerOverrun(slot) }

// timers are the application's timers.
type timers struct {
	clk clock
	sig signaller
	// ready reports a timerfd's readiness (kernel.SetReady).
	ready func(h int32, events uint32)

	mu    sync.Mutex
	posix map[int32]*posixTimer // by id (the core's slot)
	// ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF, made at first use.
	itimers [3]*expiry
}

func newTimers(clk clock, sig signaller, ready func(int32, uint32)) *timers {
	return &timers{clk: clk, sig: sig, ready: ready, posix: map[int32]*posixTimer{}}
}

// posixTimer is one timer_create timer.
type posixTimer struct {
	id     int32
	notify int32
	signo  int
	tid    int32 // SIGEV_THREAD_ID's thread; 0: the process
	value  uint64
	e      *expiry
}

// fire sends the timer's signal for n expirations.
func (t *timers) firePosix(p *posixTimer, n uint64) {
	if p.notify == sigevNone {
		return
	}
	// A thread that has exited gets nothing, as on Linux.
	t.sig.send(p.tid, p.signo, p.id, p.value, n)
}

// Linux's encoding of CPU-time clocks of other threads and processes
// (clock_getcpuclockid, pthread_getcpuclockid): ~pid << 3, a per-thread
// bit, and which time (CPUCLOCK_PROF, _VIRT, _SCHED; gosv keeps one).
const (
	cpuclockPerthread = 4
	cpuclockWhichMask = 3
	cpuclockMax       = 3 // CPUCLOCK_MAX: not a valid which
	appPID            = 1 // the application's pid (kernel/process.go)
)

// timerClock checks a clock id for timer_create and timerfd_create;
// tid is the caller (CLOCK_THREAD_CPUTIME_ID is its time).
func timerClock(id int32, tid int32) (clockRef, error) {
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME, unix.CLOCK_PROCESS_CPUTIME_ID:
		return clockRef{id: id}, nil
	case unix.CLOCK_THREAD_CPUTIME_ID:
		return clockRef{id: id, tid: tid}, nil
	case unix.CLOCK_REALTIME_ALARM:
		return clockRef{id: unix.CLOCK_REALTIME}, nil // no suspend: an alarm clock is its base
	case unix.CLOCK_BOOTTIME_ALARM:
		return clockRef{id: unix.CLOCK_BOOTTIME}, nil
	case unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_REALTIME_COARSE, unix.CLOCK_MONOTONIC_COARSE:
		return clockRef{}, syscall.EOPNOTSUPP // no timers on these in Linux either
	}
	if id >= 0 || id&cpuclockWhichMask == cpuclockMax {
		return clockRef{}, syscall.EINVAL
	}
	pid := ^(id >> 3)
	if id&cpuclockPerthread != 0 {
		if pid == 0 {
			pid = tid
		}
		return clockRef{id: unix.CLOCK_THREAD_CPUTIME_ID, tid: pid}, nil
	}
	if pid != 0 && pid != appPID {
		return clockRef{}, syscall.EINVAL
	}
	return clockRef{id: unix.CLOCK_PROCESS_CPUTIME_ID}, nil
}

// timerCreate serves timer_create(clockid, sevp, timerid).
func (s *Server) timerCreate(r *kernel.Request) (int64, error) {
	clk, err := timerClock(int32(r.Args[0]), r.TID)
	if err != nil {
		return 0, err
	}
	if clk.id == unix.CLOCK_THREAD_CPUTIME_ID {
		if _, ok := s.timers.clk.now(clk); !ok {
			return 0, syscall.EINVAL // no such thread
		}
	}
	p := &posixTimer{notify: sigevSignal, signo: sigALRM}
	sevp, idp := r.Args[1], r.Args[2]
	if sevp != 0 {
		p.value = get64(sevp)
		p.signo = int(int32(get64(sevp + 8)))
		p.notify = int32(get64(sevp+8) >> 32)
		switch p.notify {
		case sigevSignal, sigevNone:
		case sigevThreadID:
			p.tid = int32(get64(sevp + 16))
			if p.tid <= 0 {
				return 0, syscall.EINVAL
			}
			if _, err := s.timers.sig.send(p.tid, 0, kernel.SourceKernel, 0, 1); err != nil {
				return 0, syscall.EINVAL // not one of the application's threads
			}
		default:
			return 0, syscall.EINVAL
		}
		if p.notify != sigevNone && (p.signo <= 0 || p.signo > 64) {
			return 0, syscall.EINVAL
		}
	}
	put32(idp, 0) // faults (EFAULT) before the timer exists
	t := s.timers
	t.mu.Lock()
	defer t.mu.Unlock()
	p.id = -1
	for id := int32(0); id < kernel.MaxTimers; id++ {
		if _, used := t.posix[id]; !used {
			p.id = id
			break
		}
	}
	if p.id < 0 {
		return 0, syscall.EAGAIN
	}
	if sevp == 0 {
		p.value = uint64(p.id)
	}
	t.sig.reset(p.id)
	p.e = newExpiry(t.clk, clk, func(n uint64) { t.firePosix(p, n) })
	t.posix[p.id] = p
	put32(idp, uint32(p.id))
	return 0, nil
}

func (t *timers) lookup(id uint64) (*posixTimer, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.posix[int32(id)]
	if !ok {
		return nil, syscall.EINVAL
	}
	return p, nil
}

// getItimerspec reads a struct itimerspec {interval, value}.
func getItimerspec(addr uint64) (value, interval int64, err error) {
	if interval, err = getTimespec(addr); err != nil {
		return 0, 0, err
	}
	value, err = getTimespec(addr + 16)
	return value, interval, err
}

func putItimerspec(addr uint64, value, interval int64) {
	putTimespec(addr, interval)
	putTimespec(addr+16, value)
}

// timerSettime serves timer_settime(id, flags, new, old).
func (s *Server) timerSettime(r *kernel.Request) (int64, error) {
	p, err := s.timers.lookup(r.Args[0])
	if err != nil {
		return 0, err
	}
	if r.Args[2] == 0 {
		return 0, syscall.EINVAL
	}
	value, interval, err := getItimerspec(r.Args[2])
	if err != nil {
		return 0, err
	}
	p.e.mu.Lock()
	// The old setting's signal and overruns go with it.
	s.timers.sig.reset(p.id)
	ov, oi := p.e.setLocked(value, interval, r.Args[1]&timerAbstime != 0)
	p.e.mu.Unlock()
	if old := r.Args[3]; old != 0 {
		putItimerspec(old, ov, oi)
	}
	return 0, nil
}

// timerGettime serves timer_gettime(id, cur).
func (s *Server) timerGettime(r *kernel.Request) (int64, error) {
	p, err := s.timers.lookup(r.Args[0])
	if err != nil {
		return 0, err
	}
	p.e.mu.Lock()
	v, i := p.e.getLocked()
	p.e.mu.Unlock()
	putItimerspec(r.Args[1], v, i)
	return 0, nil
}

func (s *Server) timerGetoverrun(r *kernel.Request) (int64, error) {
	p, err := s.timers.lookup(r.Args[0])
	if err != nil {
		return 0, err
	}
	return int64(s.timers.sig.overrun(p.id)), nil
}

func (s *Server) timerDelete(r *kernel.Request) (int64, error) {
	t := s.timers
	p, err := t.lookup(r.Args[0])
	if err != nil {
		return 0, err
	}
	p.e.cancel()
	t.mu.Lock()
	delete(t.posix, p.id)
	t.mu.Unlock()
	t.sig.reset(p.id)
	return 0, nil
}

// itimer returns the timer setitimer's which names: ITIMER_REAL counts
// real time and sends SIGALRM, ITIMER_VIRTUAL and ITIMER_PROF count the
// process's CPU time (gosv does not tell user from system time) and
// send SIGVTALRM and SIGPROF; all to the process, si_code SI_KERNEL.
func (t *timers) itimer(which uint64) (*expiry, error) {
	var src clockRef
	var sig int
	switch which {
	case itimerReal:
		src, sig = clockRef{id: unix.CLOCK_MONOTONIC}, sigALRM
	case itimerVirtual:
		src, sig = clockRef{id: unix.CLOCK_PROCESS_CPUTIME_ID}, sigVTALRM
	case itimerProf:
		src, sig = clockRef{id: unix.CLOCK_PROCESS_CPUTIME_ID}, sigPROF
	default:
		return nil, syscall.EINVAL
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.itimers[which] == nil {
		t.itimers[which] = newExpiry(t.clk, src, func(n uint64) {
			t.sig.send(0, sig, kernel.SourceKernel, 0, n)
		})
	}
	return t.itimers[which], nil
}

// setitimer serves setitimer(which, new, old). A null new value
// disarms the timer, as Linux still allows.
func (s *Server) setitimer(r *kernel.Request) (int64, error) {
	e, err := s.timers.itimer(r.Args[0])
	if err != nil {
		return 0, err
	}
	var value, interval int64
	if nv := r.Args[1]; nv != 0 {
		if interval, err = getTimeval(nv); err != nil {
			return 0, err
		}
		if value, err = getTimeval(nv + 16); err != nil {
			return 0, err
		}
	}
	e.mu.Lock()
	ov, oi := e.setLocked(value, interval, false)
	e.mu.Unlock()
	if old := r.Args[2]; old != 0 {
		putTimeval(old, oi)
		putTimeval(old+16, ov)
	}
	return 0, nil
}

func (s *Server) getitimer(r *kernel.Request) (int64, error) {
	e, err := s.timers.itimer(r.Args[0])
	if err != nil {
		return 0, err
	}
	e.mu.Lock()
	v, i := e.getLocked()
	e.mu.Unlock()
	putTimeval(r.Args[1], i)
	putTimeval(r.Args[1]+16, v)
	return 0, nil
}

// alarm serves alarm(seconds): ITIMER_REAL once, returning the seconds
// the old setting had left, rounded as Linux does (to the nearest
// second, and a fraction of one to 1).
func (s *Server) alarm(r *kernel.Request) (int64, error) {
	e, _ := s.timers.itimer(itimerReal)
	e.mu.Lock()
	old, _ := e.setLocked(int64(uint32(r.Args[0]))*1e9, 0, false)
	e.mu.Unlock()
	secs, frac := old/1e9, old%1e9
	if secs == 0 && frac > 0 || frac >= 5e8 {
		secs++
	}
	return secs, nil
}
