package virtio

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// fakeIRQ is a latched interrupt line.
type fakeIRQ struct {
	ch      chan struct{}
	unmasks atomic.Int32
}

func newFakeIRQ() *fakeIRQ { return &fakeIRQ{ch: make(chan struct{}, 1)} }

func (f *fakeIRQ) Wait(ctx context.Context) error {
	select {
	case <-f.ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeIRQ) Unmask() { f.unmasks.Add(1) }

func (f *fakeIRQ) fire() {
	select {
	case f.ch <- struct{}{}:
	default:
	}
}

// netDev plays a virtio-net device behind virtio-mmio registers (an
// mmioDev, version 2 or legacy 1): it consumes transmitted chains and
// records them, fills receive buffers with frames the test gives it,
// raises its interrupt, and misbehaves on demand. One mutex makes it a
// single device for the driver's goroutines and the test's; the rings
// are found from the queue registers, as a device does, and forgotten on
// reset.
type netDev struct {
	mu    sync.Mutex
	m     *mmioDev
	a     *arena
	irq   *fakeIRQ
	rings [2]*ringDev

	sent     []sentFrame
	err      error // first protocol violation by the driver
	holdTx   bool  // leave transmitted chains in the available ring
	notifies [2]int
}

// sentFrame is a transmitted frame as the device saw it.
type sentFrame struct {
	hdr      []byte
	data     []byte
	descs    int  // readable buffers in the chain
	ownHdr   bool // the header had a descriptor of its own
	indirect bool
}

var testMAC = [6]byte{0x52, 0x54, 0, 0x12, 0x34, 0x56}

func newNetDev(version uint32, features uint64) *netDev {
	return newNetDevIn(newArena(2<<20), version, features)
}

// newNetDevIn makes the device with memory a.
func newNetDevIn(a *arena, version uint32, features uint64) *netDev {
	m := newMMIODev(version, features)
	m.config = make([]byte, 12)
	copy(m.config, testMAC[:])
	le.PutUint16(m.config[NetConfigStatus:], NetStatusLinkUp)
	le.PutUint16(m.config[NetConfigMaxQPairs:], 1)
	le.PutUint16(m.config[NetConfigMTU:], 1500)
	d := &netDev{m: m, a: a, irq: newFakeIRQ()}
	m.onNotify = d.notify
	return d
}

func (d *netDev) Read32(off uint32) uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m.Read32(off)
}

func (d *netDev) Write32(off, v uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m.Write32(off, v)
	if off == mmioStatus && v == 0 {
		d.rings = [2]*ringDev{}
	}
}

func (d *netDev) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// ring is queue i as the device found it through the registers.
func (d *netDev) ring(i int) *ringDev {
	if d.rings[i] == nil {
		q := d.m.queues[i]
		r := &ringDev{a: d.a, size: uint16(q.num), eventIdx: d.m.driverFeatures&(1<<FeatureEventIdx) != 0}
		if d.m.version == 1 {
			base, n := uint64(q.pfn)*uint64(d.m.pageSize), uint64(q.num)
			r.desc, r.avail = base, base+16*n
			r.used = uint64(alignUp(int(base+16*n+6+2*n), int(q.align)))
		} else {
			r.desc, r.avail, r.used = q.desc, q.driver, q.device
		}
		d.rings[i] = r
	}
	return d.rings[i]
}

func (d *netDev) hdrLen() int { return NetHdrSize(d.m.driverFeatures) }
func (d *netDev) has(bit uint) bool {
	return d.m.driverFeatures&(1<<bit) != 0
}

func (d *netDev) raise(bits uint32) {
	d.m.isr |= bits
	d.irq.fire()
}

// notify runs under mu, from the driver's register write.
func (d *netDev) notify(q uint32) {
	if q < 2 {
		d.notifies[q]++
	}
	if q == 1 && !d.holdTx {
		d.serveTx()
	}
}

// serveTx consumes every available transmit chain.
func (d *netDev) serveTx() {
	r := d.ring(1)
	for {
		req, ok := r.pop()
		if !ok {
			break
		}
		d.consumeTx(req)
		r.fill(req.head, 0)
	}
	if r.err != nil {
		d.fail(r.err)
	}
	if r.flush() {
		d.raise(InterruptQueue)
	}
}

func (d *netDev) consumeTx(req *request) {
	if len(req.out) > 0 {
		d.fail(errors.New("transmit chain with writable buffers"))
	}
	var all []byte
	for _, b := range req.in {
		all = append(all, b...)
	}
	h := d.hdrLen()
	if len(all) < h {
		d.fail(fmt.Errorf("transmit chain of %d bytes, header is %d", len(all), h))
		return
	}
	d.sent = append(d.sent, sentFrame{
		hdr:      all[:h:h],
		data:     all[h:],
		descs:    len(req.in),
		ownHdr:   len(req.in[0]) == h,
		indirect: req.indirect,
	})
}

// releaseTx serves the transmit chains held back by holdTx.
func (d *netDev) releaseTx() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.holdTx = false
	d.serveTx()
}

func (d *netDev) takeSent() []sentFrame {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.sent
	d.sent = nil
	return s
}

// rxHdr is the header the device puts in front of a received frame.
type rxHdr struct {
	flags, gsoType uint8
}

