package stack

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"gosv/net/link"
)

// Config is the network configuration the integrator fills in, usually
// from the kernel command line (see ParseCmdline).
type Config struct {
	// Static addresses by interface; interfaces without one use DHCP
	// unless NoDHCP is set.
	Static []StaticAddr
	// Gateway is the default gateway for statically configured
	// interfaces (IPv4 or IPv6; invalid for none).
	Gateway netip.Addr
	// Nameservers go first in resolv.conf, before DHCP's.
	Nameservers []netip.Addr
	// NoDHCP leaves interfaces without a static address unconfigured
	// (IPv6 link-local and SLAAC still run).
	NoDHCP bool
	// Hostname is sent to the DHCP server.
	Hostname string
	// DHCPTimeout bounds RunDHCP (0: 30 seconds).
	DHCPTimeout time.Duration
	// Link tunes every NIC's link endpoint.
	Link link.Options
}

// StaticAddr is one statically assigned address.
type StaticAddr struct {
	Interface string // "eth0"
	Address   netip.Prefix
}

// ParseCmdline builds a Config from OSv-style option values: ip is
// "IFACE,ADDR,NETMASK" (--ip=eth0,192.168.122.10,255.255.255.0; the
// netmask may also be a prefix length such as 24), gateway is an address
// (--defaultgw) and nameservers are addresses (--nameserver, repeated).
// Empty strings mean "not given".
func ParseCmdline(ip, gateway string, nameservers []string) (Config, error) {
	var c Config
	if ip != "" {
		parts := strings.Split(ip, ",")
		if len(parts) != 3 {
			return c, fmt.Errorf("--ip wants IFACE,ADDR,NETMASK, got %q", ip)
		}
		name := parts[0]
		if !validIfName(name) {
			return c, fmt.Errorf("--ip: bad interface name %q (want eth0, eth1, ...)", name)
		}
		addr, err := netip.ParseAddr(parts[1])
		if err != nil || !addr.Is4() {
			return c, fmt.Errorf("--ip: bad IPv4 address %q", parts[1])
		}
		bits, err := maskBits(parts[2])
		if err != nil {
			return c, fmt.Errorf("--ip: %v", err)
		}
		c.Static = append(c.Static, StaticAddr{Interface: name, Address: netip.PrefixFrom(addr, bits)})
	}
	if gateway != "" {
		gw, err := netip.ParseAddr(gateway)
		if err != nil || gw.IsUnspecified() || gw.IsMulticast() {
			return c, fmt.Errorf("--defaultgw: bad address %q", gateway)
		}
		c.Gateway = gw
	}
	for _, ns := range nameservers {
		a, err := netip.ParseAddr(ns)
		if err != nil || a.IsUnspecified() || a.IsMulticast() {
			return c, fmt.Errorf("--nameserver: bad address %q", ns)
		}
		c.Nameservers = append(c.Nameservers, a)
	}
	return c, nil
}

// maskBits accepts a dotted netmask (contiguous) or a prefix length.
func maskBits(s string) (int, error) {
	if m, err := netip.ParseAddr(s); err == nil && m.Is4() {
		b := m.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		ones := 0
		for v&(1<<31) != 0 {
			ones++
			v <<= 1
		}
		if v != 0 {
			return 0, fmt.Errorf("netmask %q is not contiguous", s)
		}
		return ones, nil
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s || n < 0 || n > 32 {
		return 0, fmt.Errorf("bad netmask %q (want 255.255.255.0 or 24)", s)
	}
	return n, nil
}

func validIfName(name string) bool {
	rest, ok := strings.CutPrefix(name, "eth")
	if !ok || rest == "" || len(rest) > 3 {
		return false
	}
	for _, r := range rest {
		if r < '0' || r > '9' {
			return false
		}
	}
	return rest == "0" || rest[0] != '0'
}
