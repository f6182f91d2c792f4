// Package stack builds gosv's TCP/IP stack: a gVisor netstack with IPv4,
// IPv6 (link-local addresses and SLAAC), ARP, TCP, UDP and ICMP, a
// loopback interface "lo" (127.0.0.1/8, ::1) and one interface per
// network device, named eth0, eth1, ... in the order given. Each device is
// joined to the stack by net/link. Addresses come from a static Config
// (the kernel command line) or from DHCPv4 (net/dhcp, RunDHCP).
//
// The package also answers the questions the rest of the system asks of
// the network: ResolvConf for /etc/resolv.conf, and Interfaces and Routes
// for the REST API.
package stack

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"gosv/drivers/nic"
	"gosv/net/dhcp"
	"gosv/net/link"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	tcpipstack "gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/raw"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// TCP buffer sizes: auto-tuning (moderate receive buffer) grows a
// connection's buffers from Default towards Max as its bandwidth-delay
// product needs; 4 MiB covers a 10 Gbit/s link at 3 ms RTT, and small
// defaults keep thousands of idle HTTP connections cheap.
const (
	tcpBufMin     = 4 << 10
	tcpBufDefault = 128 << 10
	tcpBufMax     = 4 << 20
)

const (
	loopbackID      tcpip.NICID = 1
	defaultDHCPWait             = 30 * time.Second
)

// Stack is the configured network stack.
type Stack struct {
	s      *tcpipstack.Stack
	cfg    Config
	ifaces []*iface // eth0, eth1, ...

	mu     sync.Mutex
	dns    []netip.Addr // from DHCP
	search []string
	leases map[string]*dhcp.Lease

	// life ends with Close: it stops lease maintenance.
	life context.Context
	end  context.CancelFunc
	// leaseRetry is the shortest wait between renewal attempts (RFC
	// 2131 4.4.5 says 60 s; tests shorten it).
	leaseRetry time.Duration
}

type iface struct {
	id     tcpip.NICID
	name   string
	ep     *link.Endpoint
	static bool
}

// New builds the stack over devs and applies the static part of cfg.
func New(cfg Config, devs []nic.Device) (*Stack, error) {
	s := tcpipstack.New(tcpipstack.Options{
		NetworkProtocols: []tcpipstack.NetworkProtocolFactory{
			ipv4.NewProtocol,
			ipv6.NewProtocolWithOptions(ipv6.Options{
				NDPConfigs:       ipv6.DefaultNDPConfigurations(),
				AutoGenLinkLocal: true,
			}),
			arp.NewProtocol,
		},
		TransportProtocols: []tcpipstack.TransportProtocolFactory{
			tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6,
		},
		// Raw IP and packet sockets for the application (ping,
		// ListenIP): it is the machine's only program.
		RawFactory:  raw.EndpointFactory{},
		HandleLocal: true,
		Clock:       newMonoClock(),
	})
	st := &Stack{s: s, cfg: cfg, leases: map[string]*dhcp.Lease{}, leaseRetry: 60 * time.Second}
	st.life, st.end = context.WithCancel(context.Background())
	if err := st.setTCPOptions(); err != nil {
		s.Destroy()
		return nil, err
	}
	if err := st.addLoopback(); err != nil {
		s.Destroy()
		return nil, err
	}
	for i, dev := range devs {
		ifc := &iface{id: loopbackID + 1 + tcpip.NICID(i), name: fmt.Sprintf("eth%d", i), ep: link.New(dev, cfg.Link)}
		if err := s.CreateNICWithOptions(ifc.id, ifc.ep, tcpipstack.NICOptions{Name: ifc.name}); err != nil {
			st.Close()
			return nil, fmt.Errorf("net: creating %s (%s): %s", ifc.name, dev.Name(), err)
		}
		st.ifaces = append(st.ifaces, ifc)
		// IPv6 link-local traffic stays on its link.
		s.AddRoute(tcpip.Route{Destination: mustSubnet(netip.MustParsePrefix("fe80::/64")), NIC: ifc.id})
	}
	if err := st.applyStatic(); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func (st *Stack) setTCPOptions() error {
	sack := tcpip.TCPSACKEnabled(true)
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: tcpBufMin, Default: tcpBufDefault, Max: tcpBufMax}
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: tcpBufMin, Default: tcpBufDefault, Max: tcpBufMax}
	for _, opt := range []tcpip.SettableTransportProtocolOption{&sack, &moderate, &rcv, &snd} {
		if err := st.s.SetTransportProtocolOption(tcp.ProtocolNumber, opt); err != nil {
			return fmt.Errorf("net: TCP option %T: %s", opt, err)
		}
	}
	return nil
}

