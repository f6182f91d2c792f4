package virtio

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"

	"gosv/drivers/nic"
	"gosv/internal/memcopy"
)

// Net is a virtio-net driver (5.1) with one receive and one transmit
// queue (no multiqueue, no control queue), implementing nic.Device.
//
// Receive buffers are one page each with mergeable receive buffers
// (MRG_RXBUF), which also lets the driver take GUEST_TSO frames of up to
// 64 KiB; without MRG_RXBUF each buffer holds one MTU-sized frame and
// GUEST_TSO is refused (it would need 64 KiB chains per buffer).
// Transmitted frames are copied into pages from a fixed pool, one
// descriptor per page, the virtio-net header at the start of the first.
//
// Run owns the receive side; Transmit may be called from any goroutine
// (a mutex serializes it with Run's reclaiming and resets).
type Net struct {
	name     string
	t        Transport
	dma      DMA
	irq      IRQ
	poll     time.Duration
	dev      *Device
	request  uint64 // features asked for at every (re)negotiation
	features uint64 // features agreed

	hdrLen    int
	mergeable bool
	guestCsum bool
	splitHdr  bool // a legacy device wants the header in its own descriptor
	mac       nic.MAC
	mtu       int
	feat      nic.Features
	link      atomic.Bool

	running   atomic.Bool
	broken    atomic.Bool // Transmit saw a broken device; Run resets it
	maxResets int

	// Receive state, Run's alone.
	rxq      *Queue
	rxBufLen int
	rxBufs   []dmaBuf
	rxByHead []int32  // buffer posted at each head descriptor, -1 none
	rxFree   []int32  // buffers not posted
	rxMax    int      // largest frame taken, without the virtio-net header
	rxTail   [][]byte // the pieces of a frame after its first buffer

	txMu       sync.Mutex
	txq        *Queue
	txPages    []dmaBuf
	txFree     []int32
	txByHead   [][]int32 // pages of the chain at each head descriptor
	txBufs     []Buffer  // scratch for Add
	txMax      int       // largest frame without GSO
	txMaxGSO   int       // largest frame with GSO
	txMaxDescs int       // longest chain Add can take

	stats  netStats
	resets atomic.Uint64
}

var _ nic.Device = (*Net)(nil)

type dmaBuf struct {
	virt []byte
	phys uint64
}

type netStats struct {
	rxPackets, rxBytes, rxDropped atomic.Uint64
	txPackets, txBytes, txDropped atomic.Uint64
	interrupts                    atomic.Uint64
}

// NetOptions tune NewNet; the zero value is a good default.
type NetOptions struct {
	// Name is the interface name for logs; "virtio-net" if empty.
	Name string
	// QueueSize caps each queue's entries (and so the receive buffers
	// and transmit pages); 0 means 256.
	QueueSize uint16
	// PollInterval is how long Run sleeps between looks at the queues
	// when there is no IRQ; 0 means 1 ms.
	PollInterval time.Duration
	// Refuse lists feature bits not to accept even if offered (bring-up
	// and tests).
	Refuse uint64
	// MaxResets is how many device resets Run attempts after the device
	// breaks the protocol or asks for a reset, before it gives up; 0
	// means 8.
	MaxResets int
}

// Errors from Net.
var (
	ErrNotNet       = errors.New("virtio-net: not a network device")
	ErrBadConfig    = errors.New("virtio-net: bad device configuration")
	ErrRunning      = errors.New("virtio-net: Run called while running")
	ErrDeviceBroken = errors.New("virtio-net: device broke the protocol and awaits a reset")
	ErrTxPacket     = errors.New("virtio-net: bad transmit packet")
)

const (
	pageSize = 4096
	// ethOverhead is what a frame adds to its IP packet: the Ethernet
	// header and one VLAN tag.
	ethOverhead = 14 + 4
	ethHdrLen   = 14
	// maxGSOFrame is the largest frame exchanged with GSO (Linux's
	// GSO_LEGACY_MAX_SIZE), headers included.
	maxGSOFrame = 65536
	// rxBudget bounds receive memory without mergeable buffers, where a
	// large MTU makes each buffer large.
	rxBudget        = 4 << 20
	defaultQueue    = 256
	defaultPoll     = time.Millisecond
	defaultMaxReset = 8
	minMTU          = 68
	defaultMTU      = 1500
)

