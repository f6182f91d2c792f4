package link

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"gosv/drivers/nic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// replayDevice hands a fixed list of frames to the receiver, then waits.
type replayDevice struct {
	frames [][]byte
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
	for _, f := range d.frames {
		rx(nic.RxPacket{Data: f})
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
}

func (r *recorder) DeliverNetworkPacket(_ tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	if r.block != nil {
		<-r.block
	}
	b := pkt.Data().AsRange().ToSlice()
	port := binary.BigEndian.Uint16(b[20:])
	seq := binary.BigEndian.Uint32(b[24:])
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
	dev := &replayDevice{frames: frames, done: make(chan struct{})}
	rec := &recorder{seqs: map[uint16][]uint32{}, all: make(chan struct{}), want: len(frames)}
	e := New(dev, Options{Queues: 4, QueueLen: len(frames)})
	e.Attach(rec)
	select {
	case <-rec.all:
	case <-time.After(10 * time.Second):
		t.Fatalf("delivered %d of %d frames; stats %+v", rec.n, len(frames), e.Stats())
	}
	e.Close()
	e.Wait()
	for port, seqs := range rec.seqs {
		for i, s := range seqs {
			if s != uint32(i) {
				t.Fatalf("flow %d: frame %d has seq %d; flow out of order: %v", port, i, s, seqs)
			}
		}
	}
	if len(rec.seqs) != flows {
		t.Errorf("got %d flows, want %d", len(rec.seqs), flows)
	}
}

func TestReceiveDropsWhenQueueFull(t *testing.T) {
	frames := [][]byte{tcpFrame(1, 0), tcpFrame(1, 1), tcpFrame(1, 2), tcpFrame(1, 3), tcpFrame(1, 4), {1, 2, 3}}
	dev := &replayDevice{frames: frames, done: make(chan struct{})}
	// The dispatcher blocks, so the one-slot queue holds one frame and the
	// worker holds one: the other three are dropped, the runt is malformed.
	rec := &recorder{seqs: map[uint16][]uint32{}, all: make(chan struct{}), want: -1, block: make(chan struct{})}
	e := New(dev, Options{Queues: 1, QueueLen: 1})
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
