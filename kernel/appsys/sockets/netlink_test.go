package sockets

import (
	"encoding/binary"
	"fmt"
	"net"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

const testMAC = "\x52\x54\x00\x12\x34\x56"

// netlinkStack is a stack with lo (127.0.0.1/8, ::1) and eth0 (a
// channel endpoint with a MAC, 10.0.2.15/24 and a link-local IPv6
// address), a route via 10.0.2.2 and an on-link route.
func netlinkStack(t testing.TB) *stack.Stack {
	t.Helper()
	st := stack.New(stack.Options{NetworkProtocols: []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol}})
	if err := st.CreateNICWithOptions(1, loopback.New(), stack.NICOptions{Name: "lo"}); err != nil {
		t.Fatalf("CreateNIC lo: %v", err)
	}
	if err := st.CreateNICWithOptions(2, channel.New(16, 1500, testMAC), stack.NICOptions{Name: "eth0"}); err != nil {
		t.Fatalf("CreateNIC eth0: %v", err)
	}
	for _, a := range []struct {
		nic tcpip.NICID
		pa  tcpip.ProtocolAddress
	}{
		{1, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4([4]byte{127, 0, 0, 1}), PrefixLen: 8}}},
		{1, tcpip.ProtocolAddress{Protocol: ipv6.ProtocolNumber, AddressWithPrefix: tcpip.AddrFrom16([16]byte{15: 1}).WithPrefix()}},
		{2, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4([4]byte{10, 0, 2, 15}), PrefixLen: 24}}},
		{2, tcpip.ProtocolAddress{Protocol: ipv6.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom16([16]byte{0xfe, 0x80, 8: 0x50, 0x54, 0, 0xff, 0xfe, 0x12, 0x34, 0x56}), PrefixLen: 64}}},
	} {
		if err := st.AddProtocolAddress(a.nic, a.pa, stack.AddressProperties{}); err != nil {
			t.Fatalf("AddProtocolAddress(%v): %v", a.pa, err)
		}
	}
	sn, _ := tcpip.NewSubnet(tcpip.AddrFrom4([4]byte{10, 0, 2, 0}), tcpip.MaskFromBytes([]byte{255, 255, 255, 0}))
	st.SetRouteTable([]tcpip.Route{
		{Destination: sn, NIC: 2},
		{Destination: header.IPv4EmptySubnet, Gateway: tcpip.AddrFrom4([4]byte{10, 0, 2, 2}), NIC: 2},
	})
	t.Cleanup(func() {
		st.Close()
		st.Wait()
	})
	return st
}

func newNetlinkSocket(t testing.TB, st *stack.Stack, typ int) *Socket {
	t.Helper()
	s, err := New(st, syscall.AF_NETLINK, typ, syscall.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("socket(AF_NETLINK, %#x, NETLINK_ROUTE): %v", typ, err)
	}
	t.Cleanup(s.Close)
	return s
}

