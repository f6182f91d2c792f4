package kernel

import (
	"sync/atomic"

	"gosv/arch/amd64"
)

// What drivers need from the core: device interrupts delivered to a
// goroutine, physically contiguous memory for DMA, and device memory
// mapped uncached. Drivers themselves are ordinary Go (drivers/, wired by
// kernel/hw); this file only keeps the tables the interrupt path reads.
//
// An interrupt increments its line's counter and wakes the driver: by
// raising an eventfd of the kernel's bound to the line (BindIRQEventfd),
// which the driver's goroutine waits on through the Go scheduler's
// netpoller, or else by waking futex waiters on the counter (FUTEX_WAIT
// parks a whole runtime thread, and its return from the system call
// takes a P and wakes the runtime's sysmon when all were idle: a thread
// switch or two per interrupt that the netpoller does not need).
// Level-triggered I/O APIC lines are masked when they fire and unmasked
// by the driver once it has read the device's interrupt status, which
// lowers the line: otherwise the line would fire again at EOI, forever,
// before the driver runs.

// maxIRQLines is the number of device vectors (vecDev0 up).
const maxIRQLines = 8

type irqLine struct {
	// count is the futex word: interrupts so far (wrapping).
	count atomic.Uint32
	used  bool
	gsi   int32 // I/O APIC line, -1 for MSI/MSI-X
	level bool
	total atomic.Uint64
	// ackReg, when set, is a device register the core acknowledges the
	// interrupt at itself: it reads the status register statusReg and
	// writes what it read to ackReg, keeping the bits in status for
	// the driver (AckIRQInCore). The line is then never masked.
	statusReg uintptr
	ackReg    atomic.Uintptr
	status    atomic.Uint32
	// eventfd is 1 + the eventfd object the interrupt raises, 0 for
	// none (BindIRQEventfd).
	eventfd atomic.Int32
}

var (
	irqLines [maxIRQLines]irqLine
	irqLock  spinLock
)

// deviceInterrupt runs in trap context for vector vecDev0+line.
func deviceInterrupt(line int) {
	l := &irqLines[line]
	if !l.used {
		return
	}
	l.total.Add(1)
	if ack := l.ackReg.Load(); ack != 0 {
		// Acknowledged here, the device lowers the line before the
		// EOI: no mask and unmask (four I/O APIC accesses each).
		if s := *(*uint32)(ptrAt(l.statusReg)); s != 0 {
			*(*uint32)(ptrAt(ack)) = s
			l.status.Or(s)
		}
	} else if l.level && l.gsi >= 0 {
		ioapicSetMask(int(l.gsi), true)
	}
	l.count.Add(1)
	if k := l.eventfd.Load() - 1; k >= 0 {
		raiseKernelEventfd(k)
		return
	}
	futexWakeUp(uintptrOf(&l.count), 1<<30, ^uint32(0))
}

// raiseKernelEventfd adds one to the kernel's eventfd object k, as a
// write of 1 would, and tells its epoll watchers (the kernel runtime's
// netpoller). Trap context, with no core lock held: interrupts are off,
// so no code on this CPU holds fdLock (ordinary Go takes it with
// interrupts disabled).
func raiseKernelEventfd(k int32) {
	fdLock.lock()
	if o := &eventfds[k]; o.refs > 0 && o.counter < eventfdMax {
		o.counter++
		procs[procKernel].notifyEventfd(k)
	}
	fdLock.unlock()
}

// allocIRQLine claims a free device vector. gsi is the I/O APIC line it
// will be routed from, or -1 for MSI. Interrupts must be off.
func allocIRQLine(gsi int32, level bool) int {
	irqLock.lock()
	defer irqLock.unlock()
	for i := range irqLines {
		l := &irqLines[i]
		if !l.used {
			l.used, l.gsi, l.level = true, gsi, level
			return i
		}
	}
	return -1
}

// DMA memory comes from the untouched physical ranges, carved whole so it
// is contiguous, and is never freed (queues live as long as the kernel).

// allocContiguous returns n zeroed, physically contiguous pages whose
// first address is a multiple of align (a power of two, at least a
// page), or 0. Pages skipped for alignment go to the free list.
func (p *physAllocator) allocContiguous(n uint64, align uint64) uint64 {
	p.lock.lock()
	var skipped [64]uint64
	nskip := 0
	pa := uint64(0)
	for i := 0; i < p.nranges && pa == 0; i++ {
		r := &p.ranges[i]
		start := (r.start + align - 1) &^ (align - 1)
		if start < r.start || start+n*pageSize > r.end || start+n*pageSize < start {
			continue
		}
		if (start-r.start)/pageSize > uint64(len(skipped)) {
			continue // too much to skip: try another range
		}
		nskip = 0
		for a := r.start; a < start; a += pageSize {
			skipped[nskip] = a
			nskip++
		}
		pa = start
		r.start = start + n*pageSize
		p.freePages -= uint64(nskip) + n
	}
	p.lock.unlock()
	if pa == 0 {
		return 0
	}
	for _, a := range skipped[:nskip] {
		p.free(a)
	}
	for k := uint64(0); k < n; k++ {
		clear(physPage(pa + k*pageSize)[:])
	}
	return pa
}

// mapDeviceMemory makes [pa, pa+size) reachable uncached at
// directBase+pa. Below 4 GiB the direct map already does (the PCI hole
// is uncached); above it, 64-bit BARs get 4 KiB uncached pages in the
// direct-map region. Interrupts must be off.
func mapDeviceMemory(pa, size uint64) bool {
	if pa+size <= 4<<30 {
		return true
	}
	space.lock.lock()
	defer space.lock.unlock()
	for a := pa &^ (pageSize - 1); a < pa+size; a += pageSize {
		va := directBase + uintptr(a)
		e := kernelPT.walk(va, true)
		if e == nil {
			return false // a huge page (RAM) or no memory for tables
		}
		*e = a | ptePresent | pteWrite | pteNX | pteNoCache | pteWT
		amd64.INVLPG(va)
	}
	return true
}
