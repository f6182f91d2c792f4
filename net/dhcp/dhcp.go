// Package dhcp is a DHCPv4 client (RFC 2131) that runs over a gVisor
// netstack NIC: DISCOVER, OFFER, REQUEST, ACK, each send retried with a
// timeout. Messages are built and parsed by insomniacslk/dhcp's dhcpv4
// package; this package does the exchange and turns a reply into a
// validated Lease.
//
// Before it has an address the client sends from 0.0.0.0:68 to
// 255.255.255.255:67 with the BROADCAST flag set, so that servers and
// relays answer by broadcast too (a unicast to an address the NIC does
// not have yet would be dropped). gVisor only routes a packet from a NIC
// with an IPv4 address, so Acquire adds 0.0.0.0/32 to the NIC for the
// exchange and removes it afterwards; the caller adds the leased address.
//
// Renew extends a lease (RENEWING, unicast to the server that gave it,
// and REBINDING, broadcast to any server: RFC 2131 4.4.5); when to call
// it is the caller's business (net/stack does at T1 and T2).
package dhcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// Ports of RFC 2131 section 4.1.
const (
	ClientPort = 68
	ServerPort = 67
)

// Defaults for Client fields left zero.
const (
	DefaultTimeout = 2 * time.Second
	DefaultRetries = 3
	// defaultLease is used when an ACK has no lease time (RFC 2131
	// requires one; some servers omit it).
	defaultLease = time.Hour
)

// Errors Acquire returns (wrapped; test with errors.Is).
var (
	// ErrNoOffer: no valid OFFER arrived after all retries.
	ErrNoOffer = errors.New("dhcp: no offer")
	// ErrNoAck: the server sent no ACK or NAK after all retries.
	ErrNoAck = errors.New("dhcp: no answer to request")
	// ErrNAK: the server refused the request.
	ErrNAK = errors.New("dhcp: server sent NAK")
)

// Lease is a validated DHCP lease.
type Lease struct {
	// Address is the leased address with the subnet's prefix length.
	Address netip.Prefix
	// Router is the first valid router, if any.
	Router netip.Addr
	// DNS lists the name servers.
	DNS []netip.Addr
	// Domain is the domain name; Search the domain search list.
	Domain string
	Search []string
	// Server is the DHCP server's identifier.
	Server netip.Addr
	// Duration is the lease time.
	Duration time.Duration
}

// Client acquires a lease on one NIC.
type Client struct {
	Stack *stack.Stack
	NIC   tcpip.NICID
	// Hostname is sent in option 12 if set.
	Hostname string
	// Timeout is how long each send waits for its answer.
	Timeout time.Duration
	// Retries is how many times each message is sent.
	Retries int
}

// Acquire runs DISCOVER/OFFER/REQUEST/ACK and returns the lease.
func (c *Client) Acquire(ctx context.Context) (*Lease, error) {
	mac, conn, cleanup, err := c.open(ctx, true)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	mods := c.modifiers(true)
	discover, err := dhcpv4.NewDiscovery(mac, mods...)
	if err != nil {
		return nil, fmt.Errorf("dhcp: building DISCOVER: %w", err)
	}
	offer, _, err := c.exchange(ctx, conn, discover, broadcast, func(m *dhcpv4.DHCPv4) bool {
		if m.MessageType() != dhcpv4.MessageTypeOffer {
			return false
		}
		_, err := ParseLease(m)
		return err == nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoOffer, err)
	}
	request, err := dhcpv4.NewRequestFromOffer(offer, mods...)
	if err != nil {
		return nil, fmt.Errorf("dhcp: building REQUEST: %w", err)
	}
	return c.requestLease(ctx, conn, request, broadcast)
}

var broadcast = &net.UDPAddr{IP: net.IPv4bcast, Port: ServerPort}

