// Package link joins a network device (drivers/nic.Device) to the gVisor
// netstack: Endpoint is a stack.LinkEndpoint that adds and strips the
// Ethernet header itself, passes TCP checksum and segmentation offload to
// the device, and spreads received frames over per-flow queues.
//
// # Receive: net channels, after Van Jacobson
//
// Van Jacobson's net channels (LCA 2006) replace the kernel's shared,
// locked receive path with one lock-free channel per flow: the driver
// classifies each frame by its 5-tuple and drops it in that flow's
// channel, and the consumer (ideally the application thread that reads
// the socket) does the protocol work, on its own CPU, in order, without
// touching anyone else's state.
//
// Endpoint keeps the first half. The device's receive goroutine (one per
// device, see nic.Device.Run) peeks at the Ethernet and IP headers
// (FlowHash: no allocation), copies the frame into a pooled
// stack.PacketBuffer (the device reuses its buffer when the callback
// returns) and sends it on one of N Go channels chosen by the hash; each
// channel has its own goroutine that calls the stack's
// NetworkDispatcher.DeliverNetworkPacket. Frames of one flow always take
// the same channel, so they reach the stack in arrival order, and IP, TCP
// and UDP processing for different flows runs on different goroutines
// with no lock of the link layer in between. A full channel drops the
// frame (counted in Stats.RxQueueFull) instead of stalling the device:
// TCP recovers, and one slow flow cannot hold up the others' receive
// ring.
//
// The channels are for long bursts. The device goroutine delivers a
// frame itself (counted in Stats.RxInline) when the frame's queue has
// nothing pending, so that nothing of its flows is in flight and order
// holds, and either the device has no further frame ready
// (nic.RxPacket.More unset) or fewer than Options.InlineBurst frames of
// the current batch came before it: a hand-off to a queue goroutine,
// which wakes another CPU, costs more than the IP work it moves for the
// dozen frames an interrupt brings under an HTTP load (TCP's own work
// goes to gVisor's per-flow processor goroutines either way). Only the
// frames of a longer batch go to the queues, to spread it while the
// device goroutine drains the ring.
//
// It departs from Van Jacobson in where the protocol work runs: on the
// queue goroutine, not in the thread of the application that owns the
// socket. gVisor's protocol code is built around endpoints that are
// handed packets (DeliverNetworkPacket, then TCP's own per-connection
// processor goroutines) and has no hook to run the IP and TCP layers
// lazily from a socket read; ARP, ICMP, listening sockets and ACK clocking
// also need work done when no application reads. The queue goroutines give
// the same parallelism and per-flow ordering, and the Go scheduler runs
// them on idle CPUs. N defaults to GOMAXPROCS (capped at 8), because more
// queues than CPUs only add goroutine switches.
//
// # Transmit and offloads
//
// WritePackets hands the packets of one call to Device.Transmit as one
// batch of TxPackets whose Data slices point into the packet buffers
// (the device copies or maps them before Transmit returns), so sending
// allocates nothing per packet.
//
// gVisor has two offload models. CapabilityTXChecksumOffload means "the
// stack may leave TCP and UDP checksums out altogether", which suits a
// veth or a tap to a host that does not check them, but not a real NIC:
// a device needs the pseudo-header sum in the checksum field and the
// checksum's position (virtio-net's NEEDS_CSUM), and a UDP datagram that
// IP fragments cannot be summed by the device at all. "Host GSO"
// (SupportedGSO == HostGSOSupported) is the partial-checksum model: TCP
// writes the pseudo-header sum, marks GSOOptions.NeedsCsum, and may hand
// down segments up to GSOMaxSize that the device cuts at the MSS. That is
// exactly nic.TxPacket's NeedsChecksum and GSO, so Endpoint advertises host
// GSO when the device has TxChecksum, TSO4 and TSO6, and does not advertise
// CapabilityTXChecksumOffload; UDP and ICMP checksums are computed by the
// stack. A device with TxChecksum but without both TSO kinds gets no
// offload (gVisor picks the GSO type from the route's IP version, with no
// way to ask for TSO on IPv4 only).
//
// CapabilityRXChecksumOffload is advertised, and the endpoint checks in
// software what the device did not validate (csum.go): gVisor's flag is
// one switch for the whole NIC, while a device vouches per frame, and a
// frame from the same host marked NEEDS_CSUM carries an unfinished
// checksum that software verification would reject.
package link

