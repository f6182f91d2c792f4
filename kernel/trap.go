package kernel

import (
	"unsafe"

	"gosv/arch/amd64"
)

// Frame is the register state of interrupted code, as trap_amd64.s
// pushes it (lowest address first).
type Frame struct {
	FSBase                          uint64
	R15, R14, R13, R12, R11, R10    uint64
	R9, R8, RBP, RDI, RSI, RDX, RCX uint64
	RBX, RAX                        uint64
	Vector, ErrorCode               uint64
	RIP, CS, RFLAGS, RSP, SS        uint64
}

// Context is everything a thread needs to resume: its FPU image and
// its Frame. The trap path keeps one on the kernel stack (16-byte
// aligned for FXSAVE); threads keep a copy while not running.
type Context struct {
	// FPU is an XSAVE area (standard format, see fpu.go); the trap
	// path fills its FXSAVE part.
	FPU [fpuStateSize]byte
	// partial says which parts of FPU are still live in the CPU
	// (partialX87, partialAVX; see fpu.go).
	partial uint64
	Frame   Frame
}

// Compile-time checks of the layout trap_amd64.s relies on.
var (
	_ [ctxOffFrame - unsafe.Offsetof(Context{}.Frame)]byte
	_ [unsafe.Offsetof(Context{}.Frame) - ctxOffFrame]byte
	_ [ctxOffPartial - unsafe.Offsetof(Context{}.partial)]byte
	_ [unsafe.Offsetof(Context{}.partial) - ctxOffPartial]byte
	_ [unsafe.Sizeof(Frame{}) - 23*8]byte
	_ [23*8 - unsafe.Sizeof(Frame{})]byte
	_ [cpuOffDepth - unsafe.Offsetof(cpuLocal{}.depth)]byte
	_ [unsafe.Offsetof(cpuLocal{}.depth) - cpuOffDepth]byte
	_ [cpuOffKernelFS - unsafe.Offsetof(cpuLocal{}.kernelFS)]byte
	_ [unsafe.Offsetof(cpuLocal{}.kernelFS) - cpuOffKernelFS]byte
	_ [cpuOffRetRSP - unsafe.Offsetof(cpuLocal{}.retRSP)]byte
	_ [unsafe.Offsetof(cpuLocal{}.retRSP) - cpuOffRetRSP]byte
)

// Exception vectors (Intel SDM vol. 3, table 6-1).
const (
	vecDivide       = 0
	vecDebug        = 1
	vecNMI          = 2
	vecBreakpoint   = 3
	vecInvalidOp    = 6
	vecDeviceNA     = 7
	vecDoubleFault  = 8
	vecGeneralProt  = 13
	vecX87          = 16
	vecAlignment    = 17
	vecMachineCheck = 18
	vecSIMD         = 19
)

var exceptionNames = [...]string{
	"divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
	"invalid opcode", "device not available", "double fault",
	"coprocessor overrun", "invalid TSS", "segment not present",
	"stack fault", "general protection", "page fault", "reserved",
	"x87 error", "alignment check", "machine check", "SIMD exception",
	"virtualization exception", "control protection",
}

// trap is called by trap_amd64.s for every syscall, exception and
// interrupt, with interrupts off, on a kernel stack.
func trap(ctx *Context) {
	c := thisCPU()
	f := &ctx.Frame
	if c.depth > 1 {
		nestedTrap(c, ctx)
		return
	}
	if cpuCount > 1 {
		tlbCatchUp(c)
	}
	if c.sched.current == c.sched.idle {
		// Before this trap looks at the inbox: a waker that still saw
		// polling set pushed before this, so drainInbox finds it.
		c.sched.polling.Store(0)
	}
	t := &threads[c.sched.current]
	switch v := f.Vector; {
	case v == vecSyscall:
		c.syscalls++
		doSyscall(c, t, f)
	case v == vecTimer:
		c.interrupts++
		lapicEOI()
		c.ticks++
		c.sched.timerFired(c)
	case v == vecWakeup:
		c.wakeupIRQs++
		lapicEOI()
	case v == vecPoll:
		c.pollWakes++ // a software interrupt: no EOI
	case v == vecHalt:
		for {
			amd64.CLI()
			amd64.HLT()
		}
	case v == vecSpurious:
		// No EOI for spurious interrupts.
	case v >= vecDev0 && v < vecDev0+8:
		c.deviceIRQs++
		// Handled before the EOI, so that a line the core acknowledges
		// is low again when the I/O APIC looks at it.
		deviceInterrupt(int(v - vecDev0))
		lapicEOI()
	case v == vecPageFault:
		c.pageFaults++
		addr := uintptr(amd64.ReadCR2())
		switch space.handleFault(addr, f.ErrorCode) {
		case faultHandled:
		case faultNoMemory:
			fatal(ctx, "out of memory on page fault")
		default:
			threadFault(c, t, ctx, sigSEGV, addr)
		}
	case v < 32:
		threadFault(c, t, ctx, exceptionSignal(int(v)), uintptr(f.RIP))
	default:
		l := line{}
		l.s("gosv: unexpected interrupt vector ").u(v).print()
		lapicEOI()
	}
	c.sched.finishTrap(c, ctx)
}

