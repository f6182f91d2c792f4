package kernel

import (
	"encoding/binary"
	"unsafe"

	"gosv/arch/amd64"
)

// Segment selectors. The boot stub's GDT uses the same first three.
const (
	selCode = 0x08
	selData = 0x10
	selTSS  = 0x18
)

// Per-CPU kernel stacks, one contiguous region so that the stand-in g's
// stack bounds (lowest = syscall stack) cover every stack trap code runs
// on. See docs/memory-map.md.
const (
	syscallStackSize = 64 << 10
	istStackSize     = 16 << 10
	idleStackSize    = 4 << 10
	cpuStacksSize    = syscallStackSize + 3*istStackSize + idleStackSize
)

// IST slots: external interrupts, exceptions (page faults), and the
// must-not-nest vectors (NMI, double fault, machine check).
const (
	istInterrupt = 1
	istException = 2
	istCritical  = 3
)

var cpu0Stacks [cpuStacksSize]byte

// idt is shared by all CPUs.
var (
	idt  [256][16]byte
	idtr [10]byte
)

// Indexes into the assembly stub table (stubAddresses).
const (
	stubTimer    = 22
	stubWakeup   = 23
	stubHalt     = 24
	stubDev0     = 25
	stubSpurious = 33
	stubUnknown  = 34
	stubSyscall  = 35
	stubPoll     = 36
	nstubs       = 37
)

// Vector numbers.
const (
	vecPageFault = 14
	vecTimer     = 32
	vecDev0      = 48
	vecWakeup    = 240
	vecHalt      = 241
	vecPoll      = 242 // INT from a polling idle thread (idleLoop)
	vecSpurious  = 255
)

func stubAddresses() *[nstubs]uintptr

// setGate fills IDT entry v with a 64-bit interrupt gate (IF cleared on
// entry) to handler on the given IST stack.
func setGate(v int, handler uintptr, ist int) {
	e := &idt[v]
	binary.LittleEndian.PutUint16(e[0:], uint16(handler))
	binary.LittleEndian.PutUint16(e[2:], selCode)
	e[4] = byte(ist)
	e[5] = 0x8e // present, DPL 0, 64-bit interrupt gate
	binary.LittleEndian.PutUint16(e[6:], uint16(handler>>16))
	binary.LittleEndian.PutUint32(e[8:], uint32(handler>>32))
	binary.LittleEndian.PutUint32(e[12:], 0)
}

// buildIDT points every vector at a stub; called once on the boot CPU.
func buildIDT() {
	stubs := stubAddresses()
	for v := 0; v < 256; v++ {
		setGate(v, stubs[stubUnknown], istInterrupt)
	}
	for v := 0; v < 22; v++ {
		ist := istException
		if v == 2 || v == 8 || v == 18 {
			ist = istCritical
		}
		setGate(v, stubs[v], ist)
	}
	setGate(vecTimer, stubs[stubTimer], istInterrupt)
	setGate(vecWakeup, stubs[stubWakeup], istInterrupt)
	setGate(vecHalt, stubs[stubHalt], istCritical)
	setGate(vecPoll, stubs[stubPoll], istInterrupt)
	for i := 0; i < 8; i++ {
		setGate(vecDev0+i, stubs[stubDev0+i], istInterrupt)
	}
	setGate(vecSpurious, stubs[stubSpurious], istInterrupt)
	binary.LittleEndian.PutUint16(idtr[0:], uint16(len(idt)*16-1))
	binary.LittleEndian.PutUint64(idtr[2:], uint64(uintptr(unsafe.Pointer(&idt))))
}

// loadDescriptors gives CPU c its GDT (with its own TSS), loads the
// shared IDT and reloads the segment registers. stacks is the base of
// the CPU's stack region.
func loadDescriptors(c *cpuLocal, stacks uintptr) {
	c.gdt[0] = 0
	c.gdt[1] = 0x00209a0000000000 // 64-bit code, DPL 0
	c.gdt[2] = 0x00cf92000000ffff // data
	tss := uint64(uintptr(unsafe.Pointer(&c.tss)))
	limit := uint64(len(c.tss) - 1)
	c.gdt[3] = limit&0xffff | (tss&0xffffff)<<16 | 0x89<<40 | (tss>>24&0xff)<<56
	c.gdt[4] = tss >> 32

	ist1 := stacks + syscallStackSize + istStackSize
	c.istTops[1] = ist1
	c.istTops[2] = ist1 + istStackSize
	c.istTops[3] = ist1 + 2*istStackSize
	for i := 1; i <= 3; i++ {
		binary.LittleEndian.PutUint64(c.tss[36+8*(i-1):], uint64(c.istTops[i]))
	}
	binary.LittleEndian.PutUint16(c.tss[102:], uint16(len(c.tss))) // no I/O bitmap

	binary.LittleEndian.PutUint16(c.gdtr[0:], uint16(len(c.gdt)*8-1))
	binary.LittleEndian.PutUint64(c.gdtr[2:], uint64(uintptr(unsafe.Pointer(&c.gdt))))
	amd64.LGDT(uintptr(unsafe.Pointer(&c.gdtr)))
	amd64.ReloadSegments(selCode, selData)
	amd64.LTR(selTSS)
	amd64.LIDT(uintptr(unsafe.Pointer(&idtr)))
}

// enableSyscall points SYSCALL at syscallEntry. STAR's CS/SS fields are
// set for completeness; SYSRET is never used (it always returns to ring 3).
func enableSyscall() {
	amd64.WRMSR(amd64.MSRLSTAR, uint64(stubAddresses()[stubSyscall]))
	amd64.WRMSR(amd64.MSRSTAR, uint64(selCode)<<32|uint64(selData-8|3)<<48)
	amd64.WRMSR(amd64.MSRFMASK, amd64.FlagIF|amd64.FlagDF|amd64.FlagTF|amd64.FlagAC)
	amd64.WRMSR(amd64.MSREFER, amd64.RDMSR(amd64.MSREFER)|1) // SCE
}
