// Package nictest is a fake nic.Device for host tests: Pair returns two
// devices wired back to back, so that two stacks can talk through
// net/link. The fake plays the device's part of the offload contract: it
// completes partial checksums (NeedsChecksum) and segments TSO frames
// (GSO), recomputing IP and TCP headers as a NIC would, and counts how
// often it had to, so tests can tell that offload was really used.
package nictest

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"gosv/drivers/nic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Config describes one fake device.
type Config struct {
	Name     string
	MAC      nic.MAC
	MTU      int // 0: 1500
	Features nic.Features
	// QueueLen is the depth of the receive queue in frames (0: 1024).
	QueueLen int
}

// Device is one end of a pair.
type Device struct {
	cfg  Config
	peer *Device
	rx   chan []byte

	mu      sync.Mutex
	started bool

	rxPackets, rxBytes, txPackets, txBytes, txDropped atomic.Uint64
	csumDone, gsoFrames, segments                     atomic.Uint64

	// Errors records offload metadata the fake found inconsistent.
	errMu  sync.Mutex
	errors []error
}

var _ nic.Device = (*Device)(nil)

// Pair returns two connected devices.
func Pair(a, b Config) (*Device, *Device) {
	da, db := newDevice(a), newDevice(b)
	da.peer, db.peer = db, da
	return da, db
}

func newDevice(c Config) *Device {
	if c.MTU == 0 {
		c.MTU = 1500
	}
	if c.QueueLen == 0 {
		c.QueueLen = 1024
	}
	return &Device{cfg: c, rx: make(chan []byte, c.QueueLen)}
}

func (d *Device) Name() string           { return d.cfg.Name }
func (d *Device) MAC() nic.MAC           { return d.cfg.MAC }
func (d *Device) MTU() int               { return d.cfg.MTU }
func (d *Device) Features() nic.Features { return d.cfg.Features }
func (d *Device) LinkUp() bool           { return true }

func (d *Device) Stats() nic.Stats {
	return nic.Stats{
		RxPackets: d.rxPackets.Load(), RxBytes: d.rxBytes.Load(),
		TxPackets: d.txPackets.Load(), TxBytes: d.txBytes.Load(), TxDropped: d.txDropped.Load(),
	}
}

// OffloadCounts reports how many partial checksums the device completed,
// how many GSO frames it took and how many segments it cut them into.
func (d *Device) OffloadCounts() (csums, gsoFrames, segments uint64) {
	return d.csumDone.Load(), d.gsoFrames.Load(), d.segments.Load()
}

// Errors returns the offload inconsistencies seen so far.
func (d *Device) Errors() []error {
	d.errMu.Lock()
	defer d.errMu.Unlock()
	return append([]error(nil), d.errors...)
}

func (d *Device) fail(err error) {
	d.errMu.Lock()
	d.errors = append(d.errors, err)
	d.errMu.Unlock()
}

// Transmit copies each frame, plays the offloads and queues the result at
// the peer; a full peer queue takes no more.
func (d *Device) Transmit(pkts []nic.TxPacket) (int, error) {
	for i, p := range pkts {
		var frame []byte
		for _, s := range p.Data {
			frame = append(frame, s...)
		}
		frames, err := d.offload(frame, p)
		if err != nil {
			d.fail(err)
			d.txDropped.Add(1)
			continue
		}
		if len(d.peer.rx)+len(frames) > cap(d.peer.rx) {
			d.txDropped.Add(uint64(len(pkts) - i))
			return i, nil
		}
		for _, f := range frames {
			if len(f)-header.EthernetMinimumSize > d.cfg.MTU {
				d.fail(fmt.Errorf("frame of %d bytes exceeds MTU %d", len(f), d.cfg.MTU))
			}
			d.txPackets.Add(1)
			d.txBytes.Add(uint64(len(f)))
			d.peer.rx <- f
		}
	}
	return len(pkts), nil
}

