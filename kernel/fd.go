package kernel

import "sync/atomic"

// File descriptors of the single process. For the kernel's own Go
// runtime only a few kinds exist: the console (fds 0-2), eventfds and
// epoll instances (the runtime's netpoller). The VFS adds files.

type fdKind uint8

const (
	fdFree fdKind = iota
	fdConsole
	fdEventfd
	fdEpoll
	// fdServer is a file, directory, pipe or device served by the
	// system-call server (server.go); handle names it there.
	fdServer
)

const (
	// maxFDs is the size of each process's fd table (RLIMIT_NOFILE): at
	// 32 bytes an entry, the two processes' tables take 256 KiB. Go's os
	// tests keep hundreds of files open for the garbage collector to
	// close; 256 was too few. 4096 is Linux's default hard limit, to
	// which Go programs raise their soft limit (Go's syscall
	// TestOpenFileLimit opens 1200 files); it is also maxHandles.
	maxFDs        = 4096
	maxEpolls     = 8
	maxEpollItems = 512

	oNonblock = 0x800
	oCloexec  = 0x80000

	epollIn  = 0x1
	epollOut = 0x4
	epollErr = 0x8
	epollHup = 0x10
	epollET  = 1 << 31

	epollCtlAdd = 1
	epollCtlDel = 2
	epollCtlMod = 3
)

type fdEntry struct {
	kind    fdKind
	flags   uint32 // O_NONBLOCK etc.
	cloexec bool
	efd     int32 // index into eventfds
	epoll   int32 // index into epolls
	handle  int32 // fdServer
	// epollPending has bit k set when something happened on the fd
	// since epoll set k last reported it (edge-triggered items report
	// only then, as Go's netpoller expects: an always-writable fd would
	// otherwise wake it forever). Kept with the fd rather than the
	// epoll items so that marking it costs no search of the sets.
	epollPending uint8
}

// Every epoll set needs a bit of fdEntry.epollPending.
var _ [8 - maxEpolls]struct{}

// maxHandles bounds the server's open file descriptions.
const maxHandles = 4096

// handleRefs counts the fds (across dup) that refer to each server
// handle; when the last one closes, the server is told to release it.
var handleRefs [maxHandles]int32

// handleFD is an fd of the application's that refers to each handle: a
// hint, checked before use, that spares setHandleReady a scan of the fd
// table when the handle has a single reference (the usual case).
var handleFD [maxHandles]int32

// handleEvents is the readiness (epoll bits) of each server handle, as
// the server last reported it (sysGosvSetReady): regular files are
// always ready, pipes as their buffers say.
var handleEvents [maxHandles]atomic.Uint32

const readyAlways = 1 << 30

// setHandleReady records a handle's readiness and makes the
// application's poll and epoll waiters look again.
func setHandleReady(h int32, events uint32) int64 {
	if h < 0 || h >= maxHandles {
		return errnoResult(EINVAL)
	}
	force := events&ReadyForce != 0
	events &^= ReadyForce
	if handleEvents[h].Swap(events) == events && !force {
		return 0
	}
	fdLock.lock()
	defer fdLock.unlock()
	p := &procs[procApp]
	// Readiness reports are on the data path (ring sockets report after
	// every pump), so the usual case, one fd for the handle, is found
	// from its hint instead of by scanning the whole table.
	if fd := handleFD[h]; handleRefs[h] == 1 && p.fds[fd].kind == fdServer && p.fds[fd].handle == h {
		markPending(procApp, fd)
	} else {
		for fd := range p.fds {
			if e := &p.fds[fd]; e.kind == fdServer && e.handle == h {
				markPending(procApp, int32(fd))
				handleFD[h] = int32(fd)
			}
		}
	}
	for i := nextPollWaiter(0); i != noThread; i = nextPollWaiter(i + 1) {
		t := &threads[i]
		if t.proc == procApp && t.state.Load() == threadBlocked && (t.wait == waitPoll || t.wait == waitEpoll) {
			wakeRestart(i)
		}
	}
	return 0
}

// allocServerFD installs server handle h as the application's lowest
// free fd.
func allocServerFD(h int32, cloexec bool) int64 {
	if h < 0 || h >= maxHandles {
		return errnoResult(EINVAL)
	}
	fdLock.lock()
	defer fdLock.unlock()
	p := &procs[procApp]
	fd := p.allocFD(fdServer)
	if fd < 0 {
		return errnoResult(EMFILE)
	}
	p.fds[fd].handle = h
	p.fds[fd].cloexec = cloexec
	handleRefs[h]++
	handleFD[h] = int32(fd)
	return int64(fd)
}

