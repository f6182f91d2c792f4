package kernel

import (
	"sync/atomic"
	"unsafe"
)

// maxCPUs bounds the per-CPU blocks, which are static so that a CPU can
// find its own before any allocator exists.
const maxCPUs = 64

// fakeG stands in for a runtime g while core code runs: the Go ABI
// wrappers load g from FS:-8 and every function prologue compares SP with
// g.stackguard0 (offset 16). Only stack.lo, stack.hi and the guards are
// meaningful; the rest (m included) stays zero, which is why core code
// must not allocate or panic.
type fakeG struct {
	stackLo, stackHi         uintptr
	stackGuard0, stackGuard1 uintptr
	_                        [60]uintptr
}

// stackGuardBytes mirrors the runtime's stack guard: functions may use
// this much below the guard before it is checked again.
const stackGuardBytes = 928 * 2

// cpuLocal is one CPU's private block, found through GS. The first
// fields are read by trap_amd64.s at fixed offsets (layout_amd64.h).
type cpuLocal struct {
	self         uintptr // CPU_SELF
	syscallStack uintptr // CPU_SYSCALLSTACK: top of this CPU's syscall stack
	scratch      uintptr // CPU_SCRATCH: caller SP during syscall entry
	kernelFS     uintptr // CPU_KERNELFS: FS base for Go code in traps
	depth        uintptr // CPU_DEPTH: traps in progress (1 = from a thread)
	retRIP       uintptr // CPU_RETRIP: where the syscall exit jumps
	retRSP       uintptr // CPU_RETRSP: the stack it jumps with

	id      int
	apicID  uint32
	online  bool
	tls     [4]uintptr // tls[0] = &g; kernelFS = &tls[1]
	g       fakeG
	gdt     [5]uint64
	gdtr    [10]byte
	tss     [104]byte
	istTops [4]uintptr // IST1..IST3 tops (index 0 unused)

	sched scheduler
	// timerDeadline is the monotonic time the LAPIC timer is armed for
	// (0: disarmed).
	timerDeadline int64
	ticks         uint64
	// Event counters, read by TrapCounts and Counters.
	syscalls, pageFaults, interrupts                            uint64
	deviceIRQs, wakeupIRQs, ipis, switches, forwards, timerArms uint64
	pollWakes                                                   uint64
	// icrDest is the destination this CPU's APIC holds in its ICR
	// (lapicSetDest), once icrDestValid.
	icrDest      uint32
	icrDestValid bool
	// wakeIPIs has a bit per CPU (by id) this one owes a wake-up IPI,
	// sent as its trap ends (sendWakeIPIs) rather than where the wake
	// happened: wakes happen under the core's spinlocks, and an APIC
	// write is a VM exit that under TCG waits for QEMU's big lock, so
	// sending it there made the other CPU spin on the lock meanwhile.
	// Several wakes to one CPU in one trap also share one IPI.
	wakeIPIs uint64
	// raiseServer: this trap queued work for a server that waits on
	// its eventfd (requests.armed); finishTrap raises it once the
	// trap's locks are released.
	raiseServer bool
	// tlbSeen is the TLB epoch this CPU has flushed for (see
	// tlbshootdown.go).
	tlbSeen atomic.Uint64
}

var cpus [maxCPUs]cpuLocal

// cpuCount is the number of CPUs brought up (1 until SMP start).
var cpuCount = 1

// thisCPU returns the running CPU's block (its first word points at
// itself, so one GS-relative load finds it).
func thisCPU() *cpuLocal {
	return (*cpuLocal)(ptrAt(cpuSelf()))
}

// cpuSelf reads GS:0 (entry_amd64.s).
func cpuSelf() uintptr

// ptrAt turns an address into a pointer. Core code addresses memory
// that is not Go-managed (direct map, page tables, per-CPU stacks); the
// double conversion keeps vet's unsafeptr check honest about intent.
func ptrAt(addr uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&addr))
}

// setupCPULocal prepares c's kernel TLS and stand-in g for a syscall
// stack [lo, hi). The CPU itself then points GS at c.
func setupCPULocal(c *cpuLocal, id int, syscallLo, syscallHi uintptr) {
	c.self = uintptr(unsafe.Pointer(c))
	c.id = id
	c.syscallStack = syscallHi
	// Trap Go code runs on the syscall stack or an IST stack; the
	// guard is checked against the syscall stack, the largest.
	c.g.stackLo = syscallLo
	c.g.stackHi = syscallHi
	c.g.stackGuard0 = syscallLo + stackGuardBytes
	c.g.stackGuard1 = c.g.stackGuard0
	c.tls[0] = uintptr(unsafe.Pointer(&c.g))
	c.kernelFS = uintptr(unsafe.Pointer(&c.tls[1]))
}
