package kernel

// File-descriptor system calls for the kinds of fd core code knows.

const (
	fDupFD        = 0
	fDupFDCloexec = 1030
	fGetFD        = 1
	fSetFD        = 2
	fGetFL        = 3
	fSetFL        = 4
	fGetLk        = 5 // record locks, served with the file
	fSetLk        = 6
	fSetLkw       = 7
	fdCloexec     = 1
	oRDWR         = 2
)

func sysRead(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if r, ok := serveIfServerFD(c, t, i, f); ok {
		return r
	}
	fdLock.lock()
	defer fdLock.unlock()
	e, ok := procOf(t).getFD(int64(f.RDI))
	if !ok {
		return errnoResult(EBADF)
	}
	buf, n := uintptr(f.RSI), uintptr(f.RDX)
	switch e.kind {
	case fdConsole:
		return 0 // no console input yet: end of file
	case fdEventfd:
		if n < 8 {
			return errnoResult(EINVAL)
		}
		o := &eventfds[e.efd]
		if o.counter == 0 {
			if o.nonblock {
				return errnoResult(EAGAIN)
			}
			// Wait as poll does: a write restarts the read.
			c.sched.block(i, f, waitPoll, 0, errnoResult(EINTR), 0)
			return sysBlocked
		}
		if !space.access(buf, 8, true) {
			return errnoResult(EFAULT)
		}
		v := o.counter
		if o.semaphore {
			v = 1
		}
		*(*uint64)(ptrAt(buf)) = v
		o.counter -= v
		procOf(t).notifyEventfd(e.efd) // room for blocked writers
		return 8
	}
	return errnoResult(EINVAL)
}

func sysWrite(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if r, ok := serveIfServerFD(c, t, i, f); ok {
		return r
	}
	return writeFD(c, i, f, procOf(t), int64(f.RDI), uintptr(f.RSI), uintptr(f.RDX), true)
}

// writeFD writes to a core fd. A blocking eventfd write without room
// blocks thread i (restarted by the read that makes room) if mayBlock,
// else says EAGAIN.
func writeFD(c *cpuLocal, i int32, f *Frame, p *process, fd int64, buf, n uintptr, mayBlock bool) int64 {
	fdLock.lock()
	e, ok := p.getFD(fd)
	if !ok {
		fdLock.unlock()
		return errnoResult(EBADF)
	}
	kind := e.kind
	switch kind {
	case fdConsole:
		fdLock.unlock()
		if !space.access(buf, n, false) {
			return errnoResult(EFAULT)
		}
		consoleWrite(userBytes(buf, n))
		return int64(n)
	case fdEventfd:
		defer fdLock.unlock()
		if n < 8 {
			return errnoResult(EINVAL)
		}
		if !space.access(buf, 8, false) {
			return errnoResult(EFAULT)
		}
		v := *(*uint64)(ptrAt(buf))
		if v == ^uint64(0) {
			return errnoResult(EINVAL)
		}
		o := &eventfds[e.efd]
		if v > eventfdMax-o.counter {
			if o.nonblock || !mayBlock {
				return errnoResult(EAGAIN)
			}
			// A blocking write waits for a read to make room.
			c.sched.block(i, f, waitPoll, 0, errnoResult(EINTR), 0)
			return sysBlocked
		}
		o.counter += v
		p.notifyEventfd(e.efd)
		return 8
	}
	fdLock.unlock()
	return errnoResult(EINVAL)
}

// userBytes views n bytes of user memory already checked by access.
func userBytes(addr, n uintptr) []byte {
	if n == 0 {
		return nil
	}
	return (*[1 << 30]byte)(ptrAt(addr))[:n:n]
}

func sysWritev(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if r, ok := serveIfServerFD(c, t, i, f); ok {
		return r
	}
	iov, cnt := uintptr(f.RSI), int(f.RDX)
	if cnt < 0 || cnt > 1024 {
		return errnoResult(EINVAL)
	}
	if !space.access(iov, uintptr(cnt)*16, false) {
		return errnoResult(EFAULT)
	}
	var total int64
	for k := 0; k < cnt; k++ {
		base := *(*uintptr)(ptrAt(iov + uintptr(k)*16))
		n := *(*uintptr)(ptrAt(iov + uintptr(k)*16 + 8))
		if n == 0 {
			continue
		}
		r := writeFD(c, i, f, procOf(t), int64(f.RDI), base, n, total == 0)
		if r < 0 {
			if total > 0 {
				return total
			}
			return r
		}
		total += r
	}
	return total
}

