package appsys

import (
	"sync"
	"sync/atomic"

	"gosv/kernel"
	"gosv/kernel/appsys/sockets"
)

// Interrupted calls. A signal for an application thread whose call the
// server serves reaches the server as a kick of kind
// kernel.KickInterrupt naming the thread and the request's sequence
// number (kernel/signal.go). The call's waits then end: a pipe read or
// write, a FIFO open, a socket call. One that transferred nothing
// returns kernel.ErrRestart, which the core turns into EINTR or a
// restart of the call as the signal's handler asks (SA_RESTART); one
// that transferred some bytes returns their count.
//
// Each application thread has at most one call in flight, so the state
// is one slot per thread, made once: a call that never waits costs two
// atomic stores (serve), and only a call that waits takes the slot's
// lock or, after an interrupt, a new channel.

// inflight is thread's slot: the call being served and its interrupt.
type inflight struct {
	// seq is the request being served (0: none); written by the serving
	// goroutine only.
	seq atomic.Uint32

	mu sync.Mutex
	// intrSeq is the newest request a signal interrupted: it may come
	// before the call waits, or before it is even served.
	intrSeq uint32
	// ch is closed when the call chSeq names is interrupted (nil until
	// a call waits on a channel; replaced once closed).
	ch       chan struct{}
	chSeq    uint32
	chClosed bool
	// cond is the sync.Cond the call waits on now, if any: an interrupt
	// broadcasts it.
	cond *sync.Cond
}

// callSlots are the server's slots, by application thread index.
type callSlots [kernel.MaxThreads]inflight

// slot returns the slot of r's thread (nil for a request from no
// thread, as in tests that make up requests).
func (s *Server) slot(r *kernel.Request) *inflight {
	if r.Thread < 0 || int(r.Thread) >= len(s.calls) {
		return nil
	}
	return &s.calls[r.Thread]
}

// intr is r's Interrupter for the sockets package.
func (s *Server) intr(r *kernel.Request) sockets.Interrupter { return s.slot(r).intr() }

// interrupt ends the waits of thread's request seq, if it is being
// served; otherwise it is remembered for a request not served yet, or
// ignored for one already completed (seq numbers only grow).
func (s *Server) interrupt(thread int32, seq uint32) {
	if thread < 0 || int(thread) >= len(s.calls) {
		return
	}
	sl := &s.calls[thread]
	sl.mu.Lock()
	if int32(seq-sl.intrSeq) > 0 {
		sl.intrSeq = seq
	}
	var c *sync.Cond
	if sl.seq.Load() == seq {
		if sl.ch != nil && sl.chSeq == seq && !sl.chClosed {
			close(sl.ch)
			sl.chClosed = true
		}
		c = sl.cond
	}
	sl.mu.Unlock()
	if c != nil {
		// Under the cond's lock, so the waiter is either inside Wait
		// or has not yet looked at intrSeq (waitCond).
		c.L.Lock()
		c.Broadcast()
		c.L.Unlock()
	}
}

// Interrupted implements sockets.Interrupter: the channel closed when
// the current call is interrupted.
func (sl *inflight) Interrupted() <-chan struct{} {
	seq := sl.seq.Load()
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.ch == nil || sl.chClosed && sl.chSeq != seq {
		sl.ch, sl.chClosed = make(chan struct{}), false
	}
	sl.chSeq = seq
	if sl.intrSeq == seq && !sl.chClosed {
		close(sl.ch)
		sl.chClosed = true
	}
	return sl.ch
}

// waitCond waits on c (its lock held, as for c.Wait) unless the current
// call is interrupted, and reports whether it is. A nil slot just
// waits. Callers loop on their condition as for any Wait.
func (sl *inflight) waitCond(c *sync.Cond) (interrupted bool) {
	if sl == nil {
		c.Wait()
		return false
	}
	seq := sl.seq.Load()
	sl.mu.Lock()
	if sl.intrSeq == seq {
		sl.mu.Unlock()
		return true
	}
	sl.cond = c
	sl.mu.Unlock()
	c.Wait()
	sl.mu.Lock()
	sl.cond = nil
	interrupted = sl.intrSeq == seq
	sl.mu.Unlock()
	return interrupted
}

// run serves r with its slot naming it, so interrupts find the call.
// The slot is free again before r completes: the thread's next request
// may be served as soon as it does.
func (s *Server) run(r *kernel.Request) int64 {
	sl := s.slot(r)
	if sl == nil {
		return s.call(r)
	}
	sl.seq.Store(r.Seq)
	result := s.call(r)
	sl.seq.Store(0)
	return result
}

// intr is sl as a sockets.Interrupter (a nil interface for a nil slot).
func (sl *inflight) intr() sockets.Interrupter {
	if sl == nil {
		return nil
	}
	return sl
}
