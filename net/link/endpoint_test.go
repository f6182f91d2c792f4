package link

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"gosv/drivers/nic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// replayDevice hands a fixed list of frames to the receiver, then waits.
// more[i] is frame i's More hint (false when more is short); after, if
// set, runs once the receiver has returned from frame i.
type replayDevice struct {
	frames [][]byte
	more   []bool
	after  func(i int)
	done   chan struct{}
}

func (d *replayDevice) Name() string                         { return "replay0" }
func (d *replayDevice) MAC() nic.MAC                         { return nic.MAC{2, 0, 0, 0, 0, 1} }
func (d *replayDevice) MTU() int                             { return 1500 }
func (d *replayDevice) Features() nic.Features               { return nic.Features{} }
func (d *replayDevice) LinkUp() bool                         { return true }
func (d *replayDevice) Stats() nic.Stats                     { return nic.Stats{} }
func (d *replayDevice) Transmit([]nic.TxPacket) (int, error) { return 0, nil }
func (d *replayDevice) Run(ctx context.Context, rx nic.Receiver) error {
	for i, f := range d.frames {
		rx(nic.RxPacket{Data: f, More: i < len(d.more) && d.more[i]})
		if d.after != nil {
			d.after(i)
		}
	}
	close(d.done)
	<-ctx.Done()
	return ctx.Err()
}

// recorder is a NetworkDispatcher that records, per flow (source port),
// the sequence numbers it was handed, in delivery order.
type recorder struct {
	mu    sync.Mutex
	seqs  map[uint16][]uint32
	n     int
	all   chan struct{}
	want  int
	block chan struct{}
	// blockPort, if set, blocks only frames from that port, on
	// blockPort's channel.
	blockPort     uint16
	blockPortChan chan struct{}
}