// sysOpen and sysOpenat: core code has no filesystem; the runtime's
// probes (transparent hugepage size, cgroup files) get ENOENT, which it
// handles.
// Calls on files that only the server can answer: reads and writes on
// core fds are handled in place, anything on a server fd goes there.
func sysFDCall(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if r, ok := serveIfServerFD(c, t, i, f); ok {
		return r
	}
	if _, ok := procOf(t).getFD(int64(int32(f.RDI))); !ok {
		return errnoResult(EBADF)
	}
	switch f.RAX {
	case 19, 295: // readv, preadv on the console: end of file
		return 0
	case 74, 75: // fsync, fdatasync: nothing to write back
		return 0
	case 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 54, 55, 288, 299, 307:
		return errnoResult(ENOTSOCK) // socket calls on a console or eventfd
	case 40:
		// sendfile to the console or an eventfd: EINVAL, which makes
		// callers (cat, Go's io.Copy) fall back to read and write.
		return errnoResult(EINVAL)
	}
	return errnoResult(ESPIPE) // pread/lseek/getdents on a console or eventfd
}

func sysClose(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	fdLock.lock()
	release, err := procOf(t).closeFD(int64(f.RDI))
	fdLock.unlock()
	if err != 0 {
		return errnoResult(err)
	}
	if release >= 0 {
		// The server drops the open file; close returns its verdict.
		return forward(c, t, i, f, release)
	}
	return 0
}

func sysDup(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	return dupResult(c, t, i, f, int64(f.RDI), 0, false, false)
}

func sysDup2(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	return dupResult(c, t, i, f, int64(f.RDI), int64(f.RSI), true, false)
}

func sysDup3(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if f.RDI == f.RSI || f.RDX&^oCloexec != 0 {
		return errnoResult(EINVAL)
	}
	return dupResult(c, t, i, f, int64(f.RDI), int64(f.RSI), true, f.RDX&oCloexec != 0)
}

// dupResult duplicates an fd; if that closed the last reference to a
// server handle, the server is told (and the call returns after it).
func dupResult(c *cpuLocal, t *thread, i int32, f *Frame, fd, min int64, exact, cloexec bool) int64 {
	fdLock.lock()
	nfd, release, err := procOf(t).dupFD(fd, min, exact, cloexec)
	fdLock.unlock()
	if err != 0 {
		return errnoResult(err)
	}
	if release >= 0 {
		// Close the replaced handle in the server; the dup's result
		// is the new fd whatever the server says.
		r := forward(c, t, i, f, release)
		t.req.Override, t.req.HasOverride = nfd, true
		return r
	}
	return nfd
}

// sysServe hands a call to the system-call server (application only;
// the kernel's runtime has no filesystem through system calls).
func sysServe(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if t.proc != procApp {
		return errnoResult(ENOENT)
	}
	return forward(c, t, i, f, procOf(t).handleOf(int64(int32(f.RDI))))
}

// sysServeTimer forwards the application's timer calls (alarm,
// setitimer, timer_create and the rest, timerfd_create) to the server,
// which keeps its timers (kernel/appsys/timers.go); their first
// argument is no fd. The kernel's own runtime has none.
func sysServeTimer(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if t.proc != procApp {
		return errnoResult(ENOSYS)
	}
	return forward(c, t, i, f, -1)
}

// serveIfServerFD forwards a call on fd arg0 when it is a server fd,
// reporting false to let the core handle it otherwise.
func serveIfServerFD(c *cpuLocal, t *thread, i int32, f *Frame) (int64, bool) {
	if t.proc != procApp {
		return 0, false
	}
	if h := procOf(t).handleOf(int64(int32(f.RDI))); h >= 0 {
		return forward(c, t, i, f, h), true
	}
	return 0, false
}

func sysIoctl(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if r, ok := serveIfServerFD(c, t, i, f); ok {
		return r
	}
	fdLock.lock()
	defer fdLock.unlock()
	if _, ok := procOf(t).getFD(int64(f.RDI)); !ok {
		return errnoResult(EBADF)
	}
	return errnoResult(ENOTTY)
}

func sysFcntl(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	fdLock.lock()
	defer fdLock.unlock()
	e, ok := procOf(t).getFD(int64(f.RDI))
	if !ok {
		return errnoResult(EBADF)
	}
	switch f.RSI {
	case fDupFD, fDupFDCloexec:
		fdLock.unlock()
		r := dupResult(c, t, i, f, int64(f.RDI), int64(f.RDX), false, f.RSI == fDupFDCloexec)
		fdLock.lock()
		return r
	case fGetFL, fSetFL, fGetLk, fSetLk, fSetLkw:
		if e.kind == fdServer {
			fdLock.unlock()
			r := forward(c, t, i, f, e.handle)
			fdLock.lock()
			return r
		}
	}
	switch f.RSI {
	case fGetFD:
		if e.cloexec {
			return fdCloexec
		}
		return 0
	case fSetFD:
		e.cloexec = f.RDX&fdCloexec != 0
		return 0
	case fGetFL:
		if e.kind == fdEventfd && eventfds[e.efd].nonblock {
			return oNonblock | oRDWR
		}
		return int64(e.flags | oRDWR)
	case fSetFL:
		if e.kind == fdEventfd {
			eventfds[e.efd].nonblock = f.RDX&oNonblock != 0
			return 0
		}
		e.flags = uint32(f.RDX) & oNonblock
		return 0
	}
	return errnoResult(EINVAL)
}

