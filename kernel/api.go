package kernel

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
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

// CoreCounters are the core's event counts, summed over CPUs since
// boot: what the kernel did, for telling where time goes (for example
// per HTTP request: divide by the requests served).
func CoreCounters() map[string]uint64 {
	m := map[string]uint64{}
	for i := 0; i < cpuCount; i++ {
		c := &cpus[i]
		for _, e := range [...]struct {
			name string
			v    uint64
		}{
			{"syscalls", c.syscalls}, {"page_faults", c.pageFaults},
			{"timer_interrupts", c.interrupts}, {"timer_arms", c.timerArms},
			{"device_interrupts", c.deviceIRQs}, {"wakeup_ipis_sent", c.ipis},
			{"wakeup_ipis_received", c.wakeupIRQs}, {"context_switches", c.switches},
			{"forwarded_calls", c.forwards}, {"idle_poll_wakes", c.pollWakes},
		} {
			m[e.name] += e.v
		}
	}
	for proc, who := range [...]string{procKernel: "kernel", procApp: "app"} {
		for nr := range syscallCounts[proc] {
			if n := syscallCounts[proc][nr].Load(); n > 0 {
				name := syscallTable[nr].name
				if name == "" {
					name = strconv.Itoa(nr)
				}
				m["syscalls."+who+"."+name] = n
			}
		}
	}
	return m
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
	App      bool // the application's (else the kernel's runtime's)
	TID      int
	CPU      int
	State    string
	Switches uint64
	CPUTime  time.Duration
	// Wait says what a waiting thread waits for: "futex", "sleep",
	// "poll", "epoll", "requests" (a server thread waiting for calls),
	// or "server:N" (system call N, forwarded to the server).
	Wait string
}

// Threads returns a snapshot of live threads.
func Threads() []ThreadInfo {
	names := [...]string{threadFree: "free", threadExiting: "exiting", threadRunnable: "runnable", threadRunning: "running",
		threadBlocked: "waiting", threadWaking: "runnable", threadIdle: "idle"}
	out := make([]ThreadInfo, 0, 16)
	for i := range threads {
		t := &threads[i]
		// Fields are read without the thread lock: a snapshot that may
		// mix two moments is fine for reporting.
		st := t.state.Load()
		if st == threadFree || st == threadIdle || st == threadExiting {
			continue
		}
		info := ThreadInfo{App: t.proc == procApp, TID: int(t.tid), CPU: int(t.cpu), State: names[st],
			Switches: t.switches, CPUTime: time.Duration(t.cpuNanos)}
		if st == threadBlocked {
			info.Wait = waitName(t.wait, t.syscallNr)
		}
		out = append(out, info)
	}
	return out
}

func waitName(w waitReason, nr uint64) string {
	switch w {
	case waitFutex:
		return "futex"
	case waitSleep:
		return "sleep"
	case waitEpoll:
		return "epoll"
	case waitPoll:
		return "poll"
	case waitServerIdle:
		return "requests"
	case waitServer:
		return "server:" + strconv.FormatUint(nr, 10)
	}
	return ""
}

// SetIdlePoll sets how many rounds an idle CPU polls for work before
// halting (--idle-poll; 0 halts at once, and short nanosleeps block
// instead of being waited out in place). idleLoop reads it afresh each
// time it starts polling.
func SetIdlePoll(rounds uint64) { atomic.StoreUint64(&idlePollSpins, rounds) }

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

// Mapping is one vma of the address space, for /proc/self/maps.
type Mapping struct {
	Start, End        uint64
	Read, Write, Exec bool
	Kernel            bool // the kernel image or kernel stacks
}