// netFeatures are the features the driver accepts from the offered ones,
// honoring the dependencies of 5.1.3.1: host TSO needs CSUM; guest TSO
// needs GUEST_CSUM and, in this driver, mergeable buffers.
func netFeatures(offered uint64) uint64 {
	want := uint64(1<<FeatureVersion1 | 1<<FeatureEventIdx | 1<<FeatureIndirectDesc | 1<<FeatureAnyLayout |
		1<<NetFeatureMAC | 1<<NetFeatureStatus | 1<<NetFeatureMTU | 1<<NetFeatureMrgRxbuf |
		1<<NetFeatureCsum | 1<<NetFeatureGuestCsum)
	if offered&(1<<NetFeatureCsum) != 0 {
		want |= 1<<NetFeatureHostTSO4 | 1<<NetFeatureHostTSO6
	}
	if offered&(1<<NetFeatureGuestCsum) != 0 && offered&(1<<NetFeatureMrgRxbuf) != 0 {
		want |= 1<<NetFeatureGuestTSO4 | 1<<NetFeatureGuestTSO6
	}
	return offered & want
}

// NewNet brings up the virtio-net device behind t: negotiation, queues,
// configuration, receive buffers, DRIVER_OK. irq is the device's
// interrupt (queue and configuration interrupts both; with MSI-X, route
// both vectors to it); nil makes Run poll. Memory comes from dma once,
// here: about a page per queue entry for each direction.
//
// The device is live when NewNet returns: Transmit works at once, and
// frames the device receives wait in the ring until Run hands them on.
func NewNet(t Transport, dma DMA, irq IRQ, opts NetOptions) (*Net, error) {
	if typ := t.DeviceType(); typ != DeviceNet {
		return nil, fmt.Errorf("%w: device type %v", ErrNotNet, typ)
	}
	n := &Net{name: opts.Name, t: t, dma: dma, irq: irq, poll: opts.PollInterval, maxResets: opts.MaxResets}
	if n.name == "" {
		n.name = "virtio-net"
	}
	if n.poll <= 0 {
		n.poll = defaultPoll
	}
	if n.maxResets <= 0 {
		n.maxResets = defaultMaxReset
	}
	qsize := opts.QueueSize
	if qsize == 0 {
		qsize = defaultQueue
	}
	n.request = netFeatures(t.DeviceFeatures() &^ opts.Refuse)
	dev, err := Negotiate(t, dma, n.request)
	if err != nil {
		return nil, err
	}
	n.dev = dev
	if err := n.setup(qsize); err != nil {
		dev.Fail()
		return nil, err
	}
	n.start()
	return n, nil
}

// setup reads the configuration and builds the queues and buffers.
func (n *Net) setup(qsize uint16) error {
	d := n.dev
	n.features = d.Features()
	n.hdrLen = NetHdrSize(n.features)
	n.mergeable = d.Has(NetFeatureMrgRxbuf)
	n.guestCsum = d.Has(NetFeatureGuestCsum)
	n.splitHdr = n.t.Legacy() && !d.Has(FeatureAnyLayout)
	if err := n.readConfig(); err != nil {
		return err
	}
	var err error
	if n.rxq, err = d.SetupQueue(0, qsize); err != nil {
		return err
	}
	if n.txq, err = d.SetupQueue(1, qsize); err != nil {
		return err
	}
	if err := n.setupRx(); err != nil {
		return err
	}
	return n.setupTx()
}

// readConfig reads MAC, MTU and link status (5.1.4).
func (n *Net) readConfig() error {
	d := n.dev
	if d.Has(NetFeatureMAC) {
		if err := d.ReadConfig(NetConfigMAC, n.mac[:]); err != nil {
			return err
		}
	} else {
		// 5.1.5: without a MAC from the device the driver makes up a
		// locally administered unicast one.
		v := rand.Uint64()
		for i := range n.mac {
			n.mac[i] = byte(v >> (8 * i))
		}
		n.mac[0] = n.mac[0]&^1 | 2
	}
	n.mtu = defaultMTU
	if d.Has(NetFeatureMTU) {
		var b [2]byte
		if err := d.ReadConfig(NetConfigMTU, b[:]); err != nil {
			return err
		}
		n.mtu = int(le.Uint16(b[:]))
		if n.mtu < minMTU {
			return fmt.Errorf("%w: MTU %d", ErrBadConfig, n.mtu)
		}
	}
	return n.readLink()
}