// modifiers are the options every message carries.
func (c *Client) modifiers(broadcastReplies bool) []dhcpv4.Modifier {
	mods := []dhcpv4.Modifier{dhcpv4.WithBroadcast(broadcastReplies), dhcpv4.WithRequestedOptions(
		dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
		dhcpv4.OptionDomainName, dhcpv4.OptionDNSDomainSearchList, dhcpv4.OptionIPAddressLeaseTime)}
	if c.Hostname != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptHostName(c.Hostname)))
	}
	return mods
}

// requestLease sends a REQUEST to dst and turns its ACK into a lease.
func (c *Client) requestLease(ctx context.Context, conn *gonet.UDPConn, request *dhcpv4.DHCPv4, dst *net.UDPAddr) (*Lease, error) {
	var lease *Lease
	reply, _, err := c.exchange(ctx, conn, request, dst, func(m *dhcpv4.DHCPv4) bool {
		switch m.MessageType() {
		case dhcpv4.MessageTypeNak:
			return true
		case dhcpv4.MessageTypeAck:
			l, err := ParseLease(m)
			lease = l
			return err == nil
		}
		return false
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoAck, err)
	}
	if reply.MessageType() == dhcpv4.MessageTypeNak {
		return nil, fmt.Errorf("%w: %q", ErrNAK, reply.Message())
	}
	return lease, nil
}

// Renew asks to extend lease l, which the NIC holds (RFC 2131 4.3.2):
// a REQUEST with l's address as ciaddr and neither server identifier
// nor requested address, unicast to l.Server when renewing, broadcast
// when rebind is set (the server did not answer until T2). ErrNAK means
// the address must be given up.
func (c *Client) Renew(ctx context.Context, l *Lease, rebind bool) (*Lease, error) {
	mac, conn, cleanup, err := c.open(ctx, false)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	mods := append(c.modifiers(false), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithHwAddr(mac), dhcpv4.WithClientIP(net.IP(l.Address.Addr().AsSlice())))
	request, err := dhcpv4.New(mods...)
	if err != nil {
		return nil, fmt.Errorf("dhcp: building REQUEST: %w", err)
	}
	dst := broadcast
	if !rebind && l.Server.IsValid() {
		dst = &net.UDPAddr{IP: net.IP(l.Server.AsSlice()), Port: ServerPort}
	}
	return c.requestLease(ctx, conn, request, dst)
}

// open returns the NIC's MAC address and a broadcast UDP endpoint bound
// to port 68 on the NIC, whose reads end with ctx, first adding 0.0.0.0
// to the NIC when withAny is set (it has no address yet).
func (c *Client) open(ctx context.Context, withAny bool) (net.HardwareAddr, *gonet.UDPConn, func(), error) {
	mac := net.HardwareAddr(c.Stack.NICInfo()[c.NIC].LinkAddress)
	if len(mac) != 6 {
		return nil, nil, nil, fmt.Errorf("dhcp: NIC %d has no Ethernet address", c.NIC)
	}
	removeAny := func() {}
	if withAny {
		any := tcpip.ProtocolAddress{
			Protocol:          ipv4.ProtocolNumber,
			AddressWithPrefix: tcpip.AddressWithPrefix{Address: header.IPv4Any, PrefixLen: 32},
		}
		if err := c.Stack.AddProtocolAddress(c.NIC, any, stack.AddressProperties{}); err != nil {
			return nil, nil, nil, fmt.Errorf("dhcp: adding 0.0.0.0 to NIC %d: %s", c.NIC, err)
		}
		removeAny = func() { c.Stack.RemoveAddress(c.NIC, header.IPv4Any) }
	}
	var wq waiter.Queue
	ep, terr := c.Stack.NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		removeAny()
		return nil, nil, nil, fmt.Errorf("dhcp: UDP endpoint: %s", terr)
	}
	ep.SocketOptions().SetBroadcast(true)
	if err := ep.SocketOptions().SetBindToDevice(int32(c.NIC)); err != nil {
		ep.Close()
		removeAny()
		return nil, nil, nil, fmt.Errorf("dhcp: binding to NIC %d: %s", c.NIC, err)
	}
	if err := ep.Bind(tcpip.FullAddress{NIC: c.NIC, Port: ClientPort}); err != nil {
		ep.Close()
		removeAny()
		return nil, nil, nil, fmt.Errorf("dhcp: binding port %d: %s", ClientPort, err)
	}
	conn := gonet.NewUDPConn(&wq, ep)
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	return mac, conn, func() { stop(); conn.Close(); removeAny() }, nil
}