func (d *Device) offload(frame []byte, p nic.TxPacket) ([][]byte, error) {
	f := d.cfg.Features
	if p.GSO != nic.GSONone {
		if !p.NeedsChecksum || (p.GSO == nic.GSOTCPv4 && !f.TSO4) || (p.GSO == nic.GSOTCPv6 && !f.TSO6) {
			return nil, fmt.Errorf("GSO frame %+v the device did not offer", p)
		}
		if len(frame) > f.MaxGSOSize {
			return nil, fmt.Errorf("GSO frame of %d bytes exceeds %d", len(frame), f.MaxGSOSize)
		}
		d.gsoFrames.Add(1)
		segs, err := segment(frame, p)
		d.segments.Add(uint64(len(segs)))
		return segs, err
	}
	if p.NeedsChecksum {
		if !f.TxChecksum {
			return nil, fmt.Errorf("partial checksum the device did not offer")
		}
		start, field := int(p.CsumStart), int(p.CsumStart)+int(p.CsumOffset)
		if field+2 > len(frame) {
			return nil, fmt.Errorf("checksum field at %d beyond frame of %d", field, len(frame))
		}
		// The field holds the pseudo-header sum; summing from CsumStart
		// to the end folds it in.
		binary.BigEndian.PutUint16(frame[field:], ^checksum.Checksum(frame[start:], 0))
		d.csumDone.Add(1)
	}
	return [][]byte{frame}, nil
}

// segment cuts a TSO frame at GSOSize payload bytes, as a NIC does: copy
// the headers, fix the IP length (and IPv4 ID and checksum), advance the
// TCP sequence number, keep FIN and PSH for the last segment, and compute
// each segment's TCP checksum.
func segment(frame []byte, p nic.TxPacket) ([][]byte, error) {
	hdrLen, tcpOff, mss := int(p.HdrLen), int(p.CsumStart), int(p.GSOSize)
	if mss == 0 || tcpOff+header.TCPMinimumSize > hdrLen || hdrLen > len(frame) || p.CsumOffset != header.TCPChecksumOffset {
		return nil, fmt.Errorf("bad GSO metadata %+v for a %d-byte frame", p, len(frame))
	}
	payload := frame[hdrLen:]
	first := header.TCP(frame[tcpOff:])
	seq, flags := first.SequenceNumber(), first.Flags()
	var segs [][]byte
	for off := 0; off < len(payload); off += mss {
		end := min(off+mss, len(payload))
		seg := append(append(make([]byte, 0, hdrLen+end-off), frame[:hdrLen]...), payload[off:end]...)
		var src, dst tcpip.Address
		switch p.GSO {
		case nic.GSOTCPv4:
			ip := header.IPv4(seg[header.EthernetMinimumSize:])
			ip.SetTotalLength(uint16(len(seg) - header.EthernetMinimumSize))
			ip.SetID(ip.ID() + uint16(len(segs)))
			ip.SetChecksum(0)
			ip.SetChecksum(^ip.CalculateChecksum())
			src, dst = ip.SourceAddress(), ip.DestinationAddress()
		case nic.GSOTCPv6:
			ip := header.IPv6(seg[header.EthernetMinimumSize:])
			ip.SetPayloadLength(uint16(len(seg) - header.EthernetMinimumSize - header.IPv6MinimumSize))
			src, dst = ip.SourceAddress(), ip.DestinationAddress()
		}
		tcp := header.TCP(seg[tcpOff:])
		tcp.SetSequenceNumber(seq + uint32(off))
		f := flags
		if end < len(payload) {
			f &^= header.TCPFlagFin | header.TCPFlagPsh
		}
		if off > 0 {
			f &^= header.TCPFlagCwr
		}
		tcp.SetFlags(uint8(f))
		tcp.SetChecksum(0)
		xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(len(seg)-tcpOff))
		tcp.SetChecksum(^checksum.Checksum(seg[tcpOff:], xsum))
		segs = append(segs, seg)
	}
	return segs, nil
}

// Run hands queued frames to rx until ctx ends. Only the first Run
// serves; later ones return at once with an error.
func (d *Device) Run(ctx context.Context, rx nic.Receiver) error {
	d.mu.Lock()
	if d.started {
		d.mu.Unlock()
		return fmt.Errorf("%s: already running", d.cfg.Name)
	}
	d.started = true
	d.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case f := <-d.rx:
			d.rxPackets.Add(1)
			d.rxBytes.Add(uint64(len(f)))
			rx(nic.RxPacket{Data: f, More: len(d.rx) > 0})
		}
	}
}
