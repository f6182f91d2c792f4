package kernel

import (
	"syscall"

	"gosv/arch/amd64"
)

// gosv's own system calls, numbered above Linux's, for the kernel's Go
// code to ask things of the core. The application cannot reach them
// (doSyscall refuses them from the application's threads).
const (
	sysGosvSpawn = 0x7ff1
)

// doGosvSyscall serves gosv's own calls; ok is false for other numbers.
func doGosvSyscall(c *cpuLocal, t *thread, f *Frame) (r int64, ok bool) {
	if t.proc != procKernel {
		return errnoResult(ENOSYS), f.RAX >= sysGosvDebug && f.RAX < sysGosvDebug+16
	}
	switch f.RAX {
	case sysGosvDebug:
		return debugSyscall(f.RDI), true
	case sysGosvSpawn:
		return spawnApp(uintptr(f.RDI), uintptr(f.RSI), uintptr(f.RDX)), true
	case sysGosvServe:
		return serveRequests(c, c.sched.current, f, uintptr(f.RDI), int(f.RSI), f.RDX), true
	case sysGosvComplete:
		return completeRequest(int32(f.RDI), uint32(f.RSI), int64(f.RDX)), true
	case sysGosvFDAlloc:
		return allocServerFD(int32(f.RDI), f.RSI&oCloexec != 0), true
	case sysGosvAttachRing:
		return attachRing(int32(f.RDI), uintptr(f.RSI)), true
	case sysGosvSetReady:
		return setHandleReady(int32(f.RDI), uint32(f.RSI)), true
	case sysGosvFDRef:
		return refServerFD(int64(int32(f.RDI))), true
	case sysGosvSignal:
		return sendTimerSignal(int32(f.RDI), int(int32(f.RSI)), int32(f.RDX), f.R10, f.R8), true
	case sysGosvCPUTime:
		return appCPUTime(int32(f.RDI)), true
	case sysGosvTimerReset:
		return resetTimerSignal(int32(f.RDI)), true
	case sysGosvHandleUnref:
		return unrefHandle(int32(f.RDI)), true
	}
	return 0, false
}

// spawnApp starts the application's first thread at entry with stack
// pointer sp (argc there, as the ELF ABI says) and program break brk.
func spawnApp(entry, sp, brk uintptr) int64 {
	p := &procs[procApp]
	if p.started {
		return errnoResult(EEXIST)
	}
	if sp&15 != 0 || brk&(pageSize-1) != 0 {
		return errnoResult(EINVAL)
	}
	i := newThread()
	if i == noThread {
		return errnoResult(EAGAIN)
	}
	t := &threads[i]
	t.proc = procApp
	t.cpu = placeThread()
	t.ctx.FPU = defaultFX
	// The ELF ABI's entry state: RSP at argc, RDX = 0 (no exit
	// handler to register), other registers zero, flags clear but IF.
	t.ctx.Frame = Frame{RIP: uint64(entry), RSP: uint64(sp), CS: selCode, SS: selData, RFLAGS: amd64.FlagIF | 2}
	p.brkStart, p.brk = brk, brk
	p.started = true
	makeRunnable(i)
	return int64(t.tid)
}

// SpawnApplication starts the loaded application (see spawnApp).
func SpawnApplication(entry, sp, brk uintptr) (tid int, err error) {
	r, _, e := syscall.RawSyscall(sysGosvSpawn, entry, sp, brk)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
