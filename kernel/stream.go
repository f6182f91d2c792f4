package kernel

import (
	"sync/atomic"
	"syscall"
	"unsafe"

	"gosv/internal/memcopy"
)

// Stream rings: the data path of a connected TCP socket without the
// server. The server gives the core a StreamRing (Go memory it keeps
// alive) for a socket's handle: a receive ring it fills from the
// network stack and a send ring it drains into it. The core serves the
// application's reads and writes on that socket from the rings itself
// (read, write, readv, writev, recvfrom, sendto, recvmsg, sendmsg), so
// they cost a copy and no thread switch; the server hears of new data
// to send, or of room to receive into, through kicks queued with the
// forwarded calls, which the application never waits for.
//
// Indices are free-running uint32 counts; sizes are powers of two. Each
// index has one writer: RxTail and TxHead the server, RxHead and TxTail
// the core (one application call at a time per ring: ringLocks).

// StreamRing is shared by the core and the server. Its layout is fixed
// and it holds no Go pointers.
type StreamRing struct {
	RxBuf, TxBuf   uintptr
	RxSize, TxSize uint32
	RxHead, RxTail atomic.Uint32
	TxHead, TxTail atomic.Uint32
	// RxEnd is set by the server once the receive side has ended and
	// the ring holds all there is: RingEOF, or an errno.
	RxEnd atomic.Uint32
	// TxErr is the errno further writes get (EPIPE, ECONNRESET).
	TxErr atomic.Uint32
	// RxWant: the server found the receive ring full and wants a kick
	// when the core makes room. TxIdle: the server's sender is idle and
	// wants a kick when the core adds data.
	RxWant, TxIdle atomic.Uint32
	// TxWant: the core found the send ring full (a write that got
	// EAGAIN, or a readiness check: someone may wait for room), so the
	// server must report readiness when it makes room. As Linux's
	// SOCK_NOSPACE: without it, room made is not worth a report (and
	// the wake-up of every epoll waiter that a report costs).
	TxWant atomic.Uint32
}

// RingEOF in RxEnd marks the end of the stream.
const RingEOF = 1 << 16

// Kick kinds, in Request.Nr of a kick (Request.Thread < 0).
const (
	KickRx = 1 // room in the receive ring
	KickTx = 2 // data in the send ring
	// KickInterrupt: a signal interrupts the call of thread Args[0]
	// whose sequence number is Seq, if the server still serves it
	// (server.go, interruptServed).
	KickInterrupt = 3
)

const sysGosvAttachRing = 0x7ff7 // (handle, *StreamRing or 0)

// handleRings are the rings of server handles (0: none).
var handleRings [maxHandles]atomic.Uintptr

// ringLocks order application calls on each handle's rings (two
// threads reading one socket at once must not consume the same bytes).
var ringLocks [maxHandles]spinLock

func attachRing(h int32, ring uintptr) int64 {
	if h < 0 || h >= maxHandles || ring&7 != 0 {
		return errnoResult(EINVAL)
	}
	if ring != 0 {
		r := (*StreamRing)(ptrAt(ring))
		if !powerOfTwo(r.RxSize) || !powerOfTwo(r.TxSize) || r.RxBuf == 0 || r.TxBuf == 0 {
			return errnoResult(EINVAL)
		}
	}
	handleRings[h].Store(ring)
	return 0
}

func powerOfTwo(n uint32) bool { return n != 0 && n&(n-1) == 0 }

// AttachRing gives the core the rings of server handle h (nil detaches).
// The server must keep r alive until the handle is released.
func AttachRing(h int32, r *StreamRing) error {
	_, _, e := syscall.RawSyscall(sysGosvAttachRing, uintptr(h), uintptr(unsafe.Pointer(r)), 0)
	if e != 0 {
		return e
	}
	return nil
}

// kickRing queues a kick for the server: kicks share the request queue's
// lock and waiter; each (handle, kind) is queued at most once at a time
// (the ring's RxWant and TxIdle flags say so).
var kicks struct {
	ring       [2 * maxHandles]int32
	head, size int
}

func postKick(h int32, kind int32) {
	requests.lock.lock()
	if kicks.size < len(kicks.ring) {
		kicks.ring[(kicks.head+kicks.size)%len(kicks.ring)] = h<<2 | kind
		kicks.size++
	}
	unlockRequestsWakingServer()
}

// ringReadiness is the epoll view of a ring's handle: readable with
// data or at the end, writable with room or after a send error.
func ringReadiness(r *StreamRing) uint32 {
	var ev uint32
	if r.RxTail.Load() != r.RxHead.Load() || r.RxEnd.Load() != 0 {
		ev |= epollIn
	}
	if txRoom(r) || r.TxErr.Load() != 0 {
		ev |= epollOut
	}
	return ev
}