func sysEventfd2(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	fdLock.lock()
	defer fdLock.unlock()
	if f.RSI&^(efdSemaphore|oNonblock|oCloexec) != 0 {
		return errnoResult(EINVAL)
	}
	p := procOf(t)
	fd := p.allocFD(fdEventfd)
	if fd < 0 {
		return errnoResult(EMFILE)
	}
	k := newEventfd(uint64(uint32(f.RDI)), f.RSI&efdSemaphore != 0, f.RSI&oNonblock != 0, int32(fd))
	if k < 0 {
		p.fds[fd] = fdEntry{}
		return errnoResult(EMFILE)
	}
	p.fds[fd].efd = k
	p.fds[fd].cloexec = f.RSI&oCloexec != 0
	return int64(fd)
}

const (
	efdSemaphore = 1
	// eventfdMax is the largest counter value (a write that would pass
	// it blocks or fails with EAGAIN).
	eventfdMax = ^uint64(0) - 1
)

func sysEpollCreate1(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	fdLock.lock()
	defer fdLock.unlock()
	set := -1
	for k := range epolls {
		if !epolls[k].used {
			set = k
			break
		}
	}
	if set < 0 {
		return errnoResult(EMFILE)
	}
	p := procOf(t)
	fd := p.allocFD(fdEpoll)
	if fd < 0 {
		return errnoResult(EMFILE)
	}
	epolls[set] = epollSet{used: true, refs: 1, proc: t.proc}
	p.fds[fd].epoll = int32(set)
	p.fds[fd].cloexec = f.RDI&oCloexec != 0
	return int64(fd)
}

func sysEpollCtl(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	fdLock.lock()
	defer fdLock.unlock()
	e, ok := procOf(t).getFD(int64(f.RDI))
	if !ok {
		return errnoResult(EBADF)
	}
	if e.kind != fdEpoll {
		return errnoResult(EINVAL)
	}
	target := int32(f.RDX)
	te, ok := procOf(t).getFD(int64(target))
	if !ok {
		return errnoResult(EBADF)
	}
	if te.kind == fdServer && handleEvents[te.handle].Load()&readyAlways != 0 {
		return errnoResult(EPERM)
	}
	ep := &epolls[e.epoll]
	procOf(t).readyGen.Add(1) // whatever the change, the set's last idle collect is stale
	idx := -1
	for k := 0; k < ep.n; k++ {
		if ep.items[k].fd == target {
			idx = k
		}
	}
	op := f.RSI
	var events uint32
	var data uint64
	if op != epollCtlDel {
		ev := uintptr(f.R10)
		if !space.access(ev, 12, false) {
			return errnoResult(EFAULT)
		}
		events = *(*uint32)(ptrAt(ev))
		data = *(*uint64)(ptrAt(ev + 4))
	}
	switch op {
	case epollCtlAdd:
		if idx >= 0 {
			return errnoResult(EEXIST)
		}
		if ep.n == maxEpollItems {
			return errnoResult(ENOSPC)
		}
		ep.items[ep.n] = epollItem{target, events, data}
		ep.n++
		te.epollPending |= 1 << e.epoll // report what is ready now
	case epollCtlMod:
		if idx < 0 {
			return errnoResult(ENOENT)
		}
		ep.items[idx] = epollItem{target, events, data}
		te.epollPending |= 1 << e.epoll
	case epollCtlDel:
		if idx < 0 {
			return errnoResult(ENOENT)
		}
		ep.items[idx] = ep.items[ep.n-1]
		ep.n--
	default:
		return errnoResult(EINVAL)
	}
	if op != epollCtlDel && procOf(t).readiness(target)&(events|epollErr|epollHup) != 0 {
		// Linux wakes the set's waiters when an added or changed item
		// is ready at once. Go's netpoller relies on it: one thread
		// blocks in epoll_wait while another adds a socket whose
		// connect finished before the add, and nothing else would
		// ever report that.
		wakeEpollWaiters(procOf(t), e.epoll)
	}
	return 0
}

