// Package amd64 holds the x86-64 primitives the kernel is built from:
// port and MMIO access, model-specific and control registers, CPUID, TSC,
// RDRAND and descriptor-table loads. Each function is a single instruction
// or close to it; the assembly lives in cpu_amd64.s.
//
// Every function here is safe to call before the Go runtime is initialised
// and from trap handlers: none allocates, grows the stack or takes a lock.
package amd64

// Model-specific registers used by the kernel (Intel SDM vol. 4).
const (
	MSRAPICBase      = 0x1b
	MSREFER          = 0xc0000080
	MSRSTAR          = 0xc0000081
	MSRLSTAR         = 0xc0000082
	MSRFMASK         = 0xc0000084
	MSRFSBase        = 0xc0000100
	MSRGSBase        = 0xc0000101
	MSRKernelGSBase  = 0xc0000102
	MSRTSCDeadline   = 0x6e0
	MSRKVMSystemTime = 0x4b564d01
	MSRKVMWallClock  = 0x4b564d00
)

// RFLAGS bits.
const (
	FlagIF = 1 << 9
	FlagDF = 1 << 10
	FlagTF = 1 << 8
	FlagAC = 1 << 18
)

// Inb reads a byte from an I/O port.
func Inb(port uint16) uint8

// Outb writes a byte to an I/O port.
func Outb(port uint16, v uint8)

// Inw reads a 16-bit word from an I/O port.
func Inw(port uint16) uint16

// Outw writes a 16-bit word to an I/O port.
func Outw(port uint16, v uint16)

// Inl reads a 32-bit word from an I/O port.
func Inl(port uint16) uint32

// Outl writes a 32-bit word to an I/O port.
func Outl(port uint16, v uint32)

// RDMSR reads a model-specific register.
func RDMSR(msr uint32) uint64

// WRMSR writes a model-specific register.
func WRMSR(msr uint32, v uint64)

// CPUID executes CPUID with EAX=leaf, ECX=sub.
func CPUID(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// RDTSC reads the time-stamp counter.
func RDTSC() uint64

// RDRAND returns a hardware random number; ok is false when the DRNG is
// not ready (the caller retries) or absent.
func RDRAND() (v uint64, ok bool)

// RDSEED is like RDRAND but reads the entropy source directly.
func RDSEED() (v uint64, ok bool)

// ReadCR0, ReadCR2, ReadCR3, ReadCR4 read control registers.
func ReadCR0() uint64
func ReadCR2() uint64
func ReadCR3() uint64
func ReadCR4() uint64

// WriteCR0, WriteCR3, WriteCR4 write control registers.
func WriteCR0(v uint64)
func WriteCR3(v uint64)
func WriteCR4(v uint64)

// INVLPG drops the TLB entry for one virtual address.
func INVLPG(addr uintptr)

// LGDT loads the GDT register from a 10-byte pseudo-descriptor at p.
func LGDT(p uintptr)

// LIDT loads the IDT register from a 10-byte pseudo-descriptor at p.
func LIDT(p uintptr)

// LTR loads the task register.
func LTR(sel uint16)

// ReloadSegments reloads CS with code and DS, ES, SS with data. FS and
// GS keep their selectors and bases.
func ReloadSegments(code, data uint16)

// HLT halts until the next interrupt.
func HLT()

// CLI disables interrupts.
func CLI()

// STI enables interrupts.
func STI()

// Flags returns RFLAGS.
func Flags() uint64

// Pause is a spin-wait hint.
func Pause()

// FXSave stores the x87/SSE state into the 512-byte, 16-byte aligned area at p.
func FXSave(p uintptr)

// FNINIT resets the x87 unit to its power-on state.
func FNINIT()

// Breakpoint raises #BP.
func Breakpoint()

// FXRstor loads the x87/SSE state from the 512-byte, 16-byte aligned
// area at p.
func FXRstor(p uintptr)

// XGetBV reads extended control register index (0 is XCR0, the state
// components XSAVE manages). Needs CR4.OSXSAVE.
func XGetBV(index uint32) uint64

// XSetBV writes extended control register index. Needs CR4.OSXSAVE.
func XSetBV(index uint32, v uint64)

// XSave stores the state components in mask into the 64-byte aligned
// XSAVE area at p (standard format). Needs CR4.OSXSAVE.
func XSave(p uintptr, mask uint64)

// XRstor loads the state components in mask from the 64-byte aligned
// XSAVE area at p. The area's header must be valid (XSTATE_BV within
// XCR0, the rest of the header zero) or the CPU raises #GP.
func XRstor(p uintptr, mask uint64)
