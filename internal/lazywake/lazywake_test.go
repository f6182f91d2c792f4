package lazywake

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNotifyBeforeWaitIsKept(t *testing.T) {
	var s Signal
	s.Notify()
	s.Notify() // coalesces with the first
	done := make(chan struct{})
	go func() {
		s.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return for a notification made before it")
	}
	if got := s.state.Load(); got != idle {
		t.Errorf("state after Wait took the notifications = %d, want %d (idle): two notifications before one Wait must coalesce", got, idle)
	}
}

func TestWaitBlocksUntilNotify(t *testing.T) {
	var s Signal
	var woke atomic.Bool
	done := make(chan struct{})
	go func() {
		s.Wait()
		woke.Store(true)
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	if woke.Load() {
		t.Fatal("Wait returned without a notification")
	}
	s.Notify()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after Notify")
	}
}

// TestNoLostWakeups has notifiers publish a counter and notify, and a
// waiter that reads the counter after each Wait: every value published
// must be seen, or a notification was lost (the waiter would sleep
// forever with work pending).
func TestNoLostWakeups(t *testing.T) {
	const notifiers, each = 4, 20000
	var s Signal
	var published atomic.Int64
	seen := make(chan int64)
	go func() {
		for {
			s.Wait()
			n := published.Load()
			if n == notifiers*each {
				seen <- n
				return
			}
			if n%997 == 0 {
				runtime.Gosched() // vary the interleavings
			}
		}
	}()
	var wg sync.WaitGroup
	for range notifiers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				published.Add(1)
				s.Notify()
			}
		}()
	}
	wg.Wait()
	select {
	case n := <-seen:
		if n != notifiers*each {
			t.Fatalf("waiter saw %d, want %d", n, notifiers*each)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("waiter stuck with %d published: a notification was lost", published.Load())
	}
}

// TestPingPong alternates two goroutines through two Signals, the
// pattern of a packet's processing handing work to a pump and back.
func TestPingPong(t *testing.T) {
	const rounds = 10000
	var ping, pong Signal
	done := make(chan struct{})
	go func() {
		for range rounds {
			ping.Wait()
			pong.Notify()
		}
		close(done)
	}()
	for range rounds {
		ping.Notify()
		pong.Wait()
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("ping-pong stuck")
	}
}