import (
	"context"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gosv/drivers/nic"
	"gosv/internal/memcopy"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

var (
	_ stack.LinkEndpoint = (*Endpoint)(nil)
	_ stack.GSOEndpoint  = (*Endpoint)(nil)
)

// Default sizes of the receive queues.
const (
	maxDefaultQueues = 8
	// defaultQueueLen frames per queue: four virtio-net receive rings'
	// worth (256 each), so one queue absorbs several rings while its
	// goroutine is descheduled; with 256, a 1 MiB burst overflowed it
	// in tests and TCP fell back on retransmissions.
	defaultQueueLen = 1024
)

// Options tune an Endpoint; the zero value is a good default.
type Options struct {
	// Queues is the number of per-flow receive queues (0: GOMAXPROCS,
	// at most 8).
	Queues int
	// QueueLen is the capacity of each queue in frames (0: 256).
	QueueLen int
	// NoOffload turns off checksum and segmentation offload even if the
	// device has them (for tests and for working around device bugs).
	NoOffload bool
	// AckDelay is how long a pure TCP ACK may wait for a reply to carry
	// it (delack.go): 0 means DefaultAckDelay, a negative value sends
	// every ACK at once, as gVisor alone does.
	AckDelay time.Duration
	// InlineBurst is how many frames of one device batch with more
	// behind them are delivered on the device's goroutine before the
	// rest of the batch goes to the queues (see receive): 0 means
	// defaultInlineBurst, negative none (every frame with more behind
	// it is queued).
	InlineBurst int
}

// defaultInlineBurst covers the batch an interrupt brings under an HTTP
// load (about a dozen frames with 32 connections). When every frame but
// a batch's last went through a queue, host CPU per request was 556,
// 636 us against 486, 505 us with every frame inline (gosvbench -ab
// pairs, 2026-11-25; the bound of 16 was not measured separately).
const defaultInlineBurst = 16

// Stats are the endpoint's own drop counters; the stack's NIC stats count
// the packets that got through.
type Stats struct {
	// RxInline counts frames delivered on the device's receive
	// goroutine instead of a queue's (see receive).
	RxInline uint64
	// RxQueueFull counts frames dropped because their flow's queue was
	// full.
	RxQueueFull uint64
	// RxNotAttached counts frames that arrived with no stack attached.
	RxNotAttached uint64
	// RxMalformed counts frames shorter than an Ethernet header.
	RxMalformed uint64
	// RxBadChecksum counts frames with a wrong IPv4 header checksum, or
	// a wrong TCP/UDP checksum the device had not validated.
	RxBadChecksum uint64
	// TxDropped counts packets the device did not take. TxFullWaits
	// counts the times a full device queue made transmit wait.
	TxDropped, TxFullWaits uint64
	// AcksDelayed counts pure ACKs held back to wait for a reply, and
	// AcksCoalesced those of them a later segment made unnecessary
	// (never sent).
	AcksDelayed, AcksCoalesced uint64
}

// Endpoint is a stack.LinkEndpoint for one nic.Device.
type Endpoint struct {
	dev      nic.Device
	gso      bool
	gsoMax   uint32
	queueLen int

	mtu        atomic.Uint32
	mac        atomic.Pointer[nic.MAC]
	dispatcher atomic.Pointer[dispatcherRef]

	rxQueueFull, rxNotAttached, rxMalformed, rxBadChecksum, txDropped atomic.Uint64
	txFullWaits                                                       atomic.Uint64
	inline                                                            atomic.Uint64

	rxFlat []byte // receive's scratch for frames it must see in one piece
	// inlineBurst is Options.InlineBurst resolved; burst counts the
	// frames of the device's current batch so far (receive only).
	inlineBurst, burst int

	queues []rxQueue
	txPool sync.Pool
	delack *ackDelayer // nil when ACKs are not delayed

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	onClose func()
	runErr  error
	wg      sync.WaitGroup
}

// rxQueue is one receive queue: a channel to its goroutine, and the
// count of frames sent on it and not yet delivered. While that count is
// above zero, later frames of the queue's flows must go behind them;
// when it is zero, the queue's flows have nothing in flight, and the
// receive callback may deliver a frame itself.
type rxQueue struct {
	ch      chan *stack.PacketBuffer
	pending atomic.Int32
}

// dispatcherRef boxes the interface so that it can be swapped atomically:
// the queue goroutines load it once per frame.
type dispatcherRef struct{ d stack.NetworkDispatcher }

// New returns an Endpoint for dev. The device starts receiving when the
// stack attaches the endpoint (CreateNIC) and stops on Close.
func New(dev nic.Device, opts Options) *Endpoint {
	n := opts.Queues
	if n <= 0 {
		n = min(runtime.GOMAXPROCS(0), maxDefaultQueues)
	}
	qlen := opts.QueueLen
	if qlen <= 0 {
		qlen = defaultQueueLen
	}
	e := &Endpoint{dev: dev, queueLen: qlen, queues: make([]rxQueue, n), inlineBurst: opts.InlineBurst}
	if e.inlineBurst == 0 {
		e.inlineBurst = defaultInlineBurst
	}
	for i := range e.queues {
		e.queues[i].ch = make(chan *stack.PacketBuffer, qlen)
	}
	f := dev.Features()
	if !opts.NoOffload && f.TxChecksum && f.TSO4 && f.TSO6 && f.MaxGSOSize > header.EthernetMinimumSize+header.TCPTotalHeaderMaximumSize {
		e.gso = true
		e.gsoMax = uint32(min(f.MaxGSOSize-header.EthernetMinimumSize, 1<<16-1))
	}
	e.mtu.Store(uint32(dev.MTU()))
	mac := dev.MAC()
	e.mac.Store(&mac)
	e.txPool.New = func() any { return new(txBatch) }
	if delay := opts.AckDelay; delay >= 0 {
		if delay == 0 {
			delay = DefaultAckDelay
		}
		e.delack = newAckDelayer(delay, func(pkts []*stack.PacketBuffer) { e.transmit(pkts) })
	}
	return e
}

// Stats returns the endpoint's drop counters.
func (e *Endpoint) Stats() Stats {
	var delayed, coalesced uint64
	if e.delack != nil {
		delayed, coalesced = e.delack.counts()
	}
	return Stats{
		AcksDelayed:   delayed,
		AcksCoalesced: coalesced,
		RxInline:      e.inline.Load(),
		RxQueueFull:   e.rxQueueFull.Load(),
		RxNotAttached: e.rxNotAttached.Load(),
		RxMalformed:   e.rxMalformed.Load(),
		RxBadChecksum: e.rxBadChecksum.Load(),
		TxDropped:     e.txDropped.Load(),
		TxFullWaits:   e.txFullWaits.Load(),
	}
}

// Device returns the device the endpoint drives.
func (e *Endpoint) Device() nic.Device { return e.dev }

// Queues returns the number of receive queues.
func (e *Endpoint) Queues() int { return len(e.queues) }

// Err returns the error the device's Run returned, if it has stopped.
func (e *Endpoint) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runErr
}

