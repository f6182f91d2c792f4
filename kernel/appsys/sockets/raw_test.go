package sockets

import (
	"encoding/binary"
	"syscall"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// echoRequest is an ICMPv4 echo request with id, seq and payload, its
// checksum filled in.
func echoRequest(id, seq uint16, payload string) []byte {
	b := make([]byte, 8+len(payload))
	b[0] = 8 // echo request
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], payload)
	binary.BigEndian.PutUint16(b[2:], ^checksum.Checksum(b, 0))
	return b
}

// recvTimeout reads one datagram, failing after 5 s.
func recvTimeout(t *testing.T, s *Socket) ([]byte, []byte) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 2048)
	for time.Now().Before(deadline) {
		n, from, _, err := s.RecvMsg(nil, [][]byte{buf}, syscall.MSG_DONTWAIT, true)
		if err == nil {
			return buf[:n], from
		}
		if err != syscall.EAGAIN {
			t.Fatalf("recvfrom: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no datagram within 5 s")
	return nil, nil
}

// TestPingSocket: SOCK_DGRAM with IPPROTO_ICMP sends echo requests and
// receives the replies as ICMP messages without an IP header (Linux's
// unprivileged ping sockets, which ping and Go's x/net/icmp use).
func TestPingSocket(t *testing.T) {
	st := loopbackStack(t)
	p, err := New(st, syscall.AF_INET, syscall.SOCK_DGRAM, syscall.IPPROTO_ICMP)
	if err != nil {
		t.Fatalf("ping socket: %v", err)
	}
	defer p.Close()
	if n, err := p.SendMsg(nil, [][]byte{echoRequest(0, 7, "hello")}, sockaddrIn(localhost, 0), 0); err != nil || n != 13 {
		t.Fatalf("sendto = %d, %v", n, err)
	}
	reply, from := recvTimeout(t, p)
	if len(reply) != 13 || reply[0] != 0 || binary.BigEndian.Uint16(reply[6:]) != 7 || string(reply[8:]) != "hello" {
		t.Errorf("reply %x: want an echo reply (type 0), seq 7, \"hello\"", reply)
	}
	if want := sockaddrIn(localhost, 0); string(from[:8]) != string(want[:8]) {
		t.Errorf("reply from %x, want %x", from, want)
	}
}

// TestRawICMPSocket: a raw IPv4 socket for ICMP sends ICMP messages the
// stack puts an IP header on, and receives ICMP packets with their IP
// header (Go's ListenIP("ip4:icmp"), traceroute).
func TestRawICMPSocket(t *testing.T) {
	st := loopbackStack(t)
	r, err := New(st, syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP)
	if err != nil {
		t.Fatalf("raw socket: %v", err)
	}
	defer r.Close()
	if err := r.Bind(sockaddrIn(localhost, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SendMsg(nil, [][]byte{echoRequest(42, 1, "raw")}, sockaddrIn(localhost, 0), 0); err != nil {
		t.Fatal(err)
	}
	// The request comes back in over loopback, then the stack's reply.
	for k := 0; k < 2; k++ {
		pkt, _ := recvTimeout(t, r)
		if len(pkt) < 20+8 || pkt[0]>>4 != 4 || pkt[9] != syscall.IPPROTO_ICMP {
			t.Fatalf("packet %x: want an IPv4 header for ICMP first", pkt)
		}
		ihl := int(pkt[0]&15) * 4
		if icmp := pkt[ihl:]; icmp[0] == 0 {
			if binary.BigEndian.Uint16(icmp[4:]) != 42 || string(icmp[8:]) != "raw" {
				t.Errorf("echo reply %x: want id 42 and \"raw\"", icmp)
			}
			return
		}
	}
	t.Error("no echo reply on the raw socket")
}
