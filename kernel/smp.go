package kernel

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"

	"gosv/arch/amd64"
)

// Starting the application processors (Intel SDM vol. 3, 8.4.4: INIT,
// then two Startup IPIs). A CPU starts in real mode at the page the SIPI
// names, so a small trampoline is copied below 1 MiB: real mode ->
// protected mode -> long mode on the kernel's page tables -> apEntry64
// at the kernel's virtual address. The trampoline is machine code in
// bytes (the Go assembler has no 16-bit mode), each instruction
// labelled with its mnemonic.

const (
	trampolinePhys = 0x8000 // SIPI vector 0x08
	trampGDT       = 0xc0
	trampGDTR      = 0xe0
	trampCR3       = 0xf0
	trampEntry     = 0xf8
	trampStack     = 0x100
)

// The trampoline's three parts go at offsets 0x00, 0x40 and 0x90 of its
// page; the data it reads lives at 0xc0 and up.
var (
	trampReal16 = [...]byte{ // CS = 0x0800, IP = 0
		0xfa,       // cli
		0x31, 0xc0, // xor ax, ax
		0x8e, 0xd8, // mov ds, ax
		0x0f, 0x01, 0x16, 0xe0, 0x80, // lgdt [0x80e0]
		0x0f, 0x20, 0xc0, // mov eax, cr0
		0x66, 0x83, 0xc8, 0x01, // or eax, 1 (PE)
		0x0f, 0x22, 0xc0, // mov cr0, eax
		0x66, 0xea, 0x40, 0x80, 0x00, 0x00, 0x08, 0x00, // jmp dword 0x08:0x8040
	}
	trampProt32 = [...]byte{
		0x66, 0xb8, 0x10, 0x00, // mov ax, 0x10
		0x8e, 0xd8, // mov ds, ax
		0x8e, 0xc0, // mov es, ax
		0x8e, 0xd0, // mov ss, ax
		0x0f, 0x20, 0xe0, // mov eax, cr4
		0x0d, 0x20, 0x06, 0x00, 0x00, // or eax, 0x620 (PAE|OSFXSR|OSXMMEXCPT)
		0x0f, 0x22, 0xe0, // mov cr4, eax
		0xa1, 0xf0, 0x80, 0x00, 0x00, // mov eax, [0x80f0] (CR3)
		0x0f, 0x22, 0xd8, // mov cr3, eax
		0xb9, 0x80, 0x00, 0x00, 0xc0, // mov ecx, 0xc0000080 (EFER)
		0x0f, 0x32, // rdmsr
		0x0d, 0x01, 0x09, 0x00, 0x00, // or eax, 0x901 (SCE|LME|NXE)
		0x0f, 0x30, // wrmsr
		0x0f, 0x20, 0xc0, // mov eax, cr0
		0x25, 0xf3, 0xff, 0xff, 0xff, // and eax, ~0xc (EM, TS)
		0x0d, 0x03, 0x00, 0x00, 0x80, // or eax, 0x80000003 (PG|MP|PE)
		0x0f, 0x22, 0xc0, // mov cr0, eax
		0xea, 0x90, 0x80, 0x00, 0x00, 0x18, 0x00, // jmp 0x18:0x8090
	}
	trampLong64 = [...]byte{
		0x48, 0x8b, 0x24, 0x25, 0x00, 0x81, 0x00, 0x00, // mov rsp, [0x8100]
		0x48, 0x8b, 0x04, 0x25, 0xf8, 0x80, 0x00, 0x00, // mov rax, [0x80f8]
		0xff, 0xe0, // jmp rax
	}
)

// Compile-time checks that each part fits before the next.
var (
	_ [0x40 - len(trampReal16)]byte
	_ [0x90 - 0x40 - len(trampProt32)]byte
	_ [trampGDT - 0x90 - len(trampLong64)]byte
)

var (
	// apBootFS and apBootIndex tell the starting AP who it is.
	apBootFS    uintptr
	apBootIndex int
	apOnline    atomic.Bool
)

func apEntryAddress() uintptr

