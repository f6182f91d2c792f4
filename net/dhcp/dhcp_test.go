package dhcp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// serverFunc answers one client message with raw reply datagrams.
type serverFunc func(t *testing.T, req *dhcpv4.DHCPv4) [][]byte

// newNet joins a client stack and a server stack with two channel
// endpoints pumped by goroutines, starts a fake server on 192.168.7.1:67
// that answers with handle, and returns the client stack (NIC 1).
func newNet(t *testing.T, handle serverFunc) *stack.Stack {
	t.Helper()
	newStack := func(mac string) (*stack.Stack, *channel.Endpoint) {
		s := stack.New(stack.Options{
			NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
			TransportProtocols: []stack.TransportProtocolFactory{udp.NewProtocol},
		})
		ep := channel.New(64, 1500, tcpip.LinkAddress(mac))
		if err := s.CreateNIC(1, ep); err != nil {
			t.Fatalf("CreateNIC: %v", err)
		}
		s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}})
		return s, ep
	}
	client, cep := newStack("\x02\x00\x00\x00\x00\x01")
	server, sep := newStack("\x02\x00\x00\x00\x00\x02")
	ctx, cancel := context.WithCancel(context.Background())
	pump := func(from, to *channel.Endpoint) {
		for {
			pkt := from.ReadContext(ctx)
			if pkt == nil {
				return
			}
			in := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: pkt.ToBuffer()})
			to.InjectInbound(pkt.NetworkProtocolNumber, in)
			in.DecRef()
			pkt.DecRef()
		}
	}
	go pump(cep, sep)
	go pump(sep, cep)

	addr := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{
		Address: tcpip.AddrFrom4([4]byte{192, 168, 7, 1}), PrefixLen: 24}}
	if err := server.AddProtocolAddress(1, addr, stack.AddressProperties{}); err != nil {
		t.Fatalf("server address: %v", err)
	}
	var wq waiter.Queue
	ep, terr := server.NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		t.Fatalf("server endpoint: %v", terr)
	}
	ep.SocketOptions().SetBroadcast(true)
	if err := ep.Bind(tcpip.FullAddress{Port: ServerPort}); err != nil {
		t.Fatalf("server bind: %v", err)
	}
	conn := gonet.NewUDPConn(&wq, ep)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			req, err := dhcpv4.FromBytes(buf[:n])
			if err != nil {
				t.Errorf("server got a malformed message: %v", err)
				continue
			}
			for _, r := range handle(t, req) {
				conn.WriteTo(r, &net.UDPAddr{IP: net.IPv4bcast, Port: ClientPort})
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
		cancel()
		client.Destroy()
		server.Destroy()
	})
	return client
}

var (
	offered = net.IPv4(192, 168, 7, 50).To4()
	router  = net.IPv4(192, 168, 7, 1).To4()
	dns1    = net.IPv4(192, 168, 7, 53).To4()
)

// reply builds a server reply of type typ to req.
func reply(t *testing.T, req *dhcpv4.DHCPv4, typ dhcpv4.MessageType, mods ...dhcpv4.Modifier) []byte {
	t.Helper()
	base := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithYourIP(offered),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(router)),
		dhcpv4.WithOption(dhcpv4.OptRouter(router)),
		dhcpv4.WithOption(dhcpv4.OptDNS(dns1, net.IPv4(224, 0, 0, 1))),
		dhcpv4.WithOption(dhcpv4.OptDomainName("example.test")),
		dhcpv4.WithLeaseTime(3600),
	}
	m, err := dhcpv4.NewReplyFromRequest(req, append(base, mods...)...)
	if err != nil {
		t.Fatalf("building reply: %v", err)
	}
	return m.ToBytes()
}

// goodServer offers and acknowledges 192.168.7.50/24.
func goodServer(t *testing.T, req *dhcpv4.DHCPv4) [][]byte {
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		return [][]byte{reply(t, req, dhcpv4.MessageTypeOffer)}
	case dhcpv4.MessageTypeRequest:
		if got := req.RequestedIPAddress(); !got.Equal(offered) {
			t.Errorf("REQUEST asks for %v, want the offered %v", got, offered)
		}
		if got := req.ServerIdentifier(); !got.Equal(router) {
			t.Errorf("REQUEST names server %v, want %v", got, router)
		}
		return [][]byte{reply(t, req, dhcpv4.MessageTypeAck)}
	}
	return nil
}