func (n *Net) readLink() error {
	if !n.dev.Has(NetFeatureStatus) {
		n.link.Store(true)
		return nil
	}
	var b [2]byte
	if err := n.dev.ReadConfig(NetConfigStatus, b[:]); err != nil {
		return err
	}
	n.link.Store(le.Uint16(b[:])&NetStatusLinkUp != 0)
	return nil
}

func (n *Net) setupRx() error {
	count := int(n.rxq.Size())
	if n.mergeable {
		n.rxBufLen = pageSize
		n.rxMax = n.mtu + ethOverhead
		if n.dev.Has(NetFeatureGuestTSO4) || n.dev.Has(NetFeatureGuestTSO6) {
			n.rxMax = max(n.rxMax, maxGSOFrame)
		}
		n.rxTail = make([][]byte, 0, n.rxMax/pageSize+1)
	} else {
		// 5.1.6.3.1: without mergeable buffers or guest TSO, each
		// buffer takes a whole frame (at least 1526 bytes).
		n.rxMax = n.mtu + ethOverhead
		n.rxBufLen = alignUp(n.hdrLen+max(n.rxMax, 1526-NetHdrLenLegacy), 16)
		count = max(1, min(count, rxBudget/n.rxBufLen))
	}
	virt, phys, err := n.dma.Alloc(count*n.rxBufLen, pageSize)
	if err != nil || len(virt) < count*n.rxBufLen {
		return fmt.Errorf("virtio-net: receive buffers (%d of %d bytes): %v", count, n.rxBufLen, err)
	}
	n.rxBufs = make([]dmaBuf, count)
	for i := range n.rxBufs {
		off := i * n.rxBufLen
		n.rxBufs[i] = dmaBuf{virt[off : off+n.rxBufLen : off+n.rxBufLen], phys + uint64(off)}
	}
	n.rxByHead = make([]int32, n.rxq.Size())
	n.rxFree = make([]int32, 0, count)
	n.resetRx()
	return nil
}

// resetRx marks every receive buffer unposted.
func (n *Net) resetRx() {
	for i := range n.rxByHead {
		n.rxByHead[i] = -1
	}
	n.rxFree = n.rxFree[:0]
	for i := range n.rxBufs {
		n.rxFree = append(n.rxFree, int32(i))
	}
}

func (n *Net) setupTx() error {
	n.txMax = n.mtu + ethOverhead
	tso4 := n.dev.Has(NetFeatureCsum) && n.dev.Has(NetFeatureHostTSO4)
	tso6 := n.dev.Has(NetFeatureCsum) && n.dev.Has(NetFeatureHostTSO6)
	n.txMaxDescs = int(n.txq.Size())
	if n.dev.Has(FeatureIndirectDesc) {
		n.txMaxDescs = max(n.txMaxDescs, indirectMax)
	}
	// TSO only if a maximal frame fits in one chain.
	if (tso4 || tso6) && n.txDescs(maxGSOFrame) <= n.txMaxDescs {
		n.txMaxGSO = maxGSOFrame
	} else {
		tso4, tso6 = false, false
	}
	n.feat = nic.Features{
		TxChecksum:      n.dev.Has(NetFeatureCsum),
		RxChecksumValid: n.guestCsum,
		TSO4:            tso4,
		TSO6:            tso6,
		MaxGSOSize:      n.txMaxGSO,
	}
	// One page per ring entry, and at least two maximal frames' worth.
	count := max(int(n.txq.Size()), 2*n.txPagesFor(max(n.txMax, n.txMaxGSO)))
	virt, phys, err := n.dma.Alloc(count*pageSize, pageSize)
	if err != nil || len(virt) < count*pageSize {
		return fmt.Errorf("virtio-net: transmit pages (%d): %v", count, err)
	}
	n.txPages = make([]dmaBuf, count)
	n.txFree = make([]int32, 0, count)
	for i := range n.txPages {
		off := i * pageSize
		n.txPages[i] = dmaBuf{virt[off : off+pageSize : off+pageSize], phys + uint64(off)}
	}
	n.txByHead = make([][]int32, n.txq.Size())
	n.txBufs = make([]Buffer, 0, n.txDescs(max(n.txMax, n.txMaxGSO)))
	n.resetTx()
	return nil
}

