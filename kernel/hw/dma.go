package hw

import (
	"context"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"gosv/drivers/virtio"
	"gosv/kernel"
)

// DMA hands out physically contiguous memory from the kernel.
type DMA struct{}

var _ virtio.DMA = DMA{}

func (DMA) Alloc(size, align int) ([]byte, uint64, error) { return kernel.AllocDMA(size, align) }

// IRQ is a routed device interrupt: an I/O APIC line or an MSI vector.
type IRQ struct {
	line int
	seen uint32
	ev   *irqEvent // nil until the first Wait, and if binding failed
	// tried is set once the first Wait tried to bind an eventfd.
	tried bool
}

var _ virtio.IRQ = (*IRQ)(nil)

// RouteGSI routes I/O APIC line gsi to a new IRQ.
func RouteGSI(gsi int, level, activeLow bool) (*IRQ, error) {
	line, err := kernel.RouteGSI(gsi, level, activeLow)
	if err != nil {
		return nil, err
	}
	return &IRQ{line: line, seen: kernel.IRQCount(line)}, nil
}

// AllocMSI claims a vector for a message-signalled interrupt and returns
// it with the address and data the device must write.
func AllocMSI() (q *IRQ, addr uint64, data uint32, err error) {
	line, addr, data, err := kernel.AllocMSI()
	if err != nil {
		return nil, 0, 0, err
	}
	return &IRQ{line: line, seen: kernel.IRQCount(line)}, addr, data, nil
}

// waitSlice bounds each futex wait, so a cancelled ctx is noticed.
const waitSlice = 100 * time.Millisecond

// Wait implements virtio.IRQ. One goroutine waits on an IRQ at a time.
//
// It waits through the Go scheduler's netpoller, on an eventfd the core
// raises at each interrupt (kernel.BindIRQEventfd): the goroutine parks
// without holding a thread, and the interrupt readies it from whichever
// thread polls next, with no thread switch and no wake-up of the
// runtime's sysmon. If the eventfd cannot be had, it waits in a futex
// system call instead (kernel.WaitIRQ).
func (q *IRQ) Wait(ctx context.Context) error {
	if !q.tried {
		q.tried = true
		q.ev, _ = newIRQEvent(q.line)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if q.ev == nil {
			if c := kernel.WaitIRQ(q.line, q.seen, waitSlice); c != q.seen {
				q.seen = c
				return nil
			}
			continue
		}
		// The line's counter says whether an interrupt came; the
		// eventfd only wakes this goroutine. An interrupt between the
		// two looks leaves the eventfd raised, so the wait returns at
		// once; a raise already counted makes one extra turn.
		if c := kernel.IRQCount(q.line); c != q.seen {
			q.seen = c
			return nil
		}
		if err := q.ev.wait(ctx); err != nil {
			return err
		}
	}
}

// irqEvent is a non-blocking eventfd bound to an interrupt line and
// registered with the netpoller.
type irqEvent struct {
	fd   int      // not f.Fd(), which would make the file blocking
	f    *os.File // keeps the registration with the netpoller
	raw  syscall.RawConn
	done <-chan struct{} // the ctx whose cancellation raises the eventfd
}

func newIRQEvent(line int) (*irqEvent, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := kernel.BindIRQEventfd(line, fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// Non-blocking, so os.NewFile registers it with the netpoller. It
	// stays open for good: the core raises it at every interrupt.
	f := os.NewFile(uintptr(fd), "irq")
	raw, err := f.SyscallConn()
	if err != nil {
		return nil, err // cannot happen for an *os.File
	}
	return &irqEvent{fd: fd, f: f, raw: raw}, nil
}

// wait parks until the eventfd is raised (or ctx ends), and takes its
// count.
func (e *irqEvent) wait(ctx context.Context) error {
	if d := ctx.Done(); d != nil && d != e.done {
		// Cancellation raises the eventfd, which ends the wait; the
		// caller then sees ctx.Err(). Registered once per context.
		e.done = d
		context.AfterFunc(ctx, func() {
			one := uint64(1)
			syscall.RawSyscall(syscall.SYS_WRITE, uintptr(e.fd), uintptr(unsafe.Pointer(&one)), 8)
		})
	}
	var count uint64
	return e.raw.Read(func(fd uintptr) bool {
		// RawSyscall: the core answers an eventfd read at once, so
		// the runtime need not be told of a system call (entersyscall
		// would let sysmon hand this thread's P away).
		_, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&count)), 8)
		return errno != syscall.EAGAIN
	})
}

// Line is the kernel's number for the interrupt (kernel.RaiseIRQ).
func (q *IRQ) Line() int { return q.line }

// Polled reports whether Wait parks in the netpoller (an eventfd is
// bound to the line) rather than in a futex system call; false until
// the first Wait.
func (q *IRQ) Polled() bool { return q.ev != nil }

// Unmask implements virtio.IRQ.
func (q *IRQ) Unmask() { kernel.UnmaskIRQ(q.line) }

// Total is the number of interrupts the line has had.
func (q *IRQ) Total() uint64 { return kernel.IRQTotal(q.line) }
