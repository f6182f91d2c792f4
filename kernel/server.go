package kernel

import (
	"errors"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// The system-call server. Core code cannot allocate or block on Go
// objects, so application system calls that need the filesystem (and
// later sockets) are served by ordinary Go code in the kernel's runtime:
// the core parks the calling thread and queues it; a kernel thread
// blocked in sysGosvServe picks the request up, a goroutine serves it
// (reading and writing the application's memory directly: one address
// space), and sysGosvComplete resumes the application thread with the
// result. Calls the core can answer alone (futex, mmap, clock_gettime,
// console writes) never take this path.

const (
	sysGosvServe    = 0x7ff2 // (buf *[n]Request, n, flags) -> requests copied; blocks while none unless serveNoWait
	sysGosvComplete = 0x7ff3 // (thread, seq, result)
	sysGosvFDAlloc  = 0x7ff4 // (handle, flags) -> new application fd
	sysGosvSetReady = 0x7ff6 // (handle, epoll events)
	// Files in flight in SCM_RIGHTS messages hold handle references.
	sysGosvFDRef       = 0x7ff8 // (fd) -> its server handle, referenced
	sysGosvHandleUnref = 0x7ff9 // (handle) -> 1 if that was the last reference
)

// Request is one queued application system call, as the server sees
// it. Handle is the server handle of the call's fd argument (args[0])
// when that is a server fd, else -1.
type Request struct {
	Thread int32
	TID    int32
	Seq    uint32
	Handle int32
	Nr     uint64
	Args   [6]uint64
	// Override, when set, is what the application sees whatever the
	// server answers (dup2 over a server fd returns the new fd).
	Override    int64
	HasOverride bool
	// ArgHandles are the server handles of args 0-2 read as fds (-1
	// where that is not a server fd), for *at() calls whose directory
	// fd is not the first argument (symlinkat, renameat, linkat).
	ArgHandles [3]int32
}

// requestRing holds threads waiting for the server, in arrival order.
// Each thread has at most one request, so maxThreads entries suffice.
type requestRing struct {
	lock       spinLock
	ring       [maxThreads]int32
	head, size int
	waiter     int32 // a server thread blocked in sysGosvServe
	// armed: the server found nothing (serveArm) and waits on its
	// eventfd, to be raised when something is queued.
	armed bool
}

// serverEventfd is 1 + the kernel's eventfd object the server waits on
// (BindServerEventfd), 0 for none.
var serverEventfd atomic.Int32

var requests = requestRing{waiter: noThread}

// MaxThreads bounds Request.Thread: the server can keep per-thread
// state in an array.
const MaxThreads = maxThreads

// interrupts queues threads whose served call a signal interrupts
// (under requests.lock). A thread is queued once however often it is
// signalled; its intrSeq names the request to interrupt when the
// server takes the entry.
var interrupts struct {
	ring       [maxThreads]int32
	head, size int
}

// interruptServed asks the server to interrupt the call thread i waits
// for in waitServer: the server hears of it as a kick of kind
// KickInterrupt and makes the call's waits end (appsys). A request that
// completed meanwhile makes the interrupt stale; the server ignores it
// by its sequence number.
func interruptServed(i int32) {
	t := &threads[i]
	requests.lock.lock()
	if t.state.Load() != threadBlocked || t.wait != waitServer || t.intrSeq == t.req.Seq {
		requests.lock.unlock()
		return
	}
	t.intrSeq = t.req.Seq
	if !t.intrQueued {
		t.intrQueued = true
		interrupts.ring[(interrupts.head+interrupts.size)%maxThreads] = i
		interrupts.size++
	}
	unlockRequestsWakingServer()
}

// unlockRequestsWakingServer releases requests.lock after something was
// queued for the server, and wakes the server thread if it waits for
// work (the wake comes after the unlock: it may send an IPI).
func unlockRequestsWakingServer() {
	w, armed := requests.waiter, requests.armed
	requests.waiter, requests.armed = noThread, false
	requests.lock.unlock()
	if w != noThread {
		wakeRestart(w)
	}
	if armed {
		// Raised as the trap ends: raising takes fdLock, which callers
		// may hold here (or locks ordered after it).
		thisCPU().raiseServer = true
	}
}

// raiseServerEventfd raises the server's eventfd (finishTrap, after a
// trap queued work for an armed server).
func raiseServerEventfd() {
	if k := serverEventfd.Load() - 1; k >= 0 {
		raiseKernelEventfd(k)
	}
}

// BindServerEventfd makes the core raise the kernel's eventfd fd when it
// queues work for a server that asked for that (TakeRequests found
// nothing and armed it; the server then waits on the eventfd through
// the netpoller). The eventfd must stay open.
func BindServerEventfd(fd int) error {
	k, err := kernelEventfd(fd)
	if err != nil {
		return err
	}
	if !serverEventfd.CompareAndSwap(0, k+1) {
		return errors.New("kernel: BindServerEventfd: already bound")
	}
	return nil
}

// forward queues the running thread's call for the server, unless the
// core can answer it EAGAIN itself (socketWouldBlock).
func forward(c *cpuLocal, t *thread, i int32, f *Frame, handle int32) int64 {
	if r, ok := ringCall(c, t, i, f, handle); ok {
		return r
	}
	if socketWouldBlock(handle, f) {
		return errnoResult(EAGAIN)
	}
	t.req = Request{Thread: i, TID: t.tid, Handle: handle, Nr: f.RAX,
		Args: [6]uint64{f.RDI, f.RSI, f.RDX, f.R10, f.R8, f.R9}}
	t.reqSeq++
	t.req.Seq = t.reqSeq
	c.forwards++
	p := procOf(t)
	fdLock.lock()
	for k := range t.req.ArgHandles {
		t.req.ArgHandles[k] = -1
		if v := int32(t.req.Args[k]); uint64(v) == t.req.Args[k]&0xffffffff && v >= 0 {
			if e, ok := p.getFD(int64(v)); ok && e.kind == fdServer {
				t.req.ArgHandles[k] = e.handle
			}
		}
	}
	fdLock.unlock()
	requests.lock.lock()
	requests.ring[(requests.head+requests.size)%maxThreads] = i
	requests.size++
	// Blocked before the lock is released, so a completion cannot
	// come first. The default result is only seen if the server dies.
	c.sched.block(i, f, waitServer, 0, errnoResult(EIO), 0)
	unlockRequestsWakingServer()
	return sysBlocked
}

// serveNoWait makes sysGosvServe return 0 rather than wait; serveArm
// (with it) also arms the server's eventfd: the next work queued raises
// it.
const (
	serveNoWait = 1
	serveArm    = 2
)

// serveRequests copies queued requests to the server's buffer, or parks
// the server thread until there are some (unless noWait).
func serveRequests(c *cpuLocal, i int32, f *Frame, buf uintptr, max int, flags uint64) int64 {
	if max <= 0 || max > maxThreads {
		return errnoResult(EINVAL)
	}
	size := unsafe.Sizeof(Request{})
	if !space.access(buf, uintptr(max)*size, true) {
		return errnoResult(EFAULT)
	}
	requests.lock.lock()
	defer requests.lock.unlock()
	if requests.size == 0 && kicks.size == 0 && interrupts.size == 0 {
		if flags&serveArm != 0 && serverEventfd.Load() != 0 {
			requests.armed = true
			return 0
		}
		if flags&serveNoWait != 0 {
			return 0
		}
		requests.waiter = i
		c.sched.block(i, f, waitServerIdle, 0, 0, 0)
		return sysBlocked
	}
	n := 0
	for n < max && kicks.size > 0 {
		k := kicks.ring[kicks.head]
		kicks.head = (kicks.head + 1) % len(kicks.ring)
		kicks.size--
		*(*Request)(ptrAt(buf + uintptr(n)*size)) = Request{Thread: -1, Handle: k >> 2, Nr: uint64(k & 3)}
		n++
	}
	for n < max && requests.size > 0 {
		ti := requests.ring[requests.head]
		requests.head = (requests.head + 1) % maxThreads
		requests.size--
		*(*Request)(ptrAt(buf + uintptr(n)*size)) = threads[ti].req
		n++
	}
	// After the requests, so the server has seen the call an interrupt
	// names (it copes with either order).
	for n < max && interrupts.size > 0 {
		ti := interrupts.ring[interrupts.head]
		interrupts.head = (interrupts.head + 1) % maxThreads
		interrupts.size--
		threads[ti].intrQueued = false
		*(*Request)(ptrAt(buf + uintptr(n)*size)) = Request{Thread: -1, Handle: -1, Nr: KickInterrupt,
			Seq: threads[ti].intrSeq, Args: [6]uint64{uint64(ti)}}
		n++
	}
	return int64(n)
}

// completeRequest resumes the thread a request came from, if it still
// waits for that request.
func completeRequest(ti int32, seq uint32, result int64) int64 {
	if ti < 0 || ti >= maxThreads {
		return errnoResult(EINVAL)
	}
	t := &threads[ti]
	if t.req.Seq != seq || t.wait != waitServer {
		return errnoResult(ESRCH)
	}
	if t.req.HasOverride && result != errRestartSys {
		result = t.req.Override
	}
	if !wake(ti, result) {
		return errnoResult(ESRCH)
	}
	return 0
}

// ServeRequests blocks until application calls are queued and copies
// them into buf. Called by the server's dedicated OS thread.
//
// Calls usually queue up while the last ones are served, so it first
// takes what is there without waiting (a raw call: no scheduler
// bookkeeping). Only then does it wait, as a call the Go scheduler
// knows will block (serveBlocking): with an ordinary entersyscall the
// waiting thread kept its P until sysmon took it back, which held
// sysmon at its 20 µs period, a timer wake-up per served request.
func ServeRequests(buf []Request) (int, error) {
	r, _, e := syscall.RawSyscall(sysGosvServe, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), serveNoWait)
	if e == 0 && r == 0 {
		r, e = serveBlocking(uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	}
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// TakeRequests copies queued application calls into buf without
// waiting. When there are none it arms the server's eventfd
// (BindServerEventfd): the core raises it when it next queues work, so
// the caller waits on that through the netpoller and calls again.
func TakeRequests(buf []Request) (int, error) {
	r, _, e := syscall.RawSyscall(sysGosvServe, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), serveNoWait|serveArm)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// serveBlocking is sysGosvServe as a blocking system call (see
// futexWaitBlocking). Nosplit: nothing may grow the stack between
// entering and leaving the system call.
//
//go:nosplit
func serveBlocking(buf, n uintptr) (uintptr, syscall.Errno) {
	entersyscallblock()
	r, _, e := syscall.RawSyscall(sysGosvServe, buf, n, 0)
	exitsyscall()
	return r, e
}

// Complete hands a request's result (a value, or -errno) back to the
// waiting application thread.
func Complete(r *Request, result int64) {
	syscall.RawSyscall(sysGosvComplete, uintptr(r.Thread), uintptr(r.Seq), uintptr(result))
}

// NewAppFD gives the application a file descriptor for server handle
// h (the lowest free number, as POSIX requires).
func NewAppFD(h int32, cloexec bool) (int, error) {
	flags := uintptr(0)
	if cloexec {
		flags = oCloexec
	}
	r, _, e := syscall.RawSyscall(sysGosvFDAlloc, uintptr(h), flags, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// RefFD returns the server handle behind the application's fd and
// takes a reference to it, so that the open file outlives the fd (a file
// passed in an SCM_RIGHTS message). EOPNOTSUPP for fds the core serves
// itself (console, eventfd, epoll).
func RefFD(fd int32) (int32, error) {
	r, _, e := syscall.RawSyscall(sysGosvFDRef, uintptr(fd), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int32(r), nil
}

// UnrefHandle drops a reference RefFD took; last reports that nothing
// refers to h any more, and the server must release it.
func UnrefHandle(h int32) (last bool, err error) {
	r, _, e := syscall.RawSyscall(sysGosvHandleUnref, uintptr(h), 0, 0)
	if e != 0 {
		return false, e
	}
	return r == 1, nil
}

// Readiness bits for SetReady (epoll's).
const (
	ReadyIn  = epollIn
	ReadyOut = epollOut
	ReadyHup = epollHup
	// ReadyAlways marks a handle that never blocks (a regular file or
	// directory): poll reports it ready, epoll_ctl refuses it with EPERM
	// as Linux does, so that runtimes fall back to plain I/O.
	ReadyAlways = 1 << 30
	// ReadySocket marks a socket, and ReadyNonblock one whose file is
	// O_NONBLOCK: the core answers its reads and writes EAGAIN while the
	// readiness it was last given says they would block (see
	// socketWouldBlock), which spares a trip to the server for the
	// EAGAIN that ends every read loop of an event-driven server.
	ReadySocket   = 1 << 29
	ReadyNonblock = 1 << 28
	// ReadyForce makes a report wake the application's poll and epoll
	// waiters even if the bits did not change: a socket with rings
	// reports new data in its ring that way (the core computes its
	// readiness from the rings).
	ReadyForce = 1 << 27
	// readyFlags are the bits above that are not epoll events.
	readyFlags = ReadyAlways | ReadySocket | ReadyNonblock
)

// msgDontwait is MSG_DONTWAIT: non-blocking for one call.
const msgDontwait = 0x40

// socketWouldBlock reports whether f, a call on server handle h, is a
// non-blocking socket read, accept or write that the readiness the
// server last published says would block. That readiness is exact when
// it lacks a bit: the server publishes after every read and write, and
// on every event under one lock, so data that arrives after the last
// publish brings a new one (which wakes the application's epoll).
func socketWouldBlock(h int32, f *Frame) bool {
	if h < 0 || h >= maxHandles {
		return false
	}
	ev := handleEvents[h].Load()
	if ev&ReadySocket == 0 {
		return false
	}
	var flags uint64 // MSG_* of the send/recv family
	var want uint32
	switch f.RAX {
	case 0, 19, 43, 288: // read, readv, accept, accept4
		want = epollIn
	case 45: // recvfrom
		want, flags = epollIn, f.R10
	case 47: // recvmsg
		want, flags = epollIn, f.RDX
	case 1, 20: // write, writev
		want = epollOut
	case 44: // sendto
		want, flags = epollOut, f.R10
	case 46: // sendmsg
		want, flags = epollOut, f.RDX
	default:
		return false
	}
	if ev&ReadyNonblock == 0 && flags&msgDontwait == 0 {
		return false
	}
	// Errors, hang-ups and end of stream are the server's to report.
	const rdHup = 0x2000
	return ev&(want|epollErr|epollHup|rdHup) == 0
}

// SetReady tells the core what server handle h is ready for, so the
// application's poll and epoll see it.
func SetReady(h int32, events uint32) {
	syscall.RawSyscall(sysGosvSetReady, uintptr(h), uintptr(events), 0)
}
