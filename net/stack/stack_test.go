package stack

import (
	"context"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"gosv/drivers/nic"
	"gosv/net/internal/nictest"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		name, ip, gw string
		ns           []string
		want         Config
		wantErr      string
	}{
		{name: "empty"},
		{name: "OSv style", ip: "eth0,192.168.122.10,255.255.255.0", gw: "192.168.122.1", ns: []string{"8.8.8.8", "2001:4860:4860::8888"},
			want: Config{
				Static:      []StaticAddr{{"eth0", netip.MustParsePrefix("192.168.122.10/24")}},
				Gateway:     netip.MustParseAddr("192.168.122.1"),
				Nameservers: []netip.Addr{netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2001:4860:4860::8888")},
			}},
		{name: "prefix length", ip: "eth1,10.0.0.5,8", want: Config{Static: []StaticAddr{{"eth1", netip.MustParsePrefix("10.0.0.5/8")}}}},
		{name: "two fields", ip: "eth0,10.0.0.5", wantErr: "IFACE,ADDR,NETMASK"},
		{name: "bad iface", ip: "wlan0,10.0.0.5,24", wantErr: "interface name"},
		{name: "eth01", ip: "eth01,10.0.0.5,24", wantErr: "interface name"},
		{name: "bad addr", ip: "eth0,10.0.0.500,24", wantErr: "IPv4 address"},
		{name: "v6 addr", ip: "eth0,fd00::1,64", wantErr: "IPv4 address"},
		{name: "holey mask", ip: "eth0,10.0.0.5,255.0.255.0", wantErr: "not contiguous"},
		{name: "mask 33", ip: "eth0,10.0.0.5,33", wantErr: "bad netmask"},
		{name: "mask +1", ip: "eth0,10.0.0.5,+1", wantErr: "bad netmask"},
		{name: "bad gw", gw: "gateway", wantErr: "--defaultgw"},
		{name: "zero gw", gw: "0.0.0.0", wantErr: "--defaultgw"},
		{name: "bad ns", ns: []string{"8.8.8"}, wantErr: "--nameserver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCmdline(tt.ip, tt.gw, tt.ns)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !slices.Equal(got.Static, tt.want.Static) || got.Gateway != tt.want.Gateway || !slices.Equal(got.Nameservers, tt.want.Nameservers) {
				t.Errorf("config (-want +got):\n- %+v\n+ %+v", tt.want, got)
			}
		})
	}
}

func FuzzParseCmdline(f *testing.F) {
	f.Add("eth0,192.168.122.10,255.255.255.0", "192.168.122.1", "8.8.8.8")
	f.Add("eth0,,", "", "")
	f.Add("eth9,1.2.3.4,0", "::1", "fe80::1%eth0")
	f.Fuzz(func(t *testing.T, ip, gw, ns string) {
		c, err := ParseCmdline(ip, gw, []string{ns})
		if err != nil {
			return
		}
		for _, s := range c.Static {
			if !s.Address.IsValid() || !s.Address.Addr().Is4() || !validIfName(s.Interface) {
				t.Fatalf("accepted bad static address %+v", s)
			}
		}
	})
}

// pair returns two stacks joined back to back, configured statically.
func pair(t *testing.T, feat nic.Features, ca, cb Config) (*Stack, *Stack) {
	t.Helper()
	da, db := nictest.Pair(
		nictest.Config{Name: "a", MAC: nic.MAC{2, 0, 0, 0, 0, 0xa}, Features: feat},
		nictest.Config{Name: "b", MAC: nic.MAC{2, 0, 0, 0, 0, 0xb}, Features: feat},
	)
	var stacks []*Stack
	for _, c := range []struct {
		cfg Config
		dev nic.Device
	}{{ca, da}, {cb, db}} {
		c.cfg.NoDHCP = true
		c.cfg.Link.QueueLen = 1024
		s, err := New(c.cfg, []nic.Device{c.dev})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		t.Cleanup(s.Close)
		stacks = append(stacks, s)
	}
	return stacks[0], stacks[1]
}

func static(addr string) Config {
	return Config{Static: []StaticAddr{{"eth0", netip.MustParsePrefix(addr)}}}
}

