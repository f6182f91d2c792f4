package kernel

import (
	"syscall"

	"gosv/arch/amd64"
)

// Signals, as far as the Go runtime and Linux programs need them:
// per-process actions, per-thread masks and alternate stacks, delivery
// of tgkill'd signals (SIGURG drives Go's asynchronous preemption) and
// of CPU exceptions (a nil dereference becomes SIGSEGV, which Go turns
// into a panic), and rt_sigreturn.

const (
	sigHUP   = 1
	sigINT   = 2
	sigQUIT  = 3
	sigILL   = 4
	sigTRAP  = 5
	sigABRT  = 6
	sigBUS   = 7
	sigFPE   = 8
	sigKILL  = 9
	sigSEGV  = 11
	sigPIPE  = 13
	sigTERM  = 15
	sigCHLD  = 17
	sigSTOP  = 19
	sigURG   = 23
	sigWINCH = 28
	numSig   = 64

	saSigInfo   = 0x4
	saRestart   = 0x10000000
	saOnStack   = 0x08000000
	saRestorer  = 0x04000000
	saNoDefer   = 0x40000000
	saResetHand = 0x80000000

	sigDefault = 0
	sigIgnore  = 1

	ssOnStack = 1
	ssDisable = 2

	siTKill    = -6
	segvMapErr = 1
	segvAccErr = 2
	sigBlock   = 0
	sigUnblock = 1
	sigSetMask = 2
)

// sigAction is the kernel's struct sigaction for x86-64.
type sigAction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

type sigAltStack struct {
	sp    uintptr
	flags int32
	_     int32
	size  uintptr
}

var sigLock spinLock

// Linux's signal frame (arch/x86/include/asm/sigframe.h, struct
// rt_sigframe): return address, ucontext, siginfo; the fpstate (see
// sigfpu.go) sits above it, 64-byte aligned.
const (
	ucFlags     = 0
	ucLink      = 8
	ucStack     = 16
	ucMcontext  = 40
	mcFPState   = 23 // sigcontext word with the fpstate pointer, after cr2
	ucSigmask   = 40 + 256
	ucSize      = ucSigmask + 8
	siginfoSize = 128
	frameSize   = 8 + ucSize + siginfoSize
	redZone     = 128
)

// SignalStackMin is the most stack a signal frame takes (the frame, its
// fpstate and their alignment), for AT_MINSIGSTKSZ.
func SignalStackMin() uint64 {
	return uint64(sigFPUSize(fpuFeatures)+63+frameSize+15+8+15) &^ 15
}

// sigcontext register order (struct sigcontext_64).
func frameToMcontext(f *Frame, mc *[32]uint64, cr2 uint64) {
	*mc = [32]uint64{
		f.R8, f.R9, f.R10, f.R11, f.R12, f.R13, f.R14, f.R15,
		f.RDI, f.RSI, f.RBP, f.RBX, f.RDX, f.RAX, f.RCX, f.RSP,
		f.RIP, f.RFLAGS,
		selCode, // cs, gs, fs, ss packed as u16s
		0, f.Vector, 0, cr2,
	}
}

func mcontextToFrame(mc *[32]uint64, f *Frame) {
	f.R8, f.R9, f.R10, f.R11, f.R12, f.R13, f.R14, f.R15 = mc[0], mc[1], mc[2], mc[3], mc[4], mc[5], mc[6], mc[7]
	f.RDI, f.RSI, f.RBP, f.RBX, f.RDX, f.RAX, f.RCX, f.RSP = mc[8], mc[9], mc[10], mc[11], mc[12], mc[13], mc[14], mc[15]
	f.RIP = mc[16]
	// Only the arithmetic flags and DF may change; keep IF on.
	const userFlags = 0x8d5 | 1<<10 | 1<<8 | 1<<18
	f.RFLAGS = f.RFLAGS&^userFlags | mc[17]&userFlags | 1<<9
}