// request builds one netlink message.
func request(typ, flags uint16, seq uint32, payload []byte) []byte {
	b := make([]byte, nlmsgHdrLen, nlmsgHdrLen+len(payload)+3)
	binary.NativeEndian.PutUint32(b, uint32(nlmsgHdrLen+len(payload)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	b = append(b, payload...)
	return append(b, make([]byte, align4(len(b))-len(b))...)
}

// netlinkRIB does what Go's syscall.NetlinkRIB does, on a Socket:
// bind to port 0, send a dump request for family, read page-sized
// datagrams until NLMSG_DONE, checking sequence and port of each
// message, and return the concatenated datagrams.
func netlinkRIB(t testing.TB, st *stack.Stack, proto uint16, family uint8) []byte {
	t.Helper()
	s := newNetlinkSocket(t, st, syscall.SOCK_RAW|SockCloexec)
	kernel := EncodeNetlink(0, 0)
	if err := s.Bind(kernel); err != nil {
		t.Fatalf("bind: %v", err)
	}
	req := request(proto, syscall.NLM_F_DUMP|syscall.NLM_F_REQUEST, 1, []byte{family})
	if n, err := s.SendMsg(nil, [][]byte{req}, kernel, 0); err != nil || n != len(req) {
		t.Fatalf("sendto = %d, %v; want %d", n, err, len(req))
	}
	sa, err := s.SockName()
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	port, _, err := DecodeNetlink(sa)
	if err != nil || port == 0 {
		t.Fatalf("getsockname = %x, %v; want a bound sockaddr_nl", sa, err)
	}
	var tab []byte
	for {
		rb := make([]byte, 4096)
		n, from, flags, err := s.RecvMsg(nil, [][]byte{rb}, 0, true)
		if err != nil {
			t.Fatalf("recvfrom: %v", err)
		}
		if flags&msgTrunc != 0 {
			t.Fatalf("a dump datagram was truncated by a page-sized buffer")
		}
		if want := EncodeNetlink(0, 0); !reflect.DeepEqual(from, want) {
			t.Fatalf("sender %x, want the kernel %x", from, want)
		}
		tab = append(tab, rb[:n]...)
		msgs, err := syscall.ParseNetlinkMessage(rb[:n])
		if err != nil {
			t.Fatalf("ParseNetlinkMessage: %v", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != 1 || m.Header.Pid != port {
				t.Fatalf("reply seq %d pid %d, want 1 and %d", m.Header.Seq, m.Header.Pid, port)
			}
			switch m.Header.Type {
			case syscall.NLMSG_DONE:
				return tab
			case syscall.NLMSG_ERROR:
				t.Fatalf("dump answered with NLMSG_ERROR %d", int32(binary.NativeEndian.Uint32(m.Data)))
			}
		}
	}
}

type linkInfo struct {
	Index            int32
	Type             uint16
	Flags            uint32
	Name             string
	MTU              uint32
	Addr, Broadcast  string
	HasStats, Stats6 bool
}

func parseLinks(t *testing.T, tab []byte) []linkInfo {
	t.Helper()
	msgs, err := syscall.ParseNetlinkMessage(tab)
	if err != nil {
		t.Fatal(err)
	}
	return linkMsgs(t, msgs)
}

func linkMsgs(t *testing.T, msgs []syscall.NetlinkMessage) []linkInfo {
	t.Helper()
	var out []linkInfo
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWLINK {
			continue
		}
		ifi := (*syscall.IfInfomsg)(unsafe.Pointer(&m.Data[0]))
		l := linkInfo{Index: ifi.Index, Type: ifi.Type, Flags: ifi.Flags}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			t.Fatalf("ParseNetlinkRouteAttr: %v", err)
		}
		for _, a := range attrs {
			switch a.Attr.Type {
			case syscall.IFLA_IFNAME:
				if !strings.HasSuffix(string(a.Value), "\x00") {
					t.Errorf("IFLA_IFNAME %q not NUL-terminated", a.Value)
				}
				l.Name = strings.TrimSuffix(string(a.Value), "\x00")
			case syscall.IFLA_MTU:
				l.MTU = binary.NativeEndian.Uint32(a.Value)
			case syscall.IFLA_ADDRESS:
				l.Addr = net.HardwareAddr(a.Value).String()
			case syscall.IFLA_BROADCAST:
				l.Broadcast = net.HardwareAddr(a.Value).String()
			case syscall.IFLA_STATS:
				l.HasStats = len(a.Value) == 24*4
			case 23: // IFLA_STATS64
				l.Stats6 = len(a.Value) == 24*8
			}
		}
		out = append(out, l)
	}
	return out
}

const lowerUp = 0x10000 // IFF_LOWER_UP

func TestNetlinkLinkDump(t *testing.T) {
	st := netlinkStack(t)
	got := parseLinks(t, netlinkRIB(t, st, syscall.RTM_GETLINK, syscall.AF_UNSPEC))
	want := []linkInfo{
		{Index: 1, Type: syscall.ARPHRD_LOOPBACK, Flags: syscall.IFF_UP | syscall.IFF_RUNNING | syscall.IFF_LOOPBACK | lowerUp,
			Name: "lo", MTU: 65536, Addr: "00:00:00:00:00:00", Broadcast: "00:00:00:00:00:00", HasStats: true, Stats6: true},
		{Index: 2, Type: syscall.ARPHRD_ETHER, Flags: syscall.IFF_UP | syscall.IFF_RUNNING | syscall.IFF_BROADCAST | syscall.IFF_MULTICAST | lowerUp,
			Name: "eth0", MTU: 1500, Addr: "52:54:00:12:34:56", Broadcast: "ff:ff:ff:ff:ff:ff", HasStats: true, Stats6: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RTM_GETLINK dump (-want +got):\n-%+v\n+%+v", want, got)
	}
}

type addrInfo struct {
	Index       uint32
	Family      uint8
	Prefix      string
	Scope       uint8
	Local       string // IFA_LOCAL
	Broadcast   string
	Label       string
	PermanentOK bool
}

func parseAddrs(t *testing.T, tab []byte) []addrInfo {
	t.Helper()
	msgs, err := syscall.ParseNetlinkMessage(tab)
	if err != nil {
		t.Fatal(err)
	}
	var out []addrInfo
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWADDR {
			continue
		}
		ifa := (*syscall.IfAddrmsg)(unsafe.Pointer(&m.Data[0]))
		a := addrInfo{Index: ifa.Index, Family: ifa.Family, Scope: ifa.Scope, PermanentOK: ifa.Flags&syscall.IFA_F_PERMANENT != 0}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			t.Fatalf("ParseNetlinkRouteAttr: %v", err)
		}
		for _, at := range attrs {
			switch at.Attr.Type {
			case syscall.IFA_ADDRESS:
				a.Prefix = fmt.Sprintf("%v/%d", net.IP(at.Value), ifa.Prefixlen)
			case syscall.IFA_LOCAL:
				a.Local = net.IP(at.Value).String()
			case syscall.IFA_BROADCAST:
				a.Broadcast = net.IP(at.Value).String()
			case syscall.IFA_LABEL:
				a.Label = strings.TrimSuffix(string(at.Value), "\x00")
			}
		}
		out = append(out, a)
	}
	return out
}

