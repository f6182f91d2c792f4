package virtio

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// RNG is a virtio entropy device driver (5.4): the driver posts writable
// buffers on the request queue and the device fills them with random
// bytes. One request is in flight at a time; Read is safe for concurrent
// use.
type RNG struct {
	mu      sync.Mutex
	t       Transport
	irq     IRQ
	q       *Queue
	buf     dmaBuf
	timeout time.Duration
	poll    time.Duration
	// posted: a request is in flight (a Read gave up waiting for it);
	// the next Read collects it before posting another.
	posted bool
	broken error
}

// RNGOptions tune NewRNG; the zero value is a good default.
type RNGOptions struct {
	// BufferSize is the most bytes asked of the device at once; 0
	// means 256.
	BufferSize int
	// Timeout bounds how long Read waits for the device; 0 means 1 s.
	Timeout time.Duration
	// PollInterval is the sleep between looks at the queue without an
	// IRQ; 0 means 100 µs.
	PollInterval time.Duration
}

// Errors from RNG.
var (
	ErrNotRNG    = errors.New("virtio-rng: not an entropy device")
	ErrRNGBroken = errors.New("virtio-rng: device broke the protocol")
)

// NewRNG brings up the entropy device behind t. irq is its interrupt;
// nil makes Read poll.
func NewRNG(t Transport, dma DMA, irq IRQ, opts RNGOptions) (*RNG, error) {
	if typ := t.DeviceType(); typ != DeviceRNG {
		return nil, fmt.Errorf("%w: device type %v", ErrNotRNG, typ)
	}
	r := &RNG{t: t, irq: irq, timeout: opts.Timeout, poll: opts.PollInterval}
	if r.timeout <= 0 {
		r.timeout = time.Second
	}
	if r.poll <= 0 {
		r.poll = 100 * time.Microsecond
	}
	size := opts.BufferSize
	if size <= 0 {
		size = 256
	}
	dev, err := Negotiate(t, dma, 0) // 5.4.3: no device-specific features
	if err != nil {
		return nil, err
	}
	// One request at a time needs the smallest queue the device takes.
	if r.q, err = dev.SetupQueue(0, 1); err != nil {
		dev.Fail()
		return nil, err
	}
	virt, phys, err := dma.Alloc(size, 16)
	if err != nil || len(virt) < size {
		dev.Fail()
		return nil, fmt.Errorf("virtio-rng: buffer of %d bytes: %v", size, err)
	}
	r.buf = dmaBuf{virt[:size:size], phys}
	if irq == nil {
		r.q.DisableInterrupts()
	}
	dev.Ready()
	return r, nil
}

// Read fills p with random bytes from the device, waiting at most the
// Timeout option for each request.
func (r *RNG) Read(p []byte) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	return r.ReadContext(ctx, p)
}

// ReadContext fills p with random bytes from the device until ctx ends;
// it returns how many it got.
func (r *RNG) ReadContext(ctx context.Context, p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken != nil {
		return 0, r.broken
	}
	filled := 0
	for filled < len(p) {
		if !r.posted {
			want := min(len(p)-filled, len(r.buf.virt))
			if _, err := r.q.Add([]Buffer{{Phys: r.buf.phys, Len: uint32(want), Writable: true}}); err != nil {
				return filled, err
			}
			r.posted = true
			r.q.Kick()
		}
		got, err := r.collect(ctx)
		if err != nil {
			return filled, err
		}
		// A leftover request may hold more than p still needs.
		filled += copy(p[filled:], r.buf.virt[:got])
	}
	return filled, nil
}

// collect waits for the request in flight and returns the bytes the
// device wrote.
func (r *RNG) collect(ctx context.Context) (int, error) {
	var timer *time.Timer
	for {
		_, n, ok, err := r.q.Used()
		if ok {
			r.posted = false
			if err != nil { // a length beyond the buffer
				r.broken = fmt.Errorf("%w: %v", ErrRNGBroken, err)
				return 0, r.broken
			}
			return int(n), nil
		}
		if err != nil {
			r.broken = fmt.Errorf("%w: %v", ErrRNGBroken, err)
			return 0, r.broken
		}
		if r.irq != nil {
			if err := r.irq.Wait(ctx); err != nil {
				return 0, err
			}
			r.t.AckInterrupt(r.t.InterruptStatus())
			r.irq.Unmask()
			continue
		}
		if timer == nil {
			timer = time.NewTimer(r.poll)
			defer timer.Stop()
		} else {
			timer.Reset(r.poll)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-timer.C:
		}
	}
}
