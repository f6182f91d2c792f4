// threadexit makes the Go runtime end threads while it creates others:
// a goroutine that returns with its thread locked (runtime.LockOSThread
// without UnlockOSThread) takes the thread with it (exitThread, the exit
// system call), and the next round's goroutines need new threads (clone).
package main

import (
	"fmt"
	"runtime"
	"sync"
)

func main() {
	var wg sync.WaitGroup
	for round := 0; round < 200; round++ {
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				s := 0
				for j := 0; j < 1000; j++ {
					s += j
				}
				_ = s
			}()
		}
		wg.Wait()
	}
	fmt.Println("threads ended: 1600")
}