// resetTx frees every transmit page.
func (n *Net) resetTx() {
	n.txFree = n.txFree[:0]
	for i := range n.txPages {
		n.txFree = append(n.txFree, int32(i))
	}
	for i := range n.txByHead {
		n.txByHead[i] = n.txByHead[i][:0]
	}
}

// txPagesFor is the pages a frame of size bytes takes with its header.
func (n *Net) txPagesFor(size int) int { return (n.hdrLen + size + pageSize - 1) / pageSize }

// txDescs is the descriptors a frame of size bytes takes.
func (n *Net) txDescs(size int) int {
	d := n.txPagesFor(size)
	if n.splitHdr {
		d++
	}
	return d
}

// start posts the receive buffers and sets DRIVER_OK; notifications
// only after it (3.1.1).
func (n *Net) start() {
	n.refill()
	n.txq.DisableInterrupts() // Transmit and Run reclaim without them
	n.dev.Ready()
	n.rxq.Kick()
}

// Name, MAC, MTU, Features, LinkUp: see nic.Device.
func (n *Net) Name() string           { return n.name }
func (n *Net) MAC() nic.MAC           { return n.mac }
func (n *Net) MTU() int               { return n.mtu }
func (n *Net) Features() nic.Features { return n.feat }
func (n *Net) LinkUp() bool           { return n.link.Load() }

// Resets is how many times Run reset the device.
func (n *Net) Resets() uint64 { return n.resets.Load() }

// Stats reads the counters.
func (n *Net) Stats() nic.Stats {
	s := &n.stats
	return nic.Stats{
		RxPackets: s.rxPackets.Load(), RxBytes: s.rxBytes.Load(), RxDropped: s.rxDropped.Load(),
		TxPackets: s.txPackets.Load(), TxBytes: s.txBytes.Load(), TxDropped: s.txDropped.Load(),
		Interrupts: s.interrupts.Load(),
	}
}

// Run serves the device until ctx ends: it waits for the interrupt (or
// polls), reads and acknowledges the interrupt status, unmasks the line,
// drains the receive queue handing frames to rx, reclaims transmitted
// buffers, and follows link changes. A device that breaks the ring
// protocol or sets NEEDS_RESET is reset and set up again, up to
// MaxResets times; then Run sets FAILED and returns the error. Run
// returns nil when ctx ends.
func (n *Net) Run(ctx context.Context, rx nic.Receiver) error {
	if !n.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer n.running.Store(false)
	var timer *time.Timer
	if n.irq == nil {
		timer = time.NewTimer(n.poll)
		defer timer.Stop()
	}
	resets := 0
	for {
		if err := n.service(rx); err != nil {
			if resets >= n.maxResets {
				n.dev.Fail()
				return fmt.Errorf("%s: giving up after %d resets: %w", n.name, resets, err)
			}
			resets++
			if err := n.reset(); err != nil {
				n.dev.Fail()
				return fmt.Errorf("%s: reset: %w", n.name, err)
			}
			continue
		}
		if n.irq != nil {
			if n.irq.Wait(ctx) != nil {
				return nil
			}
			n.stats.interrupts.Add(1)
		} else {
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
				timer.Reset(n.poll)
			}
		}
		// Reading the status lowers a level-triggered line (and clears
		// it on PCI), so the line can be unmasked after.
		isr := n.t.InterruptStatus()
		n.t.AckInterrupt(isr)
		if n.irq != nil {
			n.irq.Unmask()
		}
		if isr&InterruptConfig != 0 {
			if n.dev.NeedsReset() {
				n.broken.Store(true)
			} else if err := n.readLink(); err != nil {
				n.broken.Store(true)
			}
		}
	}
}

