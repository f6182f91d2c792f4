// Package lazywake is a wake-up signal for one waiting goroutine that
// does not wake an idle CPU: Notify makes the waiter runnable on the
// notifier's own P, to run when the notifier blocks or yields.
//
// A channel send (or sync.Cond, or gVisor's sleep.Waker) that readies a
// goroutine also calls the scheduler's wakep, which starts an idle P's
// thread so that the new goroutine runs at once elsewhere. When the
// notifier is about to block anyway, that thread only spins, steals the
// goroutine after sleeping 3 µs (runqgrab), runs it, and parks again:
// under TCG, futex wake-ups, inter-processor interrupts, timer arms and
// context switches for every hand-off. gVisor suppresses wakep the same
// way for its own goroutines (sync.Goready with wakep false).
//
// Use it where the notifier is short-lived work that ends in a block
// (a packet's processing), not where the waiter must run while the
// notifier keeps going: an idle P that happens to look still steals
// the waiter, but nobody is woken to do so.
package lazywake

import (
	"sync/atomic"
	"unsafe"

	gsync "gvisor.dev/gvisor/pkg/sync"
)

// Signal states; any other value is the parked waiter's g.
const (
	idle      = 0 // no notification, nobody parked
	notified  = 1 // a notification the waiter has not taken
	preparing = 2 // the waiter is about to park
)

// Signal wakes one waiting goroutine. Notifications coalesce: several
// before a Wait make it return once. The zero value is ready to use.
type Signal struct {
	state atomic.Uintptr
}

// Notify makes a Wait return: the pending one, or the next. It never
// blocks and may be called from any goroutine, also with locks held.
func (s *Signal) Notify() {
	for {
		switch v := s.state.Load(); v {
		case notified:
			return
		case idle, preparing:
			// A preparing waiter fails to commit its park and
			// takes the notification.
			if s.state.CompareAndSwap(v, notified) {
				return
			}
		default:
			if s.state.CompareAndSwap(v, idle) {
				gsync.Goready(v, 0, false)
				return
			}
		}
	}
}

// Wait blocks until a notification since the previous Wait returned.
// One goroutine at a time may wait on a Signal.
func (s *Signal) Wait() {
	for {
		if s.state.CompareAndSwap(notified, idle) {
			return
		}
		if s.state.CompareAndSwap(idle, preparing) {
			gsync.Gopark(commitPark, unsafe.Pointer(&s.state), gsync.WaitReasonChanReceive, gsync.TraceBlockSelect, 0)
			// Readied by Notify (the state is idle, or notified again
			// since), or the park did not commit (notified): either
			// way a notification arrived; take any that followed.
			s.state.CompareAndSwap(notified, idle)
			return
		}
	}
}

// commitPark runs on the scheduler's stack as the waiter parks: it
// publishes the waiter's g unless a notification came meanwhile, in
// which case the waiter does not park.
//
//go:nosplit
//go:norace
func commitPark(g uintptr, state unsafe.Pointer) bool {
	return gsync.RaceUncheckedAtomicCompareAndSwapUintptr((*uintptr)(state), preparing, g)
}