// deliverPending delivers the lowest pending unblocked signal to t,
// whose registers are in ctx.
func deliverPending(t *thread, ctx *Context) {
	ready := t.sigPending.Load() &^ t.sigMask
	for sig := 1; sig <= numSig; sig++ {
		bit := uint64(1) << (sig - 1)
		if ready&bit == 0 {
			continue
		}
		src, value, overrun := takeSignalSource(t, sig)
		act := procOf(t).sigActions[sig]
		switch act.handler {
		case sigIgnore:
			continue
		case sigDefault:
			if signalIgnored(procOf(t), sig) {
				continue // default action: ignore
			}
			killedBySignal(t, ctx, sig)
			return
		}
		if t.restartPending {
			finishRestart(t, &ctx.Frame, act.flags&saRestart != 0)
		}
		if !pushSignalFrame(t, ctx, sig, &act, siTKill, 0) {
			killedBySignal(t, ctx, sigSEGV)
			return
		}
		fillSignalSource(uintptr(ctx.Frame.RSI), src, value, overrun)
		return
	}
}

// Interrupted system calls (man 7 signal). A signal that finds a
// thread blocked in a call, with a handler to run (or a disposition
// other than ignore), ends the wait: the call returns errRestartSys
// (Linux's ERESTARTSYS, never seen by the application) when it is one
// that SA_RESTART restarts, else EINTR. Delivering the signal decides
// (finishRestart): a handler with SA_RESTART, or no handler at all,
// restarts the call (RIP back over the SYSCALL, RAX the call number);
// a handler without it makes the call fail with EINTR. Calls the server
// serves (waitServer) are interrupted by the server: the core asks it
// (interruptServed), and the call completes with errRestartSys, EINTR
// or a partial count.
const errRestartSys = -512

// ErrRestart is errRestartSys for the server: an interrupted call that
// transferred nothing returns it.
const ErrRestart = syscall.Errno(-errRestartSys)

// interruptResult is what a signal makes thread t's core wait return.
func interruptResult(t *thread) int64 {
	switch t.syscallNr {
	case 0, 1, 19, 20, // read, write, readv, writev (rings, eventfds)
		44, 45, 46, 47: // sendto, recvfrom, sendmsg, recvmsg (rings)
		return errRestartSys
	case 202: // futex: FUTEX_WAIT without a timeout restarts
		if t.wait == waitFutex && t.deadline == 0 {
			return errRestartSys
		}
	}
	// poll, epoll_wait, nanosleep, timed futex waits: EINTR, whatever
	// SA_RESTART says.
	return errnoResult(EINTR)
}

// finishRestart settles an interrupted call's errRestartSys in f.RAX:
// the call runs again, or fails with EINTR.
func finishRestart(t *thread, f *Frame, restart bool) {
	t.restartPending = false
	if int64(f.RAX) != errRestartSys {
		return
	}
	if restart {
		f.RIP -= 2
		f.RAX = t.syscallNr
		return
	}
	f.RAX = uint64(errnoResult(EINTR))
}

// signalIgnored reports whether sig would be discarded on delivery to a
// thread of p: such a signal interrupts nothing, as on Linux.
func signalIgnored(p *process, sig int) bool {
	switch p.sigActions[sig].handler {
	case sigIgnore:
		return true
	case sigDefault:
		return sig == sigURG || sig == sigCHLD || sig == sigWINCH
	}
	return false
}

// interruptThread ends thread i's interruptible wait for a signal: a
// core wait at once, a served call through the server.
func interruptThread(i int32) {
	t := &threads[i]
	switch t.wait {
	case waitNone, waitServerIdle: // a thread not started yet; the server
	case waitServer:
		interruptServed(i)
	default:
		r := interruptResult(t)
		cancelWait(i)
		wake(i, r)
	}
}

// interruptIfSignalled ends a wait that began while a signal was on its
// way. signalThread interrupts a thread it finds blocked; one it finds
// running gets an IPI, but if that thread is inside a system call on its
// way to blocking, the IPI lands after the switch and the signal would
// wait for some unrelated wake-up (Go's AllThreadsSyscall then waits for
// ever). So the waiter, after publishing threadBlocked, looks at its
// pending set: with both sides' atomics ordered, at least one of them
// sees the other, and wake's compare-and-swap (for served calls, the
// interrupt's sequence number) lets only one act.
func interruptIfSignalled(i int32) {
	t := &threads[i]
	if t.state.Load() != threadBlocked || t.wait == waitServerIdle {
		return
	}
	if t.sigPending.Load()&^t.sigMask == 0 {
		return
	}
	interruptThread(i)
}

