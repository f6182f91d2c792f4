package virtio

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

type notifierFunc func(uint16)

func (f notifierFunc) Notify(q uint16) { f(q) }

const (
	evIdx    = 1 << FeatureEventIdx
	indirect = 1 << FeatureIndirectDesc
)

// setup makes a queue and its fake device on a fresh arena.
func setup(t testing.TB, size uint16, features uint64, legacy bool) (*arena, *Queue, *ringDev) {
	t.Helper()
	return setupIn(t, newArena(4<<20), size, features, legacy)
}

func setupIn(t testing.TB, a *arena, size uint16, features uint64, legacy bool) (*arena, *Queue, *ringDev) {
	t.Helper()
	var dev *ringDev
	q, err := NewQueue(a, notifierFunc(func(i uint16) { dev.Notify(i) }), 0, size, features, legacy)
	if err != nil {
		t.Fatalf("NewQueue: %v", err)
	}
	dev = newRingDev(a, q)
	return a, q, dev
}

// buf allocates n bytes of device-visible memory.
func buf(t testing.TB, a *arena, n int) ([]byte, uint64) {
	t.Helper()
	b, p, err := a.Alloc(n, 8)
	if err != nil {
		t.Fatal(err)
	}
	return b, p
}

func TestRoundTrip(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		for _, feat := range []uint64{0, evIdx, indirect, evIdx | indirect} {
			t.Run(fmt.Sprintf("legacy=%v/features=%#x", legacy, feat), func(t *testing.T) {
				a, q, dev := setup(t, 8, feat, legacy)
				dev.auto = true
				in1, p1 := buf(t, a, 5)
				in2, p2 := buf(t, a, 6)
				out1, p3 := buf(t, a, 4)
				out2, p4 := buf(t, a, 16)
				copy(in1, "hello")
				copy(in2, ", virt")
				head, err := q.Add([]Buffer{{p1, 5, false}, {p2, 6, false}, {p3, 4, true}, {p4, 16, true}})
				if err != nil {
					t.Fatalf("Add: %v", err)
				}
				if !q.Kick() {
					t.Fatal("first Kick did not notify")
				}
				if dev.err != nil {
					t.Fatal(dev.err)
				}
				h, n, ok, err := q.Used()
				if !ok || err != nil || h != head || n != 11 {
					t.Fatalf("Used = %d, %d, %v, %v; want %d, 11, true, nil", h, n, ok, err, head)
				}
				if got := string(out1) + string(out2[:7]); got != "hello, virt" {
					t.Errorf("device wrote %q", got)
				}
				if _, _, ok, err := q.Used(); ok || err != nil {
					t.Errorf("second Used = %v, %v; want empty", ok, err)
				}
				if q.NumFree() != 8 || q.InFlight() != 0 {
					t.Errorf("NumFree %d InFlight %d after completion; want 8, 0", q.NumFree(), q.InFlight())
				}
			})
		}
	}
}

// TestWrapAround runs the 16-bit ring indices past 65535 several times
// with chains of mixed lengths and two chains in flight.
func TestWrapAround(t *testing.T) {
	for _, feat := range []uint64{0, evIdx | indirect} {
		t.Run(fmt.Sprintf("features=%#x", feat), func(t *testing.T) {
			a, q, dev := setup(t, 4, feat, false)
			data, phys := buf(t, a, 64)
			const rounds = 3*65536 + 123
			pending := []uint16{}
			for i := range rounds {
				copy(data, fmt.Sprintf("%08d", i))
				n := 1 + i%2
				bufs := []Buffer{{phys, 8, false}, {phys + 32, 8, true}}[:n]
				head, err := q.Add(bufs)
				if err != nil {
					t.Fatalf("round %d: Add: %v", i, err)
				}
				pending = append(pending, head)
				q.Kick()
				dev.process()
				if len(pending) < 2 {
					continue
				}
				h, _, ok, err := q.Used()
				if !ok || err != nil || h != pending[0] {
					t.Fatalf("round %d: Used = %d, %v, %v; want %d", i, h, ok, err, pending[0])
				}
				pending = pending[1:]
			}
			if dev.err != nil {
				t.Fatal(dev.err)
			}
			if got, want := dev.availIdx(), uint16(rounds&0xffff); got != want {
				t.Errorf("avail.idx = %d, want %d", got, want)
			}
			if got, want := q.lastUsed, uint16((rounds-1)&0xffff); got != want {
				t.Errorf("lastUsed = %d, want %d", got, want)
			}
		})
	}
}

