package kernel

// Ordinary-Go entry points for drivers (kernel/hw wraps them in the
// interfaces drivers/ expects). See devices.go for the design.

import (
	"errors"

	"gosv/boot/acpi"
	"syscall"
	"time"
	"unsafe"
)

// Errors from the device API.
var (
	ErrNoDMAMemory = errors.New("kernel: no contiguous physical memory for DMA")
	ErrNoIRQLine   = errors.New("kernel: no free device interrupt vector")
	ErrNoGSI       = errors.New("kernel: no I/O APIC serves that interrupt line")
	ErrDeviceMap   = errors.New("kernel: cannot map device memory")
)

// AllocDMA returns size bytes of zeroed, physically contiguous memory
// aligned to align (rounded up to a page), as the kernel sees it (through
// the direct map) and as devices see it. It is never freed.
func AllocDMA(size, align int) (virt []byte, pa uint64, err error) {
	if size <= 0 || align <= 0 || align&(align-1) != 0 {
		return nil, 0, errors.New("kernel: bad DMA size or alignment")
	}
	a := uint64(max(align, pageSize))
	n := (uint64(size) + pageSize - 1) / pageSize
	was := disableInterrupts()
	pa = phys.allocContiguous(n, a)
	restoreInterrupts(was)
	if pa == 0 {
		return nil, 0, ErrNoDMAMemory
	}
	b := unsafe.Slice((*byte)(ptrAt(directBase+uintptr(pa))), size)
	return b, pa, nil
}

// MapDeviceMemory returns the kernel address of device memory at
// physical address pa (a BAR or an MMIO window), mapped uncached.
func MapDeviceMemory(pa, size uint64) (uintptr, error) {
	if size == 0 || pa+size < pa || pa+size > 1<<46 {
		return 0, ErrDeviceMap
	}
	was := disableInterrupts()
	ok := mapDeviceMemory(pa, size)
	restoreInterrupts(was)
	if !ok {
		return 0, ErrDeviceMap
	}
	return directBase + uintptr(pa), nil
}

// RouteGSI claims a device vector for I/O APIC line gsi, routes the line
// to the boot CPU, and returns the vector's line number for WaitIRQ.
// Level-triggered lines are masked each time they fire until UnmaskIRQ.
func RouteGSI(gsi int, level, activeLow bool) (int, error) {
	was := disableInterrupts()
	defer restoreInterrupts(was)
	if _, _, ok := ioapicFor(gsi); !ok {
		return -1, ErrNoGSI
	}
	line := allocIRQLine(int32(gsi), level)
	if line < 0 {
		return -1, ErrNoIRQLine
	}
	ioapicRoute(gsi, uint8(vecDev0+line), cpus[0].apicID, level, activeLow)
	return line, nil
}

// AllocMSI claims a device vector for a message-signalled interrupt and
// returns its line number and the message (x86 MSI address and data) a
// device must write to raise it on the boot CPU.
func AllocMSI() (line int, addr uint64, data uint32, err error) {
	was := disableInterrupts()
	line = allocIRQLine(-1, false)
	restoreInterrupts(was)
	if line < 0 {
		return -1, 0, 0, ErrNoIRQLine
	}
	// Intel SDM vol. 3A 11.11: address 0xFEE<dest ID><rh dm>, data =
	// vector (fixed delivery, edge).
	return line, 0xfee00000 | uint64(cpus[0].apicID&0xff)<<12, uint32(vecDev0 + line), nil
}

// IRQCount returns how many interrupts line has had, wrapping; WaitIRQ
// takes the last value seen.
func IRQCount(line int) uint32 {
	if line < 0 || line >= maxIRQLines {
		return 0
	}
	return irqLines[line].count.Load()
}

// WaitIRQ blocks until line's count differs from seen or timeout passes,
// and returns the count. It parks the calling runtime thread in a futex
// wait, and gives up the thread's P first (futexWaitBlocking).
func WaitIRQ(line int, seen uint32, timeout time.Duration) uint32 {
	if line < 0 || line >= maxIRQLines {
		time.Sleep(timeout)
		return seen
	}
	w := &irqLines[line].count
	if c := w.Load(); c != seen {
		return c
	}
	ts := syscall.NsecToTimespec(int64(timeout))
	futexWaitBlocking(uintptrOf(w), seen, uintptr(unsafe.Pointer(&ts)))
	return w.Load()
}

// futexWaitBlocking is FUTEX_WAIT as a system call the Go scheduler
// knows will block: entersyscallblock hands the P to another thread at
// once. syscall.Syscall6's entersyscall keeps the P with the waiting
// thread until sysmon takes it back (retake, after 20 µs or more); a
// driver that waits for its interrupt every few frames kept sysmon at
// its 20 µs period, retaking and handing off the P (and waking a
// thread to spin on it) at nearly every wait. Nosplit: nothing may
// grow the stack between entering and leaving the system call.
//
//go:nosplit
func futexWaitBlocking(addr uintptr, val uint32, ts uintptr) {
	const futexWaitPrivate = 0 | 128
	entersyscallblock()
	syscall.RawSyscall6(syscall.SYS_FUTEX, addr, futexWaitPrivate, uintptr(val), ts, 0, 0)
	exitsyscall()
}

// The runtime exports these to gVisor by linkname (go.dev/issue/67401),
// which makes them reachable here too.
//
//go:linkname entersyscallblock runtime.entersyscallblock
func entersyscallblock()

//go:linkname exitsyscall runtime.exitsyscall
func exitsyscall()

