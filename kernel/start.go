package kernel

import (
	"unsafe"

	"gosv/arch/amd64"
	"gosv/boot/acpi"
	"gosv/boot/bootinfo"
)

// The boot sequence, from the assembly stub to the first kernel thread.
// Everything here runs before the Go runtime exists: no allocation, no
// goroutines, no package-level initialisers (they have not run).
// docs/boot.md walks through it.

var (
	bootStack [bootStackSize]byte
	bootG     fakeG
	bootTLS   [4]uintptr

	bootInfo bootinfo.Info
	// bootTables is the physical address of the stub's page tables.
	bootTables uint64
	// entryTSC and mainTSC time the boot: first instruction, and the
	// kernel's Go main.
	entryTSC uint64
	// minimumRAM is what the kernel needs to run its Go runtime.
	minimumRAM uint64 = 8 << 20
	bootErr    error
)

func entry32()
func rt0Address() uintptr
func idleAddress() uintptr
func resumeContext(ctx *Context)

// start64 is called by entry64high on the boot stack with FS pointing at
// a zeroed g. magic is EAX at entry, info is EBX, tables is the physical
// address of the stub's page tables.
func start64(magic, info, tables uint64) {
	initConsole()
	bootTables = tables
	entryTSC = *(*uint64)(ptrAt(directBase + uintptr(tables) + 0x5000 + 64))
	if !syscallTableReady() {
		earlyPanic("system-call table was not laid out statically")
	}

	bootMemory := bootinfo.Memory((*[1 << 30]byte)(ptrAt(directBase))[:])
	if err := bootinfo.Parse(bootMemory, uint32(magic), info, &bootInfo); err != nil {
		earlyPanic(err.(bootinfo.Error).Error())
	}
	detectCPU()
	enableFSGSBase()
	setupXSave()
	initDefaultFX()
	// Xen PVH guests have no UART; QEMU's -debugcon shows port 0xe9.
	useDebugcon = cpu.hypervisor == "Xen" || !uartPresent
	initPhysicalMemory(tables)
	buildDirectMap(tables)
	initAddressSpace(tables)

	c := &cpus[0]
	stacks := uintptrOf(&cpu0Stacks)
	setupCPULocal(c, 0, stacks, stacks+syscallStackSize)
	amd64.WRMSR(amd64.MSRGSBase, uint64(c.self))
	buildIDT()
	loadDescriptors(c, stacks)
	enableSyscall()
	maskPIC()
	initLAPIC()
	c.apicID = lapicRead(lapicID) >> 24
	c.online = true
	initClock()
	calibrateLAPICTimer()
	initFutexTable()
	initProcesses()
	initACPI()
	initIOAPICs(&acpiTables)
	for i := range threads {
		threads[i].next, threads[i].sleepNext, threads[i].inboxNext = noThread, noThread, noThread
	}
	if acpiTables.NCPUs > 1 {
		startAPs(acpiTables.CPUs[:acpiTables.NCPUs])
	}

	if total, _ := MemoryStats(); total < minimumRAM {
		l := line{}
		l.s("gosv: not enough memory: ").u(total >> 20).s(" MiB usable after the kernel image, at least ").
			u(minimumRAM >> 20).s(" MiB needed; give the VM more (e.g. -m ").u((bootInfo.RAM()+minimumRAM-total)>>20 + 1).s(")").print()
		powerOff(statusNoMemory)
	}

	runtimeStartTSC = amd64.RDTSC()
	startFirstThread(c, stacks)
}

// runtimeStartTSC is when the kernel handed over to the Go runtime.
var runtimeStartTSC uint64

var acpiTables acpi.Tables

// initACPI reads the MADT and FADT: which CPUs to start, how to power
// off and reset.
func initACPI() {
	mem := acpi.Memory((*[4 << 30]byte)(ptrAt(directBase))[:])
	rsdp := bootInfo.RSDP
	if rsdp == 0 {
		rsdp = acpi.FindRSDP(mem)
	}
	if rsdp == 0 || !acpi.Parse(mem, rsdp, &acpiTables) {
		l := line{}
		l.s("gosv: no ACPI tables; one CPU, no ACPI power-off").print()
	}
}

// earlyPanic reports a boot failure before anything else works.
func earlyPanic(msg string) {
	l := line{}
	l.s("gosv: boot failed: ").s(msg).print()
	powerOff(statusKernelFault)
}

func uintptrOf[T any](p *T) uintptr { return uintptr(unsafe.Pointer(p)) }

