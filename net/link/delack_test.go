package link

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// seg describes a test segment from 10.0.0.1:port to 10.0.0.2:80.
type seg struct {
	port    uint16
	flags   header.TCPFlags
	ack     uint32
	opts    int // option bytes
	payload int
}

func (s seg) packet() *stack.PacketBuffer {
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
		ReserveHeaderBytes: header.EthernetMinimumSize + header.IPv4MinimumSize + header.TCPMinimumSize + s.opts,
		Payload:            buffer.MakeWithData(make([]byte, s.payload)),
	})
	th := header.TCP(pkt.TransportHeader().Push(header.TCPMinimumSize + s.opts))
	th.Encode(&header.TCPFields{SrcPort: s.port, DstPort: 80, AckNum: s.ack,
		DataOffset: uint8(header.TCPMinimumSize + s.opts), Flags: s.flags, WindowSize: 1000})
	pkt.TransportProtocolNumber = header.TCPProtocolNumber
	ip := header.IPv4(pkt.NetworkHeader().Push(header.IPv4MinimumSize))
	ip.Encode(&header.IPv4Fields{TotalLength: uint16(pkt.Size()), Protocol: uint8(header.TCPProtocolNumber), TTL: 64,
		SrcAddr: tcpip.AddrFrom4([4]byte{10, 0, 0, 1}), DstAddr: tcpip.AddrFrom4([4]byte{10, 0, 0, 2})})
	pkt.NetworkProtocolNumber = header.IPv4ProtocolNumber
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{Type: header.IPv4ProtocolNumber})
	return pkt
}

// describe names a segment by its ack number and flags, for comparisons.
func describe(pkts []*stack.PacketBuffer) []string {
	var out []string
	for _, p := range pkts {
		s, _ := parseSegment(headerBytes(p))
		out = append(out, strings.ReplaceAll(s.flags.String(), " ", "")+fmt.Sprintf("/%d", s.ack))
	}
	return out
}

func TestAckDelayerDecisions(t *testing.T) {
	const ack = header.TCPFlagAck
	for _, tc := range []struct {
		name string
		segs []seg
		want []string // what filter passes on, over all segments
		held int      // left held at the end
	}{
		{"reply carries the ACK",
			[]seg{{flags: header.TCPFlagSyn | ack, ack: 1}, {flags: ack, ack: 101}, {flags: ack | header.TCPFlagPsh, ack: 101, payload: 50}},
			[]string{"SA/1", "PA/101"}, 0},
		{"ACK waits without a reply",
			[]seg{{flags: ack, ack: 1}, {flags: ack, ack: 101}},
			[]string{"A/1"}, 1},
		{"unknown flow: ACK goes at once",
			[]seg{{flags: ack, ack: 101}},
			[]string{"A/101"}, 0},
		{"window update acknowledging nothing new goes at once",
			[]seg{{flags: ack, ack: 101}, {flags: ack, ack: 101}},
			[]string{"A/101", "A/101"}, 0},
		{"SACK (long options) goes at once",
			[]seg{{flags: ack, ack: 1}, {flags: ack, ack: 101, opts: 24}},
			[]string{"A/1", "A/101"}, 0},
		{"timestamps alone may wait",
			[]seg{{flags: ack, ack: 1}, {flags: ack, ack: 101, opts: 12}},
			[]string{"A/1"}, 1},
		{"bulk data is acknowledged every second full segment",
			[]seg{{flags: ack, ack: 1}, {flags: ack, ack: 1461}, {flags: ack, ack: 2921}},
			[]string{"A/1", "A/2921"}, 0},
		{"a newer pure ACK replaces the held one",
			[]seg{{flags: ack, ack: 1}, {flags: ack, ack: 101}, {flags: ack, ack: 201}},
			[]string{"A/1"}, 1},
		{"FIN carries the held ACK",
			[]seg{{flags: ack, ack: 1}, {flags: ack, ack: 101}, {flags: ack | header.TCPFlagFin, ack: 101}},
			[]string{"A/1", "FA/101"}, 0},
		{"a segment acknowledging less sends the held ACK first",
			[]seg{{flags: ack, ack: 1}, {flags: ack, ack: 101}, {flags: ack, ack: 50, payload: 10}},
			[]string{"A/1", "A/101", "A/50"}, 0},
		{"other flows are independent",
			[]seg{{port: 1, flags: ack, ack: 1}, {port: 2, flags: ack, ack: 1}, {port: 1, flags: ack, ack: 101}, {port: 2, flags: ack | header.TCPFlagPsh, ack: 1, payload: 9}},
			[]string{"A/1", "A/1", "PA/1"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newAckDelayer(time.Hour, func([]*stack.PacketBuffer) { t.Error("timer fired") })
			defer d.stop()
			var got []string
			for _, s := range tc.segs {
				if s.port == 0 {
					s.port = 1000
				}
				pkt := s.packet()
				got = append(got, describe(d.filter([]*stack.PacketBuffer{pkt}, nil))...)
				pkt.DecRef()
			}
			if held := heldACKs(d); fmt.Sprint(got) != fmt.Sprint(tc.want) || held != tc.held {
				t.Errorf("sent %v, %d held; want %v, %d held", got, held, tc.want, tc.held)
			}
		})
	}
}