// MTU implements stack.NetworkLinkEndpoint: the largest IP packet.
func (e *Endpoint) MTU() uint32 { return e.mtu.Load() }

// SetMTU implements stack.NetworkLinkEndpoint.
func (e *Endpoint) SetMTU(mtu uint32) { e.mtu.Store(mtu) }

// MaxHeaderLength implements stack.NetworkLinkEndpoint: the Ethernet
// header.
func (*Endpoint) MaxHeaderLength() uint16 { return header.EthernetMinimumSize }

// LinkAddress implements stack.NetworkLinkEndpoint.
func (e *Endpoint) LinkAddress() tcpip.LinkAddress {
	m := e.mac.Load()
	return tcpip.LinkAddress(m[:])
}

// SetLinkAddress implements stack.NetworkLinkEndpoint. It changes the
// address the stack uses; the device keeps filtering on its own.
func (e *Endpoint) SetLinkAddress(addr tcpip.LinkAddress) {
	var m nic.MAC
	copy(m[:], addr)
	e.mac.Store(&m)
}

// Capabilities implements stack.NetworkLinkEndpoint. Offloads are
// advertised through SupportedGSO; see the package doc.
func (*Endpoint) Capabilities() stack.LinkEndpointCapabilities {
	// RX checksum offload: receive checks what the device did not
	// (csum.go).
	return stack.CapabilityResolutionRequired | stack.CapabilityRXChecksumOffload
}