// refServerFD takes a reference to the server handle behind the
// application's fd, for a file in flight in an SCM_RIGHTS message: the
// handle stays open while the message is queued, whatever the sender
// closes. Files the core serves itself (console, eventfd, epoll) have no
// handle to carry: EOPNOTSUPP.
func refServerFD(fd int64) int64 {
	fdLock.lock()
	defer fdLock.unlock()
	e, ok := procs[procApp].getFD(fd)
	if !ok {
		return errnoResult(EBADF)
	}
	if e.kind != fdServer {
		return errnoResult(EOPNOTSUPP)
	}
	handleRefs[e.handle]++
	return int64(e.handle)
}

// unrefHandle drops a reference refServerFD took. It returns 1 when that
// was the last one: no fd refers to h any more and the server must
// release it (as sysClose would have asked).
func unrefHandle(h int32) int64 {
	if h < 0 || h >= maxHandles {
		return errnoResult(EINVAL)
	}
	fdLock.lock()
	defer fdLock.unlock()
	if handleRefs[h] <= 0 {
		return errnoResult(EINVAL)
	}
	if handleRefs[h]--; handleRefs[h] == 0 {
		handleRings[h].Store(0)
		return 1
	}
	return 0
}

// handleOf returns the server handle of fd if it is a server fd, else -1.
func (p *process) handleOf(fd int64) int32 {
	fdLock.lock()
	defer fdLock.unlock()
	if e, ok := p.getFD(fd); ok && e.kind == fdServer {
		return e.handle
	}
	return -1
}

type epollItem struct {
	fd     int32
	events uint32
	data   uint64
}

// An eventfd's counter belongs to the open file, which every dup of the
// fd shares (as Linux's struct file), so it lives in a table of its own.
type eventfdObj struct {
	refs      int32 // fds referring to it; 0 = free
	counter   uint64
	semaphore bool // EFD_SEMAPHORE: reads take 1
	// nonblock is O_NONBLOCK, a flag of the open file: every dup sees
	// an F_SETFL made through any of them, as on Linux.
	nonblock bool
	fd       int32 // an fd referring to it: with refs 1, the only one
}

const maxEventfds = 64

var eventfds [maxEventfds]eventfdObj

// newEventfd claims a free eventfd object (fdLock held), or -1.
func newEventfd(counter uint64, semaphore, nonblock bool, fd int32) int32 {
	for k := range eventfds {
		if eventfds[k].refs == 0 {
			eventfds[k] = eventfdObj{refs: 1, counter: counter, semaphore: semaphore, nonblock: nonblock, fd: fd}
			return int32(k)
		}
	}
	return -1
}

// notifyEventfd tells epoll and poll waiters that eventfd object k
// changed, through every fd that refers to it (fdLock held).
func (p *process) notifyEventfd(k int32) {
	o := &eventfds[k]
	if e := &p.fds[o.fd]; o.refs == 1 && e.kind == fdEventfd && e.efd == k {
		p.notifyFD(o.fd)
		return
	}
	for fd := range p.fds {
		if e := &p.fds[fd]; e.kind == fdEventfd && e.efd == k {
			p.notifyFD(int32(fd))
		}
	}
}

type epollSet struct {
	used bool
	// refs counts the fds (across dup) referring to the set.
	refs int32
	// proc indexes procs (not a pointer: core code must not store Go
	// pointers, see doc.go).
	proc  uint8
	items [maxEpollItems]epollItem
	n     int
	// idleGen is readyGen as of the last collect that found nothing
	// ready; while readyGen still has that value, nothing can be, and a
	// non-blocking epoll_wait answers 0 without fdLock. Go's scheduler
	// polls that way (netpoll(0)) from every CPU looking for work, and
	// took fdLock for it against the server's readiness reports.
	idleGen atomic.Uint64
}

var (
	fdLock spinLock
	epolls [maxEpolls]epollSet
)

// allocFD returns the lowest free descriptor, or -1.
func (p *process) allocFD(kind fdKind) int {
	for i := range p.fds {
		if p.fds[i].kind == fdFree {
			p.fds[i] = fdEntry{kind: kind}
			return i
		}
	}
	return -1
}

func (p *process) getFD(fd int64) (*fdEntry, bool) {
	if fd < 0 || fd >= maxFDs || p.fds[fd].kind == fdFree {
		return nil, false
	}
	return &p.fds[fd], true
}

// closeFD frees fd. For a server fd whose handle loses its last
// reference, release is the handle the server must now drop (else -1).
func (p *process) closeFD(fd int64) (release int32, err errno) {
	release = -1
	e, ok := p.getFD(fd)
	if !ok {
		return -1, EBADF
	}
	if e.kind == fdServer {
		if handleRefs[e.handle]--; handleRefs[e.handle] == 0 {
			release = e.handle
			// The core stops using the rings now; the server may
			// still drain them, and frees them.
			handleRings[e.handle].Store(0)
		}
	}
	switch e.kind {
	case fdEpoll:
		ep := &epolls[e.epoll]
		if ep.refs--; ep.refs == 0 {
			ep.used = false
		}
	case fdEventfd:
		eventfds[e.efd].refs--
	}
	// Drop the fd from every epoll watching it, as Linux does when the
	// last reference goes.
	for i := range epolls {
		ep := &epolls[i]
		if &procs[ep.proc] != p {
			continue
		}
		for j := 0; j < ep.n; j++ {
			if ep.items[j].fd == int32(fd) {
				ep.items[j] = ep.items[ep.n-1]
				ep.n--
				j--
			}
		}
	}
	*e = fdEntry{}
	return release, 0
}