func TestNetlinkAddrDump(t *testing.T) {
	st := netlinkStack(t)
	v4 := []addrInfo{
		{Index: 1, Family: syscall.AF_INET, Prefix: "127.0.0.1/8", Scope: 254, Local: "127.0.0.1", Label: "lo", PermanentOK: true},
		{Index: 2, Family: syscall.AF_INET, Prefix: "10.0.2.15/24", Scope: 0, Local: "10.0.2.15", Broadcast: "10.0.2.255", Label: "eth0", PermanentOK: true},
	}
	v6 := []addrInfo{
		{Index: 1, Family: syscall.AF_INET6, Prefix: "::1/128", Scope: 254, PermanentOK: true},
		{Index: 2, Family: syscall.AF_INET6, Prefix: "fe80::5054:ff:fe12:3456/64", Scope: 253, PermanentOK: true},
	}
	for _, tc := range []struct {
		family uint8
		want   []addrInfo
	}{
		{syscall.AF_UNSPEC, append(append([]addrInfo(nil), v4...), v6...)},
		{syscall.AF_INET, v4},
		{syscall.AF_INET6, v6},
	} {
		t.Run(fmt.Sprintf("family%d", tc.family), func(t *testing.T) {
			got := parseAddrs(t, netlinkRIB(t, st, syscall.RTM_GETADDR, tc.family))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("RTM_GETADDR dump (-want +got):\n-%+v\n+%+v", tc.want, got)
			}
		})
	}
}