// SupportedGSO implements stack.GSOEndpoint.
func (e *Endpoint) SupportedGSO() stack.SupportedGSO {
	if e.gso {
		return stack.HostGSOSupported
	}
	return stack.GSONotSupported
}

// GSOMaxSize implements stack.GSOEndpoint: the largest IP packet TCP may
// hand down for the device to segment.
func (e *Endpoint) GSOMaxSize() uint32 { return e.gsoMax }

// ARPHardwareType implements stack.NetworkLinkEndpoint.
func (*Endpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }

// AddHeader implements stack.NetworkLinkEndpoint.
func (e *Endpoint) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	src := pkt.EgressRoute.LocalLinkAddress
	if src == "" {
		src = e.LinkAddress()
	}
	eth.Encode(&header.EthernetFields{
		SrcAddr: src,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	})
}

// ParseHeader implements stack.NetworkLinkEndpoint.
func (*Endpoint) ParseHeader(pkt *stack.PacketBuffer) bool {
	_, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	return ok
}

// Attach implements stack.NetworkLinkEndpoint. The first attach starts the
// device's receive goroutine and the queue goroutines; Attach(nil) only
// detaches (frames are then dropped) and Close stops them.
func (e *Endpoint) Attach(d stack.NetworkDispatcher) {
	if d == nil {
		e.dispatcher.Store(nil)
		return
	}
	e.dispatcher.Store(&dispatcherRef{d})
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return
	}
	e.started = true
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	for i := range e.queues {
		e.wg.Add(1)
		go e.deliver(&e.queues[i])
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		err := e.dev.Run(ctx, e.receive)
		e.mu.Lock()
		e.runErr = err
		e.mu.Unlock()
		// Run has returned, so receive is no longer called: closing the
		// queues lets their goroutines finish what is queued and exit.
		for i := range e.queues {
			close(e.queues[i].ch)
		}
	}()
}

// IsAttached implements stack.NetworkLinkEndpoint.
func (e *Endpoint) IsAttached() bool { return e.dispatcher.Load() != nil }

// Wait implements stack.NetworkLinkEndpoint: it waits for the goroutines
// to stop after Close.
func (e *Endpoint) Wait() { e.wg.Wait() }

// Close implements stack.NetworkLinkEndpoint: it stops the device.
func (e *Endpoint) Close() {
	e.mu.Lock()
	onClose, cancel := e.onClose, e.cancel
	e.onClose = nil
	e.mu.Unlock()
	if onClose != nil {
		onClose()
	}
	e.dispatcher.Store(nil)
	if e.delack != nil {
		e.delack.stop()
	}
	if cancel != nil {
		cancel()
	}
}