// roundTrip sends a message from client to a server at addr:port and
// reads the echo.
func roundTrip(t *testing.T, server, client *Stack, addr netip.Addr) {
	t.Helper()
	proto := ipv4.ProtocolNumber
	if addr.Is6() {
		proto = ipv6.ProtocolNumber
	}
	full := tcpip.FullAddress{Addr: tcpip.AddrFromSlice(addr.AsSlice()), Port: 8080}
	l, err := gonet.ListenTCP(server.Netstack(), full, proto)
	if err != nil {
		t.Fatalf("ListenTCP: %v", err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := gonet.DialContextTCP(ctx, client.Netstack(), full, proto)
	if err != nil {
		t.Fatalf("dial %v: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := strings.Repeat("GET / HTTP/1.1\r\n", 1000)
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo read %d bytes, err %v; want the %d bytes sent", len(got), err, len(msg))
	}
}

func TestStaticConfigTCP(t *testing.T) {
	for _, feat := range []nic.Features{{}, {TxChecksum: true, TSO4: true, TSO6: true, MaxGSOSize: 65536}} {
		a, b := pair(t, feat, static("10.1.0.1/24"), static("10.1.0.2/24"))
		roundTrip(t, a, b, netip.MustParseAddr("10.1.0.1"))
		roundTrip(t, b, a, netip.MustParseAddr("10.1.0.2"))
	}
}

func TestLoopbackTCP(t *testing.T) {
	a, _ := pair(t, nic.Features{}, static("10.1.0.1/24"), static("10.1.0.2/24"))
	roundTrip(t, a, a, netip.MustParseAddr("127.0.0.1"))
	roundTrip(t, a, a, netip.MustParseAddr("::1"))
	// The stack's own external address is reached without the device.
	roundTrip(t, a, a, netip.MustParseAddr("10.1.0.1"))
}

func TestInterfacesAndRoutes(t *testing.T) {
	ca := static("10.1.0.1/24")
	ca.Gateway = netip.MustParseAddr("10.1.0.254")
	a, b := pair(t, nic.Features{}, ca, static("10.1.0.2/24"))
	roundTrip(t, b, a, netip.MustParseAddr("10.1.0.2"))

	ifs := a.Interfaces()
	if len(ifs) != 2 || ifs[0].Name != "lo" || ifs[1].Name != "eth0" {
		t.Fatalf("interfaces %+v, want lo and eth0", ifs)
	}
	lo, eth := ifs[0], ifs[1]
	if !lo.Loopback || !lo.Up || !slices.Contains(lo.Addresses, netip.MustParsePrefix("127.0.0.1/8")) || !slices.Contains(lo.Addresses, netip.MustParsePrefix("::1/128")) {
		t.Errorf("lo = %+v, want up loopback with 127.0.0.1/8 and ::1/128", lo)
	}
	if eth.MAC != "02:00:00:00:00:0a" || eth.MTU != 1500 || !eth.Up || eth.Loopback {
		t.Errorf("eth0 = %+v, want MAC 02:00:00:00:00:0a, MTU 1500, up", eth)
	}
	if !slices.Contains(eth.Addresses, netip.MustParsePrefix("10.1.0.1/24")) {
		t.Errorf("eth0 addresses %v, want 10.1.0.1/24", eth.Addresses)
	}
	if eth.RxPackets == 0 || eth.TxPackets == 0 || eth.RxBytes < 16000 || eth.TxBytes < 16000 {
		t.Errorf("eth0 counters rx %d/%d tx %d/%d, want the 16 kB echoed each way", eth.RxPackets, eth.RxBytes, eth.TxPackets, eth.TxBytes)
	}

	routes := a.Routes()
	for _, want := range []Route{
		{Destination: netip.MustParsePrefix("10.1.0.0/24"), Interface: "eth0"},
		{Destination: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.1.0.254"), Interface: "eth0"},
		{Destination: netip.MustParsePrefix("127.0.0.0/8"), Interface: "lo"},
		{Destination: netip.MustParsePrefix("::1/128"), Interface: "lo"},
		{Destination: netip.MustParsePrefix("fe80::/64"), Interface: "eth0"},
	} {
		if !slices.Contains(routes, want) {
			t.Errorf("routes %+v lack %+v", routes, want)
		}
	}
}

func TestStaticConfigErrors(t *testing.T) {
	da, _ := nictest.Pair(nictest.Config{Name: "a"}, nictest.Config{Name: "b"})
	for name, cfg := range map[string]Config{
		"missing interface": {Static: []StaticAddr{{"eth1", netip.MustParsePrefix("10.0.0.1/24")}}},
		"gateway off-link":  {Static: []StaticAddr{{"eth0", netip.MustParsePrefix("10.0.0.1/24")}}, Gateway: netip.MustParseAddr("10.9.0.1")},
	} {
		if s, err := New(cfg, []nic.Device{da}); err == nil {
			s.Close()
			t.Errorf("%s: New succeeded, want an error", name)
		}
	}
}

func TestResolvConf(t *testing.T) {
	cfg := Config{Nameservers: []netip.Addr{netip.MustParseAddr("10.0.0.53"), netip.MustParseAddr("2001:db8::53")}, NoDHCP: true}
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer s.Close()
	want := "# generated by gosv from the kernel command line and DHCP\nnameserver 10.0.0.53\nnameserver 2001:db8::53\n"
	if got := string(s.ResolvConf()); got != want {
		t.Errorf("ResolvConf (-want +got):\n-%q\n+%q", want, got)
	}
}

func TestCounters(t *testing.T) {
	st, err := New(Config{NoDHCP: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before := st.Counters()["tcp.activeConnectionOpenings"]
	// A connection attempt to a closed loopback port: one opening, one
	// reset received.
	var wq waiter.Queue
	ep, terr := st.Netstack().NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		t.Fatal(terr)
	}
	defer ep.Close()
	ep.Connect(tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{127, 0, 0, 1}), Port: 9})
	deadline := time.Now().Add(5 * time.Second)
	for st.Counters()["tcp.resetsReceived"] == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	c := st.Counters()
	if got := c["tcp.activeConnectionOpenings"]; got != before+1 {
		t.Errorf("tcp.activeConnectionOpenings = %d, want %d (counters %v)", got, before+1, c)
	}
	if c["tcp.resetsReceived"] == 0 || c["tcp.resetsSent"] == 0 {
		t.Errorf("no reset counted for a connection refused on loopback: %v", c)
	}
}
