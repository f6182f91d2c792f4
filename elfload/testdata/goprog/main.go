// Command goprog is a test program for the elfload tests: built static
// and as PIE, loaded into a fake address space, and run by the runner.
// It prints its arguments, one environment variable and its auxiliary
// vector as the Go runtime read it from the initial stack.
package main

import (
	"fmt"
	"os"
	_ "unsafe" // go:linkname
)

//go:linkname getAuxv runtime.getAuxv
func getAuxv() []uintptr

// bss must read as zero.
var bss [1 << 20]byte

func main() {
	fmt.Printf("args=%q\n", os.Args)
	fmt.Printf("env=%s\n", os.Getenv("GOSV_VAR"))
	a := getAuxv()
	for i := 0; i+1 < len(a); i += 2 {
		fmt.Printf("auxv %d %#x\n", a[i], a[i+1])
	}
	for i, b := range bss {
		if b != 0 {
			fmt.Printf("bss[%d] = %#x\n", i, b)
			os.Exit(3)
		}
	}
	fmt.Println("ok")
}