func (st *Stack) addLoopback() error {
	if err := st.s.CreateNICWithOptions(loopbackID, loopback.New(), tcpipstack.NICOptions{Name: "lo"}); err != nil {
		return fmt.Errorf("net: creating lo: %s", err)
	}
	for _, p := range []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")} {
		if err := st.addAddress(loopbackID, p); err != nil {
			return err
		}
	}
	return nil
}

func (st *Stack) applyStatic() error {
	for _, sa := range st.cfg.Static {
		ifc := st.iface(sa.Interface)
		if ifc == nil {
			return fmt.Errorf("net: static address for %s, which does not exist (%d devices)", sa.Interface, len(st.ifaces))
		}
		if err := st.addAddress(ifc.id, sa.Address); err != nil {
			return err
		}
		ifc.static = true
	}
	if gw := st.cfg.Gateway; gw.IsValid() {
		id, ok := st.onLink(gw)
		if !ok {
			return fmt.Errorf("net: default gateway %v is on no interface's subnet", gw)
		}
		st.addDefaultRoute(gw, id)
	}
	return nil
}

// addAddress assigns p to NIC id and routes its subnet there.
func (st *Stack) addAddress(id tcpip.NICID, p netip.Prefix) error {
	proto := ipv4.ProtocolNumber
	if p.Addr().Is6() {
		proto = ipv6.ProtocolNumber
	}
	pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddressWithPrefix{
		Address: tcpip.AddrFromSlice(p.Addr().AsSlice()), PrefixLen: p.Bits()}}
	if err := st.s.AddProtocolAddress(id, pa, tcpipstack.AddressProperties{}); err != nil {
		return fmt.Errorf("net: adding %v: %s", p, err)
	}
	st.s.AddRoute(tcpip.Route{Destination: mustSubnet(p.Masked()), NIC: id})
	return nil
}

func (st *Stack) addDefaultRoute(gw netip.Addr, id tcpip.NICID) {
	dst := header.IPv4EmptySubnet
	if gw.Is6() {
		dst = header.IPv6EmptySubnet
	}
	st.s.AddRoute(tcpip.Route{Destination: dst, Gateway: tcpip.AddrFromSlice(gw.AsSlice()), NIC: id})
}

// onLink finds the interface whose subnet holds a.
func (st *Stack) onLink(a netip.Addr) (tcpip.NICID, bool) {
	for _, r := range st.s.GetRouteTable() {
		if r.NIC != loopbackID && r.Gateway.BitLen() == 0 && r.Destination.Prefix() > 0 &&
			r.Destination.Contains(tcpip.AddrFromSlice(a.AsSlice())) {
			return r.NIC, true
		}
	}
	return 0, false
}

func (st *Stack) iface(name string) *iface {
	for _, ifc := range st.ifaces {
		if ifc.name == name {
			return ifc
		}
	}
	return nil
}