func TestNetlinkRouteDump(t *testing.T) {
	st := netlinkStack(t)
	msgs, err := syscall.ParseNetlinkMessage(netlinkRIB(t, st, syscall.RTM_GETROUTE, syscall.AF_INET))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWROUTE {
			continue
		}
		rtm := (*syscall.RtMsg)(unsafe.Pointer(&m.Data[0]))
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			t.Fatal(err)
		}
		r := fmt.Sprintf("table %d scope %d", rtm.Table, rtm.Scope)
		dst := "default"
		for _, a := range attrs {
			switch a.Attr.Type {
			case syscall.RTA_DST:
				dst = fmt.Sprintf("%v/%d", net.IP(a.Value), rtm.Dst_len)
			case syscall.RTA_GATEWAY:
				r += fmt.Sprintf(" via %v", net.IP(a.Value))
			case syscall.RTA_OIF:
				r += fmt.Sprintf(" dev %d", binary.NativeEndian.Uint32(a.Value))
			}
		}
		got = append(got, dst+" "+r)
	}
	want := []string{
		"10.0.2.0/24 table 254 scope 253 dev 2",
		"default table 254 scope 0 via 10.0.2.2 dev 2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RTM_GETROUTE dump (-want +got):\n-%q\n+%q", want, got)
	}
}

// goInterfaces decodes dumps as package net's interface_linux.go does
// (newLink, linkFlags, newAddr), so that the test shows what
// net.Interfaces and Interface.Addrs return on gosv.
func goInterfaces(t *testing.T, links, addrs []byte) ([]net.Interface, map[int][]string) {
	t.Helper()
	msgs, err := syscall.ParseNetlinkMessage(links)
	if err != nil {
		t.Fatal(err)
	}
	var ift []net.Interface
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWLINK {
			continue
		}
		ifim := (*syscall.IfInfomsg)(unsafe.Pointer(&m.Data[0]))
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			t.Fatal(err)
		}
		ifi := net.Interface{Index: int(ifim.Index)}
		for bit, f := range map[uint32]net.Flags{syscall.IFF_UP: net.FlagUp, syscall.IFF_RUNNING: net.FlagRunning,
			syscall.IFF_BROADCAST: net.FlagBroadcast, syscall.IFF_LOOPBACK: net.FlagLoopback,
			syscall.IFF_POINTOPOINT: net.FlagPointToPoint, syscall.IFF_MULTICAST: net.FlagMulticast} {
			if ifim.Flags&bit != 0 {
				ifi.Flags |= f
			}
		}
		for _, a := range attrs {
			switch a.Attr.Type {
			case syscall.IFLA_ADDRESS:
				for _, b := range a.Value {
					if b != 0 {
						ifi.HardwareAddr = a.Value
						break
					}
				}
			case syscall.IFLA_IFNAME:
				ifi.Name = string(a.Value[:len(a.Value)-1])
			case syscall.IFLA_MTU:
				ifi.MTU = int(binary.NativeEndian.Uint32(a.Value))
			}
		}
		ift = append(ift, ifi)
	}
	if msgs, err = syscall.ParseNetlinkMessage(addrs); err != nil {
		t.Fatal(err)
	}
	byIndex := map[int][]string{}
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWADDR {
			continue
		}
		ifam := (*syscall.IfAddrmsg)(unsafe.Pointer(&m.Data[0]))
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			t.Fatal(err)
		}
		// newAddr: the first attribute is the address, except that
		// IFA_ADDRESS is skipped when IFA_LOCAL is present.
		p2p := false
		for _, a := range attrs {
			p2p = p2p || a.Attr.Type == syscall.IFA_LOCAL
		}
		for _, a := range attrs {
			if p2p && a.Attr.Type == syscall.IFA_ADDRESS {
				continue
			}
			var ipn net.IPNet
			switch ifam.Family {
			case syscall.AF_INET:
				ipn = net.IPNet{IP: net.IPv4(a.Value[0], a.Value[1], a.Value[2], a.Value[3]), Mask: net.CIDRMask(int(ifam.Prefixlen), 32)}
			case syscall.AF_INET6:
				ipn = net.IPNet{IP: net.IP(a.Value), Mask: net.CIDRMask(int(ifam.Prefixlen), 128)}
			}
			byIndex[int(ifam.Index)] = append(byIndex[int(ifam.Index)], ipn.String())
			break
		}
	}
	return ift, byIndex
}

