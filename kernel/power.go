package kernel

import (
	"gosv/arch/amd64"
	"gosv/boot/acpi"
)

// Power. Under QEMU the isa-debug-exit device (port 0xf4) turns the
// guest's status into QEMU's exit code ((status<<1)|1), which is how tests
// read a verdict. Otherwise the machine is switched off through ACPI, and
// failing that through the platform reset paths.

const (
	debugExitPort = 0xf4

	// Statuses the kernel itself reports.
	statusKernelFault = 0x70
	statusNoMemory    = 0x71
	statusBadCmdline  = 0x72
	statusProbe       = 0x5a
)

// powerOff stops the machine with the given status. It does not return.
func powerOff(status int) {
	amd64.CLI()
	haltOtherCPUs()
	amd64.Outl(debugExitPort, uint32(status))
	acpiPowerOff()
	l := line{}
	l.s("gosv: power off failed; halting").print()
	for {
		amd64.CLI()
		amd64.HLT()
	}
}

// reboot restarts the machine: ACPI reset register, then the keyboard
// controller, then a triple fault.
func reboot() {
	amd64.CLI()
	haltOtherCPUs()
	acpiReset()
	amd64.Outb(0xcf9, 0x06) // PCI reset control: full reset
	for i := 0; i < 10000 && amd64.Inb(0x64)&2 != 0; i++ {
	}
	amd64.Outb(0x64, 0xfe) // 8042 pulse reset line
	// Triple fault: an empty IDT and an exception.
	var zero [10]byte
	amd64.LIDT(uintptrOf(&zero))
	amd64.INVLPG(0) // not a fault; the breakpoint below is
	amd64.Breakpoint()
	for {
		amd64.HLT()
	}
}

// acpiPowerOff enters S5 through the FADT: the PM1 control registers
// (SLP_TYP from \_S5, SLP_EN), or on hardware-reduced platforms such as
// QEMU microvm the sleep control register. It returns if that is not
// possible or did not work.
func acpiPowerOff() {
	t := &acpiTables
	if !t.S5Found {
		return
	}
	typ := uint16(t.S5Type)
	if t.HardwareReduced {
		writeGAS(t.SleepControl, uint8(typ&7)<<2|1<<5)
	} else if t.PM1aCnt != 0 {
		amd64.Outw(uint16(t.PM1aCnt), typ<<10|1<<13)
		if t.PM1bCnt != 0 {
			amd64.Outw(uint16(t.PM1bCnt), typ<<10|1<<13)
		}
	}
	spinFor(100_000_000)
}

// acpiReset writes the FADT reset value to the reset register.
func acpiReset() {
	t := &acpiTables
	if t.ResetSupported && t.Reset.Address != 0 {
		writeGAS(t.Reset, t.ResetValue)
		spinFor(100_000_000)
	}
}

// writeGAS writes one byte to an ACPI generic address.
func writeGAS(g acpi.GAS, v uint8) {
	switch g.Space {
	case 0: // system memory
		*(*uint8)(ptrAt(directBase + uintptr(g.Address))) = v
	case 1: // system I/O
		amd64.Outb(uint16(g.Address), v)
	}
}
