// goapp is an ordinary static Go program for the application boot
// tests: goroutines, channels, timers, files, the environment, the GC.
// Its output is compared with a native run, so it prints only what is
// the same on Linux and in gosv.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"
)

func main() {
	fmt.Println("args:", os.Args[1:])
	fmt.Println("env GOAPP:", os.Getenv("GOAPP"))

	// Goroutines and a mutex.
	var mu sync.Mutex
	var wg sync.WaitGroup
	total := 0
	for i := 1; i <= 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			total += i
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Println("goroutines:", total)

	// Timers.
	start := time.Now()
	time.Sleep(20 * time.Millisecond)
	select {
	case <-time.After(10 * time.Millisecond):
	}
	fmt.Println("timers ok:", time.Since(start) >= 30*time.Millisecond)

	// Files in a writable directory.
	dir, err := os.MkdirTemp("", "goapp")
	check(err)
	for _, name := range []string{"b", "a", "c"} {
		check(os.WriteFile(filepath.Join(dir, name), []byte("data "+name), 0o644))
	}
	entries, err := os.ReadDir(dir)
	check(err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	fmt.Println("files:", names)
	b, err := os.ReadFile(filepath.Join(dir, "b"))
	check(err)
	fmt.Println("read:", string(b))
	check(os.Rename(filepath.Join(dir, "c"), filepath.Join(dir, "d")))
	_, err = os.Stat(filepath.Join(dir, "c"))
	fmt.Println("renamed away:", os.IsNotExist(err))
	check(os.RemoveAll(dir))

	// The garbage collector.
	var keep [][]byte
	for i := 0; i < 200; i++ {
		keep = append(keep, make([]byte, 256<<10))
		if len(keep) > 4 {
			keep = keep[1:]
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Println("gc ran:", ms.NumGC > 0)

	// A pipe through the runtime's netpoller (epoll on a served fd).
	r, w, err := os.Pipe()
	check(err)
	go func() {
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "line %d\n", i)
			time.Sleep(time.Millisecond)
		}
		w.Close()
	}()
	piped, err := io.ReadAll(r)
	check(err)
	fmt.Printf("pipe: %q\n", piped)

	// A nil dereference: SIGSEGV from the kernel, a panic in Go.
	func() {
		defer func() { fmt.Println("recovered:", recover()) }()
		var p *struct{ x int }
		fmt.Println(p.x)
	}()

	if len(os.Args) > 1 && os.Args[1] == "exit3" {
		os.Exit(3)
	}
}

func check(err error) {
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}
