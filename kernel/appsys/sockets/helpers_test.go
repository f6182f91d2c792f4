package sockets

import (
	"encoding/binary"
	"errors"
	"syscall"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/raw"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// loopbackStack is a real netstack with one loopback NIC holding
// 127.0.0.1/8 and ::1.
func loopbackStack(t *testing.T) *stack.Stack {
	t.Helper()
	st := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		RawFactory:         raw.EndpointFactory{},
	})
	if err := st.CreateNIC(1, loopback.New()); err != nil {
		t.Fatalf("CreateNIC: %v", err)
	}
	for _, a := range []tcpip.ProtocolAddress{
		{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4([4]byte{127, 0, 0, 1}), PrefixLen: 8}},
		{Protocol: ipv6.ProtocolNumber, AddressWithPrefix: tcpip.AddrFrom16([16]byte{15: 1}).WithPrefix()},
	} {
		if err := st.AddProtocolAddress(1, a, stack.AddressProperties{}); err != nil {
			t.Fatalf("AddProtocolAddress(%v): %v", a, err)
		}
	}
	st.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}, {Destination: header.IPv6EmptySubnet, NIC: 1}})
	t.Cleanup(func() {
		st.Close()
		st.Wait()
	})
	return st
}

func sockaddrIn(a [4]byte, port uint16) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b, syscall.AF_INET)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[4:], a[:])
	return b
}

func sockaddrIn6(a [16]byte, port uint16) []byte {
	b := make([]byte, 28)
	binary.LittleEndian.PutUint16(b, syscall.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[8:], a[:])
	return b
}

var localhost = [4]byte{127, 0, 0, 1}

func port(t *testing.T, sa []byte) uint16 {
	t.Helper()
	if len(sa) < 4 {
		t.Fatalf("sockaddr %x too short", sa)
	}
	return binary.BigEndian.Uint16(sa[2:])
}

func mustNew(t *testing.T, st *stack.Stack, domain, typ int) *Socket {
	t.Helper()
	s, err := New(st, domain, typ, 0)
	if err != nil {
		t.Fatalf("New(%d, %#x): %v", domain, typ, err)
	}
	t.Cleanup(s.Close)
	return s
}

// listener returns a TCP socket listening on 127.0.0.1 and its address.
func listener(t *testing.T, st *stack.Stack, typ int) (*Socket, []byte) {
	t.Helper()
	l := mustNew(t, st, syscall.AF_INET, syscall.SOCK_STREAM|typ)
	if err := l.Bind(sockaddrIn(localhost, 0)); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	if err := l.Listen(16); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	addr, err := l.SockName()
	if err != nil {
		t.Fatalf("SockName: %v", err)
	}
	return l, addr
}

// connected returns a client and the server's accepted end.
func connected(t *testing.T, st *stack.Stack) (client, server *Socket) {
	t.Helper()
	l, addr := listener(t, st, 0)
	c := mustNew(t, st, syscall.AF_INET, syscall.SOCK_STREAM)
	if err := c.Connect(nil, addr); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	s, _, err := l.Accept(nil, 0, false)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	t.Cleanup(s.Close)
	return c, s
}

// waitReady waits until the socket reports all of want.
func waitReady(t *testing.T, s *Socket, want uint32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Readiness()&want != want {
		if time.Now().After(deadline) {
			t.Fatalf("readiness %#x, want %#x set", s.Readiness(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func read(t *testing.T, s *Socket, n int) string {
	t.Helper()
	b := make([]byte, n)
	got, err := s.Read(nil, [][]byte{b})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return string(b[:got])
}

func write(t *testing.T, s *Socket, msg string) {
	t.Helper()
	n, err := s.Write(nil, [][]byte{[]byte(msg)})
	if err != nil || n != len(msg) {
		t.Fatalf("Write(%q) = %d, %v; want %d, nil", msg, n, err, len(msg))
	}
}

func wantErrno(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("%s: error %v, want %v", what, got, want)
	}
}