// kernelImageEnd is the physical end of the image (end of BSS).
func kernelImagePhysEnd(tables uint64) uint64 {
	return tables + 6*pageSize // the stub's tables follow the image
}

// initPhysicalMemory hands RAM to the page allocator minus the low
// megabyte (firmware, the AP trampoline), the image, the stub's tables,
// the boot information and the modules.
func initPhysicalMemory(tables uint64) {
	for i := 0; i < bootInfo.NRegions; i++ {
		r := bootInfo.Regions[i]
		if r.Type != bootinfo.RegionRAM {
			continue
		}
		start, end := max(r.Base, 1<<20), r.Base+r.Size
		if end > start {
			phys.addRange(start, end)
		}
	}
	phys.reserve(kernelPhysBase, kernelImagePhysEnd(tables))
	phys.reserve(bootInfo.InfoAddr, bootInfo.InfoAddr+bootInfo.InfoSize)
	phys.reserve(bootInfo.CmdlineAddr, bootInfo.CmdlineAddr+bootInfo.CmdlineSize)
	for i := 0; i < bootInfo.NModules; i++ {
		m := &bootInfo.Modules[i]
		phys.reserve(m.Base, m.Base+m.Size)
	}
	if bootInfo.Protocol == bootinfo.PVH {
		// The module list and memory map are separate PVH structures;
		// they are small and below 1 MiB on every loader seen so far,
		// which is already excluded.
	}
	phys.limit = 1 << 30 // until the direct map covers more
}

// buildDirectMap extends the stub's direct map (first GiB) to the 4 GiB
// below the 32-bit MMIO top and to all RAM above, with 2 MiB pages.
func buildDirectMap(tables uint64) {
	pdpt := table(tables + 0x4000)
	top := uint64(4 << 30)
	for i := 0; i < bootInfo.NRegions; i++ {
		r := bootInfo.Regions[i]
		if r.Type == bootinfo.RegionRAM && r.Base+r.Size > top {
			top = r.Base + r.Size
		}
	}
	if top > 512<<30 {
		top = 512 << 30 // one PDPT's worth; enough for now
	}
	for gib := uint64(1); gib < (top+(1<<30)-1)>>30; gib++ {
		if pdpt[gib]&ptePresent != 0 {
			continue
		}
		pd := phys.allocZeroed()
		if pd == 0 {
			earlyPanic("out of memory building the direct map")
		}
		pdt := table(pd)
		for j := uint64(0); j < 512; j++ {
			pa := gib<<30 | j<<21
			e := pa | ptePresent | pteWrite | pteHuge | pteNX
			if pa >= 3<<30 && pa < 4<<30 {
				e |= pteNoCache | pteWT // the PCI hole: device memory
			}
			pdt[j] = e
		}
		pdpt[gib] = pd | ptePresent | pteWrite
	}
	phys.limit = 0
}

// initAddressSpace drops the identity map the stub needed and registers
// the kernel image as a vma, so mmap never hands out its range.
func initAddressSpace(tables uint64) {
	kernelPT.pml4 = tables
	space.pt = &kernelPT
	low := table(tables + 0x1000)
	low[0] = 0 // identity GiB 0: zero page and 0x400000 become free
	amd64.WriteCR3(tables)
	if s, e := lazyRange(); s != e {
		space.insert(kernelVirtBase, s, protRead|protWrite|protExec, vmaKernel)
		space.insert(s, e, protRead|protWrite, 0)
		space.insert(e, kernelVirtBase+1<<30, protRead|protWrite|protExec, vmaKernel)
		releaseLazyBSS()
		return
	}
	space.insert(kernelVirtBase, kernelVirtBase+1<<30, protRead|protWrite|protExec, vmaKernel)
}

// Initial process stack for the kernel's Go runtime: reserved big,
// touched only as used.
const (
	mainStackSize = 8 << 20
	auxPageSz     = 6
	auxRandom     = 25
	auxHWCap      = 16
	auxClkTck     = 17
	auxSecure     = 23
	auxPlatform   = 15
	auxExecFn     = 31
	auxEntry      = 9
	auxNull       = 0
)