// AckIRQInCore makes the core acknowledge line's interrupts itself, for
// a device (virtio-mmio) whose interrupt is acknowledged by writing
// back the bits of a status register: on each interrupt the core reads
// the 32-bit register at virtual address status, writes the value to
// ack, and keeps the bits for TakeIRQStatus. The device lowers a level
// line on the write, so the line needs no masking: that saves the
// driver two register accesses and the core eight I/O APIC accesses
// per interrupt, each a VM exit. The line must not be shared.
func AckIRQInCore(line int, status, ack uintptr) error {
	if !claimedLine(line) || status == 0 || ack == 0 {
		return errors.New("kernel: AckIRQInCore: bad line or register")
	}
	l := &irqLines[line]
	l.statusReg = status
	l.ackReg.Store(ack)
	// An interrupt before this may have masked the line; from now on
	// nobody would unmask it.
	if l.level && l.gsi >= 0 {
		was := disableInterrupts()
		ioapicSetMask(int(l.gsi), false)
		restoreInterrupts(was)
	}
	return nil
}

// TakeIRQStatus returns and clears the status bits the core collected
// for line since the last call (AckIRQInCore).
func TakeIRQStatus(line int) uint32 {
	if line < 0 || line >= maxIRQLines {
		return 0
	}
	return irqLines[line].status.Swap(0)
}

// UnmaskIRQ re-enables a level-triggered line after the driver lowered
// it; a no-op for MSI and edge lines.
func UnmaskIRQ(line int) {
	if line < 0 || line >= maxIRQLines {
		return
	}
	l := &irqLines[line]
	if !l.level || l.gsi < 0 || l.ackReg.Load() != 0 {
		return
	}
	was := disableInterrupts()
	ioapicSetMask(int(l.gsi), false)
	restoreInterrupts(was)
}

// BindIRQEventfd makes line's interrupts raise the kernel's eventfd fd
// (by one each) instead of waking futex waiters on the line's counter,
// so that a driver waits for them through the Go scheduler's netpoller.
// The counter (IRQCount) still counts. The eventfd must stay open for
// as long as the line is in use; a line is bound once.
func BindIRQEventfd(line, fd int) error {
	if !claimedLine(line) {
		return errors.New("kernel: BindIRQEventfd: bad line")
	}
	k, err := kernelEventfd(fd)
	if err != nil {
		return err
	}
	if !irqLines[line].eventfd.CompareAndSwap(0, k+1) {
		return errors.New("kernel: BindIRQEventfd: line already bound")
	}
	return nil
}

// kernelEventfd returns the eventfd object behind the kernel's fd.
func kernelEventfd(fd int) (int32, error) {
	was := disableInterrupts()
	defer restoreInterrupts(was)
	fdLock.lock()
	defer fdLock.unlock()
	e, ok := procs[procKernel].getFD(int64(fd))
	if !ok || e.kind != fdEventfd {
		return -1, errors.New("kernel: not an eventfd of the kernel's")
	}
	return e.efd, nil
}

// claimedLine reports whether line is a claimed device vector.
func claimedLine(line int) bool { return line >= 0 && line < maxIRQLines && irqLines[line].used }

// RaiseIRQ raises line's interrupt on this CPU, as its device would
// (a self-IPI on the line's vector), for tests of the interrupt path.
func RaiseIRQ(line int) error {
	if !claimedLine(line) {
		return errors.New("kernel: RaiseIRQ: bad line")
	}
	was := disableInterrupts()
	sendIPI(thisCPU().apicID, uint8(vecDev0+line))
	restoreInterrupts(was)
	return nil
}

// IRQTotal returns the interrupts line has had (for statistics).
func IRQTotal(line int) uint64 {
	if line < 0 || line >= maxIRQLines {
		return 0
	}
	return irqLines[line].total.Load()
}

// ACPIVirtioMMIO lists the virtio-mmio devices ACPI describes.
func ACPIVirtioMMIO() []acpi.MMIODevice {
	t := &acpiTables
	return append([]acpi.MMIODevice(nil), t.VirtioMMIO[:t.NVirtioMMIO]...)
}

// ACPIMCFG returns the MCFG table's bytes (PCIe ECAM regions), or nil.
func ACPIMCFG() []byte {
	a := acpiTables.MCFG
	if a == 0 || a >= 4<<30 {
		return nil
	}
	n := *(*uint32)(ptrAt(directBase + uintptr(a) + 4))
	if n < 36 || n > 1<<16 {
		return nil
	}
	return unsafe.Slice((*byte)(ptrAt(directBase+uintptr(a))), n)
}

// ISAIRQ returns the GSI and trigger mode of legacy IRQ irq, from the
// MADT's interrupt source overrides (identity, edge, active-high when
// there is none; PCI INTx lines are level, active-low unless overridden).
func ISAIRQ(irq int, pci bool) (gsi int, level, activeLow bool) {
	gsi, level, activeLow = irq, pci, pci
	t := &acpiTables
	for _, o := range t.Overrides[:t.NOverrides] {
		if int(o.IRQ) != irq {
			continue
		}
		gsi = int(o.GSI)
		switch o.Flags & 3 { // polarity
		case 1:
			activeLow = false
		case 3:
			activeLow = true
		}
		switch o.Flags >> 2 & 3 { // trigger
		case 1:
			level = false
		case 3:
			level = true
		}
	}
	return gsi, level, activeLow
}

// PCIHoleStart returns the lowest address above every memory-map entry
// below 4 GiB (RAM and firmware-reserved ranges alike), where 32-bit PCI
// BARs may go.
func PCIHoleStart() uint64 {
	top := uint64(0)
	for i := 0; i < bootInfo.NRegions; i++ {
		r := bootInfo.Regions[i]
		if end := r.Base + r.Size; r.Base < 3<<30 && end > top {
			top = end
		}
	}
	return top
}
