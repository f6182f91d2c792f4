package hw

import (
	"context"
	"time"

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
func (q *IRQ) Wait(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := kernel.WaitIRQ(q.line, q.seen, waitSlice)
		if c != q.seen {
			q.seen = c
			return nil
		}
	}
}

// Unmask implements virtio.IRQ.
func (q *IRQ) Unmask() { kernel.UnmaskIRQ(q.line) }

// Total is the number of interrupts the line has had.
func (q *IRQ) Total() uint64 { return kernel.IRQTotal(q.line) }