// wakeEpollWaiters makes the threads blocked in epoll_wait on epoll set
// k look again. fdLock must be held.
func wakeEpollWaiters(p *process, k int32) {
	for i := nextPollWaiter(0); i != noThread; i = nextPollWaiter(i + 1) {
		t := &threads[i]
		if t.state.Load() != threadBlocked || t.wait != waitEpoll || &procs[t.proc] != p {
			continue
		}
		if e, ok := p.getFD(int64(t.epollFD)); ok && e.kind == fdEpoll && e.epoll == k {
			wakeRestart(i)
		}
	}
}

func sysEpollWait(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	return epollWait(c, t, i, f)
}

func sysEpollPwait(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	// The signal mask argument (R8) is applied for the duration of the
	// wait on Linux; the runtime passes none.
	return epollWait(c, t, i, f)
}

func epollWait(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if int32(f.R10) == 0 && epollIdle(procOf(t), int64(f.RDI), int(int32(f.RDX))) {
		return 0
	}
	fdLock.lock()
	defer fdLock.unlock()
	e, ok := procOf(t).getFD(int64(f.RDI))
	if !ok {
		return errnoResult(EBADF)
	}
	if e.kind != fdEpoll {
		return errnoResult(EINVAL)
	}
	buf, max, timeout := uintptr(f.RSI), int(int32(f.RDX)), int64(int32(f.R10))
	if max <= 0 || max > 1<<16 {
		return errnoResult(EINVAL)
	}
	if !space.access(buf, uintptr(max)*12, true) {
		return errnoResult(EFAULT)
	}
	gen := procOf(t).readyGen.Load()
	n := epollCollect(e.epoll, buf, max)
	if n == 0 {
		epolls[e.epoll].idleGen.Store(gen)
	}
	if n > 0 || timeout == 0 {
		return int64(n)
	}
	var deadline int64
	if timeout > 0 {
		deadline = nanotime() + timeout*1e6
	}
	t.epollFD = int32(f.RDI)
	c.sched.block(i, f, waitEpoll, deadline, 0, 0)
	return sysBlocked
}

// epollIdle reports, without fdLock, that epoll fd has nothing ready
// (epollSet.idleGen). It reads the fd table unlocked: an fd closed
// meanwhile answers "idle", as a poll just before the close would
// have. Bad arguments are left to the locked path to report.
func epollIdle(p *process, fd int64, max int) bool {
	if fd < 0 || fd >= maxFDs || max <= 0 || max > 1<<16 {
		return false
	}
	e := &p.fds[fd]
	if e.kind != fdEpoll {
		return false
	}
	ep := &epolls[e.epoll]
	return ep.used && ep.idleGen.Load() == p.readyGen.Load()
}

// Linux's struct stat on x86-64 (144 bytes) and the file types core fds
// have.
const (
	statSize = 144
	sIFCHR   = 0o020000
	sIFIFO   = 0o010000
	atEmpty  = 0x1000 // AT_EMPTY_PATH
)

func sysFstat(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if r, ok := serveIfServerFD(c, t, i, f); ok {
		return r
	}
	return fstatFD(procOf(t), int64(f.RDI), uintptr(f.RSI))
}

// sysNewfstatat serves the fd form (AT_EMPTY_PATH with an empty path);
// paths need a filesystem.
func sysNewfstatat(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	path := uintptr(f.RSI)
	if f.R10&atEmpty == 0 || !space.access(path, 1, false) || *(*byte)(ptrAt(path)) != 0 ||
		procOf(t).handleOf(int64(int32(f.RDI))) >= 0 {
		return sysServe(c, t, i, f)
	}
	return fstatFD(procOf(t), int64(int32(f.RDI)), uintptr(f.RDX))
}

func fstatFD(p *process, fd int64, buf uintptr) int64 {
	fdLock.lock()
	e, ok := p.getFD(fd)
	var mode uint32
	if ok {
		switch e.kind {
		case fdConsole:
			mode = sIFCHR | 0o620
		default:
			mode = sIFIFO | 0o600 // eventfd and epoll look like anonymous inodes
		}
	}
	fdLock.unlock()
	if !ok {
		return errnoResult(EBADF)
	}
	if !space.access(buf, statSize, true) {
		return errnoResult(EFAULT)
	}
	st := (*[statSize]byte)(ptrAt(buf))
	clear(st[:])
	put64 := func(off int, v uint64) { *(*uint64)(ptrAt(buf + uintptr(off))) = v }
	put64(0, 5)            // st_dev
	put64(8, uint64(fd+1)) // st_ino
	put64(16, 1)           // st_nlink
	*(*uint32)(ptrAt(buf + 24)) = mode
	if mode&sIFCHR != 0 {
		put64(40, 4<<8|64) // st_rdev: ttyS0 (4, 64)
	}
	put64(56, 1024) // st_blksize
	return 0
}