// SetOnCloseAction implements stack.NetworkLinkEndpoint.
func (e *Endpoint) SetOnCloseAction(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onClose = f
}

// receive is the device's receive callback: classify, copy, then
// deliver or queue. It runs on the device's one receive goroutine, which
// makes it the only sender on the queues (a queue that is not full now
// stays not full until the send) and the only one to raise a queue's
// pending count.
//
// A frame whose queue has nothing pending is delivered here, on the
// device's goroutine, if it is the last of the device's batch (More
// unset) or among its first InlineBurst: every earlier frame of its
// flows has been through the stack, so order is kept, and the frame
// skips a hand-off to the queue's goroutine (a channel send that wakes
// another CPU, costly under TCG). The rest of a longer batch goes to
// the queues, spread over their goroutines while the device goroutine
// drains the ring.
func (e *Endpoint) receive(p nic.RxPacket) {
	if len(p.Data) < header.EthernetMinimumSize {
		e.rxMalformed.Add(1)
		return
	}
	if e.dispatcher.Load() == nil {
		e.rxNotAttached.Add(1)
		return
	}
	if len(p.Tail) > 0 && (!p.ChecksumValid || len(p.Data) < minHeadPiece) {
		// Verifying an L4 checksum, or finding the headers, needs the
		// frame in one piece. Devices vouch for the checksums of the
		// large frames that arrive in pieces, with the headers in the
		// first, so this is rare.
		e.rxFlat = p.Flat(e.rxFlat)
		p.Data, p.Tail = e.rxFlat, nil
	}
	if !checksumsOK(p.Data, p.ChecksumValid) {
		e.rxBadChecksum.Add(1)
		return
	}
	q := &e.queues[queueIndex(FlowHash(p.Data), len(e.queues))]
	before := e.burst
	if p.More {
		e.burst++
	} else {
		e.burst = 0
	}
	if q.pending.Load() == 0 && (!p.More || before < e.inlineBurst) {
		e.inline.Add(1)
		e.deliverPacket(e.packet(p))
		return
	}
	if len(q.ch) == cap(q.ch) {
		e.rxQueueFull.Add(1)
		return
	}
	q.pending.Add(1)
	q.ch <- e.packet(p)
}

// splitAbove is the frame size above which packet copies a frame into
// two views.
const splitAbove = 4096

// minHeadPiece is the least first piece of a frame in pieces that
// receive classifies without flattening it: Ethernet, IP and TCP headers
// with options (14 + 60 + 60 bytes) fit.
const minHeadPiece = 256

// packet copies a received frame into a new PacketBuffer (the device
// reuses its buffer), in pieces (internal/memcopy: a large unaligned
// copy is slow under TCG), with the Ethernet header consumed.
//
// gVisor clears every view's pooled chunk, whose size is the next power
// of two (buffer.newChunk): a 33 KB GSO frame in one view cleared 64 KB.
// A large frame goes into the largest power of two that fits and a
// second view for the rest, which clears little more than the frame;
// the headers are in the first view.
func (e *Endpoint) packet(p nic.RxPacket) *stack.PacketBuffer {
	var payload buffer.Buffer
	if len(p.Tail) == 0 {
		data := p.Data
		if n := len(data); n > splitAbove && n&(n-1) != 0 {
			head := 1 << (bits.Len(uint(n)) - 1)
			payload.Append(copyView(data[:head]))
			data = data[head:]
		}
		payload.Append(copyView(data))
	} else {
		// Gathered from the device's pieces straight into the views.
		n := p.Len()
		head := n
		if n > splitAbove && n&(n-1) != 0 {
			head = 1 << (bits.Len(uint(n)) - 1)
		}
		g := gather{pieces: p.Tail, cur: p.Data}
		payload.Append(g.view(head))
		if head < n {
			payload.Append(g.view(n - head))
		}
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: payload})
	hdr, _ := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	eth := header.Ethernet(hdr)
	pkt.NetworkProtocolNumber = eth.Type()
	pkt.PktType = e.packetType(hdr[:header.EthernetAddressSize])
	return pkt
}