func (r *recorder) DeliverNetworkPacket(_ tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	if r.block != nil {
		<-r.block
	}
	b := pkt.Data().AsRange().ToSlice()
	port := binary.BigEndian.Uint16(b[20:])
	seq := binary.BigEndian.Uint32(b[24:])
	if r.blockPortChan != nil && port == r.blockPort {
		<-r.blockPortChan
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seqs[port] = append(r.seqs[port], seq)
	r.n++
	if r.n == r.want {
		close(r.all)
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *recorder) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

// tcpFrame is an IPv4 TCP frame from port sport whose first payload word
// (at the TCP sequence number's place) is seq.
func tcpFrame(sport uint16, seq uint32) []byte {
	f := frame(false, protoTCP, 1, 2, sport, 80, false)
	var s [4]byte
	binary.BigEndian.PutUint32(s[:], seq)
	return append(f, s[:]...)
}

// TestReceiveKeepsFlowOrder interleaves 16 flows over 4 queues and
// checks that each flow's frames reach the stack once each, in order,
// whether they are queued (More set), delivered inline (More unset) or
// a mix of the two, where an inline frame must wait for its queue.
func TestReceiveKeepsFlowOrder(t *testing.T) {
	const flows, perFlow = 16, 300
	var frames [][]byte
	queuesUsed := map[int]bool{}
	for seq := uint32(0); seq < perFlow; seq++ {
		for port := uint16(1000); port < 1000+flows; port++ {
			frames = append(frames, tcpFrame(port, seq))
			queuesUsed[queueIndex(FlowHash(tcpFrame(port, 0)), 4)] = true
		}
	}
	if len(queuesUsed) < 2 {
		t.Fatalf("test flows all hash to one queue: %v", queuesUsed)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name  string
		more  func(i int) bool
		burst int // Options.InlineBurst
	}{
		{"queued", func(int) bool { return true }, -1},
		{"inline", func(int) bool { return false }, -1},
		{"mixed", func(int) bool { return rng.IntN(3) != 0 }, -1},
		// One long batch: its first 3 frames inline, the rest queued.
		{"burst", func(int) bool { return true }, 3},
		// Batches of random length, the first 2 of each inline.
		{"bursts", func(int) bool { return rng.IntN(5) != 0 }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			more := make([]bool, len(frames))
			inline := 0
			for i := range more {
				more[i] = tc.more(i)
				if !more[i] {
					inline++
				}
			}
			dev := &replayDevice{frames: frames, more: more, done: make(chan struct{})}
			rec := &recorder{seqs: map[uint16][]uint32{}, all: make(chan struct{}), want: len(frames)}
			e := New(dev, Options{Queues: 4, QueueLen: len(frames), InlineBurst: tc.burst})
			e.Attach(rec)
			select {
			case <-rec.all:
			case <-time.After(10 * time.Second):
				t.Fatalf("delivered %d of %d frames; stats %+v", rec.count(), len(frames), e.Stats())
			}
			<-dev.done
			e.Close()
			e.Wait()
			for port, seqs := range rec.seqs {
				if len(seqs) != perFlow {
					t.Errorf("flow %d: %d frames delivered, want %d", port, len(seqs), perFlow)
				}
				for i, s := range seqs {
					if s != uint32(i) {
						t.Fatalf("flow %d: frame %d has seq %d; flow out of order: %v", port, i, s, seqs)
					}
				}
			}
			if len(rec.seqs) != flows {
				t.Errorf("got %d flows, want %d", len(rec.seqs), flows)
			}
			st := e.Stats()
			if st.RxQueueFull != 0 {
				t.Errorf("RxQueueFull = %d, want 0", st.RxQueueFull)
			}
			// Without an inline burst, frames with More always queue;
			// frames without it go inline unless their queue is busy.
			// One batch of all frames goes inline for its first 3.
			switch {
			case tc.burst < 0 && (st.RxInline > uint64(inline) || (inline == len(frames) && st.RxInline != uint64(inline))):
				t.Errorf("RxInline = %d with %d of %d frames without More", st.RxInline, inline, len(frames))
			case tc.name == "burst" && st.RxInline != 3:
				t.Errorf("RxInline = %d in one batch of %d frames, want the first 3", st.RxInline, len(frames))
			}
		})
	}
}

// TestReceiveInlineWaitsForItsQueue holds a queued frame in the stack and
// sends the next frame of its flow without More: it must queue behind
// the first, while a frame of a flow on an idle queue is delivered
// inline, before the device goroutine moves on.
func TestReceiveInlineWaitsForItsQueue(t *testing.T) {
	const slow = 1000
	other := uint16(2000)
	for queueIndex(FlowHash(tcpFrame(other, 0)), 2) == queueIndex(FlowHash(tcpFrame(slow, 0)), 2) {
		other++
	}
	frames := [][]byte{tcpFrame(slow, 0), tcpFrame(slow, 1), tcpFrame(other, 0)}
	rec := &recorder{seqs: map[uint16][]uint32{}, all: make(chan struct{}), want: len(frames),
		blockPort: slow, blockPortChan: make(chan struct{})}
	var inlineSeen []int
	dev := &replayDevice{frames: frames, more: []bool{true, false, false}, done: make(chan struct{})}
	dev.after = func(i int) {
		rec.mu.Lock()
		inlineSeen = append(inlineSeen, rec.n)
		rec.mu.Unlock()
	}
	e := New(dev, Options{Queues: 2, QueueLen: 8, InlineBurst: -1})
	e.Attach(rec)
	select {
	case <-dev.done:
	case <-time.After(5 * time.Second):
		// The device goroutine is stuck in the blocked flow: a frame
		// was delivered inline past its queue.
		close(rec.blockPortChan)
		t.Fatalf("device goroutine blocked in the stack; delivered when callbacks returned: %v", inlineSeen)
	}
	// The slow flow's two frames are queued (the first blocked in the
	// stack); the other flow's frame was delivered during its callback.
	if want := []int{0, 0, 1}; !slices.Equal(inlineSeen, want) {
		t.Errorf("frames delivered when each callback returned = %v, want %v", inlineSeen, want)
	}
	if got := e.Stats().RxInline; got != 1 {
		t.Errorf("RxInline = %d, want 1 (only the idle queue's frame)", got)
	}
	close(rec.blockPortChan)
	select {
	case <-rec.all:
	case <-time.After(10 * time.Second):
		t.Fatalf("delivered %d of %d frames", rec.count(), len(frames))
	}
	e.Close()
	e.Wait()
	if want := []uint32{0, 1}; !slices.Equal(rec.seqs[slow], want) {
		t.Errorf("slow flow's frames = %v, want %v", rec.seqs[slow], want)
	}
}

func TestReceiveDropsWhenQueueFull(t *testing.T) {
	frames := [][]byte{tcpFrame(1, 0), tcpFrame(1, 1), tcpFrame(1, 2), tcpFrame(1, 3), tcpFrame(1, 4), {1, 2, 3}}
	// More on every frame: they all go to the queue. The dispatcher
	// blocks, so the one-slot queue holds one frame and the worker holds
	// one: the other three are dropped, the runt is malformed.
	dev := &replayDevice{frames: frames, more: []bool{true, true, true, true, true, true}, done: make(chan struct{})}
	rec := &recorder{seqs: map[uint16][]uint32{}, all: make(chan struct{}), want: -1, block: make(chan struct{})}
	e := New(dev, Options{Queues: 1, QueueLen: 1, InlineBurst: -1})
	e.Attach(rec)
	<-dev.done
	got := e.Stats()
	close(rec.block)
	// The worker may or may not have taken the first frame off the queue
	// before the device sent the next ones: 3 or 4 drops.
	if got.RxQueueFull < 3 || got.RxQueueFull > 4 || got.RxMalformed != 1 {
		t.Fatalf("Stats = %+v, want RxQueueFull 3 or 4 and RxMalformed 1", got)
	}
	want := 5 - int(got.RxQueueFull)
	for deadline := time.Now().Add(10 * time.Second); rec.count() < want && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	e.Close()
	e.Wait()
	delivered := rec.seqs[1]
	if len(delivered) != want || delivered[0] != 0 {
		t.Errorf("delivered %v after %d drops, want the first %d frames from seq 0", delivered, got.RxQueueFull, 5-got.RxQueueFull)
	}
}

func TestReceiveWithoutDispatcherCounts(t *testing.T) {
	dev := &replayDevice{frames: [][]byte{tcpFrame(1, 0)}, done: make(chan struct{})}
	e := New(dev, Options{})
	rec := &recorder{seqs: map[uint16][]uint32{}, all: make(chan struct{}), want: 1}
	e.Attach(rec)
	e.Attach(nil) // detached before the device starts handing frames? not guaranteed
	<-dev.done
	e.Close()
	e.Wait()
	st := e.Stats()
	if delivered := rec.n; delivered+int(st.RxNotAttached) != 1 {
		t.Errorf("delivered %d, RxNotAttached %d; want them to add up to 1", delivered, st.RxNotAttached)
	}
}

// TestPacketCopiesFrame checks that a received frame reaches the stack
// whole whatever its size, and that large frames take two views whose
// first is a power of two (so gVisor clears little more than the frame).
func TestPacketCopiesFrame(t *testing.T) {
	e := New(&replayDevice{}, Options{})
	for _, size := range []int{60, 1514, splitAbove, splitAbove + 1, 8192, 33000, 65535} {
		// Whole, and in the pieces a device with 4 KiB buffers (and a
		// 12-byte header in the first) hands over, and in odd pieces.
		for _, cut := range []int{0, 4084, 1000} {
			t.Run(fmt.Sprint(size, "/", cut), func(t *testing.T) {
				f := tcpFrame(1, 7)
				for len(f) < size {
					f = append(f, byte(len(f)*7))
				}
				f = f[:size]
				pkt := e.packet(inPieces(f, cut))
				defer pkt.DecRef()
				buf := pkt.ToBuffer()
				defer buf.Release()
				if got := buf.Flatten(); !bytes.Equal(got, f) {
					t.Fatalf("packet holds %d bytes that differ from the %d-byte frame", len(got), len(f))
				}
				if got := len(pkt.LinkHeader().Slice()); got != 14 {
					t.Errorf("link header %d bytes, want 14", got)
				}
				var views []int
				vl, _ := pkt.AsViewList()
				for v := vl.Front(); v != nil; v = v.Next() {
					views = append(views, v.Size())
				}
				want := []int{size}
				if size > splitAbove && size&(size-1) != 0 {
					head := 1 << (bits.Len(uint(size)) - 1)
					want = []int{head, size - head}
				}
				if !slices.Equal(views, want) {
					t.Errorf("views %v, want %v", views, want)
				}
			})
		}
	}
}

// inPieces returns frame f as a device hands it over in buffers of cut
// bytes (the first cut-long too); cut 0 is one piece. The pieces are
// copies, as a device's buffers would be.
func inPieces(f []byte, cut int) nic.RxPacket {
	if cut == 0 || len(f) <= cut {
		return nic.RxPacket{Data: bytes.Clone(f)}
	}
	p := nic.RxPacket{Data: bytes.Clone(f[:cut])}
	for rest := f[cut:]; len(rest) > 0; {
		n := min(cut, len(rest))
		p.Tail = append(p.Tail, bytes.Clone(rest[:n]))
		rest = rest[n:]
	}
	return p
}

// TestReceiveFramesInPieces sends frames in pieces through receive: a
// corrupt one the device did not vouch for is dropped (its L4 checksum is
// checked over all pieces), good ones arrive whole, also when the first
// piece is too short to hold the headers.
func TestReceiveFramesInPieces(t *testing.T) {
	payload := string(bytes.Repeat([]byte("0123456789abcdef"), 600)) // 9600 bytes
	good := checkedTCPFrame(payload)
	bad := checkedTCPFrame(payload)
	bad[len(bad)-1] ^= 0xff
	e := New(&replayDevice{done: make(chan struct{})}, Options{})
	defer func() { e.Close(); e.Wait() }()
	rec := &frameRecorder{}
	e.Attach(rec)
	for _, tc := range []struct {
		name  string
		pkt   nic.RxPacket
		valid bool
		want  []byte // nil: dropped
	}{
		{"good, unverified", inPieces(good, 4084), false, good},
		{"good, vouched for", inPieces(good, 4084), true, good},
		{"headers split", inPieces(good, 20), true, good},
		{"corrupt, unverified", inPieces(bad, 4084), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.got = nil
			before := e.Stats().RxBadChecksum
			tc.pkt.ChecksumValid = tc.valid
			e.receive(tc.pkt)
			if tc.want == nil {
				if len(rec.got) != 0 || e.Stats().RxBadChecksum != before+1 {
					t.Errorf("delivered %d frames, bad checksums %d -> %d; want it dropped and counted", len(rec.got), before, e.Stats().RxBadChecksum)
				}
				return
			}
			if len(rec.got) != 1 || !bytes.Equal(rec.got[0], tc.want) {
				t.Errorf("delivered %d frames (%v); want the %d-byte frame whole", len(rec.got), lens(rec.got), len(tc.want))
			}
		})
	}
}

