package selftest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gosv/kernel"
	"gosv/kernel/hw"
)

// testIRQ: a device interrupt (a self-IPI on an MSI vector, as a device
// would raise it) wakes the goroutine waiting in IRQ.Wait through the
// netpoller, once per interrupt; a cancelled context ends a wait with
// nothing pending. It claims one of the kernel's eight device vectors
// for good.
func testIRQ() error {
	q, _, _, err := hw.AllocMSI()
	if err != nil {
		return fmt.Errorf("AllocMSI: %v", err)
	}
	waitOnce := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return q.Wait(ctx)
	}
	for i := range 3 {
		before := q.Total()
		done := make(chan error, 1)
		go func() { done <- waitOnce(5 * time.Second) }()
		time.Sleep(5 * time.Millisecond) // let it park, most times
		if err := kernel.RaiseIRQ(q.Line()); err != nil {
			return err
		}
		if err := <-done; err != nil {
			return fmt.Errorf("interrupt %d: Wait = %v, want it to return", i, err)
		}
		if got := q.Total(); got != before+1 {
			return fmt.Errorf("interrupt %d: line total %d -> %d, want one more", i, before, got)
		}
	}
	if !q.Polled() {
		return errors.New("IRQ.Wait waited in a futex, want the netpoller (no eventfd bound)")
	}
	if err := waitOnce(20 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("Wait with no interrupt = %v, want the context's deadline", err)
	}
	return nil
}