// exceptionSignal maps a CPU exception to the signal Linux sends.
func exceptionSignal(v int) int {
	switch v {
	case vecDivide, vecX87, vecSIMD:
		return sigFPE
	case vecInvalidOp:
		return sigILL
	case vecDebug, vecBreakpoint:
		return sigTRAP
	case vecAlignment:
		return sigBUS
	}
	return sigSEGV
}

// nestedTrap handles a trap taken while core code was running. Core
// code never faults by design (user memory goes through access), so
// anything but an interrupt here is a kernel bug.
func nestedTrap(c *cpuLocal, ctx *Context) {
	f := &ctx.Frame
	switch {
	case f.Vector == vecSpurious:
		return
	case f.Vector >= 32 && f.Vector != vecHalt:
		// Interrupts are off in core code; only NMIs and faults
		// arrive here. Acknowledge anything else and move on.
		lapicEOI()
		return
	}
	fatal(ctx, "fault inside the kernel's core")
}

// threadFault turns a CPU exception in a thread into a signal, or stops
// the machine if the thread cannot take it.
func threadFault(c *cpuLocal, t *thread, ctx *Context, sig int, addr uintptr) {
	if !deliverFault(t, ctx, sig, addr) {
		if t.proc == procApp {
			killedBySignal(t, ctx, sig)
			return
		}
		fatal(ctx, "unhandled exception in a thread")
	}
}

// fatal prints a report of the machine state and powers off with a
// failure status. It is the end of the line for kernel bugs: it must not
// rely on anything that may be broken (no locks besides the console's,
// which it takes over).
func fatal(ctx *Context, why string) {
	amd64.CLI()
	consoleLock.v.Store(0) // the dying CPU may hold it
	haltOtherCPUs()
	f := &ctx.Frame
	l := line{}
	l.s("\ngosv: FATAL: ").s(why).print()
	if f.Vector < uint64(len(exceptionNames)) {
		l.s("  exception ").u(f.Vector).s(" (").s(exceptionNames[f.Vector]).s(") error code ").x(f.ErrorCode).print()
	} else {
		l.s("  vector ").u(f.Vector).print()
	}
	c := thisCPU()
	l.s("  cpu ").u(uint64(c.id)).s(" thread ").d(int64(threads[c.sched.current].tid)).s(" depth ").u(uint64(c.depth)).print()
	l.s("  RIP ").x(f.RIP).s(" CR2 ").x(amd64.ReadCR2()).s(" RFLAGS ").x(f.RFLAGS).print()
	l.s("  RSP ").x(f.RSP).s(" RBP ").x(f.RBP).s(" FS ").x(f.FSBase).print()
	l.s("  RAX ").x(f.RAX).s(" RBX ").x(f.RBX).s(" RCX ").x(f.RCX).s(" RDX ").x(f.RDX).print()
	l.s("  RSI ").x(f.RSI).s(" RDI ").x(f.RDI).s(" R8 ").x(f.R8).s(" R9 ").x(f.R9).print()
	l.s("  R10 ").x(f.R10).s(" R11 ").x(f.R11).s(" R12 ").x(f.R12).s(" R13 ").x(f.R13).print()
	l.s("  R14 ").x(f.R14).s(" R15 ").x(f.R15).print()
	printBacktrace(uintptr(f.RIP), uintptr(f.RBP))
	powerOff(statusKernelFault)
}

// printBacktrace walks the frame-pointer chain (Go keeps RBP as a frame
// pointer on amd64) and prints each PC with its function's name.
func printBacktrace(pc, fp uintptr) {
	l := line{}
	l.s("  backtrace:").print()
	l.s("    ").b(funcName(pc)).s(" pc=").x(uint64(pc)).print()
	for i := 0; i < 32 && fp != 0 && fp&7 == 0; i++ {
		if !space.readable(fp, 16) {
			break
		}
		ret := *(*uintptr)(ptrAt(fp + 8))
		if ret == 0 {
			break
		}
		l.s("    ").b(funcName(ret - 1)).s(" pc=").x(uint64(ret)).print()
		fp = *(*uintptr)(ptrAt(fp))
	}
}

const contextSize = unsafe.Sizeof(Context{})

// contextOf returns the trap Context a syscall's Frame lives in.
func contextOf(f *Frame) *Context {
	return (*Context)(unsafe.Add(unsafe.Pointer(f), -ctxOffFrame))
}