// txRoom reports whether the send ring has room, and if it has none,
// asks the server for a report when it makes some (TxWant). The flag is
// set before the second look, and the server moves TxHead before it
// looks at the flag, so one of the two sees the other.
func txRoom(r *StreamRing) bool {
	if r.HasTxRoom() {
		return true
	}
	r.TxWant.Store(1)
	return r.HasTxRoom()
}

// HasTxRoom reports whether the send ring has room for a byte.
func (r *StreamRing) HasTxRoom() bool { return r.TxTail.Load()-r.TxHead.Load() < r.TxSize }

// iovec is one piece of an application buffer.
type iovec struct{ base, len uintptr }

const maxIOV = 1024

// iovList is an application buffer: one piece, or an iovec array in
// application memory (read in place: the trap stack has no room for
// 1024 of them).
type iovList struct {
	one  iovec
	addr uintptr // the array, if cnt > 0
	cnt  int
}

func (l *iovList) len() int {
	if l.addr == 0 {
		return 1
	}
	return l.cnt
}

func (l *iovList) at(k int) iovec {
	if l.addr == 0 {
		return l.one
	}
	p := l.addr + 16*uintptr(k)
	return iovec{*(*uintptr)(ptrAt(p)), *(*uintptr)(ptrAt(p + 8))}
}

// ringCall serves f, a call on server handle h, from h's rings if it
// has them and f is a data call; ok is false to forward f.
func ringCall(c *cpuLocal, t *thread, i int32, f *Frame, h int32) (r int64, ok bool) {
	if h < 0 || h >= maxHandles {
		return 0, false
	}
	addr := handleRings[h].Load()
	if addr == 0 {
		return 0, false
	}
	ring := (*StreamRing)(ptrAt(addr))
	var iov iovList
	var flags uint64
	recv := false
	switch f.RAX {
	case 0, 1: // read, write
		iov.one = iovec{uintptr(f.RSI), uintptr(f.RDX)}
		recv = f.RAX == 0
	case 19, 20: // readv, writev
		if e := iov.set(uintptr(f.RSI), f.RDX); e != 0 {
			return errnoResult(e), true
		}
		recv = f.RAX == 19
	case 45: // recvfrom(fd, buf, len, flags, addr, addrlen)
		iov.one, flags, recv = iovec{uintptr(f.RSI), uintptr(f.RDX)}, f.R10, true
		if f.R9 != 0 { // a connected stream has no source address to give
			if !space.access(uintptr(f.R9), 4, true) {
				return errnoResult(EFAULT), true
			}
			*(*uint32)(ptrAt(uintptr(f.R9))) = 0
		}
	case 44: // sendto(fd, buf, len, flags, addr, addrlen)
		if f.R8 != 0 {
			return errnoResult(EISCONN), true
		}
		iov.one, flags = iovec{uintptr(f.RSI), uintptr(f.RDX)}, f.R10
	case 46, 47: // sendmsg, recvmsg(fd, msghdr, flags)
		msg := uintptr(f.RSI)
		if !space.access(msg, 56, f.RAX == 47) {
			return errnoResult(EFAULT), true
		}
		if e := iov.set(*(*uintptr)(ptrAt(msg + 16)), *(*uint64)(ptrAt(msg + 24))); e != 0 {
			return errnoResult(e), true
		}
		flags, recv = f.RDX, f.RAX == 47
		if recv {
			*(*uint32)(ptrAt(msg + 8)) = 0  // msg_namelen
			*(*uint64)(ptrAt(msg + 40)) = 0 // msg_controllen
			*(*int32)(ptrAt(msg + 48)) = 0  // msg_flags
		} else if *(*uintptr)(ptrAt(msg)) != 0 {
			return errnoResult(EISCONN), true
		}
	default: // sendfile goes to the server, which sends the ring's data first
		return 0, false
	}
	const msgPeek, msgOOB = 0x2, 0x1
	if flags&msgOOB != 0 {
		return errnoResult(EINVAL), true
	}
	for k := 0; k < iov.len(); k++ {
		if v := iov.at(k); v.len > 0 && !space.access(v.base, v.len, recv) {
			return errnoResult(EFAULT), true
		}
	}
	if !recv && bypassRing(ring, &iov) {
		return 0, false
	}
	nonblock := handleEvents[h].Load()&ReadyNonblock != 0 || flags&msgDontwait != 0
	for {
		ringLocks[h].lock()
		var got int64
		if recv {
			got = ringRecv(ring, h, &iov, flags&msgPeek != 0)
		} else {
			got = ringSend(ring, h, &iov)
		}
		ringLocks[h].unlock()
		if got != errnoResult(EAGAIN) || nonblock {
			return got, true
		}
		// A blocking socket: wait as poll does for the server's next
		// report (setHandleReady wakes poll waiters under fdLock, after
		// the server moved the ring's index), then run the call again.
		want := uint32(epollOut)
		if recv {
			want = epollIn
		}
		fdLock.lock()
		if ringReadiness(ring)&want == 0 {
			c.sched.block(i, f, waitPoll, 0, errnoResult(EINTR), 0)
			fdLock.unlock()
			return sysBlocked, true
		}
		fdLock.unlock() // it changed meanwhile: try again
	}
}