// raiseSIGPIPE sends SIGPIPE to the application thread t whose write to
// a pipe or socket nobody reads any more failed with EPIPE (result), as
// Linux does; send, sendto, sendmsg and sendmmsg with MSG_NOSIGNAL do
// not. Go ignores it for fds other than 1 and 2; C programs that do not
// handle or ignore it die, as on Linux.
func raiseSIGPIPE(t *thread, f *Frame, nr uint64, result int64) {
	if result != -int64(EPIPE) || t.proc != procApp {
		return
	}
	const msgNosignal = 0x4000
	switch nr {
	case 1, 18, 20, 40, 275, 278, 296: // write, pwrite64, writev, sendfile, splice, vmsplice, pwritev
	case 44, 307: // sendto(fd, buf, len, flags, ...), sendmmsg(fd, vec, n, flags)
		if f.R10&msgNosignal != 0 {
			return
		}
	case 46: // sendmsg(fd, msg, flags)
		if f.RDX&msgNosignal != 0 {
			return
		}
	default:
		return
	}
	t.sigPending.Or(1 << (sigPIPE - 1))
}

// deliverFault delivers a synchronous signal for a CPU exception. It
// reports false when the thread has no handler (or the signal is
// blocked), so the caller reports the crash.
func deliverFault(t *thread, ctx *Context, sig int, addr uintptr) bool {
	act := procOf(t).sigActions[sig]
	if act.handler == sigDefault || act.handler == sigIgnore || t.sigMask&(1<<(sig-1)) != 0 {
		return false
	}
	code := int32(segvMapErr)
	if ctx.Frame.ErrorCode&pfPresent != 0 {
		code = segvAccErr
	}
	return pushSignalFrame(t, ctx, sig, &act, code, addr)
}

// pushSignalFrame builds the rt_sigframe for sig on t's stack (or its
// alternate stack) and redirects ctx to the handler.
func pushSignalFrame(t *thread, ctx *Context, sig int, act *sigAction, code int32, addr uintptr) bool {
	completeFX(ctx)
	f := &ctx.Frame
	sp := uintptr(f.RSP)
	onAlt := t.altStack.flags&ssDisable == 0 && t.altStack.size != 0 &&
		sp > t.altStack.sp && sp <= t.altStack.sp+t.altStack.size
	if act.flags&saOnStack != 0 && t.altStack.flags&ssDisable == 0 && t.altStack.size != 0 && !onAlt {
		sp = t.altStack.sp + t.altStack.size
	} else {
		sp -= redZone
	}
	fx := (sp - sigFPUSize(fpuFeatures)) &^ 63
	frame := ((fx - frameSize) &^ 15) - 8 // as if called: (RSP+8) % 16 == 0
	if !space.access(frame, sp-frame, true) {
		return false
	}
	flags := encodeSigFPU((*[sigFPUMax]byte)(ptrAt(fx)), &ctx.FPU, fpuFeatures)
	base := (*[frameSize]byte)(ptrAt(frame))
	clear(base[:])
	*(*uintptr)(ptrAt(frame)) = act.restorer
	uc := frame + 8
	*(*uint64)(ptrAt(uc + ucFlags)) = flags
	*(*uintptr)(ptrAt(uc + ucStack)) = t.altStack.sp
	*(*int32)(ptrAt(uc + ucStack + 8)) = t.altStack.flags
	*(*uintptr)(ptrAt(uc + ucStack + 16)) = t.altStack.size
	mc := (*[32]uint64)(ptrAt(uc + ucMcontext))
	frameToMcontext(f, mc, uint64(addr))
	mc[mcFPState] = uint64(fx)
	*(*uint64)(ptrAt(uc + ucSigmask)) = t.sigMask
	info := uc + ucSize
	*(*int32)(ptrAt(info)) = int32(sig)
	*(*int32)(ptrAt(info + 8)) = code
	if code == siTKill {
		*(*int32)(ptrAt(info + 16)) = 1 // si_pid
	} else {
		*(*uintptr)(ptrAt(info + 16)) = addr // si_addr
	}

	f.RSP = uint64(frame)
	f.RIP = uint64(act.handler)
	f.RDI = uint64(sig)
	f.RSI = uint64(info)
	f.RDX = uint64(uc)
	f.RAX = 0
	f.RFLAGS &^= 1<<10 | 1<<8 // DF, TF
	t.sigMask |= act.mask
	if act.flags&saNoDefer == 0 {
		t.sigMask |= 1 << (sig - 1)
	}
	if act.flags&saResetHand != 0 {
		procOf(t).sigActions[sig].handler = sigDefault
	}
	return true
}

