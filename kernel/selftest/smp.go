package selftest

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"gosv/kernel"
)

// spin is a CPU-bound unit of work the compiler cannot remove.
func spin(n int) uint64 {
	x := uint64(n) | 1
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

var spinSink uint64

// throughput runs work on p goroutines for d and returns units per second.
func throughput(p int, d time.Duration) float64 {
	prev := runtime.GOMAXPROCS(p)
	defer runtime.GOMAXPROCS(prev)
	var mu sync.Mutex
	var wg sync.WaitGroup
	total := 0
	deadline := time.Now().Add(d)
	start := time.Now()
	for g := 0; g < p; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			var acc uint64
			for time.Now().Before(deadline) {
				acc += spin(10000)
				n++
			}
			mu.Lock()
			total += n
			spinSink += acc
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds()
}

// SMPSpeedup measures CPU-bound throughput with all CPUs against one.
func SMPSpeedup() (speedup float64, cpus int) {
	cpus = runtime.NumCPU()
	one := throughput(1, 300*time.Millisecond)
	all := throughput(cpus, 300*time.Millisecond)
	return all / one, cpus
}

// testSMP checks that every CPU the kernel reports does work: with N
// CPUs and N busy goroutines, all N CPUs must be seen running threads at
// once. The speed-up is printed for information; it is a benchmark
// figure (docs/benchmarks.md), not a pass/fail criterion, because the
// host's load decides it.
func testSMP() error {
	cpus := runtime.NumCPU()
	busy := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
			busy = max(busy, kernel.BusyCPUs())
			runtime.Gosched()
		}
	}()
	throughput(cpus, 300*time.Millisecond)
	<-done
	speedup, _ := SMPSpeedup()
	fmt.Printf("selftest: smp: %d CPUs, at most %d busy at once, speedup %.2fx\n", cpus, busy, speedup)
	if busy < cpus {
		return fmt.Errorf("only %d of %d CPUs ran threads at the same time", busy, cpus)
	}
	return nil
}
