package link

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"gosv/drivers/nic"
	"gosv/net/internal/nictest"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

var offloads = nic.Features{TxChecksum: true, TSO4: true, TSO6: true, MaxGSOSize: 65536}

// host is one side of a back-to-back test network.
type host struct {
	s   *stack.Stack
	ep  *Endpoint
	dev *nictest.Device
	v4  tcpip.Address
	v6  tcpip.Address
}

// newPair builds two stacks joined by a nictest pair: 10.0.0.1 and
// 10.0.0.2, fd00::1 and fd00::2.
func newPair(t testing.TB, feat nic.Features) (a, b *host) {
	t.Helper()
	da, db := nictest.Pair(
		nictest.Config{Name: "a", MAC: nic.MAC{2, 0, 0, 0, 0, 1}, Features: feat},
		nictest.Config{Name: "b", MAC: nic.MAC{2, 0, 0, 0, 0, 2}, Features: feat},
	)
	a = newHost(t, da, 1)
	b = newHost(t, db, 2)
	return a, b
}

func newHost(t testing.TB, dev *nictest.Device, n byte) *host {
	t.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
	})
	ep := New(dev, Options{Queues: 2, QueueLen: 1024})
	if err := s.CreateNIC(1, ep); err != nil {
		t.Fatalf("CreateNIC: %v", err)
	}
	h := &host{s: s, ep: ep, dev: dev,
		v4: tcpip.AddrFrom4([4]byte{10, 0, 0, n}),
		v6: tcpip.AddrFrom16([16]byte{0xfd, 15: n}),
	}
	for _, pa := range []tcpip.ProtocolAddress{
		{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: h.v4, PrefixLen: 24}},
		{Protocol: ipv6.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: h.v6, PrefixLen: 64}},
	} {
		if err := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
			t.Fatalf("AddProtocolAddress(%v): %v", pa, err)
		}
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: 1},
		{Destination: header.IPv6EmptySubnet, NIC: 1},
	})
	t.Cleanup(func() {
		// The stack does not stop link endpoints; removing the NIC
		// closes ours.
		if err := s.RemoveNIC(1); err != nil {
			t.Errorf("RemoveNIC: %v", err)
		}
		s.Destroy()
		ep.Wait()
		for _, err := range dev.Errors() {
			t.Errorf("%s: offload error: %v", dev.Name(), err)
		}
	})
	return h
}

// exchange connects b to a listener on a, sends size bytes each way and
// checks they arrive intact.
func exchange(t *testing.T, a, b *host, addrA tcpip.Address, proto tcpip.NetworkProtocolNumber, size int) {
	t.Helper()
	l, err := gonet.ListenTCP(a.s, tcpip.FullAddress{Addr: addrA, Port: 80}, proto)
	if err != nil {
		t.Fatalf("ListenTCP: %v", err)
	}
	defer l.Close()
	toA := bytes.Repeat([]byte("client->server "), size/15+1)[:size]
	toB := bytes.Repeat([]byte("server->client!"), size/15+1)[:size]
	errc := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		got := make([]byte, len(toA))
		if _, err := io.ReadFull(c, got); err != nil {
			errc <- err
			return
		}
		if !bytes.Equal(got, toA) {
			errc <- io.ErrUnexpectedEOF
			return
		}
		_, err = c.Write(toB)
		errc <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := gonet.DialContextTCP(ctx, b.s, tcpip.FullAddress{Addr: addrA, Port: 80}, proto)
	if err != nil {
		t.Fatalf("DialContextTCP: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(toA); err != nil {
		t.Fatalf("client write: %v", err)
	}
	got := make([]byte, len(toB))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("client read: %v", err)
	}
	if !bytes.Equal(got, toB) {
		t.Fatalf("client got %d bytes that differ from what the server sent", len(got))
	}
	if err := <-errc; err != nil {
		t.Fatalf("server: %v", err)
	}
}

