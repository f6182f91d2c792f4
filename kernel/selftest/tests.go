package selftest

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"gosv/kernel"
)

func testGoroutines() error {
	const n = 5000
	var wg sync.WaitGroup
	results := make(chan int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.Gosched()
			results <- i
		}()
	}
	wg.Wait()
	close(results)
	sum := 0
	for v := range results {
		sum += v
	}
	if want := n * (n - 1) / 2; sum != want {
		return fmt.Errorf("sum of goroutine results %d, want %d", sum, want)
	}
	return nil
}

func testChannels() error {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	v := 0
	for i := 0; i < 10000; i++ {
		ping <- v
		v = <-pong
	}
	close(ping)
	if v != 10000 {
		return fmt.Errorf("ping-pong counter %d, want 10000", v)
	}
	// select with a timeout on a channel nobody sends on.
	never := make(chan int)
	start := time.Now()
	select {
	case <-never:
		return errors.New("received from a channel nobody sends on")
	case <-time.After(20 * time.Millisecond):
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		return fmt.Errorf("select timeout fired after %v, want >= 20ms", d)
	}
	return nil
}

func testTimers() error {
	for _, d := range []time.Duration{time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond} {
		start := time.Now()
		time.Sleep(d)
		got := time.Since(start)
		// Late is allowed (TCG is slow and shared); early is a bug.
		if got < d || got > d+time.Second {
			return fmt.Errorf("time.Sleep(%v) took %v", d, got)
		}
	}
	tk := time.NewTicker(5 * time.Millisecond)
	defer tk.Stop()
	start := time.Now()
	for i := 0; i < 10; i++ {
		<-tk.C
	}
	if got := time.Since(start); got < 45*time.Millisecond {
		return fmt.Errorf("10 ticks of 5ms took %v", got)
	}
	return nil
}

func testMonotonic() error {
	prev := time.Now()
	for i := 0; i < 100000; i++ {
		now := time.Now()
		if now.Before(prev) {
			return fmt.Errorf("time went backwards: %v after %v", now, prev)
		}
		prev = now
	}
	start := time.Now()
	deadline := start.Add(5 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	if time.Since(start) < 5*time.Millisecond {
		return errors.New("busy-wait ended early")
	}
	if y := time.Now().Year(); y < 2024 {
		return fmt.Errorf("wall clock says year %d", y)
	}
	return nil
}

func testMaps() error {
	m := map[int]string{}
	for i := 0; i < 100000; i++ {
		m[i] = fmt.Sprint(i)
	}
	for i := 0; i < 100000; i += 2 {
		delete(m, i)
	}
	if len(m) != 50000 {
		return fmt.Errorf("map has %d entries, want 50000", len(m))
	}
	for i := 1; i < 100000; i += 2 {
		if m[i] != fmt.Sprint(i) {
			return fmt.Errorf("m[%d] = %q", i, m[i])
		}
	}
	return nil
}

//go:noinline
func recurse(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return recurse(n-1) + int(pad[n%64]&1)
}

func testRecursion() error {
	// Up to 100k frames of >100 bytes: the stack grows past 10 MiB, or
	// to an eighth of memory on small machines (growth doubles the
	// stack and copies it, so it briefly needs three times the size).
	total, _ := kernel.MemoryStats()
	depth := int(min(100000, total/8/160))
	got := recurse(depth)
	want := 0
	for n := 1; n <= depth; n++ {
		want += n & 1
	}
	if got != want {
		return fmt.Errorf("recursion result %d, want %d", got, want)
	}
	return nil
}

func testPanics() error {
	got := func() (r any) {
		defer func() { r = recover() }()
		panic("boom")
	}()
	if got != "boom" {
		return fmt.Errorf("recovered %v, want boom", got)
	}
	var order []int
	func() {
		defer func() { recover() }()
		defer func() { order = append(order, 2) }()
		defer func() { order = append(order, 1) }()
		var s []int
		_ = s[len(order)+5] // index out of range
	}()
	if len(order) != 2 || order[0] != 1 || order[1] != 2 {
		return fmt.Errorf("defers ran as %v, want [1 2]", order)
	}
	zero := 0
	err := func() (err error) {
		defer func() { err, _ = recover().(error) }()
		_ = 1 / zero // integer divide: a CPU #DE, delivered as SIGFPE
		return nil
	}()
	if err == nil || err.Error() != "runtime error: integer divide by zero" {
		return fmt.Errorf("divide by zero recovered %v", err)
	}
	return nil
}

type node struct{ next *node }

func testNilPointer() error {
	var p *node
	err := func() (err error) {
		defer func() { err, _ = recover().(error) }()
		_ = p.next // a page fault at address 0, delivered as SIGSEGV
		return nil
	}()
	if err == nil || err.Error() != "runtime error: invalid memory address or nil pointer dereference" {
		return fmt.Errorf("nil dereference recovered %v", err)
	}
	return nil
}

func testPreemption() error {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		// A loop with no calls has no cooperative preemption point:
		// only the runtime's SIGURG (tgkill) can stop it.
		for !stop.Load() {
		}
		close(done)
	}()
	runtime.Gosched()
	start := time.Now()
	time.Sleep(20 * time.Millisecond) // must get the CPU back
	stop.Store(true)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		return errors.New("spinning goroutine never saw stop")
	}
	if d := time.Since(start); d > 3*time.Second {
		return fmt.Errorf("sleeper got the CPU back only after %v", d)
	}
	return nil
}

func testThreads() error {
	// Locked goroutines force the runtime to create threads (clone).
	before := len(kernel.Threads())
	const n = 8
	var wg sync.WaitGroup
	release := make(chan struct{})
	var ready sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			ready.Done()
			<-release
		}()
	}
	ready.Wait()
	during := len(kernel.Threads())
	close(release)
	wg.Wait()
	// Each locked goroutine owns a thread (idle ones may be reused, so
	// the count need not grow by n).
	if during < n {
		return fmt.Errorf("%d kernel threads with %d locked goroutines (%d before)", during, n, before)
	}
	return nil
}

type finalizable struct{ buf [64]byte }

func testFinalizers() error {
	ran := make(chan struct{}, 100)
	for i := 0; i < 100; i++ {
		o := &finalizable{}
		runtime.SetFinalizer(o, func(*finalizable) { ran <- struct{}{} })
	}
	deadline := time.After(5 * time.Second)
	for got := 0; got < 100; {
		runtime.GC()
		select {
		case <-ran:
			got++
		case <-deadline:
			return fmt.Errorf("%d of 100 finalizers ran", got)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

var sink [][]byte

func testGC() error {
	total, _ := kernel.MemoryStats()
	// Allocate several times the machine's memory in 1 MiB pieces,
	// keeping only a few alive: this only works if freed memory is
	// reused and given back.
	goal := 4 * total
	live := max(2, int(total>>20)/16) // MiB kept alive at any time
	var allocated uint64
	for allocated < goal {
		b := make([]byte, 1<<20)
		b[0], b[len(b)-1] = 1, 1
		sink = append(sink, b)
		if len(sink) > live {
			sink = sink[1:]
		}
		allocated += uint64(len(b))
	}
	sink = nil
	runtime.GC()
	debug.FreeOSMemory()
	_, freeAfter := kernel.MemoryStats()
	if freeAfter < total/4 {
		return fmt.Errorf("only %d KiB of %d KiB free after FreeOSMemory", freeAfter>>10, total>>10)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.NumGC == 0 {
		return errors.New("no GC cycle ran")
	}
	return nil
}
