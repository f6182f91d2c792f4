// avxgo reports whether Go code can use AVX (the same CPUID and XGETBV
// test the Go runtime makes for its AVX memmove and friends) and then
// checks that large unaligned copies, which take the runtime's AVX path
// when it can, stay correct in several goroutines while the kernel
// preempts and migrates them.
package main

import (
	"bytes"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/cpu"
)

func main() {
	fmt.Printf("avxgo: osxsave %v avx %v avx2 %v\n", cpu.X86.HasOSXSAVE, cpu.X86.HasAVX, cpu.X86.HasAVX2)

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := make([]byte, 64<<10)
			for i := range src {
				src[i] = byte(i*7 + g)
			}
			dst := make([]byte, len(src)+64)
			for round := range 200 {
				off := 1 + (round+g)%63 // unaligned destinations
				n := 3000 + (round*977)%(len(src)-3000)
				clear(dst)
				copy(dst[off:], src[:n])
				if !bytes.Equal(dst[off:off+n], src[:n]) || dst[off+n] != 0 {
					errs <- fmt.Errorf("goroutine %d round %d: copy of %d bytes to offset %d is wrong", g, round, n, off)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fmt.Println("avxgo:", err)
		os.Exit(1)
	}
	fmt.Println("avxgo: copies ok")
}