func TestNetlinkAsGoNetInterfaces(t *testing.T) {
	st := netlinkStack(t)
	ift, addrs := goInterfaces(t,
		netlinkRIB(t, st, syscall.RTM_GETLINK, syscall.AF_UNSPEC),
		netlinkRIB(t, st, syscall.RTM_GETADDR, syscall.AF_UNSPEC))
	wantIft := []net.Interface{
		{Index: 1, MTU: 65536, Name: "lo", Flags: net.FlagUp | net.FlagLoopback | net.FlagRunning},
		{Index: 2, MTU: 1500, Name: "eth0", HardwareAddr: net.HardwareAddr(testMAC),
			Flags: net.FlagUp | net.FlagBroadcast | net.FlagMulticast | net.FlagRunning},
	}
	if !reflect.DeepEqual(ift, wantIft) {
		t.Errorf("net.Interfaces (-want +got):\n-%v\n+%v", wantIft, ift)
	}
	wantAddrs := map[int][]string{1: {"127.0.0.1/8", "::1/128"}, 2: {"10.0.2.15/24", "fe80::5054:ff:fe12:3456/64"}}
	if !reflect.DeepEqual(addrs, wantAddrs) {
		t.Errorf("Interface.Addrs (-want +got):\n-%v\n+%v", wantAddrs, addrs)
	}
}

// TestNetlinkDumpChunks checks that a dump too big for one page comes
// in several datagrams, none over a page, with NLMSG_DONE last.
func TestNetlinkDumpChunks(t *testing.T) {
	st := stack.New(stack.Options{NetworkProtocols: []stack.NetworkProtocolFactory{ipv4.NewProtocol}})
	t.Cleanup(func() { st.Close(); st.Wait() })
	const nics = 40
	for i := 1; i <= nics; i++ {
		if err := st.CreateNICWithOptions(tcpip.NICID(i), channel.New(1, 1500, testMAC), stack.NICOptions{Name: fmt.Sprintf("eth%d", i-1)}); err != nil {
			t.Fatal(err)
		}
	}
	s := newNetlinkSocket(t, st, syscall.SOCK_DGRAM)
	if _, err := s.SendMsg(nil, [][]byte{request(syscall.RTM_GETLINK, syscall.NLM_F_DUMP|syscall.NLM_F_REQUEST, 7, []byte{0})}, nil, 0); err != nil {
		t.Fatal(err)
	}
	var links, dgrams int
	for done := false; !done; {
		b := make([]byte, 4096)
		n, _, flags, err := s.RecvMsg(nil, [][]byte{b}, syscall.MSG_DONTWAIT, false)
		if err != nil {
			t.Fatalf("recv after %d datagrams, %d links: %v", dgrams, links, err)
		}
		if flags&msgTrunc != 0 || n > dumpChunk {
			t.Fatalf("datagram of %d bytes (flags %#x), want at most %d", n, flags, dumpChunk)
		}
		dgrams++
		msgs, err := syscall.ParseNetlinkMessage(b[:n])
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Header.Flags&syscall.NLM_F_MULTI == 0 {
				t.Errorf("dump message type %d without NLM_F_MULTI", m.Header.Type)
			}
			switch m.Header.Type {
			case syscall.RTM_NEWLINK:
				links++
			case syscall.NLMSG_DONE:
				done = true
			}
		}
	}
	if links != nics || dgrams < 2 {
		t.Errorf("dump of %d links in %d datagrams, want %d links in several", links, dgrams, nics)
	}
}

