package kernel

import (
	"fmt"
	"os"
	"time"

	"gosv/arch/amd64"
	"gosv/elfload"
)

// What the rest of the kernel (ordinary Go code) may ask of the core.
// Everything here is read-only after boot or takes the locks it needs.

// Cmdline returns the kernel command line as the loader passed it.
func Cmdline() string { return string(bootInfo.Cmdline()) }

// BootProtocol names the protocol the kernel was booted with.
func BootProtocol() string { return bootInfo.Protocol.String() }

// ClockSource describes where monotonic time comes from.
func ClockSource() string { return clock.source }

// TSCHz is the calibrated TSC rate.
func TSCHz() uint64 { return clock.tscHz }

// SinceEntry is the time from the kernel's first instruction to now,
// measured with the TSC.
func SinceEntry() time.Duration {
	ticks := amd64.RDTSC() - entryTSC
	return time.Duration(ticks * 1000 / (clock.tscHz / 1000_000))
}

// BootPhases splits SinceEntry at the hand-over to the Go runtime:
// kernel setup, and the runtime's own start-up until now.
func BootPhases() (kernelSetup, runtimeInit time.Duration) {
	perMicro := clock.tscHz / 1_000_000
	now := amd64.RDTSC()
	return time.Duration((runtimeStartTSC - entryTSC) * 1000 / perMicro),
		time.Duration((now - runtimeStartTSC) * 1000 / perMicro)
}

// TrapCounts sums system calls, page faults and timer interrupts over
// all CPUs since boot.
func TrapCounts() (syscalls, pageFaults, interrupts uint64) {
	for i := 0; i < cpuCount; i++ {
		syscalls += cpus[i].syscalls
		pageFaults += cpus[i].pageFaults
		interrupts += cpus[i].interrupts
	}
	return
}

// MemorySize is the RAM the machine was given (from the memory map).
func MemorySize() uint64 { return bootInfo.RAM() }

// PowerOff stops the machine; under QEMU with isa-debug-exit the status
// becomes QEMU's exit code. It goes through exit_group so the Go
// runtime's threads stop the ordinary way.
func PowerOff(status int) {
	os.Exit(status)
}

// Reboot restarts the machine.
func Reboot() {
	reboot()
}

// Module returns boot module i (an initrd), or nil.
func Module(i int) []byte {
	if i < 0 || i >= bootInfo.NModules {
		return nil
	}
	m := &bootInfo.Modules[i]
	return (*[1 << 40]byte)(ptrAt(directBase + uintptr(m.Base)))[:m.Size:m.Size]
}

// Threads describes the kernel's threads for /os/threads.
type ThreadInfo struct {
	TID      int
	CPU      int
	State    string
	Switches uint64
	CPUTime  time.Duration
}

// Threads returns a snapshot of live threads.
func Threads() []ThreadInfo {
	names := [...]string{threadFree: "free", threadRunnable: "runnable", threadRunning: "running",
		threadBlocked: "waiting", threadWaking: "runnable", threadIdle: "idle"}
	out := make([]ThreadInfo, 0, 16)
	for i := range threads {
		t := &threads[i]
		// Fields are read without the thread lock: a snapshot that may
		// mix two moments is fine for reporting.
		st := t.state.Load()
		if st == threadFree || st == threadIdle {
			continue
		}
		out = append(out, ThreadInfo{TID: int(t.tid), CPU: int(t.cpu), State: names[st],
			Switches: t.switches, CPUTime: time.Duration(t.cpuNanos)})
	}
	return out
}

// SetHostname changes the name uname reports.
func SetHostname(name string) {
	was := disableInterrupts()
	setHostname(name)
	restoreInterrupts(was)
}

// BusyCPUs counts the CPUs running something other than their idle
// thread right now.
func BusyCPUs() int {
	n := 0
	for i := 0; i < cpuCount; i++ {
		if !cpus[i].sched.idleNow.Load() {
			n++
		}
	}
	return n
}

// ImageRange is the virtual range reserved for the kernel image, which
// no application segment may overlap.
func ImageRange() elfload.Range {
	return elfload.Range{Start: kernelVirtBase, End: kernelVirtBase + 1<<30, Name: "the kernel"}
}

// BootMemoryMap describes the loader's memory map and boot modules, for
// --verbose.
func BootMemoryMap() []string {
	var out []string
	for i := 0; i < bootInfo.NRegions; i++ {
		r := bootInfo.Regions[i]
		out = append(out, fmt.Sprintf("memory %#x-%#x type %d", r.Base, r.Base+r.Size, r.Type))
	}
	for i := 0; i < bootInfo.NModules; i++ {
		m := &bootInfo.Modules[i]
		out = append(out, fmt.Sprintf("module %#x-%#x %q", m.Base, m.Base+m.Size, m.Cmdline()))
	}
	return out
}

// RandomBytes16 returns 16 bytes from the CPU's random number generator
// (AT_RANDOM for a new program).
func RandomBytes16() (b [16]byte) {
	was := disableInterrupts()
	for i := 0; i < 16; i += 8 {
		v := randomUint64()
		for k := 0; k < 8; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	restoreInterrupts(was)
	return b
}
