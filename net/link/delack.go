package link

import (
	"encoding/binary"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Delayed acknowledgements.
//
// gVisor's TCP acknowledges every data segment at once: after processing
// what arrived it sends a pure ACK unless it has sent one for RcvNxt
// already (tcp.Endpoint.handleSegmentsLocked), and it has no delayed-ACK
// timer (RFC 1122 4.2.3.2; Linux and the BSDs have one). A request that a
// server answers costs two transmitted packets, the ACK and then the
// reply, each a trip through the device; in the HTTP benchmark that was
// two of the three packets per request.
//
// ackDelayer does it in the link layer instead, where every outgoing
// segment passes. A pure ACK (no payload, no flags but ACK, no options
// but timestamps) that acknowledges new data, less than two full
// segments' worth since the flow's last ACK went out, is held for up to
// delay. Any later segment of the flow that carries an acknowledgement
// at least as far replaces it (TCP acknowledgements are cumulative, and
// the later one also carries the current window), which is what happens
// when the application answers in time; otherwise the held ACK goes out
// when its time is up. ACKs that signal something are never held:
// duplicate ACKs and SACKs (loss recovery), window updates that
// acknowledge nothing new, and ACKs of bulk data (the sender's window
// depends on them; Linux also acknowledges every second full segment
// at once).
type ackDelayer struct {
	delay time.Duration
	send  func([]*stack.PacketBuffer) // transmits packets whose time is up

	mu    sync.Mutex
	slots [ackSlots]ackSlot
	timer *time.Timer
	armed bool
	// stopped: the link is closing; nothing more is held.
	stopped bool

	delayed, coalesced uint64 // counters, under mu
}

// ackSlots flows are tracked, in a direct-mapped table: a flow whose slot
// another flow takes over loses its history, so its next ACK goes out at
// once (the safe default) and the held one, if any, is sent first.
const ackSlots = 256

// bulkAckBytes: an ACK that acknowledges this much or more since the
// flow's last one goes out at once (two full-sized Ethernet segments).
const bulkAckBytes = 2 * 1460

// DefaultAckDelay is how long a pure ACK may wait for a reply to carry
// it: Linux's minimum delayed-ACK time (TCP_DELACK_MIN), far below the
// peer's retransmission timeout (at least 200 ms). A server under load
// needs it: in the TCG benchmark, with 32 connections queued on two
// vCPUs, 5 ms let most ACKs go out before the reply.
const DefaultAckDelay = 40 * time.Millisecond

type ackSlot struct {
	key      flowKey
	used     bool
	lastAck  uint32              // the acknowledgement number last sent on the flow
	pkt      *stack.PacketBuffer // the held pure ACK, or nil
	pktAck   uint32
	deadline time.Time
}

// flowKey is a TCP connection's addresses and ports as they appear in
// its outgoing packets.
type flowKey struct {
	addrs [32]byte // source then destination; IPv4 uses the first 8 bytes
	ports uint32   // source port << 16 | destination port
	v6    bool
}

// tcpSegment is what the delayer needs of an outgoing packet.
type tcpSegment struct {
	key      flowKey
	flags    header.TCPFlags
	ack      uint32
	pureAck  bool // only ACK set, no payload, no options but timestamps
	hashSlot int
}

func newAckDelayer(delay time.Duration, send func([]*stack.PacketBuffer)) *ackDelayer {
	d := &ackDelayer{delay: delay, send: send}
	d.timer = time.AfterFunc(time.Hour, d.expire)
	d.timer.Stop()
	return d
}

// parseSegment reads the TCP fields of an outgoing Ethernet frame (its
// headers, at least: the packet's first view, where gVisor builds all of
// them); ok is false for anything but TCP over IPv4 or IPv6 with the
// headers there. It reads the bytes directly: gVisor's header accessors
// gather views (PacketBuffer.headerView) at a cost per call that showed in
// the profile.
func parseSegment(frame []byte) (s tcpSegment, ok bool) {
	if len(frame) < ethHeaderLen {
		return s, false
	}
	ip := frame[ethHeaderLen:]
	var th []byte
	var payload int // bytes after the IP header, by the IP header
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case etherTypeIPv4:
		if len(ip) < header.IPv4MinimumSize || ip[0]>>4 != 4 || ip[9] != protoTCP {
			return s, false
		}
		ihl := int(ip[0]&0xf) * 4
		if ihl < header.IPv4MinimumSize || len(ip) < ihl {
			return s, false
		}
		copy(s.key.addrs[:8], ip[12:20])
		th, payload = ip[ihl:], int(binary.BigEndian.Uint16(ip[2:4]))-ihl
	case etherTypeIPv6:
		if len(ip) < header.IPv6MinimumSize || ip[0]>>4 != 6 || ip[6] != protoTCP {
			return s, false
		}
		copy(s.key.addrs[:], ip[8:40])
		s.key.v6 = true
		th, payload = ip[header.IPv6MinimumSize:], int(binary.BigEndian.Uint16(ip[4:6]))
	default:
		return s, false
	}
	if len(th) < header.TCPMinimumSize {
		return s, false
	}
	tcp := header.TCP(th)
	hdrLen := int(tcp.DataOffset())
	s.key.ports = binary.BigEndian.Uint32(th[0:4])
	s.flags = tcp.Flags()
	s.ack = tcp.AckNumber()
	s.pureAck = s.flags == header.TCPFlagAck && payload == hdrLen &&
		hdrLen <= header.TCPMinimumSize+header.TCPOptionTSLength+2 // +2: the NOPs that align it
	h := mix(binary.BigEndian.Uint64(s.key.addrs[0:8]) ^ binary.BigEndian.Uint64(s.key.addrs[8:16])<<1 ^
		binary.BigEndian.Uint64(s.key.addrs[16:24])<<2 ^ binary.BigEndian.Uint64(s.key.addrs[24:32])<<3 ^
		uint64(s.key.ports)<<17)
	s.hashSlot = int(h % ackSlots)
	return s, true
}

