package virtio

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// rngDev plays a virtio entropy device behind virtio-mmio registers: it
// fills each request with the next bytes of a counting sequence, or
// misbehaves as told.
type rngDev struct {
	mu   sync.Mutex
	m    *mmioDev
	a    *arena
	irq  *fakeIRQ
	ring *ringDev
	next byte
	// short caps the bytes written per request; lie adds to the
	// length reported; hold leaves requests unanswered.
	short      int
	lie        uint32
	hold       bool
	async      bool // answer from another goroutine, later
	wg         sync.WaitGroup
	requests   int
	maxRequest int
}

func newRNGDev(version uint32) *rngDev {
	features := uint64(0)
	if version == 2 {
		features = 1 << FeatureVersion1
	}
	m := newMMIODev(version, features)
	m.devType = DeviceRNG
	m.queues = m.queues[:1]
	d := &rngDev{m: m, a: newArena(1 << 16), irq: newFakeIRQ()}
	m.onNotify = func(uint32) {
		if !d.async {
			d.serve()
			return
		}
		d.wg.Go(func() {
			time.Sleep(time.Millisecond)
			d.mu.Lock()
			defer d.mu.Unlock()
			d.serve()
		})
	}
	return d
}

func (d *rngDev) Read32(off uint32) uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m.Read32(off)
}

func (d *rngDev) Write32(off, v uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m.Write32(off, v)
}

// serve runs under mu.
func (d *rngDev) serve() {
	if d.hold {
		return
	}
	if d.ring == nil {
		q := d.m.queues[0]
		d.ring = &ringDev{a: d.a, size: uint16(q.num)}
		if d.m.version == 1 {
			base, n := uint64(q.pfn)*uint64(d.m.pageSize), uint64(q.num)
			d.ring.desc, d.ring.avail = base, base+16*n
			d.ring.used = uint64(alignUp(int(base+16*n+6+2*n), int(q.align)))
		} else {
			d.ring.desc, d.ring.avail, d.ring.used = q.desc, q.driver, q.device
		}
	}
	for {
		req, ok := d.ring.pop()
		if !ok {
			break
		}
		d.requests++
		var n uint32
		for _, b := range req.out {
			d.maxRequest = max(d.maxRequest, len(b))
			if d.short > 0 {
				b = b[:min(len(b), d.short)]
			}
			for i := range b {
				b[i] = d.next
				d.next++
			}
			n += uint32(len(b))
		}
		d.ring.fill(req.head, n+d.lie)
	}
	if d.ring.flush() {
		d.m.isr |= InterruptQueue
		d.irq.fire()
	}
}

func (d *rngDev) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hold = false
	d.serve()
}

func newTestRNG(t *testing.T, d *rngDev, irq bool, opts RNGOptions) *RNG {
	t.Helper()
	tr, err := NewMMIO(d)
	if err != nil {
		t.Fatal(err)
	}
	var i IRQ
	if irq {
		i = d.irq
	}
	r, err := NewRNG(tr, d.a, i, opts)
	if err != nil {
		t.Fatalf("NewRNG: %v", err)
	}
	return r
}

func counting(from, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(from + i)
	}
	return b
}

func TestRNGRead(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version uint32
		irq     bool
		short   int
	}{
		{"modern with IRQ", 2, true, 0},
		{"modern polling", 2, false, 0},
		{"legacy with IRQ", 1, true, 0},
		{"device gives a few bytes at a time", 2, true, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newRNGDev(tc.version)
			d.short = tc.short
			d.async = tc.irq
			defer d.wg.Wait()
			r := newTestRNG(t, d, tc.irq, RNGOptions{BufferSize: 64})
			p := make([]byte, 1000)
			n, err := r.Read(p)
			if err != nil || n != len(p) {
				t.Fatalf("Read = %d, %v", n, err)
			}
			if want := counting(0, len(p)); string(p) != string(want) {
				t.Errorf("Read got %x..., want the device's bytes %x...", p[:16], want[:16])
			}
			if d.maxRequest > 64 {
				t.Errorf("asked for %d bytes at once, buffer is 64", d.maxRequest)
			}
			if tc.irq && d.irq.unmasks.Load() == 0 {
				t.Error("interrupt never unmasked")
			}
		})
	}
}

func TestRNGErrors(t *testing.T) {
	t.Run("not an entropy device", func(t *testing.T) {
		d := newRNGDev(2)
		d.m.devType = DeviceNet
		tr, _ := NewMMIO(d)
		if _, err := NewRNG(tr, d.a, nil, RNGOptions{}); !errors.Is(err, ErrNotRNG) {
			t.Errorf("NewRNG = %v, want ErrNotRNG", err)
		}
	})
	t.Run("length beyond the buffer", func(t *testing.T) {
		d := newRNGDev(2)
		d.lie = 1000
		r := newTestRNG(t, d, true, RNGOptions{BufferSize: 32})
		p := make([]byte, 16)
		if n, err := r.Read(p); !errors.Is(err, ErrRNGBroken) || n != 0 {
			t.Errorf("Read = %d, %v; want ErrRNGBroken", n, err)
		}
		if _, err := r.Read(p); !errors.Is(err, ErrRNGBroken) {
			t.Errorf("Read after the device broke = %v, want ErrRNGBroken", err)
		}
	})
	t.Run("silent device", func(t *testing.T) {
		d := newRNGDev(2)
		d.hold = true
		r := newTestRNG(t, d, true, RNGOptions{Timeout: 20 * time.Millisecond})
		p := make([]byte, 16)
		if _, err := r.Read(p); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Read from a silent device = %v, want a deadline error", err)
		}
		// The request stays posted; once answered, the next Read
		// takes its bytes instead of posting a second one.
		d.release()
		if n, err := r.Read(p); err != nil || n != 16 || string(p) != string(counting(0, 16)) {
			t.Errorf("Read after the device answered = %d, %v, %x", n, err, p)
		}
		if d.requests != 1 {
			t.Errorf("device saw %d requests, want 1", d.requests)
		}
	})
}