// frameRecorder is a NetworkDispatcher that keeps what it is handed
// (the whole frame), delivered on the caller's goroutine.
type frameRecorder struct{ got [][]byte }

func (r *frameRecorder) DeliverNetworkPacket(_ tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	b := pkt.ToBuffer()
	r.got = append(r.got, b.Flatten())
	b.Release()
}

func (r *frameRecorder) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

func lens(bs [][]byte) []int {
	var n []int
	for _, b := range bs {
		n = append(n, len(b))
	}
	return n
}

// slowDevice takes at most room packets per Transmit call and then has
// no room until the call after next (a device that drains its queue
// between calls); with room 0 it never takes any.
type slowDevice struct {
	replayDevice
	room, calls, sent int
}

func (d *slowDevice) Transmit(pkts []nic.TxPacket) (int, error) {
	d.calls++
	if d.room == 0 || d.calls%2 == 0 {
		return 0, nil
	}
	n := min(d.room, len(pkts))
	d.sent += n
	return n, nil
}

// TestTransmitWaitsForRoom: packets a full device queue does not take
// are handed over as the device makes room, not dropped (which left TCP
// to its retransmission timeout); a device that never makes room gets
// them dropped after the wait.
func TestTransmitWaitsForRoom(t *testing.T) {
	pkts := func(n int) []*stack.PacketBuffer {
		var out []*stack.PacketBuffer
		for range n {
			out = append(out, stack.NewPacketBuffer(stack.PacketBufferOptions{ReserveHeaderBytes: 14}))
		}
		return out
	}
	release := func(ps []*stack.PacketBuffer) {
		for _, p := range ps {
			p.DecRef()
		}
	}

	slow := &slowDevice{room: 2}
	e := New(slow, Options{})
	ps := pkts(7)
	n, err := e.transmit(ps)
	release(ps)
	if n != 7 || err != nil || slow.sent != 7 {
		t.Errorf("transmit to a slow device = %d, %v (device took %d); want all 7", n, err, slow.sent)
	}
	if st := e.Stats(); st.TxDropped != 0 || st.TxFullWaits != 1 {
		t.Errorf("stats %+v, want no drops and one wait", st)
	}

	stuck := &slowDevice{room: 0}
	e = New(stuck, Options{})
	ps = pkts(3)
	start := time.Now()
	n, err = e.transmit(ps)
	release(ps)
	if n != 0 || err == nil || time.Since(start) < txFullWait {
		t.Errorf("transmit to a stuck device = %d, %v after %v; want 0 and an error after %v", n, err, time.Since(start), txFullWait)
	}
	if st := e.Stats(); st.TxDropped != 3 {
		t.Errorf("TxDropped = %d, want 3", st.TxDropped)
	}
}
