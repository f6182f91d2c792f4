package stack

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"gosv/drivers/nic"
	"gosv/net/dhcp"
	"gosv/net/internal/nictest"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// TestRunDHCP configures eth0 by DHCP from a server on the peer stack,
// through net/link and the fake devices, then checks the address, routes
// and resolv.conf, and that TCP works to the server.
func TestRunDHCP(t *testing.T) {
	cli, srv := dhcpClient(t, dhcpServer{lease: 600})
	eth := cli.Interfaces()[1]
	if !slices.Contains(eth.Addresses, netip.MustParsePrefix("10.9.0.77/24")) {
		t.Errorf("eth0 addresses %v, want 10.9.0.77/24", eth.Addresses)
	}
	if !slices.Contains(cli.Routes(), Route{Destination: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.9.0.1"), Interface: "eth0"}) {
		t.Errorf("routes %+v lack the default route via 10.9.0.1", cli.Routes())
	}
	if got := string(cli.ResolvConf()); !strings.Contains(got, "nameserver 10.9.0.53\n") || !strings.Contains(got, "search corp.test\n") {
		t.Errorf("resolv.conf %q lacks the DHCP name server and domain", got)
	}
	if l, ok := cli.Lease("eth0"); !ok || l.Duration != 10*time.Minute {
		t.Errorf("Lease = %+v, %v; want 10m", l, ok)
	}
	roundTrip(t, srv, cli, netip.MustParseAddr("10.9.0.1"))
}

// dhcpServer says how the test server answers: lease seconds, and
// whether to NAK renewals; seen receives each message it gets.
type dhcpServer struct {
	lease      uint32
	nakRenewal bool
	seen       chan *dhcpv4.DHCPv4
}

func serveDHCP(t *testing.T, s *Stack, o dhcpServer) {
	var wq waiter.Queue
	ep, terr := s.Netstack().NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		t.Fatal(terr)
	}
	ep.SocketOptions().SetBroadcast(true)
	// Like a real server, bound to its interface: a broadcast needs one.
	if err := ep.SocketOptions().SetBindToDevice(int32(s.iface("eth0").id)); err != nil {
		t.Fatal(err)
	}
	if err := ep.Bind(tcpip.FullAddress{Port: dhcp.ServerPort}); err != nil {
		t.Fatal(err)
	}
	conn := gonet.NewUDPConn(&wq, ep)
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			req, err := dhcpv4.FromBytes(buf[:n])
			if err != nil {
				continue
			}
			if o.seen != nil {
				select {
				case o.seen <- req:
				default:
				}
			}
			typ := dhcpv4.MessageTypeOffer
			if req.MessageType() == dhcpv4.MessageTypeRequest {
				typ = dhcpv4.MessageTypeAck
				if o.nakRenewal && !req.ClientIPAddr.IsUnspecified() {
					typ = dhcpv4.MessageTypeNak
				}
			}
			server := net.IPv4(10, 9, 0, 1).To4()
			m, err := dhcpv4.NewReplyFromRequest(req,
				dhcpv4.WithMessageType(typ),
				dhcpv4.WithYourIP(net.IPv4(10, 9, 0, 77).To4()),
				dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
				dhcpv4.WithOption(dhcpv4.OptServerIdentifier(server)),
				dhcpv4.WithOption(dhcpv4.OptRouter(server)),
				dhcpv4.WithOption(dhcpv4.OptDNS(net.IPv4(10, 9, 0, 53).To4())),
				dhcpv4.WithOption(dhcpv4.OptDomainName("corp.test")),
				dhcpv4.WithLeaseTime(o.lease),
			)
			if err != nil {
				t.Errorf("reply: %v", err)
				return
			}
			conn.WriteTo(m.ToBytes(), &net.UDPAddr{IP: net.IPv4bcast, Port: dhcp.ClientPort})
		}
	}()
}

// dhcpClient configures a client stack by DHCP from a test server on a
// peer stack, which it returns too.
func dhcpClient(t *testing.T, o dhcpServer) (cli, srv *Stack) {
	t.Helper()
	da, db := nictest.Pair(
		nictest.Config{Name: "a", MAC: nic.MAC{2, 0, 0, 0, 0, 0xa}},
		nictest.Config{Name: "b", MAC: nic.MAC{2, 0, 0, 0, 0, 0xb}},
	)
	srv, err := New(Config{Static: []StaticAddr{{"eth0", netip.MustParsePrefix("10.9.0.1/24")}}, NoDHCP: true}, []nic.Device{db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	serveDHCP(t, srv, o)
	cli, err = New(Config{Hostname: "gosv", DHCPTimeout: 10 * time.Second}, []nic.Device{da})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cli.Close)
	cli.leaseRetry = 100 * time.Millisecond
	if err := cli.RunDHCP(context.Background()); err != nil {
		t.Fatalf("RunDHCP: %v", err)
	}
	return cli, srv
}

// nextRequest waits for the server to see a message of type typ.
func nextRequest(t *testing.T, seen chan *dhcpv4.DHCPv4, typ dhcpv4.MessageType, within time.Duration) *dhcpv4.DHCPv4 {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-seen:
			if m.MessageType() == typ {
				return m
			}
		case <-deadline:
			t.Fatalf("no %s within %v", typ, within)
		}
	}
}

// TestLeaseRenewal: at half the lease the client asks its server to
// extend it, from the leased address, and keeps the address.
func TestLeaseRenewal(t *testing.T) {
	seen := make(chan *dhcpv4.DHCPv4, 64)
	cli, _ := dhcpClient(t, dhcpServer{lease: 2, seen: seen})
	first, _ := cli.Lease("eth0")
	nextRequest(t, seen, dhcpv4.MessageTypeRequest, time.Second) // the initial one
	start := time.Now()
	m := nextRequest(t, seen, dhcpv4.MessageTypeRequest, 3*time.Second)
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("renewed after %v, want about half the 2 s lease", d)
	}
	if !m.ClientIPAddr.Equal(net.IPv4(10, 9, 0, 77)) || m.ServerIdentifier() != nil || m.RequestedIPAddress() != nil {
		t.Errorf("renewal: ciaddr %v, server id %v, requested %v; want the leased address and neither option",
			m.ClientIPAddr, m.ServerIdentifier(), m.RequestedIPAddress())
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		l, ok := cli.Lease("eth0")
		if ok && l != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lease was not replaced by the renewed one")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !slices.Contains(cli.Interfaces()[1].Addresses, netip.MustParsePrefix("10.9.0.77/24")) {
		t.Errorf("after renewal eth0 has %v", cli.Interfaces()[1].Addresses)
	}
}

// TestLeaseNAKStartsOver: a refused renewal drops the address and the
// client starts again with DISCOVER.
func TestLeaseNAKStartsOver(t *testing.T) {
	seen := make(chan *dhcpv4.DHCPv4, 64)
	dhcpClient(t, dhcpServer{lease: 2, nakRenewal: true, seen: seen})
	nextRequest(t, seen, dhcpv4.MessageTypeRequest, time.Second)
	renewal := nextRequest(t, seen, dhcpv4.MessageTypeRequest, 3*time.Second)
	if renewal.ClientIPAddr.IsUnspecified() {
		t.Fatal("second REQUEST is not a renewal")
	}
	nextRequest(t, seen, dhcpv4.MessageTypeDiscover, 3*time.Second)
}