// headerBytes returns the bytes of pkt's first view from the start of its
// headers: the whole frame for a small packet, the headers for the rest.
func headerBytes(pkt *stack.PacketBuffer) []byte {
	vl, off := pkt.AsViewList()
	v := vl.Front()
	if v == nil || off > v.Size() {
		return nil
	}
	return v.AsSlice()[off:]
}

// filter decides for each packet whether it goes now. It returns the
// packets to transmit, in order, appended to out: held ACKs that must go
// first and the packets that were not held. Held packets get a reference
// of the delayer's own.
func (d *ackDelayer) filter(pkts []*stack.PacketBuffer, out []*stack.PacketBuffer) []*stack.PacketBuffer {
	d.mu.Lock()
	defer d.mu.Unlock()
	var now time.Time
	for _, pkt := range pkts {
		seg, ok := parseSegment(headerBytes(pkt))
		if !ok {
			out = append(out, pkt)
			continue
		}
		sl := &d.slots[seg.hashSlot]
		var deadline time.Time // of an ACK this segment replaces
		if sl.used && sl.key != seg.key {
			// Another flow's slot: send what it holds and forget it.
			if sl.pkt != nil {
				out = append(out, sl.pkt)
			}
			*sl = ackSlot{}
		}
		hasAck := seg.flags&header.TCPFlagAck != 0
		if sl.pkt != nil {
			if hasAck && seqAtLeast(seg.ack, sl.pktAck) {
				// This segment acknowledges as much: the held ACK
				// is no longer needed.
				sl.pkt.DecRef()
				d.coalesced++
				deadline = sl.deadline
			} else {
				out = append(out, sl.pkt)
			}
			sl.pkt = nil
		}
		if seg.pureAck && sl.used && !d.stopped && seqAtLeast(seg.ack, sl.lastAck+1) && seg.ack-sl.lastAck < bulkAckBytes {
			if deadline.IsZero() {
				// A new wait. One that replaces a held ACK keeps
				// its deadline, as a delayed-ACK timer is not
				// pushed back by more data: a stream of small
				// segments is still acknowledged every delay.
				if now.IsZero() {
					now = time.Now()
				}
				deadline = now.Add(d.delay)
			}
			pkt.IncRef()
			sl.pkt, sl.pktAck, sl.deadline = pkt, seg.ack, deadline
			d.delayed++
			if !d.armed {
				d.armed = true
				d.timer.Reset(d.delay)
			}
			continue
		}
		if seg.flags&(header.TCPFlagFin|header.TCPFlagRst) != 0 {
			*sl = ackSlot{} // the flow is ending; free its slot
		} else if hasAck {
			sl.key, sl.used, sl.lastAck = seg.key, true, seg.ack
		}
		out = append(out, pkt)
	}
	return out
}

// expire sends the held ACKs whose time is up and re-arms the timer for
// the rest.
func (d *ackDelayer) expire() {
	var due []*stack.PacketBuffer
	d.mu.Lock()
	now := time.Now()
	var next time.Time
	for i := range d.slots {
		sl := &d.slots[i]
		if sl.pkt == nil {
			continue
		}
		if !sl.deadline.After(now) {
			due = append(due, sl.pkt)
			sl.lastAck = sl.pktAck
			sl.pkt = nil
		} else if next.IsZero() || sl.deadline.Before(next) {
			next = sl.deadline
		}
	}
	d.armed = !next.IsZero()
	if d.armed {
		d.timer.Reset(next.Sub(now))
	}
	d.mu.Unlock()
	if len(due) > 0 {
		d.send(due)
		for _, pkt := range due {
			pkt.DecRef()
		}
	}
}

// stop drops the held ACKs (the link is going away) and the timer.
func (d *ackDelayer) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	d.timer.Stop()
	d.armed = false
	for i := range d.slots {
		if sl := &d.slots[i]; sl.pkt != nil {
			sl.pkt.DecRef()
			sl.pkt = nil
		}
	}
}

func (d *ackDelayer) counts() (delayed, coalesced uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.delayed, d.coalesced
}

// seqAtLeast reports whether sequence number a is at or after b, modulo
// 2^32 (RFC 793's comparison).
func seqAtLeast(a, b uint32) bool { return int32(a-b) >= 0 }