// gather reads a frame in pieces in order: cur, then pieces.
type gather struct {
	cur    []byte
	pieces [][]byte
}

// view returns a new view holding the next n bytes (which the pieces
// must have).
func (g *gather) view(n int) *buffer.View {
	v := buffer.NewViewSize(n)
	dst := v.AsSlice()
	for len(dst) > 0 {
		for len(g.cur) == 0 {
			g.cur, g.pieces = g.pieces[0], g.pieces[1:]
		}
		c := memcopy.Copy(dst, g.cur)
		dst, g.cur = dst[c:], g.cur[c:]
	}
	return v
}

// copyView returns a new view holding a copy of b.
func copyView(b []byte) *buffer.View {
	v := buffer.NewViewSize(len(b))
	memcopy.Copy(v.AsSlice(), b)
	return v
}

// packetType classifies a destination MAC without building a string.
func (e *Endpoint) packetType(dst []byte) tcpip.PacketType {
	if dst[0]&1 != 0 {
		for _, b := range dst {
			if b != 0xff {
				return tcpip.PacketMulticast
			}
		}
		return tcpip.PacketBroadcast
	}
	if m := e.mac.Load(); string(dst) == string(m[:]) {
		return tcpip.PacketHost
	}
	return tcpip.PacketOtherHost
}

// deliver runs one queue: protocol processing for the flows hashed to it.
func (e *Endpoint) deliver(q *rxQueue) {
	defer e.wg.Done()
	for pkt := range q.ch {
		e.deliverPacket(pkt)
		q.pending.Add(-1)
	}
}

// deliverPacket hands one frame to the stack and drops our reference.
func (e *Endpoint) deliverPacket(pkt *stack.PacketBuffer) {
	if r := e.dispatcher.Load(); r != nil {
		r.d.DeliverNetworkPacket(pkt.NetworkProtocolNumber, pkt)
	} else {
		e.rxNotAttached.Add(1)
	}
	pkt.DecRef()
}

// txBatch is the scratch space of one WritePackets call, pooled so that
// sending does not allocate.
type txBatch struct {
	pkts   []nic.TxPacket
	ends   []int
	slices [][]byte
	send   []*stack.PacketBuffer // what goes now, after delayed ACKs
}

// WritePackets implements stack.LinkWriter. The packets keep their
// references: the caller owns them, and the device is done with their
// memory when Transmit returns (a delayed ACK takes a reference of its
// own). Held ACKs count as written.
func (e *Endpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	all := pkts.AsSlice()
	b := e.txPool.Get().(*txBatch)
	defer e.txPool.Put(b)
	if e.delack == nil {
		return e.transmitBatch(b, all)
	}
	b.send = e.delack.filter(all, b.send[:0])
	n, err := e.transmitBatch(b, b.send)
	sent := len(b.send)
	clear(b.send)
	if err != nil && n == 0 && sent > 0 {
		return 0, err
	}
	if n < sent {
		return min(n, len(all)), nil
	}
	return len(all), nil
}

// transmit hands packets to the device as one batch.
func (e *Endpoint) transmit(pkts []*stack.PacketBuffer) (int, tcpip.Error) {
	b := e.txPool.Get().(*txBatch)
	defer e.txPool.Put(b)
	return e.transmitBatch(b, pkts)
}