// service drains the receive queue until it stays empty with interrupts
// enabled (the re-check closes the race with a device that returned a
// buffer just before they were), and reclaims transmit buffers. An error
// means the device needs a reset.
func (n *Net) service(rx nic.Receiver) error {
	for {
		n.rxq.DisableInterrupts()
		err := n.receive(rx)
		n.refill()
		n.rxq.Kick()
		if err != nil {
			return err
		}
		if !n.rxq.EnableInterrupts() {
			break
		}
	}
	n.txMu.Lock()
	err := n.reclaim()
	n.txMu.Unlock()
	if err != nil {
		return err
	}
	if n.broken.Load() {
		return ErrDeviceBroken
	}
	return nil
}

// receive hands every complete frame in the used ring to rx. It fails
// only when the used ring cannot be trusted (ErrUsedIndex, ErrUsedHead);
// bad frames are dropped and counted.
func (n *Net) receive(rx nic.Receiver) error {
	for {
		buf, ln, ok, err := n.nextRx()
		if !ok {
			return err
		}
		if err != nil || ln < n.hdrLen {
			n.rxDrop(buf)
			continue
		}
		data := n.rxBufs[buf].virt
		hdr := NetHdr(data[:n.hdrLen])
		pkt := nic.RxPacket{ChecksumValid: n.guestCsum && hdr.Flags()&(NetHdrDataValid|NetHdrNeedsCsum) != 0}
		nbuf := 1
		if n.mergeable {
			nbuf = int(hdr.NumBuffers())
		}
		if nbuf == 1 {
			// The frame is delivered from the buffer itself, which
			// goes back to the device after rx returns.
			pkt.Data = data[n.hdrLen:ln:ln]
			n.deliver(rx, pkt)
			n.rxFree = append(n.rxFree, buf)
			continue
		}
		if nbuf == 0 {
			n.rxDrop(buf)
			continue
		}
		// The frame spans nbuf buffers: deliver it as pieces (the
		// receiver copies what it keeps), without assembling it here.
		tail, total, good := n.rxTail[:0], ln-n.hdrLen, true
		n.rxFree = append(n.rxFree, buf)
		for range nbuf - 1 {
			buf, ln, ok, err := n.nextRx()
			if !ok {
				// A device publishes all buffers of a frame at once,
				// so the rest is missing, not late.
				n.stats.rxDropped.Add(1)
				return err
			}
			total += ln
			if err != nil || total > n.rxMax {
				good = false
			}
			if good {
				tail = append(tail, n.rxBufs[buf].virt[:ln])
			}
			n.rxFree = append(n.rxFree, buf)
		}
		n.rxTail = tail[:0]
		if !good {
			n.stats.rxDropped.Add(1)
			continue
		}
		pkt.Data, pkt.Tail = data[n.hdrLen:ln:ln], tail
		n.deliver(rx, pkt)
	}
}

// nextRx takes the next used receive buffer: its index and the bytes the
// device wrote, checked against the buffer's size. err without ok means
// the used ring is broken; with ok, that the length was bad.
func (n *Net) nextRx() (buf int32, ln int, ok bool, err error) {
	head, length, ok, err := n.rxq.Used()
	if !ok {
		return 0, 0, false, err
	}
	buf = n.rxByHead[head]
	n.rxByHead[head] = -1
	if buf < 0 {
		// The queue tracks chains, so this means our bookkeeping and
		// the queue's disagree: reset rather than trust either.
		return 0, 0, false, fmt.Errorf("%w: receive head %d has no buffer", ErrUsedHead, head)
	}
	return buf, int(length), true, err
}

func (n *Net) deliver(rx nic.Receiver, pkt nic.RxPacket) {
	size := pkt.Len()
	if len(pkt.Data) < ethHdrLen || size > n.rxMax {
		n.stats.rxDropped.Add(1)
		return
	}
	pkt.More = n.rxq.HasUsed()
	n.stats.rxPackets.Add(1)
	n.stats.rxBytes.Add(uint64(size))
	rx(pkt)
}

