package hw

import (
	"context"
	"time"

	"gosv/drivers/virtio"
	"gosv/internal/kevent"
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
	ev   *kevent.Event // nil if no eventfd could be bound to the line
}

// newIRQ returns an IRQ for line, waiting through the netpoller if it
// can have an eventfd bound to the line.
func newIRQ(line int) *IRQ {
	ev, _ := kevent.New(func(fd int) error { return kernel.BindIRQEventfd(line, fd) })
	return &IRQ{line: line, seen: kernel.IRQCount(line), ev: ev}
}

var _ virtio.IRQ = (*IRQ)(nil)

// RouteGSI routes I/O APIC line gsi to a new IRQ.
func RouteGSI(gsi int, level, activeLow bool) (*IRQ, error) {
	line, err := kernel.RouteGSI(gsi, level, activeLow)
	if err != nil {
		return nil, err
	}
	return newIRQ(line), nil
}

// AllocMSI claims a vector for a message-signalled interrupt and returns
// it with the address and data the device must write.
func AllocMSI() (q *IRQ, addr uint64, data uint32, err error) {
	line, addr, data, err := kernel.AllocMSI()
	if err != nil {
		return nil, 0, 0, err
	}
	return newIRQ(line), addr, data, nil
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
		if err := q.ev.Wait(ctx); err != nil {
			return err
		}
	}
}

// Line is the kernel's number for the interrupt (kernel.RaiseIRQ).
func (q *IRQ) Line() int { return q.line }

// Polled reports whether Wait parks in the netpoller (an eventfd is
// bound to the line) rather than in a futex system call.
func (q *IRQ) Polled() bool { return q.ev != nil }

// Unmask implements virtio.IRQ.
func (q *IRQ) Unmask() { kernel.UnmaskIRQ(q.line) }

// Total is the number of interrupts the line has had.
func (q *IRQ) Total() uint64 { return kernel.IRQTotal(q.line) }