// startAPs starts every CPU in apicIDs other than the boot CPU. It runs
// in start64, before the Go runtime, so that the runtime sees all CPUs
// in sched_getaffinity.
func startAPs(apicIDs []uint32) {
	tramp := physPage(trampolinePhys)
	clear(tramp[:])
	copy(tramp[0x00:], trampReal16[:])
	copy(tramp[0x40:], trampProt32[:])
	copy(tramp[0x90:], trampLong64[:])
	le := binary.LittleEndian
	le.PutUint64(tramp[trampGDT+8:], 0x00cf9a000000ffff)  // 32-bit code
	le.PutUint64(tramp[trampGDT+16:], 0x00cf92000000ffff) // data
	le.PutUint64(tramp[trampGDT+24:], 0x00209a0000000000) // 64-bit code
	le.PutUint16(tramp[trampGDTR:], 31)
	le.PutUint32(tramp[trampGDTR+2:], trampolinePhys+trampGDT)
	le.PutUint32(tramp[trampCR3:], uint32(kernelPT.pml4))
	le.PutUint64(tramp[trampEntry:], uint64(apEntryAddress()))

	// The trampoline runs at its physical address: map low memory
	// again while APs start.
	low := table(kernelPT.pml4 + 0x1000)
	low[0] = (kernelPT.pml4 + 0x2000) | ptePresent | pteWrite
	amd64.WriteCR3(kernelPT.pml4)

	for _, id := range apicIDs {
		if id == cpus[0].apicID || cpuCount == maxCPUs {
			continue
		}
		idx := cpuCount
		c := &cpus[idx]
		stacks, err := space.mmapKernel(cpuStacksSize)
		if err != 0 {
			break
		}
		c.apicID = id
		setupCPULocal(c, idx, stacks, stacks+syscallStackSize)
		// The AP starts on its critical-IST stack, so that its first
		// Context can go on top of the syscall stack (see apStart64).
		le.PutUint64(tramp[trampStack:], uint64(stacks+syscallStackSize+3*istStackSize))
		apBootFS, apBootIndex = c.kernelFS, idx
		apOnline.Store(false)

		lapicICR(id, 0x4500) // INIT, assert
		spinFor(10_000_000)
		for k := 0; k < 2; k++ {
			lapicICR(id, 0x4600|trampolinePhys>>12) // Startup
			spinFor(200_000)
		}
		deadline := nanotime() + 1_000_000_000
		for !apOnline.Load() && nanotime() < deadline {
			amd64.Pause()
		}
		if !apOnline.Load() {
			l := line{}
			l.s("gosv: CPU with APIC ID ").u(uint64(id)).s(" did not start").print()
			continue
		}
		cpuCount++
	}
	low[0] = 0
	amd64.WriteCR3(kernelPT.pml4)
}

// lapicICR sends an IPI with the given ICR low word and waits until the
// local APIC has sent it.
func lapicICR(apicID uint32, low uint32) {
	lapicSetDest(apicID)
	lapicWrite(lapicICRLow, low)
	for i := 0; i < 1_000_000 && lapicRead(lapicICRLow)&(1<<12) != 0; i++ {
		amd64.Pause()
	}
}

func spinFor(ns int64) {
	end := nanotime() + ns
	for nanotime() < end {
		amd64.Pause()
	}
}

// apStart64 finishes an AP's setup on its own CPU and starts its idle
// thread.
func apStart64() {
	c := &cpus[apBootIndex]
	amd64.WRMSR(amd64.MSRGSBase, uint64(c.self))
	if haveFSGSBase { // before this CPU's first trap
		amd64.WriteCR4(amd64.ReadCR4() | cr4FSGSBase)
	}
	enableXSave()
	stacks := c.g.stackLo
	loadDescriptors(c, stacks)
	enableSyscall()
	initLAPIC()
	lapicWrite(lapicLVTTimer, vecTimer)
	amd64.FNINIT()

	idle := newThread()
	it := &threads[idle]
	it.cpu = int32(c.id)
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
	it.state.Store(threadIdle)
	c.sched.init(idle)
	c.sched.idleNow.Store(true)
	c.online = true
	apOnline.Store(true)

	ctx := (*Context)(ptrAt((c.syscallStack - contextSize) &^ 15))
	*ctx = it.ctx
	resumeContext(ctx)
}