// RunDHCP acquires a lease for every interface without a static address
// and applies it (address, subnet route, default route, name servers),
// trying the interfaces one after another. It returns when all are done
// or the time runs out (Config.DHCPTimeout), with an error naming every
// interface that got no lease; interfaces that did are configured either
// way. It does nothing under Config.NoDHCP.
func (st *Stack) RunDHCP(ctx context.Context) error {
	if st.cfg.NoDHCP {
		return nil
	}
	wait := st.cfg.DHCPTimeout
	if wait <= 0 {
		wait = defaultDHCPWait
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var failed []string
	for _, ifc := range st.ifaces {
		if ifc.static {
			continue
		}
		c := &dhcp.Client{Stack: st.s, NIC: ifc.id, Hostname: st.cfg.Hostname}
		lease, err := c.Acquire(ctx)
		if err == nil {
			err = st.applyLease(ifc, lease)
		}
		if err == nil {
			go st.keepLease(c, ifc, lease, time.Now())
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", ifc.name, err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("net: DHCP failed on %s", strings.Join(failed, "; "))
	}
	return nil
}

// keepLease renews ifc's lease, obtained at got, for as long as the
// stack lives (RFC 2131 4.4.5): from T1 (half the lease) by unicast to
// its server, from T2 (7/8) by broadcast to any; a NAK or the lease's
// end drops the address and starts over with DISCOVER.
func (st *Stack) keepLease(c *dhcp.Client, ifc *iface, l *dhcp.Lease, got time.Time) {
	for {
		t1, t2, end := got.Add(l.Duration/2), got.Add(l.Duration*7/8), got.Add(l.Duration)
		if !st.sleepUntil(t1) {
			return
		}
		var renewed *dhcp.Lease
		var err error
		for time.Now().Before(end) {
			ctx, cancel := context.WithDeadline(st.life, end)
			renewed, err = c.Renew(ctx, l, !time.Now().Before(t2))
			cancel()
			if err == nil || errors.Is(err, dhcp.ErrNAK) || st.life.Err() != nil {
				break
			}
			// Half the time left to T2 (or to the end), at least
			// leaseRetry.
			next := t2
			if !time.Now().Before(t2) {
				next = end
			}
			if !st.sleepUntil(time.Now().Add(max(time.Until(next)/2, st.leaseRetry))) {
				return
			}
		}
		if st.life.Err() != nil {
			return
		}
		if err == nil && renewed.Address == l.Address {
			st.mu.Lock()
			st.leases[ifc.name] = renewed
			st.mu.Unlock()
			l, got = renewed, time.Now()
			continue
		}
		// Refused, expired, or a different address: start over.
		st.s.RemoveAddress(ifc.id, tcpip.AddrFromSlice(l.Address.Addr().AsSlice()))
		st.mu.Lock()
		delete(st.leases, ifc.name)
		st.mu.Unlock()
		for {
			ctx, cancel := context.WithTimeout(st.life, defaultDHCPWait)
			nl, err := c.Acquire(ctx)
			cancel()
			if err == nil && st.applyLease(ifc, nl) == nil {
				l, got = nl, time.Now()
				break
			}
			if !st.sleepUntil(time.Now().Add(st.leaseRetry)) {
				return
			}
		}
	}
}

// sleepUntil waits until t, or reports false if the stack closed first.
func (st *Stack) sleepUntil(t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-st.life.Done():
		return false
	}
}

func (st *Stack) applyLease(ifc *iface, l *dhcp.Lease) error {
	if err := st.addAddress(ifc.id, l.Address); err != nil {
		return err
	}
	if l.Router.IsValid() && !st.cfg.Gateway.Is4() {
		st.addDefaultRoute(l.Router, ifc.id)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.leases[ifc.name] = l
	for _, a := range l.DNS {
		if !slices.Contains(st.dns, a) {
			st.dns = append(st.dns, a)
		}
	}
	for _, d := range append(l.Search, l.Domain) {
		if d != "" && !slices.Contains(st.search, d) {
			st.search = append(st.search, d)
		}
	}
	return nil
}

// Lease returns the DHCP lease of an interface, if it has one.
func (st *Stack) Lease(name string) (*dhcp.Lease, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	l, ok := st.leases[name]
	return l, ok
}

// Netstack returns the gVisor stack, for the socket layer.
func (st *Stack) Netstack() *tcpipstack.Stack { return st.s }

// Close removes the interfaces (stopping their devices) and the stack's
// goroutines.
func (st *Stack) Close() {
	st.end()
	for _, ifc := range st.ifaces {
		st.s.RemoveNIC(ifc.id)
	}
	st.s.RemoveNIC(loopbackID)
	st.s.Destroy()
	for _, ifc := range st.ifaces {
		ifc.ep.Wait()
	}
}

// ResolvConf returns /etc/resolv.conf: the static name servers, then
// DHCP's, then the DHCP search domains.
func (st *Stack) ResolvConf() []byte {
	var b strings.Builder
	b.WriteString("# generated by gosv from the kernel command line and DHCP\n")
	st.mu.Lock()
	defer st.mu.Unlock()
	seen := map[netip.Addr]bool{}
	for _, a := range append(slices.Clip(st.cfg.Nameservers), st.dns...) {
		if !seen[a] {
			seen[a] = true
			fmt.Fprintf(&b, "nameserver %s\n", a)
		}
	}
	if len(st.search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(st.search, " "))
	}
	return []byte(b.String())
}

// Interface describes one interface for reporting.
type Interface struct {
	Name                                   string
	MAC                                    string // "" for lo
	MTU                                    uint32
	Up                                     bool
	Loopback                               bool
	Addresses                              []netip.Prefix
	RxPackets, RxBytes, TxPackets, TxBytes uint64
	// Dropped counts frames the link layer dropped (queue full, device
	// queue full).
	RxDropped, TxDropped uint64
}

// Interfaces reports lo, eth0, eth1, ... with addresses and counters.
func (st *Stack) Interfaces() []Interface {
	infos := st.s.NICInfo()
	var out []Interface
	ids := []tcpip.NICID{loopbackID}
	for _, ifc := range st.ifaces {
		ids = append(ids, ifc.id)
	}
	for _, id := range ids {
		info, ok := infos[id]
		if !ok {
			continue
		}
		it := Interface{
			Name:      info.Name,
			MTU:       info.MTU,
			Up:        info.Flags.Up,
			Loopback:  info.Flags.Loopback,
			RxPackets: info.Stats.Rx.Packets.Value(),
			RxBytes:   info.Stats.Rx.Bytes.Value(),
			TxPackets: info.Stats.Tx.Packets.Value(),
			TxBytes:   info.Stats.Tx.Bytes.Value(),
		}
		if len(info.LinkAddress) == 6 {
			it.MAC = info.LinkAddress.String()
		}
		for _, pa := range info.ProtocolAddresses {
			if a, ok := netip.AddrFromSlice(pa.AddressWithPrefix.Address.AsSlice()); ok && !a.IsUnspecified() {
				it.Addresses = append(it.Addresses, netip.PrefixFrom(a, pa.AddressWithPrefix.PrefixLen))
			}
		}
		slices.SortFunc(it.Addresses, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
		if id != loopbackID {
			ls := st.ifaces[id-loopbackID-1].ep.Stats()
			it.RxDropped = ls.RxQueueFull + ls.RxNotAttached + ls.RxMalformed + ls.RxBadChecksum
			it.TxDropped = ls.TxDropped
		}
		out = append(out, it)
	}
	return out
}

// Route is one routing table entry for reporting.
type Route struct {
	Destination netip.Prefix
	Gateway     netip.Addr // invalid when on-link
	Interface   string
}

// Routes reports the routing table, most specific first.
func (st *Stack) Routes() []Route {
	infos := st.s.NICInfo()
	var out []Route
	for _, r := range st.s.GetRouteTable() {
		id := r.Destination.ID()
		a, _ := netip.AddrFromSlice(id.AsSlice())
		rt := Route{Destination: netip.PrefixFrom(a, r.Destination.Prefix()), Interface: infos[r.NIC].Name}
		if r.Gateway.BitLen() != 0 {
			rt.Gateway, _ = netip.AddrFromSlice(r.Gateway.AsSlice())
		}
		out = append(out, rt)
	}
	return out
}

// mustSubnet converts a masked prefix; the callers' prefixes come from
// netip, so they are always valid.
func mustSubnet(p netip.Prefix) tcpip.Subnet {
	p = p.Masked()
	a := p.Addr()
	mask := make([]byte, a.BitLen()/8)
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	s, err := tcpip.NewSubnet(tcpip.AddrFromSlice(a.AsSlice()), tcpip.MaskFromBytes(mask))
	if err != nil {
		panic(fmt.Sprintf("subnet %v: %v", p, err))
	}
	return s
}
