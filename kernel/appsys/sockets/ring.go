package sockets

import (
	"sync"
	"syscall"
	"time"
	"unsafe"

	"gvisor.dev/gvisor/pkg/waiter"

	"gosv/kernel"
)

// Stream rings (kernel/stream.go): a connected, non-blocking TCP socket
// can hand its data path to the core. Its receive ring is filled here
// from the endpoint and its send ring drained into the endpoint, by the
// socket's own goroutine (publishLoop) whenever the endpoint reports an
// event or the core kicks; the application's reads and writes never
// come here.

// RingSize is each ring's size: 128 KiB of kernel heap per connection.
// Under TCG (single quick runs), 64 KiB rings served the HTTP benchmark as well as 128 KiB
// ones; 32 KiB halved bulk sending (the application waits for room
// more often).
const RingSize = 64 << 10

// flushTimeout bounds how long a closed socket keeps sending what the
// application wrote before it closed.
const flushTimeout = 30 * time.Second

type rings struct {
	kernel.StreamRing
	rx, tx []byte
	// mu makes pumping single-threaded (the loop, Shutdown, Close).
	mu sync.Mutex
	// segs is the pump's scratch for segments, under mu.
	segs [2][]byte
}

// Ringable reports whether s may use rings: a TCP connection that
// Accept made non-blocking (Go's servers, event-driven C servers).
func (s *Socket) Ringable() bool { return s.ringable }

// Rings gives s its rings and returns them for kernel.AttachRing. The
// caller attaches them before SetNotify.
func (s *Socket) Rings() *kernel.StreamRing {
	if s.ring == nil {
		r := &rings{rx: make([]byte, RingSize), tx: make([]byte, RingSize)}
		// The core copies to and from these with no page faults
		// allowed: touch every page now (fresh heap memory is mapped
		// on first touch).
		for i := 0; i < RingSize; i += 4096 {
			r.rx[i], r.tx[i] = 1, 1
		}
		r.RxBuf, r.TxBuf = uintptrOf(r.rx), uintptrOf(r.tx)
		r.RxSize, r.TxSize = RingSize, RingSize
		r.TxIdle.Store(1)
		s.ring = r
	}
	return &s.ring.StreamRing
}

// HasRings reports whether Rings was called.
func (s *Socket) HasRings() bool { return s.ring != nil }

// Kick makes the socket's goroutine pump its rings (the core asks when
// it added data to send or made room to receive into).
func (s *Socket) Kick() {
	if s.kick != nil {
		s.kick.Notify()
	}
}

// pump moves data between the endpoint and the rings until either
// would block, and reports whether the socket's readiness must be
// reported: data arrived, the state changed, or the core waits for room
// in the send ring that was made (TxWant).
func (s *Socket) pump() bool {
	r := s.ring
	r.mu.Lock()
	defer r.mu.Unlock()
	tx := s.pumpTx()
	rx := s.pumpRx()
	return tx || rx
}

// pumpTx sends what the send ring holds, and reports whether readiness
// must be reported (see pump). r.mu held.
func (s *Socket) pumpTx() (report bool) {
	r := s.ring
	defer func() {
		// Room to report: TxHead moved before this look (see
		// kernel.txRoom).
		if r.TxWant.Load() != 0 && r.HasTxRoom() && r.TxWant.CompareAndSwap(1, 0) {
			report = true
		}
	}()
	for {
		head, tail := r.TxHead.Load(), r.TxTail.Load()
		if head == tail {
			r.TxIdle.Store(1)
			// Data added after the load above kicks; data added before
			// the store is seen here.
			if r.TxTail.Load() != head && r.TxIdle.CompareAndSwap(1, 0) {
				continue
			}
			return report
		}
		if r.TxErr.Load() != 0 {
			r.TxHead.Store(tail) // nobody will send it
			continue
		}
		n, err := s.impl.send(r.segments(r.tx, head, tail), nil, 0)
		if n > 0 {
			r.TxHead.Store(head + uint32(n))
		}
		if err == syscall.EAGAIN || err == nil && n == 0 {
			return report // the endpoint's EventOut pumps again
		}
		if err != nil {
			r.TxErr.Store(uint32(err.(syscall.Errno)))
			report = true
		}
	}
}

