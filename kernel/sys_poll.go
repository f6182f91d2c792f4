package kernel

// poll and ppoll. Core fds (console, eventfds, epolls) report their real
// readiness; files served by the server are always ready, as regular
// files are on Linux. A poll with nothing ready sleeps until its
// timeout, or until an eventfd write restarts it (like epoll_wait).

const (
	pollIn   = 0x1
	pollOut  = 0x4
	pollErr  = 0x8
	pollHup  = 0x10
	pollNval = 0x20
)

func sysPoll(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	timeout := int64(int32(f.RDX))
	deadline := int64(0)
	if timeout > 0 {
		deadline = nanotime() + timeout*1e6
	}
	return doPoll(c, t, i, f, uintptr(f.RDI), int(f.RSI), timeout == 0, deadline)
}

func sysPpoll(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	deadline := int64(0)
	immediate := false
	if ts := uintptr(f.RDX); ts != 0 {
		d, err := readTimespec(ts)
		if err != 0 {
			return errnoResult(err)
		}
		immediate = d == 0
		deadline = nanotime() + d
	}
	return doPoll(c, t, i, f, uintptr(f.RDI), int(f.RSI), immediate, deadline)
}

func doPoll(c *cpuLocal, t *thread, i int32, f *Frame, fds uintptr, n int, immediate bool, deadline int64) int64 {
	if n < 0 || n > maxFDs*4 {
		return errnoResult(EINVAL)
	}
	if !space.access(fds, uintptr(n)*8, true) {
		return errnoResult(EFAULT)
	}
	p := procOf(t)
	fdLock.lock()
	ready := 0
	for k := 0; k < n; k++ {
		ent := fds + uintptr(k)*8
		fd := *(*int32)(ptrAt(ent))
		events := *(*int16)(ptrAt(ent + 4))
		var rev int16
		if fd >= 0 {
			_, ok := p.getFD(int64(fd))
			switch {
			case !ok:
				rev = pollNval
			default:
				r := p.readiness(fd)
				if r&epollIn != 0 {
					rev |= events & pollIn
				}
				if r&epollOut != 0 {
					rev |= events & pollOut
				}
				rev |= int16(r & (epollErr | epollHup))
			}
		}
		*(*int16)(ptrAt(ent + 6)) = rev
		if rev != 0 {
			ready++
		}
	}
	if ready > 0 || immediate {
		fdLock.unlock()
		return int64(ready)
	}
	// Nothing ready: wait, and look again when woken.
	t.epollFD = -1
	c.sched.block(i, f, waitPoll, deadline, 0, 0)
	fdLock.unlock()
	return sysBlocked
}

// sysSysinfo fills struct sysinfo.
func sysSysinfo(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	buf := uintptr(f.RDI)
	const size = 112
	if !space.access(buf, size, true) {
		return errnoResult(EFAULT)
	}
	b := (*[size]byte)(ptrAt(buf))
	clear(b[:])
	put := func(off uintptr, v uint64) { *(*uint64)(ptrAt(buf + off)) = v }
	total, free := phys.totalPages*pageSize, (phys.freePages+phys.limboPages)*pageSize
	put(0, uint64(nanotime()/1e9))
	put(32, total)
	put(40, free)
	*(*uint16)(ptrAt(buf + 80)) = uint16(liveThreads(t.proc))
	*(*uint32)(ptrAt(buf + 104)) = 1 // mem_unit
	return 0
}