func TestAddErrors(t *testing.T) {
	a, q, _ := setup(t, 4, 0, false)
	_, p := buf(t, a, 16)
	for _, tc := range []struct {
		name string
		bufs []Buffer
		want error
	}{
		{"empty", nil, ErrNoBuffers},
		{"zero length", []Buffer{{p, 0, false}}, ErrEmptyBuffer},
		{"order", []Buffer{{p, 1, true}, {p, 1, false}}, ErrBufferOrder},
		{"too long", make([]Buffer, 5), ErrChainTooLong},
	} {
		if _, err := q.Add(tc.bufs); !errors.Is(err, tc.want) {
			t.Errorf("%s: Add = %v, want %v", tc.name, err, tc.want)
		}
	}
	if q.NumFree() != 4 {
		t.Errorf("failed Adds took descriptors: NumFree %d", q.NumFree())
	}
}

// TestFreeList exhausts the descriptors, completes chains out of order
// and checks that descriptors are recycled.
func TestFreeList(t *testing.T) {
	a, q, dev := setup(t, 8, 0, false)
	dev.hold = true
	_, p := buf(t, a, 64)
	chain := func(n int) []Buffer {
		b := make([]Buffer, n)
		for i := range b {
			b[i] = Buffer{p + uint64(8*i), 8, i == n-1}
		}
		return b
	}
	h1, err1 := q.Add(chain(3))
	h2, err2 := q.Add(chain(3))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if _, err := q.Add(chain(3)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Add with 2 free = %v, want ErrQueueFull", err)
	}
	h3, err := q.Add(chain(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add(chain(1)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Add on a full queue = %v, want ErrQueueFull", err)
	}
	q.Kick()
	dev.process()
	if dev.err != nil || len(dev.held) != 3 {
		t.Fatalf("device popped %d chains, err %v", len(dev.held), dev.err)
	}
	// Complete the middle chain first.
	dev.complete(dev.held[1].head, 8)
	if h, n, ok, err := q.Used(); !ok || err != nil || h != h2 || n != 8 {
		t.Fatalf("Used = %d %d %v %v, want %d 8", h, n, ok, err, h2)
	}
	if q.NumFree() != 3 {
		t.Fatalf("NumFree = %d, want 3", q.NumFree())
	}
	h4, err := q.Add(chain(3))
	if err != nil {
		t.Fatalf("Add after recycling: %v", err)
	}
	q.Kick()
	dev.process()
	if dev.err != nil || len(dev.held) != 4 {
		t.Fatalf("device popped %d chains, err %v", len(dev.held), dev.err)
	}
	if r := dev.held[3]; len(r.in) != 2 || len(r.out) != 1 {
		t.Errorf("recycled chain seen as %d readable, %d writable", len(r.in), len(r.out))
	}
	for _, i := range []int{3, 0, 2} {
		dev.complete(dev.held[i].head, 0)
	}
	for _, want := range []uint16{h4, h1, h3} {
		if h, _, ok, err := q.Used(); !ok || err != nil || h != want {
			t.Fatalf("Used = %d %v %v, want %d", h, ok, err, want)
		}
	}
	if q.NumFree() != 8 || q.InFlight() != 0 {
		t.Errorf("NumFree %d InFlight %d, want 8 0", q.NumFree(), q.InFlight())
	}
}

// TestFreeListRandom adds and completes chains at random against a model
// and checks the descriptor accounting after every step.
func TestFreeListRandom(t *testing.T) {
	for _, feat := range []uint64{0, indirect} {
		t.Run(fmt.Sprintf("features=%#x", feat), func(t *testing.T) {
			a, q, dev := setup(t, 16, feat, false)
			dev.hold = true
			data, p := buf(t, a, 256)
			rng := rand.New(rand.NewPCG(1, 2))
			type flight struct {
				ndesc int
				tag   byte
			}
			model := map[uint16]flight{}
			used := 0
			for step := range 20000 {
				if rng.IntN(2) == 0 {
					n := 1 + rng.IntN(6)
					tag := byte(step)
					bufs := make([]Buffer, n)
					for i := range bufs {
						bufs[i] = Buffer{p + uint64(16*i), 16, false}
					}
					bufs[n-1].Writable = true
					data[0] = tag
					before := q.NumFree()
					head, err := q.Add(bufs)
					if errors.Is(err, ErrQueueFull) {
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					if _, dup := model[head]; dup {
						t.Fatalf("step %d: head %d handed out twice", step, head)
					}
					model[head] = flight{int(before - q.NumFree()), tag}
					used += int(before - q.NumFree())
					q.Kick()
					dev.process()
					r := dev.held[len(dev.held)-1]
					if first := append(r.in, r.out...)[0]; first[0] != tag {
						t.Fatalf("step %d: device saw tag %d, want %d", step, first[0], tag)
					}
				} else if len(dev.held) > 0 {
					i := rng.IntN(len(dev.held))
					r := dev.held[i]
					dev.held = append(dev.held[:i], dev.held[i+1:]...)
					dev.complete(r.head, 3)
					h, n, ok, err := q.Used()
					if !ok || err != nil || h != r.head || n != 3 {
						t.Fatalf("step %d: Used = %d %d %v %v, want %d", step, h, n, ok, err, r.head)
					}
					used -= model[h].ndesc
					delete(model, h)
				}
				if dev.err != nil {
					t.Fatal(dev.err)
				}
				if int(q.NumFree())+used != 16 || int(q.InFlight()) != len(model) {
					t.Fatalf("step %d: NumFree %d + in use %d != 16, InFlight %d model %d", step, q.NumFree(), used, q.InFlight(), len(model))
				}
			}
		})
	}
}

func TestIndirect(t *testing.T) {
	a, q, dev := setup(t, 8, indirect, false)
	dev.hold = true
	data, p := buf(t, a, 256)
	for i := range data {
		data[i] = byte(i)
	}
	six := make([]Buffer, 6)
	for i := range six {
		six[i] = Buffer{p + uint64(10*i), 10, i >= 4}
	}
	if _, err := q.Add(six); err != nil {
		t.Fatal(err)
	}
	if q.NumFree() != 7 {
		t.Errorf("6-buffer chain took %d descriptors, want 1 (indirect)", 8-q.NumFree())
	}
	two := six[3:5]
	if _, err := q.Add(two); err != nil {
		t.Fatal(err)
	}
	if q.NumFree() != 5 {
		t.Errorf("2-buffer chain took %d descriptors, want 2 (direct)", 7-q.NumFree())
	}
	q.Kick()
	dev.process()
	if dev.err != nil || len(dev.held) != 2 {
		t.Fatalf("device: %d chains, err %v", len(dev.held), dev.err)
	}
	r := dev.held[0]
	if !r.indirect || len(r.in) != 4 || len(r.out) != 2 || r.in[3][0] != 30 || r.out[1][9] != 59 {
		t.Errorf("indirect chain seen as indirect=%v in=%d out=%d", r.indirect, len(r.in), len(r.out))
	}
	if dev.held[1].indirect {
		t.Error("2-buffer chain went indirect")
	}
	// Fill the ring: with one descriptor left, a two-buffer chain goes
	// indirect rather than failing.
	for q.NumFree() > 1 {
		if _, err := q.Add(six[:1]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Add(two); err != nil {
		t.Fatalf("2-buffer chain with 1 free descriptor: %v", err)
	}
	// Tables are recycled: many rounds use no more memory than the
	// first slab.
	_, q, dev = setup(t, 8, indirect, false)
	a = dev.a
	_, p = buf(t, a, 256)
	for i := range six {
		six[i].Phys = p + uint64(10*i)
	}
	dev.auto = true
	for range 1000 {
		for range 8 {
			if _, err := q.Add(six); err != nil {
				t.Fatal(err)
			}
		}
		q.Kick()
		for {
			_, n, ok, err := q.Used()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if n != 20 {
				t.Fatalf("indirect length %d, want 20", n)
			}
		}
	}
	if dev.err != nil {
		t.Fatal(dev.err)
	}
	if len(q.tables) != indirectSlab/(indirectMax*descSize) {
		t.Errorf("%d indirect tables allocated, want one slab", len(q.tables))
	}
}

// TestIndirectAllocFailure falls back to a direct chain when no table
// memory can be had.
func TestIndirectAllocFailure(t *testing.T) {
	a, q, dev := setup(t, 8, indirect, false)
	_, p := buf(t, a, 64)
	a.limit = a.used
	bufs := []Buffer{{p, 1, false}, {p, 1, false}, {p, 1, true}}
	if _, err := q.Add(bufs); err != nil {
		t.Fatal(err)
	}
	if q.NumFree() != 5 {
		t.Errorf("NumFree %d, want 5 (direct chain)", q.NumFree())
	}
	q.Kick()
	dev.hold = true
	dev.process()
	if dev.err != nil || len(dev.held) != 1 || dev.held[0].indirect {
		t.Errorf("device saw %v, err %v", dev.held, dev.err)
	}
}

func TestNeedEvent(t *testing.T) {
	for _, tc := range []struct {
		event, new, old uint16
		want            bool
	}{
		{0, 1, 0, true},
		{0, 2, 1, false},
		{1, 2, 0, true},
		{4, 5, 3, true},
		{5, 5, 3, false},
		{2, 5, 3, false},
		{7, 7, 7, false},
		{6, 7, 7, false},
		{65535, 1, 65534, true},
		{0, 1, 65535, true},
		{1, 1, 65535, false},
		{65534, 0, 65535, false},
		{100, 200, 50, true},
		{40, 200, 50, false},
	} {
		if got := NeedEvent(tc.event, tc.new, tc.old); got != tc.want {
			t.Errorf("NeedEvent(event %d, new %d, old %d) = %v, want %v", tc.event, tc.new, tc.old, got, tc.want)
		}
	}
}

func TestKickSuppression(t *testing.T) {
	t.Run("event_idx", func(t *testing.T) {
		a, q, dev := setup(t, 16, evIdx, false)
		_, p := buf(t, a, 8)
		add := func(n int) {
			for range n {
				if _, err := q.Add([]Buffer{{p, 8, true}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		dev.setAvailEvent(5) // notify when avail.idx passes 5
		add(3)
		if q.Kick() {
			t.Error("Kick notified for 0->3 with avail_event 5")
		}
		add(3)
		if !q.Kick() {
			t.Error("Kick did not notify for 3->6 with avail_event 5")
		}
		if q.Kick() {
			t.Error("Kick notified with nothing added")
		}
		add(1)
		if q.Kick() {
			t.Error("Kick notified for 6->7 with avail_event 5")
		}
		if dev.notifies != 1 {
			t.Errorf("%d notifications, want 1", dev.notifies)
		}
	})
	t.Run("no_notify", func(t *testing.T) {
		a, q, dev := setup(t, 16, 0, false)
		_, p := buf(t, a, 8)
		dev.setUsedFlags(usedFlagNoNotify)
		q.Add([]Buffer{{p, 8, true}})
		if q.Kick() {
			t.Error("Kick notified under NO_NOTIFY")
		}
		dev.setUsedFlags(0)
		q.Add([]Buffer{{p, 8, true}})
		if !q.Kick() {
			t.Error("Kick did not notify without NO_NOTIFY")
		}
		if q.Kick() {
			t.Error("Kick notified with nothing added")
		}
	})
}

func TestInterruptSuppression(t *testing.T) {
	for _, feat := range []uint64{0, evIdx} {
		t.Run(fmt.Sprintf("features=%#x", feat), func(t *testing.T) {
			a, q, dev := setup(t, 8, feat, false)
			dev.hold = true
			_, p := buf(t, a, 8)
			for range 4 {
				q.Add([]Buffer{{p, 8, true}})
			}
			q.Kick()
			dev.process()
			if pending := q.EnableInterrupts(); pending {
				t.Error("EnableInterrupts reported pending buffers on an empty used ring")
			}
			dev.complete(dev.held[0].head, 1)
			if dev.interrupts != 1 {
				t.Errorf("%d interrupts after first completion with interrupts on, want 1", dev.interrupts)
			}
			q.DisableInterrupts()
			if feat&evIdx != 0 {
				if got := dev.usedEvent(); got != q.lastUsed-1 {
					t.Errorf("used_event %d after disable, want %d", got, q.lastUsed-1)
				}
				if dev.availFlags() != 0 {
					t.Errorf("avail flags %#x with EVENT_IDX, want 0", dev.availFlags())
				}
			} else if dev.availFlags() != availFlagNoInterrupt {
				t.Errorf("avail flags %#x after disable, want NO_INTERRUPT", dev.availFlags())
			}
			dev.complete(dev.held[1].head, 1)
			if dev.interrupts != 1 {
				t.Errorf("%d interrupts after completion with interrupts off, want 1", dev.interrupts)
			}
			if !q.EnableInterrupts() {
				t.Error("EnableInterrupts did not report the returned buffers")
			}
			for range 2 {
				if _, _, ok, err := q.Used(); !ok || err != nil {
					t.Fatal(ok, err)
				}
			}
			if q.EnableInterrupts() {
				t.Error("EnableInterrupts reported pending buffers after draining")
			}
			if feat&evIdx != 0 && dev.usedEvent() != q.lastUsed {
				t.Errorf("used_event %d after enable, want %d", dev.usedEvent(), q.lastUsed)
			}
			dev.complete(dev.held[2].head, 1)
			if dev.interrupts != 2 {
				t.Errorf("%d interrupts after re-enabling, want 2", dev.interrupts)
			}
		})
	}
}

// TestOneEntryQueue: with one entry, used_event shares its word with
// avail ring[0]; writing one must not clobber the other.
func TestOneEntryQueue(t *testing.T) {
	a, q, dev := setup(t, 1, evIdx, false)
	dev.auto = true
	in, p := buf(t, a, 8)
	for i := range 1000 {
		in[0] = byte(i)
		if _, err := q.Add([]Buffer{{p, 4, false}, {p + 4, 4, true}}); !errors.Is(err, ErrChainTooLong) {
			t.Fatalf("2-buffer chain on a 1-entry queue: %v", err)
		}
		if _, err := q.Add([]Buffer{{p, 4, true}}); err != nil {
			t.Fatal(err)
		}
		q.EnableInterrupts()
		if got := dev.a.u16(dev.avail + 4); got != 0 {
			t.Fatalf("avail ring[0] = %d after EnableInterrupts", got)
		}
		q.Kick()
		if _, _, ok, err := q.Used(); !ok || err != nil {
			t.Fatalf("round %d: Used %v %v", i, ok, err)
		}
		if got := dev.usedEvent(); got != uint16(i) {
			t.Fatalf("used_event = %d, want %d", got, i)
		}
	}
	if dev.err != nil {
		t.Fatal(dev.err)
	}
}

func TestRingLayout(t *testing.T) {
	for _, tc := range []struct {
		n      uint16
		legacy bool
		want   Layout
	}{
		{1, false, Layout{Avail: 16, Used: 24, Size: 40}},
		{8, false, Layout{Avail: 128, Used: 152, Size: 224}},
		{256, false, Layout{Avail: 4096, Used: 4616, Size: 6672}},
		{32768, false, Layout{Avail: 524288, Used: 589832, Size: 851984}},
		{1, true, Layout{Avail: 16, Used: 4096, Size: 8192}},
		{256, true, Layout{Avail: 4096, Used: 8192, Size: 12288}},
		{1024, true, Layout{Avail: 16384, Used: 20480, Size: 32768}},
	} {
		got, err := RingLayout(tc.n, tc.legacy)
		if err != nil || got != tc.want {
			t.Errorf("RingLayout(%d, legacy %v) = %+v, %v; want %+v", tc.n, tc.legacy, got, err, tc.want)
		}
	}
	for _, n := range []uint16{0, 3, 100, 65535} {
		if _, err := RingLayout(n, false); !errors.Is(err, ErrQueueSize) {
			t.Errorf("RingLayout(%d) = %v, want ErrQueueSize", n, err)
		}
	}
	// The queue's addresses follow the layout.
	for _, legacy := range []bool{false, true} {
		_, q, _ := setup(t, 256, 0, legacy)
		lay, _ := RingLayout(256, legacy)
		desc, driver, device := q.Addrs()
		if desc%LegacyAlign != 0 || driver != desc+uint64(lay.Avail) || device != desc+uint64(lay.Used) {
			t.Errorf("legacy %v: Addrs %#x %#x %#x do not follow %+v", legacy, desc, driver, device, lay)
		}
		if legacy {
			if _, err := legacyPFN(256, desc, driver, device); err != nil {
				t.Errorf("legacy queue rejected by legacyPFN: %v", err)
			}
		}
	}
}

func TestUsedValidation(t *testing.T) {
	a, q, dev := setup(t, 8, 0, false)
	dev.hold = true
	_, p := buf(t, a, 64)
	h, _ := q.Add([]Buffer{{p, 4, false}, {p + 8, 16, true}})
	q.Kick()
	dev.process()

	// An index that runs ahead of what is in flight.
	dev.a.put16(dev.used+2, 5)
	if _, _, ok, err := q.Used(); ok || !errors.Is(err, ErrUsedIndex) {
		t.Fatalf("Used with index 5 for 1 in flight: %v %v", ok, err)
	}
	// An entry naming a free descriptor.
	dev.a.put16(dev.used+2, 0)
	dev.complete(h+1, 0)
	if _, _, ok, err := q.Used(); ok || !errors.Is(err, ErrUsedHead) {
		t.Fatalf("Used naming a free head: %v %v", ok, err)
	}
	// An entry naming an out-of-range descriptor.
	dev.complete(1000, 0)
	if _, _, ok, err := q.Used(); ok || !errors.Is(err, ErrUsedHead) {
		t.Fatalf("Used naming head 1000: %v %v", ok, err)
	}
	// A length beyond the writable bytes: clamped, chain freed.
	dev.complete(h, 17)
	got, n, ok, err := q.Used()
	if !ok || got != h || n != 16 || !errors.Is(err, ErrUsedLength) {
		t.Fatalf("Used with length 17 of 16 = %d %d %v %v", got, n, ok, err)
	}
	if q.NumFree() != 8 {
		t.Errorf("NumFree %d, want 8", q.NumFree())
	}
	// The same head again, with nothing in flight.
	dev.complete(h, 1)
	if _, _, ok, err := q.Used(); ok || !errors.Is(err, ErrUsedIndex) {
		t.Fatalf("Used returning a head twice: %v %v", ok, err)
	}
}

// TestHotPathAllocs: Add, Kick, Used and interrupt control allocate
// nothing once indirect tables exist.
func TestHotPathAllocs(t *testing.T) {
	a, q, dev := setup(t, 8, evIdx|indirect, false)
	_, p := buf(t, a, 64)
	short := []Buffer{{p, 8, false}, {p + 8, 8, true}}
	long := []Buffer{{p, 8, false}, {p + 8, 8, false}, {p + 16, 8, true}}
	n := testing.AllocsPerRun(1000, func() {
		for _, bufs := range [][]Buffer{short, long} {
			h, err := q.Add(bufs)
			if err != nil {
				t.Fatal(err)
			}
			q.Kick()
			dev.complete(h, 8)
			q.DisableInterrupts()
			if _, _, ok, err := q.Used(); !ok || err != nil {
				t.Fatal(ok, err)
			}
			q.EnableInterrupts()
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per round trip, want 0", n)
	}
}

// TestIndirectLongerThanQueue: an indirect table may hold more buffers
// than the ring has descriptors (2.7.5.3.1 bounds it by the table, not
// the queue), up to the table size.
func TestIndirectLongerThanQueue(t *testing.T) {
	a, q, dev := setup(t, 4, indirect, false)
	dev.auto = true
	data, p := buf(t, a, 64)
	copy(data, "abcdefghij")
	ten := make([]Buffer, 10)
	for i := range 9 {
		ten[i] = Buffer{p + uint64(i), 1, false}
	}
	ten[9] = Buffer{p + 32, 16, true}
	head, err := q.Add(ten)
	if err != nil {
		t.Fatalf("10-buffer chain on a 4-entry queue: %v", err)
	}
	q.Kick()
	if h, n, ok, err := q.Used(); !ok || err != nil || h != head || n != 9 || string(data[32:41]) != "abcdefghi" {
		t.Errorf("Used = %d %d %v %v, data %q", h, n, ok, err, data[32:41])
	}
	if _, err := q.Add(make([]Buffer, indirectMax+1)); !errors.Is(err, ErrChainTooLong) {
		t.Errorf("chain beyond an indirect table: %v, want ErrChainTooLong", err)
	}
	if dev.err != nil {
		t.Fatal(dev.err)
	}
}