// bypassRing reports whether a write should go to the server, straight
// into the endpoint, rather than through the send ring: a bulk write
// (more than half the ring) while the ring is empty and its sender
// idle, so nothing written earlier can be overtaken. The endpoint's
// send buffer takes far more than the ring, which spares a bulk sender
// a round trip (the application waits for room, the server drains the
// ring, the application wakes) per ring's worth.
func bypassRing(r *StreamRing, iov *iovList) bool {
	return iov.total() > uintptr(r.TxSize/2) && r.TxIdle.Load() == 1 && r.TxHead.Load() == r.TxTail.Load() && r.TxErr.Load() == 0
}

// total is the buffer's length.
func (l *iovList) total() uintptr {
	var n uintptr
	for k := 0; k < l.len(); k++ {
		n += l.at(k).len
	}
	return n
}

// set makes l the iovec array of cnt entries at addr, checked.
func (l *iovList) set(addr uintptr, cnt uint64) errno {
	if cnt > maxIOV {
		return EINVAL
	}
	if cnt > 0 && !space.access(addr, uintptr(cnt)*16, false) {
		return EFAULT
	}
	l.addr, l.cnt = addr, int(cnt)
	if cnt == 0 {
		l.addr, l.one = 0, iovec{}
	}
	for k := 0; k < l.cnt; k++ {
		if int64(l.at(k).len) < 0 {
			return EINVAL
		}
	}
	return 0
}

// ringCopy copies up to limit bytes between the ring at buf (size
// bytes, starting at free-running index from) and iov, into iov when
// toUser is set, and returns how many it copied.
func ringCopy(buf uintptr, size, from, limit uint32, iov *iovList, toUser bool) uint32 {
	var done uint32
	for k := 0; k < iov.len() && done < limit; k++ {
		v := iov.at(k)
		for off := uintptr(0); off < v.len && done < limit; {
			pos := (from + done) & (size - 1)
			chunk := min(uintptr(limit-done), v.len-off, uintptr(size-pos))
			user, ring := userBytes(v.base+off, chunk), userBytes(buf+uintptr(pos), chunk)
			if toUser {
				memcopy.Copy(user, ring)
			} else {
				memcopy.Copy(ring, user)
			}
			off += chunk
			done += uint32(chunk)
		}
	}
	return done
}

// ringRecv copies received bytes into iov. ringLocks[h] held.
func ringRecv(r *StreamRing, h int32, iov *iovList, peek bool) int64 {
	if iov.total() == 0 {
		return 0 // as Linux: a zero-length read never waits
	}
	head, tail := r.RxHead.Load(), r.RxTail.Load()
	avail := tail - head
	if avail == 0 {
		switch end := r.RxEnd.Load(); {
		case end == RingEOF:
			return 0
		case end != 0:
			return errnoResult(errno(end))
		}
		return errnoResult(EAGAIN)
	}
	done := ringCopy(r.RxBuf, r.RxSize, head, avail, iov, true)
	if !peek {
		r.RxHead.Store(head + done)
		if r.RxWant.CompareAndSwap(1, 0) {
			postKick(h, KickRx)
		}
	}
	return int64(done)
}

// ringSend copies iov into the send ring. ringLocks[h] held.
func ringSend(r *StreamRing, h int32, iov *iovList) int64 {
	if e := r.TxErr.Load(); e != 0 {
		return errnoResult(errno(e))
	}
	if iov.total() == 0 {
		return 0
	}
	if !txRoom(r) {
		return errnoResult(EAGAIN)
	}
	head, tail := r.TxHead.Load(), r.TxTail.Load()
	room := r.TxSize - (tail - head)
	done := ringCopy(r.TxBuf, r.TxSize, tail, room, iov, false)
	r.TxTail.Store(tail + done)
	if r.TxIdle.CompareAndSwap(1, 0) {
		postKick(h, KickTx)
	}
	return int64(done)
}