// startFirstThread builds the Go runtime's main thread and the idle
// thread, then leaves the boot stack for good.
func startFirstThread(c *cpuLocal, stacks uintptr) {
	amd64.FNINIT()

	idle := newThread()
	it := &threads[idle]
	it.state.Store(threadIdle)
	it.ctx.FPU = defaultFX
	it.ctx.Frame = Frame{
		RIP: uint64(idleAddress()), CS: selCode, SS: selData,
		RFLAGS: amd64.FlagIF | 2,
		RSP:    uint64(stacks + cpuStacksSize),
		FSBase: uint64(c.kernelFS),
		// idleLoop's inbox and polling flag
		RBX: uint64(uintptr(unsafe.Pointer(&c.sched.inbox))),
		R12: uint64(uintptr(unsafe.Pointer(&c.sched.polling))),
	}
	c.sched.init(idle)

	main := newThread()
	mt := &threads[main]
	mt.ctx.FPU = defaultFX
	setupVDSO()
	sp := buildInitialStack()
	mt.ctx.Frame = Frame{
		RIP: uint64(rt0Address()), CS: selCode, SS: selData,
		RFLAGS: amd64.FlagIF | 2,
		RSP:    uint64(sp),
	}
	mt.state.Store(threadRunning)
	mt.lastRun = nanotime()
	c.sched.current = main
	c.sched.sliceEnd = nanotime() + timeSlice

	// Start on a Context at the top of the syscall stack: the stack is
	// free, and resumeContext never comes back.
	ctx := (*Context)(ptrAt((c.syscallStack - contextSize) &^ 15))
	*ctx = mt.ctx
	resumeContext(ctx)
}

// buildInitialStack lays out argc, argv, envp and auxv the way Linux
// does for a new process, for the Go runtime's rt0.
func buildInitialStack() uintptr {
	base, err := space.mmap(0, mainStackSize, protRead|protWrite, mapPrivate|mapAnonymous|mapStack, -1)
	if err != 0 {
		earlyPanic("cannot map the initial stack")
	}
	top := base + mainStackSize
	// Strings and random bytes at the very top.
	str := top - 64
	space.access(str, 64, true)
	name := "gosv"
	copy((*[64]byte)(ptrAt(str))[:], name)
	random := str + 16
	for k := uintptr(0); k < 16; k += 8 {
		*(*uint64)(ptrAt(random + k)) = randomUint64()
	}
	platform := str + 32
	copy((*[64]byte)(ptrAt(str))[32:], "x86_64")

	// GOMEMLIMIT tells the kernel's Go runtime how much memory there
	// is, so that it collects garbage before the machine runs out
	// rather than growing its heap as if RAM were unlimited. A share is
	// left for page tables, stacks and kernel structures.
	_, free := MemoryStats()
	env := str - 64
	space.access(env, 64, true)
	var l line
	l.s("GOMEMLIMIT=").u(free / 100 * 85)
	copy((*[64]byte)(ptrAt(env))[:63], l.buf[:l.n])
	// Without ERMS the runtime's memclr clears large blocks with SSE
	// loops instead of REP STOSB. Under TCG every iteration of a REP
	// instruction is a trip through the translated block (gosvbench
	// -insns, per MB received: memclr 380k blocks -> 14k). memmove
	// still copies unaligned blocks over 2 KiB a byte at a time;
	// internal/memcopy is for that.
	//
	// Without AVX (and FMA, which is VEX-encoded too) the runtime's
	// memmove, memclr and bytealg use legacy SSE only, which leaves
	// the YMM upper halves alone: core code runs on those routines
	// while the interrupted thread's AVX state is still live in the
	// CPU (see fpu.go). Applications get AVX.
	const godebug = "GODEBUG=cpu.erms=off,cpu.avx=off,cpu.avx2=off,cpu.fma=off"
	var _ [63 - len(godebug)]byte // fits its slot with the NUL
	godebugAt := env - 64
	space.access(godebugAt, 64, true)
	copy((*[64]byte)(ptrAt(godebugAt))[:63], godebug)

	words := [...]uint64{
		1, uint64(str), 0, // argc, argv[0], NULL
		uint64(env), uint64(godebugAt), 0, // envp
		auxPageSz, pageSize,
		auxRandom, uint64(random),
		auxHWCap, uint64(cpu.leaf1EDX),
		auxClkTck, 100,
		auxSecure, 0,
		auxPlatform, uint64(platform),
		auxExecFn, uint64(str),
		auxSysinfoEhdr, uint64(uintptrOf(&vdsoImage)),
		auxNull, 0,
	}
	sp := (godebugAt - uintptr(len(words))*8) &^ 15
	space.access(sp, uintptr(len(words))*8, true)
	for k, w := range words {
		*(*uint64)(ptrAt(sp + uintptr(k)*8)) = w
	}
	return sp
}