// exchange sends req and returns the reply datagrams, parsed.
func exchange(t *testing.T, s *Socket, req []byte) [][]syscall.NetlinkMessage {
	t.Helper()
	if n, err := s.SendMsg(nil, [][]byte{req}, nil, 0); err != nil || n != len(req) {
		t.Fatalf("send = %d, %v; want %d", n, err, len(req))
	}
	var out [][]syscall.NetlinkMessage
	for {
		b := make([]byte, 8192)
		n, _, _, err := s.RecvMsg(nil, [][]byte{b}, syscall.MSG_DONTWAIT, false)
		if err == syscall.EAGAIN {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := syscall.ParseNetlinkMessage(b[:n])
		if err != nil {
			t.Fatalf("reply %x: %v", b[:n], err)
		}
		out = append(out, msgs)
	}
}

// nlError returns the errno and echoed header of an NLMSG_ERROR.
func nlError(t *testing.T, m syscall.NetlinkMessage) (syscall.Errno, syscall.NlMsghdr) {
	t.Helper()
	if m.Header.Type != syscall.NLMSG_ERROR || len(m.Data) < 20 {
		t.Fatalf("reply type %d len %d, want NLMSG_ERROR", m.Header.Type, len(m.Data))
	}
	e := -int32(binary.NativeEndian.Uint32(m.Data))
	return syscall.Errno(e), *(*syscall.NlMsghdr)(unsafe.Pointer(&m.Data[4]))
}

func ifinfo(index int32, attrs ...[]byte) []byte {
	b := make([]byte, sizeofIfinfo)
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	for _, a := range attrs {
		b = append(b, a...)
	}
	return b
}

// noReply says a request gets no NLMSG_ERROR.
const noReply = syscall.Errno(0xffff)

func TestNetlinkRequests(t *testing.T) {
	st := netlinkStack(t)
	ifname := []byte(attrs(nil).str(syscall.IFLA_IFNAME, "eth0"))
	for _, tc := range []struct {
		name string
		req  []byte
		// An NLMSG_ERROR reply with this errno (or noReply),
		// for a request with this sequence number; or a link.
		errno    syscall.Errno
		seq      uint32
		linkName string
		capped   bool
	}{
		{"newaddr", request(syscall.RTM_NEWADDR, syscall.NLM_F_REQUEST|syscall.NLM_F_ACK, 5, make([]byte, 8)), syscall.EOPNOTSUPP, 5, "", false},
		{"getneigh dump", request(syscall.RTM_GETNEIGH, syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP, 6, []byte{0}), syscall.EOPNOTSUPP, 6, "", false},
		{"unknown type", request(0x7fff, syscall.NLM_F_REQUEST, 7, []byte{0}), syscall.EOPNOTSUPP, 7, "", false},
		{"getlink dump without family", request(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP, 8, nil), syscall.EINVAL, 8, "", false},
		{"short datagram", []byte{1, 2, 3, 4, 5, 6, 7, 8}, syscall.EINVAL, 0, "", true},
		{"length past the datagram", func() []byte {
			b := request(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP, 9, []byte{0})
			binary.NativeEndian.PutUint32(b, 400)
			return b
		}(), syscall.EINVAL, 9, "", true},
		{"noop ack", request(syscall.NLMSG_NOOP, syscall.NLM_F_REQUEST|syscall.NLM_F_ACK, 10, nil), 0, 10, "", true},
		{"not a request", request(syscall.RTM_GETLINK, syscall.NLM_F_DUMP, 11, []byte{0}), noReply, 0, "", false},
		{"getlink by index", request(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST, 12, ifinfo(2)), noReply, 12, "eth0", false},
		{"getlink by name", request(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST, 13, ifinfo(0, ifname)), noReply, 13, "eth0", false},
		{"getlink by index, acked", request(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST|syscall.NLM_F_ACK, 14, ifinfo(1)), 0, 14, "lo", true},
		{"getlink no such index", request(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST, 15, ifinfo(99)), syscall.ENODEV, 15, "", false},
		{"getlink neither index nor name", request(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST, 16, ifinfo(0)), syscall.EINVAL, 16, "", false},
		{"getlink short ifinfomsg", request(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST, 17, []byte{0, 0, 0, 0}), syscall.EINVAL, 17, "", false},
		{"getlink bad attribute", request(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST, 18, ifinfo(0, []byte{200, 0, 3, 0})), syscall.EINVAL, 18, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newNetlinkSocket(t, st, syscall.SOCK_RAW)
			replies := exchange(t, s, tc.req)
			var msgs []syscall.NetlinkMessage
			for _, d := range replies {
				msgs = append(msgs, d...)
			}
			if tc.linkName != "" {
				if len(msgs) == 0 || msgs[0].Header.Type != syscall.RTM_NEWLINK || msgs[0].Header.Seq != tc.seq {
					t.Fatalf("replies %+v, want RTM_NEWLINK seq %d first", msgs, tc.seq)
				}
				if got := linkMsgs(t, msgs[:1]); len(got) != 1 || got[0].Name != tc.linkName {
					t.Fatalf("link %+v, want %q", got, tc.linkName)
				}
				msgs = msgs[1:]
			}
			if tc.errno == noReply {
				if len(msgs) != 0 {
					t.Fatalf("replies %+v, want none", msgs)
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("%d replies %+v, want one NLMSG_ERROR", len(msgs), msgs)
			}
			errno, echo := nlError(t, msgs[0])
			if errno != tc.errno || msgs[0].Header.Seq != tc.seq || echo.Seq != tc.seq {
				t.Errorf("NLMSG_ERROR %v seq %d echoing seq %d, want %v seq %d", errno, msgs[0].Header.Seq, echo.Seq, tc.errno, tc.seq)
			}
			if capped := msgs[0].Header.Flags&0x100 != 0; capped != tc.capped {
				t.Errorf("NLM_F_CAPPED %v, want %v", capped, tc.capped)
			}
			if !tc.capped && len(tc.req) >= nlmsgHdrLen && string(msgs[0].Data[4:]) != string(tc.req[:len(msgs[0].Data)-4]) {
				t.Errorf("error payload %x does not echo the request %x", msgs[0].Data[4:], tc.req)
			}
		})
	}
}

func TestNetlinkSocket(t *testing.T) {
	st := netlinkStack(t)
	for _, tc := range []struct {
		typ, proto int
		want       error
	}{
		{syscall.SOCK_STREAM, syscall.NETLINK_ROUTE, syscall.ESOCKTNOSUPPORT},
		{syscall.SOCK_RAW, syscall.NETLINK_KOBJECT_UEVENT, syscall.EPROTONOSUPPORT},
	} {
		if _, err := New(st, syscall.AF_NETLINK, tc.typ, tc.proto); err != tc.want {
			t.Errorf("socket(AF_NETLINK, %d, %d): %v, want %v", tc.typ, tc.proto, err, tc.want)
		}
	}

	a := newNetlinkSocket(t, st, syscall.SOCK_RAW|SockNonblock)
	b := newNetlinkSocket(t, st, syscall.SOCK_DGRAM)
	if sa, _ := a.SockName(); !reflect.DeepEqual(sa, EncodeNetlink(0, 0)) {
		t.Errorf("unbound getsockname %x, want port 0", sa)
	}
	if err := a.Bind(EncodeNetlink(0, 0)); err != nil {
		t.Fatal(err)
	}
	if sa, _ := a.SockName(); !reflect.DeepEqual(sa, EncodeNetlink(appPID, 0)) {
		t.Errorf("first autobound getsockname %x, want the pid %d", sa, appPID)
	}
	wantErrno(t, "bind to a taken port", b.Bind(EncodeNetlink(appPID, 0)), syscall.EADDRINUSE)
	wantErrno(t, "bind a short sockaddr_nl", b.Bind(EncodeNetlink(0, 0)[:8]), syscall.EINVAL)
	wantErrno(t, "send to an application port", func() error {
		_, err := b.SendMsg(nil, [][]byte{request(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP, 1, []byte{0})}, EncodeNetlink(appPID, 0), 0)
		return err
	}(), syscall.ECONNREFUSED)
	sb, _ := b.SockName()
	if port, _, _ := DecodeNetlink(sb); port == 0 || port == appPID {
		t.Errorf("second socket's port %d, want another one (sendto autobinds)", port)
	}

	// Readiness and MSG_PEEK|MSG_TRUNC as glibc and iproute2 use them.
	if ev := a.Readiness(); ev != EventOut {
		t.Errorf("idle readiness %#x, want OUT only", ev)
	}
	wantErrno(t, "recv on an empty socket", func() error { _, err := a.Read(nil, [][]byte{make([]byte, 100)}); return err }(), syscall.EAGAIN)
	req := request(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP, 3, []byte{0})
	if _, err := a.Write(nil, [][]byte{req}); err != nil {
		t.Fatal(err)
	}
	if ev := a.Readiness(); ev != EventIn|EventOut {
		t.Errorf("readiness with replies queued %#x, want IN|OUT", ev)
	}
	n, _, flags, err := a.RecvMsg(nil, nil, syscall.MSG_PEEK|syscall.MSG_TRUNC, false)
	if err != nil || n <= nlmsgHdrLen || flags&msgTrunc == 0 {
		t.Fatalf("recv(MSG_PEEK|MSG_TRUNC, no buffer) = %d, flags %#x, %v; want the datagram's length and MSG_TRUNC", n, flags, err)
	}
	if got := a.Buffered(); got != n {
		t.Errorf("FIONREAD %d, want the next datagram's %d", got, n)
	}
	buf := make([]byte, n)
	if got, _, flags, err := a.RecvMsg(nil, [][]byte{buf}, 0, false); err != nil || got != n || flags != 0 {
		t.Fatalf("recv = %d, flags %#x, %v; want the peeked %d bytes", got, flags, err, n)
	}

	// Closing frees the port for the next autobind.
	a.Close()
	c := newNetlinkSocket(t, st, syscall.SOCK_RAW)
	if err := c.Bind(EncodeNetlink(0, 0)); err != nil {
		t.Fatal(err)
	}
	if sa, _ := c.SockName(); !reflect.DeepEqual(sa, EncodeNetlink(appPID, 0)) {
		t.Errorf("getsockname after the first socket closed %x, want the pid again", sa)
	}
}

func TestNetlinkWithoutStack(t *testing.T) {
	s, err := New(nil, syscall.AF_NETLINK, syscall.SOCK_RAW, syscall.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	replies := exchange(t, s, request(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP, 1, []byte{0}))
	if len(replies) != 1 || len(replies[0]) != 1 || replies[0][0].Header.Type != syscall.NLMSG_DONE {
		t.Errorf("dump without a network: %+v, want NLMSG_DONE alone", replies)
	}
}

// FuzzServeRoute feeds arbitrary datagrams to the request parser: it
// must not panic, and every reply must be well-formed netlink addressed
// to the sender.
func FuzzServeRoute(f *testing.F) {
	for _, seed := range [][]byte{
		request(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP, 1, []byte{0}),
		request(syscall.RTM_GETADDR, syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP|syscall.NLM_F_ACK, 2, []byte{syscall.AF_INET6}),
		request(syscall.RTM_GETROUTE, syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP, 3, []byte{0}),
		request(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST, 4, ifinfo(0, attrs(nil).str(syscall.IFLA_IFNAME, "lo"))),
		append(request(syscall.NLMSG_NOOP, syscall.NLM_F_REQUEST|syscall.NLM_F_ACK, 5, nil), request(syscall.RTM_NEWLINK, syscall.NLM_F_REQUEST, 6, ifinfo(1))...),
		{16, 0, 0, 0, 18, 0, 1, 3},
		{},
	} {
		f.Add(seed)
	}
	st := netlinkStack(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, d := range serveRoute(st, b, 42, false) {
			msgs, err := syscall.ParseNetlinkMessage(d)
			if err != nil || len(msgs) == 0 {
				t.Fatalf("reply %x does not parse: %v", d, err)
			}
			if len(msgs) > 1 && len(d) > dumpChunk {
				t.Fatalf("reply of %d messages in %d bytes, over %d", len(msgs), len(d), dumpChunk)
			}
			for _, m := range msgs {
				if m.Header.Pid != 42 {
					t.Fatalf("reply to port %d, want 42", m.Header.Pid)
				}
				if m.Header.Type == syscall.RTM_NEWLINK || m.Header.Type == syscall.RTM_NEWADDR || m.Header.Type == syscall.RTM_NEWROUTE {
					if _, err := syscall.ParseNetlinkRouteAttr(&m); err != nil {
						t.Fatalf("reply attributes: %v", err)
					}
				}
			}
		}
	})
}
