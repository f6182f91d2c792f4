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
	da, db := nictest.Pair(
		nictest.Config{Name: "a", MAC: nic.MAC{2, 0, 0, 0, 0, 0xa}},
		nictest.Config{Name: "b", MAC: nic.MAC{2, 0, 0, 0, 0, 0xb}},
	)
	srv, err := New(Config{Static: []StaticAddr{{"eth0", netip.MustParsePrefix("10.9.0.1/24")}}, NoDHCP: true}, []nic.Device{db})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	serveDHCP(t, srv)
	cli, err := New(Config{Hostname: "gosv", DHCPTimeout: 10 * time.Second}, []nic.Device{da})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := cli.RunDHCP(context.Background()); err != nil {
		t.Fatalf("RunDHCP: %v", err)
	}
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

// serveDHCP answers every DISCOVER and REQUEST on s with 10.9.0.77.
func serveDHCP(t *testing.T, s *Stack) {
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
			typ := dhcpv4.MessageTypeOffer
			if req.MessageType() == dhcpv4.MessageTypeRequest {
				typ = dhcpv4.MessageTypeAck
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
				dhcpv4.WithLeaseTime(600),
			)
			if err != nil {
				t.Errorf("reply: %v", err)
				return
			}
			conn.WriteTo(m.ToBytes(), &net.UDPAddr{IP: net.IPv4bcast, Port: dhcp.ClientPort})
		}
	}()
}