// Mappings lists the address space's vmas in address order.
func Mappings() []Mapping {
	out := make([]Mapping, 0, 64)
	var buf [64]vma
	for start := uintptr(0); ; {
		n := 0
		was := disableInterrupts()
		space.lock.lock()
		for i := space.find(start); i < space.n && n < len(buf); i++ {
			buf[n] = space.list[i]
			n++
		}
		space.lock.unlock()
		restoreInterrupts(was)
		for _, v := range buf[:n] {
			out = append(out, Mapping{Start: uint64(v.start), End: uint64(v.end),
				Read: v.prot&protRead != 0, Write: v.prot&protWrite != 0, Exec: v.prot&protExec != 0,
				Kernel: v.flags&vmaKernel != 0})
		}
		if n < len(buf) {
			return out
		}
		start = buf[n-1].end
	}
}

// AppFD is one of the application's file descriptors.
type AppFD struct {
	FD     int
	Kind   string // "console", "eventfd", "epoll" or "server"
	Handle int32  // the server handle, for "server"
}

// AppFDs lists the application's open file descriptors.
func AppFDs() []AppFD {
	kinds := [...]string{fdConsole: "console", fdEventfd: "eventfd", fdEpoll: "epoll", fdServer: "server"}
	var out []AppFD
	was := disableInterrupts()
	fdLock.lock()
	var snap [maxFDs]fdEntry
	copy(snap[:], procs[procApp].fds[:])
	fdLock.unlock()
	restoreInterrupts(was)
	for fd, e := range snap {
		if e.kind != fdFree {
			out = append(out, AppFD{FD: fd, Kind: kinds[e.kind], Handle: e.handle})
		}
	}
	return out
}

// Uptime is the time since the clock started at boot.
func Uptime() time.Duration { return time.Duration(nanotime()) }

// CPUDescription is what CPUID says, for /proc/cpuinfo.
type CPUDescription struct {
	Vendor, Brand           string
	Family, Model, Stepping int
	Flags                   []string
	MHz                     float64
}

// DescribeCPU reads the boot CPU's identification.
func DescribeCPU() CPUDescription {
	eax, _, _, _ := amd64.CPUID(1, 0)
	family := int(eax>>8) & 0xf
	model := int(eax>>4) & 0xf
	if family == 0xf {
		family += int(eax>>20) & 0xff
	}
	if family >= 6 {
		model |= int(eax>>16) & 0xf << 4
	}
	d := CPUDescription{
		Vendor: string(cpu.vendor[:]), Brand: strings.TrimRight(string(cpu.brand[:]), "\x00 "),
		Family: family, Model: model, Stepping: int(eax & 0xf),
		MHz: float64(clock.tscHz) / 1e6,
	}
	edx := [...]string{0: "fpu", 4: "tsc", 5: "msr", 6: "pae", 8: "cx8", 9: "apic", 11: "sep", 12: "mtrr", 13: "pge", 15: "cmov", 16: "pat", 19: "clflush", 23: "mmx", 24: "fxsr", 25: "sse", 26: "sse2", 28: "ht"}
	ecx := [...]string{0: "pni", 1: "pclmulqdq", 9: "ssse3", 12: "fma", 13: "cx16", 19: "sse4_1", 20: "sse4_2", 21: "x2apic", 22: "movbe", 23: "popcnt", 25: "aes", 26: "xsave", 27: "osxsave", 28: "avx", 29: "f16c", 30: "rdrand", 31: "hypervisor"}
	ebx7 := [...]string{0: "fsgsbase", 3: "bmi1", 5: "avx2", 8: "bmi2", 9: "erms", 18: "rdseed", 19: "adx", 29: "sha_ni"}
	add := func(names []string, bits uint32) {
		for i, n := range names {
			if n != "" && bits&(1<<i) != 0 {
				d.Flags = append(d.Flags, n)
			}
		}
	}
	add(edx[:], cpu.leaf1EDX)
	add(ecx[:], cpu.leaf1ECX)
	add(ebx7[:], cpu.leaf7EBX)
	if cpu.extEDX&(1<<29) != 0 {
		d.Flags = append(d.Flags, "lm")
	}
	return d
}

// Hostname returns the host name.
func Hostname() string {
	was := disableInterrupts()
	h := string(hostname())
	restoreInterrupts(was)
	return h
}