func (n *Net) rxDrop(buf int32) {
	n.stats.rxDropped.Add(1)
	n.rxFree = append(n.rxFree, buf)
}

// refill posts every unposted receive buffer.
func (n *Net) refill() {
	for len(n.rxFree) > 0 {
		buf := n.rxFree[len(n.rxFree)-1]
		b := n.rxBufs[buf]
		head, err := n.rxq.Add([]Buffer{{Phys: b.phys, Len: uint32(len(b.virt)), Writable: true}})
		if err != nil {
			return // cannot happen: one descriptor per buffer
		}
		n.rxByHead[head] = buf
		n.rxFree = n.rxFree[:len(n.rxFree)-1]
	}
}

// reclaim frees the pages of transmitted frames. Called with txMu held.
func (n *Net) reclaim() error {
	for {
		head, _, ok, err := n.txq.Used()
		if !ok {
			if err != nil {
				n.broken.Store(true)
			}
			return err
		}
		// A length error on a chain with nothing writable says nothing
		// about the frame, which was sent.
		n.txFree = append(n.txFree, n.txByHead[head]...)
		n.txByHead[head] = n.txByHead[head][:0]
	}
}

// errTxFull stops Transmit: no pages or descriptors for the next frame.
var errTxFull = errors.New("virtio-net: transmit queue full")

// Transmit queues frames and returns how many it took, without
// blocking: it stops at the first frame that does not fit in the queue.
// Frames it cannot send at all (too short or long, offloads the device
// does not do, offsets outside the frame) are taken, dropped and
// counted, and the first such drop is returned as an ErrTxPacket error.
// A partial checksum on a device without CSUM is completed in software.
func (n *Net) Transmit(pkts []nic.TxPacket) (int, error) {
	n.txMu.Lock()
	defer n.txMu.Unlock()
	if n.broken.Load() {
		return 0, ErrDeviceBroken
	}
	if err := n.reclaim(); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrDeviceBroken, err)
	}
	var firstErr error
	taken := 0
	for i := range pkts {
		err := n.enqueue(&pkts[i])
		if err == errTxFull {
			break
		}
		taken++
		if err != nil {
			n.stats.txDropped.Add(1)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	n.txq.Kick()
	return taken, firstErr
}

// enqueue copies one frame into transmit pages and adds its chain.
func (n *Net) enqueue(p *nic.TxPacket) error {
	size := 0
	for _, d := range p.Data {
		size += len(d)
	}
	if err := n.checkTx(p, size); err != nil {
		return err
	}
	npages := n.txPagesFor(size)
	if npages > len(n.txFree) {
		return errTxFull
	}
	pages := n.txFree[len(n.txFree)-npages:]

	first := n.txPages[pages[0]].virt
	hdr := NetHdr(first[:n.hdrLen])
	clear(hdr)
	if p.NeedsChecksum && n.feat.TxChecksum {
		hdr.SetFlags(NetHdrNeedsCsum)
		hdr.SetCsumStart(p.CsumStart)
		hdr.SetCsumOffset(p.CsumOffset)
	}
	switch p.GSO {
	case nic.GSOTCPv4:
		hdr.SetGSOType(NetGSOTCPv4)
	case nic.GSOTCPv6:
		hdr.SetGSOType(NetGSOTCPv6)
	}
	if p.GSO != nic.GSONone {
		hdr.SetGSOSize(p.GSOSize)
		hdr.SetHdrLen(p.HdrLen)
	}
	off := n.hdrLen
	for _, d := range p.Data {
		for len(d) > 0 {
			c := memcopy.Copy(n.txPages[pages[off/pageSize]].virt[off%pageSize:], d)
			d, off = d[c:], off+c
		}
	}
	if p.NeedsChecksum && !n.feat.TxChecksum {
		sum := softChecksum(p.Data, int(p.CsumStart))
		at := n.hdrLen + int(p.CsumStart) + int(p.CsumOffset)
		for i, b := range [2]byte{byte(sum >> 8), byte(sum)} {
			n.txPages[pages[(at+i)/pageSize]].virt[(at+i)%pageSize] = b
		}
	}

	bufs := n.txBufs[:0]
	total := n.hdrLen + size
	for i, pg := range pages {
		b := Buffer{Phys: n.txPages[pg].phys, Len: uint32(min(pageSize, total-i*pageSize))}
		if i == 0 && n.splitHdr {
			bufs = append(bufs, Buffer{Phys: b.Phys, Len: uint32(n.hdrLen)})
			b.Phys += uint64(n.hdrLen)
			b.Len -= uint32(n.hdrLen)
			if b.Len == 0 {
				continue
			}
		}
		bufs = append(bufs, b)
	}
	head, err := n.txq.Add(bufs)
	if errors.Is(err, ErrQueueFull) {
		return errTxFull
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrTxPacket, err)
	}
	n.txByHead[head] = append(n.txByHead[head][:0], pages...)
	n.txFree = n.txFree[:len(n.txFree)-npages]
	n.stats.txPackets.Add(1)
	n.stats.txBytes.Add(uint64(size))
	return nil
}

