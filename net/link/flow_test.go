package link

import (
	"encoding/binary"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// frame builds an Ethernet frame carrying an IPv4 or IPv6 packet with
// the given 5-tuple.
func frame(v6 bool, proto byte, src, dst byte, sport, dport uint16, fragment bool) []byte {
	f := make([]byte, 14, 128)
	if v6 {
		binary.BigEndian.PutUint16(f[12:], etherTypeIPv6)
		ip := make([]byte, 40)
		ip[0] = 6 << 4
		ip[6] = proto
		ip[23], ip[39] = src, dst
		f = append(f, ip...)
	} else {
		binary.BigEndian.PutUint16(f[12:], etherTypeIPv4)
		ip := make([]byte, 20)
		ip[0] = 4<<4 | 5
		ip[9] = proto
		if fragment {
			ip[6] = 0x20 // MF
		}
		ip[15], ip[19] = src, dst
		binary.BigEndian.PutUint16(ip[2:], 20+4)
		binary.BigEndian.PutUint16(ip[10:], ^checksum.Checksum(ip, 0))
		f = append(f, ip...)
	}
	var ports [4]byte
	binary.BigEndian.PutUint16(ports[0:], sport)
	binary.BigEndian.PutUint16(ports[2:], dport)
	return append(f, ports[:]...)
}

func TestFlowHash(t *testing.T) {
	tests := []struct {
		name     string
		a, b     []byte
		wantSame bool
	}{
		{"same v4 TCP flow, different payload", frame(false, protoTCP, 1, 2, 1000, 80, false), append(frame(false, protoTCP, 1, 2, 1000, 80, false), 9, 9, 9), true},
		{"v4 source port differs", frame(false, protoTCP, 1, 2, 1000, 80, false), frame(false, protoTCP, 1, 2, 1001, 80, false), false},
		{"v4 source address differs", frame(false, protoTCP, 1, 2, 1000, 80, false), frame(false, protoTCP, 3, 2, 1000, 80, false), false},
		{"v4 protocol differs", frame(false, protoTCP, 1, 2, 1000, 80, false), frame(false, protoUDP, 1, 2, 1000, 80, false), false},
		{"v4 fragments ignore ports", frame(false, protoUDP, 1, 2, 1000, 80, true), frame(false, protoUDP, 1, 2, 7, 7, true), true},
		{"v6 TCP port differs", frame(true, protoTCP, 1, 2, 1000, 80, false), frame(true, protoTCP, 1, 2, 1000, 81, false), false},
		{"v6 same flow", frame(true, protoUDP, 1, 2, 53, 5353, false), frame(true, protoUDP, 1, 2, 53, 5353, false), true},
		{"v6 ICMP ignores bytes after header", frame(true, 58, 1, 2, 1, 2, false), frame(true, 58, 1, 2, 3, 4, false), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ha, hb := FlowHash(tt.a), FlowHash(tt.b)
			if ha == 0 || hb == 0 {
				t.Fatalf("FlowHash = %#x, %#x; want non-zero for IP frames", ha, hb)
			}
			if got := ha == hb; got != tt.wantSame {
				t.Errorf("same hash = %v (%#x vs %#x), want %v", got, ha, hb, tt.wantSame)
			}
		})
	}
}

func TestFlowHashUnclassified(t *testing.T) {
	arp := make([]byte, 42)
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	badIHL := frame(false, protoTCP, 1, 2, 1, 2, false)
	badIHL[14] = 4<<4 | 15 // 60-byte header in a 24-byte packet
	for name, f := range map[string][]byte{
		"empty":        nil,
		"short":        {1, 2, 3},
		"ARP":          arp,
		"truncated v4": frame(false, protoTCP, 1, 2, 1, 2, false)[:20],
		"truncated v6": frame(true, protoTCP, 1, 2, 1, 2, false)[:40],
		"bad IHL":      badIHL,
	} {
		if h := FlowHash(f); h != 0 {
			t.Errorf("FlowHash(%s) = %#x, want 0", name, h)
		}
	}
}

// TestFlowHashSpreads checks that distinct flows spread over the queues:
// 4096 connections from one client must not pile onto one queue.
func TestFlowHashSpreads(t *testing.T) {
	const queues = 4
	var count [queues]int
	for port := 0; port < 4096; port++ {
		count[queueIndex(FlowHash(frame(false, protoTCP, 1, 2, uint16(30000+port), 80, false)), queues)]++
	}
	for q, n := range count {
		if n < 4096/queues/2 || n > 4096/queues*3/2 {
			t.Errorf("queue %d got %d of 4096 flows; counts %v", q, n, count)
		}
	}
}

func TestQueueIndexInRange(t *testing.T) {
	for _, n := range []int{1, 2, 3, 8} {
		for _, h := range []uint32{0, 1, 1 << 31, ^uint32(0)} {
			if q := queueIndex(h, n); q < 0 || q >= n {
				t.Errorf("queueIndex(%#x, %d) = %d, out of range", h, n, q)
			}
		}
	}
}

func FuzzFlowHash(f *testing.F) {
	f.Add(frame(false, protoTCP, 1, 2, 1000, 80, false))
	f.Add(frame(true, protoUDP, 1, 2, 53, 53, false))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h := FlowHash(b)
		if h != FlowHash(append([]byte(nil), b...)) {
			t.Fatal("FlowHash is not deterministic")
		}
		if q := queueIndex(h, 3); q < 0 || q >= 3 {
			t.Fatalf("queue %d out of range", q)
		}
	})
}