// heldACKs counts the ACKs d holds.
func heldACKs(d *ackDelayer) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for i := range d.slots {
		if d.slots[i].pkt != nil {
			n++
		}
	}
	return n
}

func TestAckDelayerTimer(t *testing.T) {
	sent := make(chan []string, 4)
	d := newAckDelayer(20*time.Millisecond, func(p []*stack.PacketBuffer) { sent <- describe(p) })
	defer d.stop()
	for _, s := range []seg{{port: 7, flags: header.TCPFlagAck, ack: 1}, {port: 7, flags: header.TCPFlagAck, ack: 101}} {
		pkt := s.packet()
		d.filter([]*stack.PacketBuffer{pkt}, nil)
		pkt.DecRef() // the delayer holds its own reference
	}
	start := time.Now()
	select {
	case got := <-sent:
		if fmt.Sprint(got) != "[A/101]" {
			t.Errorf("timer sent %v, want [A/101]", got)
		}
		if waited := time.Since(start); waited < 15*time.Millisecond {
			t.Errorf("held ACK sent after %v, before its 20ms delay", waited)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the held ACK was never sent")
	}
	// It went out: the flow's next ACK of the same data is not new.
	pkt := seg{port: 7, flags: header.TCPFlagAck, ack: 101}.packet()
	defer pkt.DecRef()
	if got := describe(d.filter([]*stack.PacketBuffer{pkt}, nil)); fmt.Sprint(got) != "[A/101]" {
		t.Errorf("ACK after the timer: sent %v, want it at once", got)
	}
}

// TestDelayedAcksThroughStacks: between two real stacks, a server that
// answers each request lets its reply carry the request's ACK. (Bulk
// transfers, whose ACKs are not held, are TestTCPThroughLink's.)
func TestDelayedAcksThroughStacks(t *testing.T) {
	ha, hb := newPair(t, offloads)
	c := dialRequestReply(t, ha, hb, 100, 40)
	const rounds = 200
	buf := make([]byte, 100)
	before := hb.ep.Stats()
	for range rounds {
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:40]); err != nil {
			t.Fatal(err)
		}
	}
	after := hb.ep.Stats()
	if coalesced := after.AcksCoalesced - before.AcksCoalesced; coalesced < rounds*9/10 {
		t.Errorf("server coalesced %d of %d request ACKs into replies, want nearly all", coalesced, rounds)
	}
}

func TestParseSegmentIPv6(t *testing.T) {
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{ReserveHeaderBytes: 14 + 40 + 32})
	defer pkt.DecRef()
	th := header.TCP(pkt.TransportHeader().Push(32))
	th.Encode(&header.TCPFields{SrcPort: 80, DstPort: 4000, AckNum: 77, DataOffset: 32, Flags: header.TCPFlagAck})
	ip := header.IPv6(pkt.NetworkHeader().Push(header.IPv6MinimumSize))
	ip.Encode(&header.IPv6Fields{PayloadLength: 32, TransportProtocol: header.TCPProtocolNumber,
		SrcAddr: tcpip.AddrFrom16([16]byte{0xfd, 15: 1}), DstAddr: tcpip.AddrFrom16([16]byte{0xfd, 15: 2})})
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{Type: header.IPv6ProtocolNumber})
	s, ok := parseSegment(headerBytes(pkt))
	if !ok || !s.key.v6 || s.ack != 77 || !s.pureAck || s.key.ports != 80<<16|4000 || s.key.addrs[15] != 1 || s.key.addrs[31] != 2 {
		t.Errorf("parseSegment(IPv6 pure ACK) = %+v, %v", s, ok)
	}
}

func TestParseSegmentRejects(t *testing.T) {
	good := seg{port: 5, flags: header.TCPFlagAck, ack: 9}.packet()
	defer good.DecRef()
	frame := headerBytes(good)
	if _, ok := parseSegment(frame); !ok {
		t.Fatal("well-formed frame rejected")
	}
	udp := append([]byte(nil), frame...)
	udp[14+9] = protoUDP
	for name, f := range map[string][]byte{
		"empty":         nil,
		"ethernet only": frame[:14],
		"short IP":      frame[:14+19],
		"short TCP":     frame[:14+20+19],
		"UDP":           udp,
		"ARP ethertype": append([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 6}, frame[14:]...),
	} {
		if s, ok := parseSegment(f); ok {
			t.Errorf("%s: parsed as %+v", name, s)
		}
	}
}

func FuzzParseSegment(f *testing.F) {
	good := seg{port: 5, flags: header.TCPFlagAck, ack: 9}.packet()
	f.Add(append([]byte(nil), headerBytes(good)...))
	good.DecRef()
	f.Fuzz(func(t *testing.T, frame []byte) {
		if s, ok := parseSegment(frame); ok && (s.hashSlot < 0 || s.hashSlot >= ackSlots) {
			t.Fatalf("slot %d out of range", s.hashSlot)
		}
	})
}