// sigreturn restores the context saved by pushSignalFrame. RSP points
// just past the return address the handler's RET consumed.
func sigreturn(t *thread, ctx *Context) bool {
	uc := uintptr(ctx.Frame.RSP)
	if !space.access(uc, ucSize, false) {
		return false
	}
	mc := (*[32]uint64)(ptrAt(uc + ucMcontext))
	fs := ctx.Frame.FSBase
	mcontextToFrame(mc, &ctx.Frame)
	ctx.Frame.FSBase = fs
	if !restoreSigFPU(ctx, uintptr(mc[mcFPState])) {
		return false
	}
	t.sigMask = *(*uint64)(ptrAt(uc + ucSigmask)) &^ (1<<(sigKILL-1) | 1<<(sigSTOP-1))
	return true
}

// restoreSigFPU loads the FPU state a handler returns with (fx, the
// sigcontext's fpstate pointer) into ctx and the CPU. A null fpstate
// means the initial state, as on Linux.
func restoreSigFPU(ctx *Context, fx uintptr) bool {
	if fx == 0 {
		ctx.FPU = defaultFX
	} else {
		if !space.access(fx, fxLegacySize, false) {
			return false
		}
		src := (*[sigFPUMax]byte)(ptrAt(fx))
		n := uintptr(fxLegacySize)
		if need, ok := sigFPUExtended(src, fpuFeatures); ok && space.access(fx, need, false) {
			n = need
		}
		var img [fpuStateSize]byte
		if !decodeSigFPU(&img, src, n, fpuFeatures, mxcsrMask) {
			return false
		}
		ctx.FPU = img
	}
	ctx.partial = 0
	loadFX(ctx) // x87 and AVX: the syscall exit restores only SSE
	return true
}

var signalNames = [...]string{sigHUP: "SIGHUP", sigINT: "SIGINT", sigQUIT: "SIGQUIT", sigILL: "SIGILL",
	sigTRAP: "SIGTRAP", sigABRT: "SIGABRT", sigBUS: "SIGBUS", sigFPE: "SIGFPE", sigKILL: "SIGKILL",
	10: "SIGUSR1", sigSEGV: "SIGSEGV", 12: "SIGUSR2", sigPIPE: "SIGPIPE", 14: "SIGALRM", sigTERM: "SIGTERM"}

// killedBySignal ends the program the way Linux reports a fatal signal:
// for the application, a report of the signal, the faulting address and
// the registers, then power-off with status 128+signal (what a shell
// would report); for the kernel's runtime, the kernel's fatal report.
func killedBySignal(t *thread, ctx *Context, sig int) {
	if t.proc != procApp {
		l := line{}
		l.s("gosv: kernel thread ").d(int64(t.tid)).s(" killed by signal ").u(uint64(sig)).print()
		fatal(ctx, "fatal signal in the kernel")
		return
	}
	f := &ctx.Frame
	l := line{}
	name := "signal"
	if sig < len(signalNames) && signalNames[sig] != "" {
		name = signalNames[sig]
	}
	l.s("gosv: application thread ").d(int64(t.tid)).s(" killed by ").s(name).s(" (").u(uint64(sig)).s(")")
	if f.Vector < 32 {
		l.s(": ")
		if int(f.Vector) < len(exceptionNames) {
			l.s(exceptionNames[f.Vector])
		}
		if f.Vector == vecPageFault {
			l.s(" at address ").x(amd64.ReadCR2())
		}
	}
	l.print()
	l.s("  RIP ").x(f.RIP).s(" RSP ").x(f.RSP).s(" RBP ").x(f.RBP).s(" RFLAGS ").x(f.RFLAGS).print()
	l.s("  RAX ").x(f.RAX).s(" RBX ").x(f.RBX).s(" RCX ").x(f.RCX).s(" RDX ").x(f.RDX).print()
	l.s("  RSI ").x(f.RSI).s(" RDI ").x(f.RDI).s(" R8 ").x(f.R8).s(" R9 ").x(f.R9).print()
	l.s("  R10 ").x(f.R10).s(" R11 ").x(f.R11).s(" R12 ").x(f.R12).s(" R13 ").x(f.R13).print()
	l.s("  R14 ").x(f.R14).s(" R15 ").x(f.R15).s(" FS ").x(f.FSBase).print()
	l.s("gosv: application exited with status ").u(uint64(128 + sig)).print()
	powerOff(128 + sig)
}