// pumpRx fills the receive ring. r.mu held.
func (s *Socket) pumpRx() (moved bool) {
	r := s.ring
	for r.RxEnd.Load() == 0 {
		head, tail := r.RxHead.Load(), r.RxTail.Load()
		if tail-head == r.RxSize {
			r.RxWant.Store(1)
			if r.RxHead.Load() != head && r.RxWant.CompareAndSwap(1, 0) {
				continue
			}
			return moved
		}
		space := head + r.RxSize - tail
		n, _, _, err := s.impl.recv(r.segments(r.rx, tail, head+r.RxSize), false, false)
		switch {
		case err == syscall.EAGAIN:
			return moved
		case err != nil:
			r.RxEnd.Store(uint32(err.(syscall.Errno)))
		case n == 0:
			r.RxEnd.Store(kernel.RingEOF)
		default:
			r.RxTail.Store(tail + uint32(n))
			if uint32(n) < space && s.impl.readiness()&(EventIn|EventHup|EventErr) == 0 {
				// The endpoint has no more and is not at its end:
				// reading again would only hear EAGAIN, a whole trip
				// through the endpoint; the readiness check is
				// cheaper. What arrives next notifies, and that pumps
				// again. (An end that came with the data is readable
				// now and read on the next turn.)
				return true
			}
		}
		moved = true
	}
	return moved
}

// segments returns ring bytes [from, to) (free-running indices) as one
// or two slices, in r.segs (so r.mu must be held).
func (r *rings) segments(buf []byte, from, to uint32) [][]byte {
	size := uint32(len(buf))
	a, n := from&(size-1), to-from
	if a+n <= size {
		r.segs[0] = buf[a : a+n]
		return r.segs[:1]
	}
	r.segs[0], r.segs[1] = buf[a:], buf[:a+n-size]
	return r.segs[:2]
}

// flushRings sends what the send ring holds, waiting for the endpoint up
// to timeout; false if it could not.
func (s *Socket) flushRings(timeout time.Duration) bool {
	e, ch := waiter.NewChannelEntry(waiter.EventOut | waiter.EventErr | waiter.EventHUp)
	q := s.impl.queue()
	q.EventRegister(&e)
	defer q.EventUnregister(&e)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if s.sendRingOnce() {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

// sendRingOnce moves what the send ring holds into the endpoint, as
// far as it takes it, and reports whether the ring is empty now (or
// failed: nothing more will leave it).
func (s *Socket) sendRingOnce() bool {
	r := s.ring
	r.mu.Lock()
	report := s.pumpTx()
	done := r.TxHead.Load() == r.TxTail.Load() || r.TxErr.Load() != 0
	r.mu.Unlock()
	if report {
		s.publish(true)
	}
	return done
}

// DrainSendRing sends what the application wrote through the send ring,
// for a call that writes to the endpoint directly (sendfile): its bytes
// must follow those. Non-blocking, it tries once and says EAGAIN if the
// endpoint had no room for all of them.
func (s *Socket) DrainSendRing(nonblock bool) error {
	r := s.ring
	if r == nil {
		return nil
	}
	if nonblock {
		if !s.sendRingOnce() {
			return syscall.EAGAIN
		}
		return nil
	}
	if !s.flushRings(flushTimeout) {
		return syscall.EAGAIN
	}
	return nil
}

// ringBuffered is what the receive ring holds (FIONREAD).
func (s *Socket) ringBuffered() int {
	if s.ring == nil {
		return 0
	}
	return int(s.ring.RxTail.Load() - s.ring.RxHead.Load())
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
