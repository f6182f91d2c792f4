package selftest

import (
	"fmt"
	"sync"
	"time"
)

// testStress mixes what the runtime asks of the kernel at once — many
// goroutines contending on a mutex (futexes across CPUs), channel
// hand-offs, short sleeps (timers, epoll waits) and allocation (page
// faults, madvise) — and checks no update was lost.
func testStress() error {
	const workers, rounds = 64, 300
	var mu sync.Mutex
	counter := 0
	results := make(chan int, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := 0
			var keep [][]byte
			for r := 0; r < rounds; r++ {
				mu.Lock()
				counter++
				mu.Unlock()
				local++
				if r%50 == w%50 {
					time.Sleep(time.Duration(r%3) * time.Millisecond)
				}
				keep = append(keep, make([]byte, 4096+r))
				if len(keep) > 8 {
					keep = keep[1:]
				}
			}
			results <- local
		}()
	}
	wg.Wait()
	close(results)
	sum := 0
	for v := range results {
		sum += v
	}
	if counter != workers*rounds || sum != workers*rounds {
		return fmt.Errorf("counter %d, sum %d, want %d", counter, sum, workers*rounds)
	}
	return nil
}