// exchange sends msg up to Retries times and returns the first reply with
// msg's transaction ID that accept takes.
func (c *Client) exchange(ctx context.Context, conn *gonet.UDPConn, msg *dhcpv4.DHCPv4, dst *net.UDPAddr, accept func(*dhcpv4.DHCPv4) bool) (*dhcpv4.DHCPv4, int, error) {
	timeout, retries := c.Timeout, c.Retries
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if retries <= 0 {
		retries = DefaultRetries
	}
	buf := make([]byte, 1500)
	ignored := 0
	for try := 0; try < retries; try++ {
		if _, err := conn.WriteTo(msg.ToBytes(), dst); err != nil {
			return nil, ignored, fmt.Errorf("sending %s: %w", msg.MessageType(), err)
		}
		conn.SetReadDeadline(time.Now().Add(timeout))
		for {
			if err := ctx.Err(); err != nil {
				return nil, ignored, err
			}
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
					break // next try
				}
				return nil, ignored, err
			}
			reply, err := dhcpv4.FromBytes(buf[:n])
			if err != nil || reply.OpCode != dhcpv4.OpcodeBootReply || reply.TransactionID != msg.TransactionID ||
				string(reply.ClientHWAddr) != string(msg.ClientHWAddr) || !accept(reply) {
				ignored++
				continue
			}
			return reply, ignored, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, ignored, err
	}
	return nil, ignored, fmt.Errorf("%d tries of %v, %d unusable replies", retries, timeout, ignored)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ParseLease validates an OFFER or ACK and extracts the lease: the
// offered address must be a unicast IPv4 address, the subnet mask (if
// given) contiguous and the server identifier present. Routers and name
// servers that are not unicast IPv4 addresses are skipped.
func ParseLease(m *dhcpv4.DHCPv4) (*Lease, error) {
	addr, ok := unicast4(m.YourIPAddr)
	if !ok {
		return nil, fmt.Errorf("dhcp: offered address %v is not a unicast IPv4 address", m.YourIPAddr)
	}
	bits := 0
	if mask := m.SubnetMask(); mask != nil {
		ones, size := mask.Size()
		if size != 32 || ones == 0 {
			return nil, fmt.Errorf("dhcp: bad subnet mask %v", net.IP(mask))
		}
		bits = ones
	} else {
		// No option 1: the classful mask, as RFC 2131 section 4.3.1 leaves
		// it to the client.
		bits, _ = net.IP(m.YourIPAddr).DefaultMask().Size()
	}
	server, ok := unicast4(m.ServerIdentifier())
	if !ok {
		return nil, fmt.Errorf("dhcp: reply has no valid server identifier")
	}
	l := &Lease{
		Address:  netip.PrefixFrom(addr, bits),
		Server:   server,
		Domain:   m.DomainName(),
		Duration: m.IPAddressLeaseTime(defaultLease),
	}
	for _, r := range m.Router() {
		if a, ok := unicast4(r); ok {
			l.Router = a
			break
		}
	}
	for _, d := range m.DNS() {
		if a, ok := unicast4(d); ok {
			l.DNS = append(l.DNS, a)
		}
	}
	if s := m.DomainSearch(); s != nil {
		l.Search = s.Labels
	}
	return l, nil
}

// unicast4 converts ip if it is a usable unicast IPv4 address.
func unicast4(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}, false
	}
	a = a.Unmap()
	if !a.Is4() || a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return netip.Addr{}, false
	}
	return a, true
}