func TestAcquire(t *testing.T) {
	wantLease := &Lease{
		Address:  netip.MustParsePrefix("192.168.7.50/24"),
		Router:   netip.MustParseAddr("192.168.7.1"),
		DNS:      []netip.Addr{netip.MustParseAddr("192.168.7.53")}, // the multicast one is dropped
		Domain:   "example.test",
		Server:   netip.MustParseAddr("192.168.7.1"),
		Duration: time.Hour,
	}
	tests := []struct {
		name    string
		server  serverFunc
		want    *Lease
		wantErr error
	}{
		{"success", goodServer, wantLease, nil},
		{"garbage and a wrong xid are skipped", func(t *testing.T, req *dhcpv4.DHCPv4) [][]byte {
			other := *req
			other.TransactionID[0]++
			return append([][]byte{{1, 2, 3}, reply(t, &other, dhcpv4.MessageTypeOffer)}, goodServer(t, req)...)
		}, wantLease, nil},
		{"NAK", func(t *testing.T, req *dhcpv4.DHCPv4) [][]byte {
			if req.MessageType() == dhcpv4.MessageTypeRequest {
				return [][]byte{reply(t, req, dhcpv4.MessageTypeNak, dhcpv4.WithYourIP(net.IPv4zero))}
			}
			return goodServer(t, req)
		}, nil, ErrNAK},
		{"silent server", func(*testing.T, *dhcpv4.DHCPv4) [][]byte { return nil }, nil, ErrNoOffer},
		{"offer without server identifier", func(t *testing.T, req *dhcpv4.DHCPv4) [][]byte {
			return [][]byte{reply(t, req, dhcpv4.MessageTypeOffer, dhcpv4.WithoutOption(dhcpv4.OptionServerIdentifier))}
		}, nil, ErrNoOffer},
		{"offer of a broadcast address", func(t *testing.T, req *dhcpv4.DHCPv4) [][]byte {
			return [][]byte{reply(t, req, dhcpv4.MessageTypeOffer, dhcpv4.WithYourIP(net.IPv4bcast))}
		}, nil, ErrNoOffer},
		{"offer with a non-contiguous mask", func(t *testing.T, req *dhcpv4.DHCPv4) [][]byte {
			return [][]byte{reply(t, req, dhcpv4.MessageTypeOffer, dhcpv4.WithNetmask(net.IPMask{255, 0, 255, 0}))}
		}, nil, ErrNoOffer},
		{"no ACK", func(t *testing.T, req *dhcpv4.DHCPv4) [][]byte {
			if req.MessageType() == dhcpv4.MessageTypeDiscover {
				return goodServer(t, req)
			}
			return nil
		}, nil, ErrNoAck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newNet(t, tt.server)
			c := &Client{Stack: s, NIC: 1, Hostname: "gosv", Timeout: 200 * time.Millisecond, Retries: 2}
			got, err := c.Acquire(context.Background())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Acquire error = %v, want %v", err, tt.wantErr)
			}
			if tt.want != nil && !leaseEqual(got, tt.want) {
				t.Errorf("lease (-want +got):\n- %+v\n+ %+v", tt.want, got)
			}
			// The temporary 0.0.0.0 is gone either way.
			for _, a := range s.NICInfo()[1].ProtocolAddresses {
				if a.AddressWithPrefix.Address == header.IPv4Any {
					t.Errorf("0.0.0.0 still on the NIC after Acquire")
				}
			}
		})
	}
}

func TestAcquireHonoursContext(t *testing.T) {
	s := newNet(t, func(*testing.T, *dhcpv4.DHCPv4) [][]byte { return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c := &Client{Stack: s, NIC: 1, Timeout: 10 * time.Second, Retries: 5}
	start := time.Now()
	_, err := c.Acquire(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire error = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Acquire took %v after its context ended", d)
	}
}

func leaseEqual(a, b *Lease) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Address != b.Address || a.Router != b.Router || a.Domain != b.Domain || a.Server != b.Server || a.Duration != b.Duration || len(a.DNS) != len(b.DNS) {
		return false
	}
	for i := range a.DNS {
		if a.DNS[i] != b.DNS[i] {
			return false
		}
	}
	return true
}

// FuzzParseLease: any datagram either fails to parse or yields a lease
// whose fields hold the invariants the stack relies on.
func FuzzParseLease(f *testing.F) {
	req, _ := dhcpv4.NewDiscovery(net.HardwareAddr{2, 0, 0, 0, 0, 1})
	t := &testing.T{}
	f.Add(reply(t, req, dhcpv4.MessageTypeOffer))
	f.Add(reply(t, req, dhcpv4.MessageTypeAck, dhcpv4.WithoutOption(dhcpv4.OptionSubnetMask)))
	f.Add([]byte{2, 1, 6, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		l, err := ParseLease(m)
		if err != nil {
			return
		}
		if !l.Address.IsValid() || !l.Address.Addr().Is4() || l.Address.Bits() < 1 || l.Address.Bits() > 32 {
			t.Fatalf("bad address %v", l.Address)
		}
		if !l.Server.Is4() || (l.Router.IsValid() && !l.Router.Is4()) {
			t.Fatalf("bad server %v or router %v", l.Server, l.Router)
		}
		for _, d := range l.DNS {
			if !d.Is4() || d.IsMulticast() {
				t.Fatalf("bad DNS %v", d)
			}
		}
	})
}