func TestTCPThroughLink(t *testing.T) {
	const size = 1 << 20
	tests := []struct {
		name    string
		feat    nic.Features
		proto   tcpip.NetworkProtocolNumber
		offload bool
	}{
		{"IPv4 no offload", nic.Features{}, ipv4.ProtocolNumber, false},
		{"IPv6 no offload", nic.Features{}, ipv6.ProtocolNumber, false},
		{"IPv4 checksum+TSO", offloads, ipv4.ProtocolNumber, true},
		{"IPv6 checksum+TSO", offloads, ipv6.ProtocolNumber, true},
		// TSO4 alone is not enough for gVisor's host GSO: no offload.
		{"IPv4 TSO4 only", nic.Features{TxChecksum: true, TSO4: true, MaxGSOSize: 65536}, ipv4.ProtocolNumber, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newPair(t, tt.feat)
			addr := a.v4
			if tt.proto == ipv6.ProtocolNumber {
				addr = a.v6
			}
			exchange(t, a, b, addr, tt.proto, size)
			for _, h := range []*host{a, b} {
				csums, gso, segs := h.dev.OffloadCounts()
				if tt.offload {
					// Both sides sent 1 MiB: the stack must have
					// used TSO (frames larger than the MTU) and
					// partial checksums.
					if gso == 0 || segs <= gso || csums+segs == 0 {
						t.Errorf("%s: offload counts csum %d, gso frames %d, segments %d: want TSO in use", h.dev.Name(), csums, gso, segs)
					}
				} else if csums+gso != 0 {
					t.Errorf("%s: offload used (csum %d, gso %d) though not offered", h.dev.Name(), csums, gso)
				}
			}
			// A 1 MiB burst may overflow a flow queue (TCP then
			// retransmits); anything else is a bug.
			for _, h := range []*host{a, b} {
				st := h.ep.Stats()
				if st.RxMalformed+st.TxDropped != 0 {
					t.Errorf("%s: drops %+v", h.dev.Name(), st)
				}
				t.Logf("%s: %+v", h.dev.Name(), st)
			}
		})
	}
}

func TestUDPThroughLink(t *testing.T) {
	a, b := newPair(t, offloads)
	srv, err := gonet.DialUDP(a.s, &tcpip.FullAddress{Addr: a.v4, Port: 53}, nil, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	defer srv.Close()
	cli, err := gonet.DialUDP(b.s, nil, &tcpip.FullAddress{Addr: a.v4, Port: 53}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer cli.Close()
	deadline := time.Now().Add(10 * time.Second)
	srv.SetDeadline(deadline)
	cli.SetDeadline(deadline)
	// 3000 bytes: IP fragments it, so reassembly through the queues is
	// tested too.
	for _, size := range []int{10, 3000} {
		msg := bytes.Repeat([]byte{'q'}, size)
		if _, err := cli.Write(msg); err != nil {
			t.Fatalf("client write: %v", err)
		}
		buf := make([]byte, 4096)
		n, from, err := srv.ReadFrom(buf)
		if err != nil {
			t.Fatalf("server read: %v", err)
		}
		if !bytes.Equal(buf[:n], msg) {
			t.Fatalf("server got %d bytes, want %d", n, size)
		}
		if _, err := srv.WriteTo([]byte("reply"), from); err != nil {
			t.Fatalf("server write: %v", err)
		}
		n, err = cli.Read(buf)
		if err != nil || string(buf[:n]) != "reply" {
			t.Fatalf("client read = %q, %v; want reply", buf[:n], err)
		}
	}
}

func TestPingThroughLink(t *testing.T) {
	a, b := newPair(t, nic.Features{})
	var wq waiter.Queue
	ep, terr := b.s.NewEndpoint(icmp.ProtocolNumber4, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		t.Fatalf("NewEndpoint: %v", terr)
	}
	defer ep.Close()
	conn := gonet.NewUDPConn(&wq, ep)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	echo := header.ICMPv4(make([]byte, header.ICMPv4MinimumSize+4))
	echo.SetType(header.ICMPv4Echo)
	copy(echo.Payload(), "ping")
	if _, err := conn.WriteTo(echo, &net.UDPAddr{IP: net.IP(a.v4.AsSlice())}); err != nil {
		t.Fatalf("send echo: %v", err)
	}
	buf := make([]byte, 128)
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	reply := header.ICMPv4(buf[:n])
	if reply.Type() != header.ICMPv4EchoReply || string(reply.Payload()) != "ping" {
		t.Errorf("reply type %d payload %q, want echo reply with ping", reply.Type(), reply.Payload())
	}
}

// BenchmarkRequestResponse is one small request and reply over a TCP
// connection between two stacks joined through Endpoints, the shape of an
// HTTP keep-alive exchange: its allocations and profile are the link and
// netstack's share of a served request (both sides).
func BenchmarkRequestResponse(b *testing.B) {
	ha, hb := newPair(b, offloads)
	c := dialRequestReply(b, ha, hb, 80, 160)
	req, buf := make([]byte, 80), make([]byte, 160)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// dialRequestReply starts a server on b that answers every reqLen bytes
// it reads with replyLen bytes, and returns a client connection to it
// from a; both close when the test ends.
func dialRequestReply(tb testing.TB, a, b *host, reqLen, replyLen int) net.Conn {
	tb.Helper()
	l, err := gonet.ListenTCP(b.s, tcpip.FullAddress{NIC: 1, Addr: b.v4, Port: 80}, ipv4.ProtocolNumber)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		req, reply := make([]byte, reqLen), make([]byte, replyLen)
		for {
			if _, err := io.ReadFull(c, req); err != nil {
				return
			}
			if _, err := c.Write(reply); err != nil {
				return
			}
		}
	}()
	c, err := gonet.DialContextTCP(context.Background(), a.s, tcpip.FullAddress{NIC: 1, Addr: b.v4, Port: 80}, ipv4.ProtocolNumber)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}
