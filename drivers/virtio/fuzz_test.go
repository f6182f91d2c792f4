package virtio

import (
	"bytes"
	"errors"
	"testing"

	"gosv/drivers/nic"
)

// FuzzQueueUsed plays a hostile device: the input is a script that
// interleaves the driver's Adds and Used calls with arbitrary device
// writes to the used ring (entries, index, flags, avail_event) and to any
// ring byte. The driver must reject bad entries with errors, never panic,
// never return a chain it did not hand out or a length beyond it, and
// keep its descriptor accounting exact.
func FuzzQueueUsed(f *testing.F) {
	f.Add([]byte{0x00, 0, 0, 1, 0, 0, 0, 0, 4, 0, 0, 0, 2, 1, 0, 3})
	f.Add([]byte{0x1b, 0, 6, 12, 1, 3, 1, 0, 0, 0, 200, 0, 0, 0, 2, 1, 0, 3, 3})
	f.Add([]byte{0x0f, 0, 0, 0, 1, 2, 9, 0, 0, 0, 0, 0, 0, 0, 2, 255, 255, 3, 4, 5, 0, 7, 3})
	f.Add([]byte{0x1a, 18, 18, 18, 1, 0, 0, 0, 0, 0, 255, 255, 255, 255, 2, 1, 0, 3, 0, 3})
	f.Fuzz(fuzzQueueUsed)
}

func fuzzQueueUsed(t *testing.T, data []byte) {
	if len(data) == 0 {
		return
	}
	cfg := data[0]
	data = data[1:]
	var feat uint64
	if cfg&1 != 0 {
		feat |= evIdx
	}
	if cfg&2 != 0 {
		feat |= indirect
	}
	size := uint16(1) << (cfg >> 3 & 3)
	a, q, dev := setupIn(t, newArena(1<<16), size, feat, cfg&4 != 0)
	_, p := buf(t, a, 1024)
	ring, err := a.at(dev.desc, uint64(q.lay.Size))
	if err != nil {
		t.Fatal(err)
	}

	type flight struct {
		ndesc    int
		writable uint64
	}
	model := map[uint16]flight{}
	inUse := 0
	next := func(n int) ([]byte, bool) {
		if len(data) < n {
			return nil, false
		}
		b := data[:n]
		data = data[n:]
		return b, true
	}
	check := func() {
		t.Helper()
		if int(q.InFlight()) != len(model) || int(q.NumFree())+inUse != int(size) {
			t.Fatalf("InFlight %d (model %d), NumFree %d + in use %d != %d", q.InFlight(), len(model), q.NumFree(), inUse, size)
		}
	}
	used := func() bool {
		h, n, ok, err := q.Used()
		if !ok {
			if err != nil && !errors.Is(err, ErrUsedIndex) && !errors.Is(err, ErrUsedHead) {
				t.Fatalf("Used: unexpected error %v", err)
			}
			return err != nil && !errors.Is(err, ErrUsedIndex)
		}
		fl, in := model[h]
		if !in {
			t.Fatalf("Used returned head %d, not in flight", h)
		}
		if uint64(n) > fl.writable {
			t.Fatalf("Used returned length %d for %d writable bytes", n, fl.writable)
		}
		if err != nil && !errors.Is(err, ErrUsedLength) {
			t.Fatalf("Used with ok: unexpected error %v", err)
		}
		delete(model, h)
		inUse -= fl.ndesc
		return true
	}

	for steps := 0; steps < 256; steps++ {
		op, ok := next(1)
		if !ok {
			break
		}
		switch op[0] % 6 {
		case 0: // Add a chain of 1-6 buffers, some writable.
			n := 1 + int(op[0]/6)%6
			w := int(op[0]/36) % (n + 1)
			bufs := make([]Buffer, n)
			var writable uint64
			for i := range bufs {
				bufs[i] = Buffer{p + uint64(16*i), uint32(1 + i), i >= n-w}
				if bufs[i].Writable {
					writable += uint64(bufs[i].Len)
				}
			}
			before := q.NumFree()
			head, err := q.Add(bufs)
			if err != nil {
				if !errors.Is(err, ErrQueueFull) && !errors.Is(err, ErrChainTooLong) {
					t.Fatalf("Add: %v", err)
				}
				break
			}
			if _, dup := model[head]; dup {
				t.Fatalf("Add returned head %d already in flight", head)
			}
			model[head] = flight{int(before - q.NumFree()), writable}
			inUse += int(before - q.NumFree())
		case 1: // The device writes a used entry.
			b, ok := next(9)
			if !ok {
				break
			}
			e := q.lay.Used + 4 + usedElemSize*(int(b[0])%int(size))
			copy(ring[e:e+8], b[1:])
		case 2: // The device writes the used index.
			b, ok := next(2)
			if !ok {
				break
			}
			copy(ring[q.lay.Used+2:], b)
		case 3: // The driver drains.
			for range 2*int(size) + 2 {
				if !used() {
					break
				}
			}
		case 4: // Notification and interrupt control.
			q.Kick()
			if op[0]&0x40 != 0 {
				q.DisableInterrupts()
			} else {
				q.EnableInterrupts()
			}
		case 5: // The device scribbles on any ring byte.
			b, ok := next(3)
			if !ok {
				break
			}
			ring[(int(b[0])<<8|int(b[1]))%len(ring)] = b[2]
		}
		check()
	}
	for range 2*int(size) + 2 {
		if !used() {
			break
		}
	}
	check()
}

