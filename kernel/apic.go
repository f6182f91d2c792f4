package kernel

import "gosv/arch/amd64"

// Local APIC (xAPIC, MMIO at 0xfee00000; Intel SDM vol. 3, chapter 11)
// and the legacy 8259 PIC, which is masked. x2APIC is not used: QEMU 7.2
// TCG lacks it, and xAPIC works everywhere.

const (
	lapicPhys = 0xfee00000

	lapicID       = 0x020
	lapicTPR      = 0x080
	lapicEOIReg   = 0x0b0
	lapicSVR      = 0x0f0
	lapicICRLow   = 0x300
	lapicICRHigh  = 0x310
	lapicLVTTimer = 0x320
	lapicLVTLINT0 = 0x350
	lapicLVTLINT1 = 0x360
	lapicLVTError = 0x370
	lapicTimerICR = 0x380
	lapicTimerCCR = 0x390
	lapicTimerDiv = 0x3e0

	lvtMasked   = 1 << 16
	svrEnable   = 1 << 8
	timerDivBy1 = 0xb
)

var (
	lapicBase uintptr
	// lapicTimerHz is the timer's count rate (after the divider).
	lapicTimerHz uint64
)

func lapicRead(reg uintptr) uint32 {
	return *(*uint32)(ptrAt(lapicBase + reg))
}

func lapicWrite(reg uintptr, v uint32) {
	*(*uint32)(ptrAt(lapicBase + reg)) = v
}

func lapicEOI() { lapicWrite(lapicEOIReg, 0) }

// maskPIC silences the 8259s: all interrupts go through the APICs.
func maskPIC() {
	amd64.Outb(0x21, 0xff)
	amd64.Outb(0xa1, 0xff)
}

// initLAPIC enables this CPU's local APIC with the timer masked.
func initLAPIC() {
	lapicBase = directBase + lapicPhys
	amd64.WRMSR(amd64.MSRAPICBase, amd64.RDMSR(amd64.MSRAPICBase)|1<<11) // global enable
	lapicWrite(lapicTPR, 0)
	lapicWrite(lapicLVTLINT0, lvtMasked)
	lapicWrite(lapicLVTLINT1, lvtMasked)
	lapicWrite(lapicLVTError, lvtMasked)
	lapicWrite(lapicSVR, svrEnable|vecSpurious)
	lapicWrite(lapicTimerDiv, timerDivBy1)
	lapicWrite(lapicLVTTimer, lvtMasked|vecTimer)
}

// calibrateLAPICTimer measures the timer rate against the (already
// calibrated) TSC, unless the PIT window measured it already.
func calibrateLAPICTimer() {
	if lapicTimerHz != 0 {
		lapicWrite(lapicLVTTimer, vecTimer) // one-shot, unmasked
		return
	}
	lapicWrite(lapicLVTTimer, lvtMasked|vecTimer)
	lapicWrite(lapicTimerICR, 0xffffffff)
	start := nanotime()
	for nanotime()-start < 2_000_000 {
		amd64.Pause()
	}
	counted := uint64(0xffffffff - lapicRead(lapicTimerCCR))
	elapsed := uint64(nanotime() - start)
	lapicWrite(lapicTimerICR, 0)
	lapicTimerHz = counted * 1_000_000_000 / elapsed
	if lapicTimerHz == 0 {
		lapicTimerHz = 1_000_000_000
	}
	lapicWrite(lapicLVTTimer, vecTimer) // one-shot, unmasked
}

// lapicArm fires the timer interrupt at monotonic time deadline
// (0 disarms it).
func lapicArm(deadline int64) {
	if deadline == 0 {
		lapicWrite(lapicTimerICR, 0)
		return
	}
	delta := deadline - nanotime()
	if delta < 1000 {
		delta = 1000 // already due: fire almost at once
	}
	count := uint64(delta) * lapicTimerHz / 1_000_000_000
	if delta > 1<<32 { // avoid overflow for far deadlines
		count = uint64(delta/1000) * lapicTimerHz / 1_000_000
	}
	if count == 0 {
		count = 1
	}
	if count > 0xffffffff {
		count = 0xffffffff // the timer re-arms when it fires early
	}
	lapicWrite(lapicTimerICR, uint32(count))
}

// sendIPI sends a fixed interrupt to the CPU with the given APIC ID.
func sendIPI(apicID uint32, vector uint8) {
	lapicSetDest(apicID)
	lapicWrite(lapicICRLow, uint32(vector))
}

// lapicSetDest puts apicID in the ICR's destination field unless this
// CPU's APIC already holds it there: the register keeps its value, and
// each APIC access is a VM exit (under TCG it also waits for QEMU's big
// lock), so a wake-up IPI to the usual other CPU costs one write, not
// two. Callers run with interrupts off, so no IPI sent from an
// interrupt handler comes between the two writes.
func lapicSetDest(apicID uint32) {
	c := thisCPU()
	if c.icrDestValid && c.icrDest == apicID {
		return
	}
	lapicWrite(lapicICRHigh, apicID<<24)
	c.icrDest, c.icrDestValid = apicID, true
}

// haltOtherCPUs stops every other CPU (used by fatal).
func haltOtherCPUs() {
	if cpuCount <= 1 || lapicBase == 0 {
		return
	}
	// All-excluding-self shorthand, fixed delivery.
	lapicWrite(lapicICRLow, 3<<18|vecHalt)
}
