package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"

	"gosv/api"
	"gosv/api/kernelsys"
	"gosv/boot/cmdline"
	"gosv/drivers/nic"
	"gosv/kernel"
	netstack "gosv/net/stack"
)

// apiPort is where the REST API listens, as OSv's does.
const apiPort = 8000

// startNetwork builds the network stack over nics (only loopback when
// there are none), configures it from the command line or by DHCP, and
// starts the REST API on port 8000 when there is a NIC to reach it by.
// fs reports the mounted file systems to the API.
func startNetwork(opts *cmdline.Options, nics []nic.Device, fs func() ([]api.FS, error)) (*netstack.Stack, error) {
	cfg, err := netstack.ParseCmdline(opts.IP, opts.Gateway, opts.Nameservers)
	if err != nil {
		return nil, err
	}
	cfg.Hostname = kernel.Hostname()
	st, err := netstack.New(cfg, nics)
	if err != nil {
		return nil, err
	}
	if len(nics) == 0 {
		return st, nil
	}
	// The API comes up first: it answers on the static address, or on
	// the leased one as soon as DHCP has it. One IPv6 socket serves
	// both families (gVisor's IPv6 endpoints take IPv4 as v4-mapped
	// unless V6Only is set).
	l, err := gonet.ListenTCP(st.Netstack(), tcpip.FullAddress{Port: apiPort}, ipv6.ProtocolNumber)
	if err != nil {
		return nil, fmt.Errorf("REST API: listening on port %d: %v", apiPort, err)
	}
	sys := kernelsys.New(kernelsys.Config{
		Interfaces:  func() ([]api.Interface, error) { return apiInterfaces(st), nil },
		Routes:      func() ([]api.Route, error) { return apiRoutes(st), nil },
		Filesystems: fs,
		NetStats:    st.Counters,
	})
	go func() {
		if err := api.Serve(context.Background(), l, api.NewHandler(sys, api.Options{})); err != nil {
			fmt.Fprintf(os.Stderr, "gosv: REST API: %v\n", err)
		}
	}()
	if err := st.RunDHCP(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "gosv: %v\n", err)
	}
	for _, i := range st.Interfaces() {
		if !i.Loopback {
			fmt.Printf("gosv: %s: %s\n", i.Name, addrList(i.Addresses))
		}
	}
	if opts.Verbose {
		fmt.Printf("gosv: REST API on port %d\n", apiPort)
	}
	return st, nil
}

func addrList(as []netip.Prefix) string {
	var s []string
	for _, a := range as {
		if a.Addr().Is4() || !a.Addr().IsLinkLocalUnicast() {
			s = append(s, a.String())
		}
	}
	if len(s) == 0 {
		return "no address"
	}
	return strings.Join(s, " ")
}

// apiInterfaces converts the stack's report to the API's (IPv4 view,
// as OSv's ifconfig shows).
func apiInterfaces(st *netstack.Stack) []api.Interface {
	var out []api.Interface
	for _, i := range st.Interfaces() {
		ai := api.Interface{Name: i.Name, MAC: i.MAC, MTU: int(i.MTU), Stats: api.InterfaceStats{
			RxPackets: i.RxPackets, RxBytes: i.RxBytes, RxDropped: i.RxDropped,
			TxPackets: i.TxPackets, TxBytes: i.TxBytes, TxErrors: i.TxDropped,
		}}
		for _, a := range i.Addresses {
			if a.Addr().Is4() {
				ai.Addr = a.Addr().String()
				ai.Mask = maskString(a.Bits())
				if !i.Loopback {
					ai.Broadcast = broadcast(a).String()
				}
				break
			}
		}
		if i.Up {
			ai.Flags = append(ai.Flags, "UP")
		}
		if i.Loopback {
			ai.Flags = append(ai.Flags, "LOOPBACK")
		} else {
			ai.Flags = append(ai.Flags, "BROADCAST")
		}
		if i.Up {
			ai.Flags = append(ai.Flags, "RUNNING")
		}
		out = append(out, ai)
	}
	return out
}

func maskString(bits int) string {
	m := ^uint32(0) << (32 - bits)
	if bits == 0 {
		m = 0
	}
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(a)
}

func apiRoutes(st *netstack.Stack) []api.Route {
	var out []api.Route
	for _, r := range st.Routes() {
		ar := api.Route{Destination: r.Destination.String(), Interface: r.Interface, IPv6: r.Destination.Addr().Is6(), Flags: "U"}
		switch {
		case r.Gateway.IsValid():
			ar.Gateway = r.Gateway.String()
			ar.Flags = "UG"
		case r.Destination.IsSingleIP():
			ar.Flags = "UH"
		}
		out = append(out, ar)
	}
	slices.SortStableFunc(out, func(a, b api.Route) int {
		switch {
		case a.IPv6 == b.IPv6:
			return 0
		case !a.IPv6:
			return -1
		}
		return 1
	})
	return out
}