// FuzzNetRx plays a hostile virtio-net device on the receive queue: the
// input picks the device's features, then is a script of frames, each
// some used entries with device-chosen lengths (up to far beyond the
// buffers), heads (possibly not in flight) and a num_buffers that need
// not match. The driver must never panic or hand out bytes beyond a
// frame's limit, must keep every buffer posted, must reset the device
// when the used ring cannot be trusted, and must receive a good frame
// intact afterwards.
func FuzzNetRx(f *testing.F) {
	f.Add([]byte{0, 1, 1, 0, 2, 100, 0, 0, 0})
	f.Add([]byte{0, 2, 3, 0, 0, 0x10, 0, 0, 0, 0x10, 0, 0, 0})
	f.Add([]byte{1, 1, 1, 0, 0, 0xff, 0xff, 4, 0})
	f.Add([]byte{2, 1, 0, 0, 0, 50, 0, 0, 0x81, 3})
	f.Add([]byte{3, 3, 2, 0, 2, 0, 0x10, 0, 0, 200, 0, 0, 0, 0x10, 0, 0, 0})
	f.Add([]byte{0, 4, 0xff, 0xff, 1, 0, 0x10, 0, 0, 0, 0x10, 0, 0, 0, 0x10, 0, 0, 0, 0x10, 0, 0})
	f.Fuzz(fuzzNetRx)
}

func fuzzNetRx(t *testing.T, data []byte) {
	if len(data) == 0 {
		return
	}
	cfgs := []netConfig{netConfigs[0], netConfigs[1], netConfigs[3], netConfigs[4]}
	cfg := cfgs[int(data[0])%len(cfgs)]
	data = data[1:]
	d := newNetDevIn(newArena(320<<10), cfg.version, cfg.features)
	tr, err := NewMMIO(d)
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNet(tr, d.a, nil, NetOptions{QueueSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	take := func(k int) []byte {
		if len(data) < k {
			data = nil
			return make([]byte, k)
		}
		b := data[:k]
		data = data[k:]
		return b
	}
	rx := func(p nic.RxPacket) {
		if len(p.Data) < ethHdrLen || len(p.Data) > n.rxMax {
			t.Fatalf("delivered a %d-byte frame (limit %d)", len(p.Data), n.rxMax)
		}
		if p.ChecksumValid && !n.guestCsum {
			t.Fatal("checksum marked valid without GUEST_CSUM")
		}
	}
	for len(data) > 0 {
		// count, num_buffers, flags, then per entry: length (16
		// bits), a shift for it, a head.
		h := take(4)
		count := 1 + int(h[0])%len(n.rxBufs)
		nb := le.Uint16(h[1:])
		entries := make([]rawEntry, count)
		for i := range entries {
			e := take(4)
			entries[i] = rawEntry{
				length:  uint32(le.Uint16(e)) << (e[2] & 15),
				badHead: e[2]&0x80 != 0,
				head:    uint16(e[3]),
			}
		}
		if err := d.deliverRaw(nb, h[3], entries); err != nil {
			t.Fatal(err)
		}
		if err := n.service(rx); err != nil {
			if !errors.Is(err, ErrUsedHead) && !errors.Is(err, ErrUsedIndex) {
				t.Fatalf("service: %v", err)
			}
			if err := n.reset(); err != nil {
				t.Fatalf("reset after %v: %v", err, err)
			}
		}
		r := d.ring(0)
		if posted := r.availIdx() - r.lastAvail; int(posted) != len(n.rxBufs) {
			t.Fatalf("%d buffers posted, want %d", posted, len(n.rxBufs))
		}
	}
	good := frame(1200, 5)
	if err := d.deliver(good, rxHdr{}); err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	if err := n.service(func(p nic.RxPacket) { got = append(got, bytes.Clone(p.Data)) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !bytes.Equal(got[0], good) {
		t.Fatalf("good frame after the script: %d frames", len(got))
	}
}