// deliver writes a frame into receive buffers (several with mergeable
// buffers, setting num_buffers), publishes them at once and interrupts.
func (d *netDev) deliver(frame []byte, h rxHdr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.ring(0)
	hl := d.hdrLen()
	full := make([]byte, hl+len(frame))
	copy(full[hl:], frame)
	full[netHdrFlags], full[netHdrGSOType] = h.flags, h.gsoType
	var first []byte
	nbuf := 0
	for rest := full; len(rest) > 0; {
		req, ok := r.pop()
		if !ok || len(req.out) != 1 || len(req.in) != 0 {
			return fmt.Errorf("receive: no usable buffer after %d (%v)", nbuf, r.err)
		}
		if nbuf > 0 && !d.has(NetFeatureMrgRxbuf) {
			return fmt.Errorf("receive: %d-byte frame does not fit a buffer", len(frame))
		}
		if nbuf == 0 {
			first = req.out[0]
		}
		n := copy(req.out[0], rest)
		rest = rest[n:]
		r.fill(req.head, uint32(n))
		nbuf++
	}
	if hl == NetHdrLen {
		NetHdr(first).SetNumBuffers(uint16(nbuf))
	}
	if r.flush() {
		d.raise(InterruptQueue)
	}
	return nil
}

// rawEntry is one used entry a misbehaving device returns: the bytes it
// claims, and the head it names (the buffer's own unless badHead).
type rawEntry struct {
	length  uint32
	badHead bool
	head    uint16
}

// deliverRaw takes one receive buffer per entry, writes a header with
// num_buffers nb into the first and a pattern into all, and returns them
// with the entries' lengths and heads, whatever the driver can make of
// them.
func (d *netDev) deliverRaw(nb uint16, flags uint8, entries []rawEntry) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.ring(0)
	for i, e := range entries {
		req, ok := r.pop()
		if !ok || len(req.out) != 1 {
			return fmt.Errorf("receive: no usable buffer for entry %d (%v)", i, r.err)
		}
		b := req.out[0]
		for j := range b {
			b[j] = byte(i + j)
		}
		if i == 0 && len(b) >= NetHdrLen {
			clear(b[:NetHdrLen])
			b[netHdrFlags] = flags
			NetHdr(b).SetNumBuffers(nb)
		}
		head := req.head
		if e.badHead {
			head = e.head
		}
		r.fill(head, e.length)
	}
	if r.flush() {
		d.raise(InterruptQueue)
	}
	return nil
}

// setLink changes the link status and signals a configuration change.
func (d *netDev) setLink(up bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var s uint16
	if up {
		s = NetStatusLinkUp
	}
	le.PutUint16(d.m.config[NetConfigStatus:], s)
	d.m.gen++
	d.raise(InterruptConfig)
}

// askReset sets NEEDS_RESET and signals a configuration change (2.1.2).
func (d *netDev) askReset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m.status |= StatusNeedsReset
	d.raise(InterruptConfig)
}

func (d *netDev) status() uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m.status
}

func (d *netDev) protocolErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// pciLegacyRegs shows a netDev through the legacy PCI I/O layout
// (4.1.4.10, without MSI-X): the same device state, other registers.
// Reading the ISR clears it, as on real hardware.
type pciLegacyRegs struct{ d *netDev }

func newPCILegacyNetDev(features uint64) (*netDev, pciLegacyRegs) {
	d := newNetDev(1, features)
	return d, pciLegacyRegs{d}
}

func (r pciLegacyRegs) read(off uint32, width int) uint32 {
	d := r.d
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.m
	switch off {
	case legacyDeviceFeatures:
		return uint32(m.features)
	case legacyQueuePFN:
		return m.q().pfn
	case legacyQueueSize:
		return m.q().max
	case legacyDeviceStatus:
		return m.status
	case legacyISR:
		isr := m.isr
		m.isr = 0
		return isr
	}
	if off >= legacyConfig && int(off-legacyConfig)+width/8 <= len(m.config) {
		var v uint32
		for i := range width / 8 {
			v |= uint32(m.config[int(off-legacyConfig)+i]) << (8 * i)
		}
		return v
	}
	return 0
}

func (r pciLegacyRegs) write(off, v uint32) {
	d := r.d
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.m
	switch off {
	case legacyGuestFeatures:
		m.driverFeatures = uint64(v)
	case legacyQueueSelect:
		m.sel = v
	case legacyQueuePFN:
		q := m.q()
		q.pfn, q.num, q.align = v, q.max, LegacyAlign
		m.pageSize = LegacyAlign
	case legacyQueueNotify:
		d.notify(v)
	case legacyDeviceStatus:
		m.Write32(mmioStatus, v)
		if v == 0 {
			d.rings = [2]*ringDev{}
		}
	}
}

func (r pciLegacyRegs) Read8(off uint32) uint8       { return uint8(r.read(off, 8)) }
func (r pciLegacyRegs) Read16(off uint32) uint16     { return uint16(r.read(off, 16)) }
func (r pciLegacyRegs) Read32(off uint32) uint32     { return r.read(off, 32) }
func (r pciLegacyRegs) Write8(off uint32, v uint8)   { r.write(off, uint32(v)) }
func (r pciLegacyRegs) Write16(off uint32, v uint16) { r.write(off, uint32(v)) }
func (r pciLegacyRegs) Write32(off uint32, v uint32) { r.write(off, v) }