// dupFD copies fd to the lowest free fd >= min (or exactly to newfd for
// dup2/dup3 when exact is set, closing what was there).
func (p *process) dupFD(fd int64, min int64, exact bool, cloexec bool) (int64, int32, errno) {
	e, ok := p.getFD(fd)
	if !ok {
		return 0, -1, EBADF
	}
	if min < 0 || min >= maxFDs {
		return 0, -1, EINVAL
	}
	release := int32(-1)
	target := -1
	if exact {
		if min == fd {
			return fd, -1, 0
		}
		if _, busy := p.getFD(min); busy {
			release, _ = p.closeFD(min)
		}
		target = int(min)
	} else {
		for k := int(min); k < maxFDs; k++ {
			if p.fds[k].kind == fdFree {
				target = k
				break
			}
		}
		if target < 0 {
			return 0, -1, EMFILE
		}
	}
	p.fds[target] = *e
	p.fds[target].cloexec = cloexec
	switch e.kind {
	case fdServer:
		handleRefs[e.handle]++
	case fdEpoll:
		epolls[e.epoll].refs++
	case fdEventfd:
		eventfds[e.efd].refs++
	}
	return int64(target), release, 0
}

// readiness returns the epoll events fd is ready for.
func (p *process) readiness(fd int32) uint32 {
	e, ok := p.getFD(int64(fd))
	if !ok {
		return epollHup
	}
	switch e.kind {
	case fdEventfd:
		var r uint32
		if c := eventfds[e.efd].counter; c > 0 {
			r |= epollIn
		}
		if eventfds[e.efd].counter < eventfdMax {
			r |= epollOut
		}
		return r
	case fdConsole:
		return epollOut
	case fdServer:
		ev := handleEvents[e.handle].Load() &^ readyFlags
		if r := handleRings[e.handle].Load(); r != 0 {
			ev = ev&^(epollIn|epollOut) | ringReadiness((*StreamRing)(ptrAt(r)))
		}
		return ev
	}
	return 0
}

// epollCollect writes up to max ready events to the user array at buf.
func epollCollect(k int32, buf uintptr, max int) int {
	ep := &epolls[k]
	p := &procs[ep.proc]
	bit := uint8(1) << k
	n := 0
	for j := 0; j < ep.n && n < max; j++ {
		it := &ep.items[j]
		fe := &p.fds[it.fd] // items leave the set when their fd closes
		// Edge-triggered items with nothing new are skipped before
		// their readiness is computed: Go's netpoller registers every
		// fd that way, so most items are idle connections.
		if it.events&epollET != 0 && fe.epollPending&bit == 0 {
			continue
		}
		ready := p.readiness(it.fd) & (it.events | epollErr | epollHup)
		if ready == 0 {
			continue
		}
		fe.epollPending &^= bit
		// struct epoll_event is packed on x86-64: u32 events, u64 data.
		ev := buf + uintptr(n)*12
		*(*uint32)(ptrAt(ev)) = ready
		*(*uint64)(ptrAt(ev + 4)) = it.data
		n++
	}
	return n
}

// markPending records an event on fd of process proc for the
// edge-triggered epoll items watching it. fdLock must be held.
func markPending(proc uint8, fd int32) {
	if fd >= 0 && fd < maxFDs {
		procs[proc].fds[fd].epollPending = ^uint8(0)
		procs[proc].readyGen.Add(1)
	}
}

// notifyFD wakes epoll waiters that watch fd, so they look again.
func (p *process) notifyFD(fd int32) {
	markPending(uint8(p.index()), fd)
	for i := nextPollWaiter(0); i != noThread; i = nextPollWaiter(i + 1) {
		t := &threads[i]
		if t.state.Load() != threadBlocked || &procs[t.proc] != p {
			continue
		}
		if t.wait == waitPoll {
			wakeRestart(i)
			continue
		}
		if t.wait != waitEpoll {
			continue
		}
		e, ok := p.getFD(int64(t.epollFD))
		if !ok || e.kind != fdEpoll {
			continue
		}
		ep := &epolls[e.epoll]
		for j := 0; j < ep.n; j++ {
			if ep.items[j].fd == fd {
				wakeRestart(int32(i))
				break
			}
		}
	}
}