// checkTx refuses frames the device cannot be given.
func (n *Net) checkTx(p *nic.TxPacket, size int) error {
	limit := n.txMax
	switch p.GSO {
	case nic.GSONone:
	case nic.GSOTCPv4, nic.GSOTCPv6:
		if (p.GSO == nic.GSOTCPv4 && !n.feat.TSO4) || (p.GSO == nic.GSOTCPv6 && !n.feat.TSO6) {
			return fmt.Errorf("%w: GSO type %d not offered by the device", ErrTxPacket, p.GSO)
		}
		// 5.1.6.2: GSO frames carry a partial checksum and a segment
		// size.
		if !p.NeedsChecksum || p.GSOSize == 0 || int(p.HdrLen) > size || p.HdrLen < ethHdrLen {
			return fmt.Errorf("%w: GSO needs a partial checksum, a segment size and headers (size %d, hdr_len %d)", ErrTxPacket, p.GSOSize, p.HdrLen)
		}
		limit = n.txMaxGSO
	default:
		return fmt.Errorf("%w: unknown GSO type %d", ErrTxPacket, p.GSO)
	}
	if size < ethHdrLen || size > limit {
		return fmt.Errorf("%w: %d bytes (%d to %d)", ErrTxPacket, size, ethHdrLen, limit)
	}
	if p.NeedsChecksum && int(p.CsumStart)+int(p.CsumOffset)+2 > size {
		return fmt.Errorf("%w: checksum at %d+%d outside a %d-byte frame", ErrTxPacket, p.CsumStart, p.CsumOffset, size)
	}
	if n.txDescs(size) > n.txMaxDescs {
		return fmt.Errorf("%w: %d bytes need more descriptors than the queue has", ErrTxPacket, size)
	}
	return nil
}

// reset recovers a device that needs it (2.1.1): reset, the same
// features again, the same queues and buffers. Frames in flight are
// lost.
func (n *Net) reset() error {
	n.txMu.Lock()
	defer n.txMu.Unlock()
	n.resets.Add(1)
	dev, err := Negotiate(n.t, n.dma, n.request)
	if err != nil {
		return err
	}
	if dev.Features() != n.features {
		dev.Fail()
		return fmt.Errorf("%w: features %#x after reset, were %#x", ErrBadConfig, dev.Features(), n.features)
	}
	n.dev = dev
	if err := dev.RestartQueue(n.rxq); err != nil {
		return err
	}
	if err := dev.RestartQueue(n.txq); err != nil {
		return err
	}
	if err := n.readLink(); err != nil {
		return err
	}
	n.resetRx()
	n.resetTx()
	n.broken.Store(false)
	n.start()
	return nil
}

// softChecksum completes a partial checksum: the field already holds the
// pseudo-header sum, so the ones' complement of the sum from start to the
// end is the checksum. A zero result is sent as 0xffff, which means the
// same and is required for UDP (RFC 768).
func softChecksum(data [][]byte, start int) uint16 {
	var c checksum.Checksumer
	for _, d := range data {
		if start >= len(d) {
			start -= len(d)
			continue
		}
		c.Add(d[start:])
		start = 0
	}
	if sum := ^c.Checksum(); sum != 0 {
		return sum
	}
	return 0xffff
}
