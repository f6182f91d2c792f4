// Command runner loads a program with elfload into its own address
// space, on the host, and jumps to it: the elfload tests use it to check
// that real programs (Go, static and dynamic glibc) start and read their
// arguments, environment and auxiliary vector from the stack elfload
// built. Memory goes through mmap, mprotect, munmap and /proc/self/mem.
//
// Usage: runner program [argv...] (argv[0] included). The environment
// is GOSV_VAR=hello; AT_RANDOM's bytes are 0x00..0x0f.
//
// The runner is built as PIE, so that programs linked at 0x400000 find
// their addresses free.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"unsafe"

	"gosv/elfload"
)

// jump sets RSP to sp, clears the other registers and jumps to entry.
func jump(entry, sp uintptr)

const mapFixedNoreplace = 0x100000

// hostMem is elfload.Memory on the running process.
type hostMem struct{ self *os.File }

func (m hostMem) Map(addr, size uint64, fixed bool) (uint64, error) {
	flags := syscall.MAP_PRIVATE | syscall.MAP_ANONYMOUS
	if fixed {
		flags |= mapFixedNoreplace
	}
	r, _, e := syscall.Syscall6(syscall.SYS_MMAP, uintptr(addr), uintptr(size),
		syscall.PROT_READ|syscall.PROT_WRITE, uintptr(flags), ^uintptr(0), 0)
	if e != 0 {
		if e == syscall.EEXIST {
			return 0, fmt.Errorf("mmap %#x: %w", addr, elfload.ErrCollision)
		}
		return 0, e
	}
	if fixed && uint64(r) != addr { // kernels before 4.17 ignore the flag
		syscall.Syscall(syscall.SYS_MUNMAP, r, uintptr(size), 0)
		return 0, fmt.Errorf("mmap %#x: %w", addr, elfload.ErrCollision)
	}
	return uint64(r), nil
}

func (m hostMem) Protect(addr, size uint64, prot elfload.Prot) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MPROTECT, uintptr(addr), uintptr(size), uintptr(prot)); e != 0 {
		return e
	}
	return nil
}

func (m hostMem) Unmap(addr, size uint64) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MUNMAP, uintptr(addr), uintptr(size), 0); e != 0 {
		return e
	}
	return nil
}

// Write goes through /proc/self/mem, which ignores page protections.
func (m hostMem) Write(addr uint64, b []byte) error {
	_, err := m.self.WriteAt(b, int64(addr))
	return err
}

// hwcaps returns the runner's own AT_HWCAP and AT_HWCAP2.
func hwcaps() (uint64, uint64) {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 0, 0
	}
	var h1, h2 uint64
	for ; len(b) >= 16; b = b[16:] {
		switch binary.LittleEndian.Uint64(b) {
		case elfload.AT_HWCAP:
			h1 = binary.LittleEndian.Uint64(b[8:])
		case elfload.AT_HWCAP2:
			h2 = binary.LittleEndian.Uint64(b[8:])
		}
	}
	return h1, h2
}

type file struct{ *os.File }

func (f file) Size() int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

func open(path string) (elfload.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return file{f}, nil
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: runner program argv0 [args...]")
		os.Exit(2)
	}
	debug.SetGCPercent(-1)
	self, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	exe, err := open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	a := elfload.Args{
		Exe:        exe,
		ExePath:    os.Args[1],
		Argv:       os.Args[2:],
		Envv:       []string{"GOSV_VAR=hello", "PATH=/usr/bin:/bin"},
		OpenInterp: open,
		Mem:        hostMem{self},
	}
	for i := range a.Random {
		a.Random[i] = byte(i)
	}
	a.HWCap, a.HWCap2 = hwcaps()
	res, err := elfload.Load(a)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runner:", err)
		if errors.Is(err, elfload.ErrCollision) {
			os.Exit(4) // the test skips: the host's layout is in the way
		}
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "runner: entry %#x sp %#x brk %#x bias %#x interp %#x\n",
		res.Entry, res.StackPointer, res.Brk, res.LoadBias, res.InterpBase)

	// From here on this thread belongs to the program. Keep the Go
	// runtime's signals (preemption) away from it: it has its own TLS.
	runtime.LockOSThread()
	all := ^uint64(0)
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, 2 /* SIG_SETMASK */, uintptr(unsafe.Pointer(&all)), 0, 8, 0, 0)
	jump(uintptr(res.Entry), uintptr(res.StackPointer))
}