// transmitBatch hands packets to the device as one batch, using b's
// scratch space (not b.send, which may hold pkts).
func (e *Endpoint) transmitBatch(b *txBatch, pkts []*stack.PacketBuffer) (int, tcpip.Error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	b.pkts, b.ends, b.slices = b.pkts[:0], b.ends[:0], b.slices[:0]
	for _, pkt := range pkts {
		b.pkts = append(b.pkts, e.txPacket(pkt))
		b.slices = appendSlices(b.slices, pkt)
		b.ends = append(b.ends, len(b.slices))
	}
	// The slices are cut only now, after b.slices has stopped growing.
	start := 0
	for i, end := range b.ends {
		b.pkts[i].Data = b.slices[start:end:end]
		start = end
	}
	n, err := e.dev.Transmit(b.pkts)
	if n < len(b.pkts) && err == nil {
		n, err = e.transmitWhenRoom(b.pkts, n)
	}
	// Drop the references to packet memory before pooling the batch.
	clear(b.slices)
	for i := range b.pkts {
		b.pkts[i].Data = nil
	}
	if n < len(b.pkts) {
		e.txDropped.Add(uint64(len(b.pkts) - n))
	}
	if n == 0 {
		if err != nil {
			return 0, &tcpip.ErrClosedForSend{}
		}
		return 0, &tcpip.ErrNoBufferSpace{}
	}
	return n, nil
}

// Waiting for room in a full device queue: the longest wait, and the
// polling interval, which doubles from the first to the last.
const (
	txFullWait                = 100 * time.Millisecond
	txFullPoll, txFullPollMax = 20 * time.Microsecond, time.Millisecond
)

// transmitWhenRoom hands the device pkts[taken:], which it had no room
// for, as it makes room (each Transmit reclaims what it has sent), for
// up to txFullWait: a full queue is back-pressure, as Linux's qdisc holds
// packets for a stopped queue. Dropping them instead left TCP to its
// retransmission timeout: gosvbench saw a guest -> host stream fall to
// 1.4 MB/s with 68 timeouts in 10 s when QEMU fell behind.
func (e *Endpoint) transmitWhenRoom(pkts []nic.TxPacket, taken int) (int, error) {
	e.txFullWaits.Add(1)
	deadline := time.Now().Add(txFullWait)
	for delay := txFullPoll; time.Now().Before(deadline); delay = min(2*delay, txFullPollMax) {
		time.Sleep(delay)
		n, err := e.dev.Transmit(pkts[taken:])
		taken += n
		if taken == len(pkts) || err != nil {
			return taken, err
		}
	}
	return taken, nil
}

// txPacket fills in the offload fields for pkt.
func (e *Endpoint) txPacket(pkt *stack.PacketBuffer) nic.TxPacket {
	var tx nic.TxPacket
	g := &pkt.GSOOptions
	if !e.gso || g.Type == stack.GSONone || !g.NeedsCsum {
		return tx
	}
	// TCP wrote the pseudo-header sum; the device sums the rest.
	tx.NeedsChecksum = true
	// TCP sets L3HdrLen (it sends no IP options), as gVisor's own
	// fdbased endpoint relies on; reading the header's length would
	// gather the packet's views again.
	tx.CsumStart = header.EthernetMinimumSize + g.L3HdrLen
	tx.CsumOffset = g.CsumOffset
	if pkt.Data().Size() <= int(g.MSS) {
		return tx
	}
	switch g.Type {
	case stack.GSOTCPv4:
		tx.GSO = nic.GSOTCPv4
	case stack.GSOTCPv6:
		tx.GSO = nic.GSOTCPv6
	default:
		return tx
	}
	tx.GSOSize = g.MSS
	tx.HdrLen = uint16(pkt.HeaderSize())
	return tx
}

// appendSlices appends the packet's bytes, headers first, as slices of
// its own views.
func appendSlices(dst [][]byte, pkt *stack.PacketBuffer) [][]byte {
	vl, off := pkt.AsViewList()
	for v := vl.Front(); v != nil; v = v.Next() {
		s := v.AsSlice()
		if off >= len(s) {
			off -= len(s)
			continue
		}
		dst = append(dst, s[off:])
		off = 0
	}
	return dst
}
