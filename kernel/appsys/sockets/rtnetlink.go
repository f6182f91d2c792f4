package sockets

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// The NETLINK_ROUTE "kernel": it answers the requests in one datagram
// with reply datagrams, read from the stack when asked. Served:
// RTM_GETLINK (dump, and one link by index or IFLA_IFNAME),
// RTM_GETADDR and RTM_GETROUTE dumps. Everything else, changes
// included, is answered with NLMSG_ERROR -EOPNOTSUPP.
//
// Layouts are Linux's (include/uapi/linux/netlink.h, rtnetlink.h,
// if_link.h, if_addr.h), in host byte order:
//
//	nlmsghdr  (16): len u32, type u16, flags u16, seq u32, pid u32
//	nlmsgerr  (20+): error i32, the request's nlmsghdr (and payload)
//	ifinfomsg (16): family u8, pad u8, type u16, index i32, flags u32, change u32
//	ifaddrmsg  (8): family u8, prefixlen u8, flags u8, scope u8, index u32
//	rtmsg     (12): family, dst_len, src_len, tos, table, protocol, scope, type u8; flags u32
//	rtattr     (4): len u16, type u16, then the value, padded to 4
//
// Where Linux drops a malformed request silently, this answers
// NLMSG_ERROR -EINVAL, so that no one waits for a reply that will not
// come.

const (
	nlmsgHdrLen  = syscall.NLMSG_HDRLEN
	rtaHdrLen    = syscall.SizeofRtAttr
	sizeofNlerr  = unix.SizeofNlMsgerr
	sizeofIfinfo = syscall.SizeofIfInfomsg
	sizeofIfaddr = syscall.SizeofIfAddrmsg
	sizeofRtmsg  = syscall.SizeofRtMsg

	// dumpChunk bounds a dump datagram as Linux's NLMSG_GOODSIZE does
	// (a 4 KiB page less the skb's overhead): readers such as Go's
	// NetlinkRIB read with a page-sized buffer.
	dumpChunk = 4096 - 320

	// Operational states (RFC 2863, include/uapi/linux/if.h IF_OPER_*).
	operUnknown = 0
	operDown    = 2
	operUp      = 6

	// txQueueLen is what Linux reports for virtio and loopback devices.
	txQueueLen = 1000
	// infinityLife is an address lifetime without end (if_addr.h).
	infinityLife = 0xffffffff
	// statsFields counts struct rtnl_link_stats{,64}'s fields (Linux
	// 4.6+: up to rx_nohandler).
	statsFields = 24
)

func align4(n int) int { return (n + 3) &^ 3 }

// nlReply collects reply messages and cuts them into datagrams.
type nlReply struct {
	port  uint32
	dgram []byte
	out   [][]byte
}

// add appends one message; a dump packs messages into datagrams of at
// most dumpChunk bytes.
func (r *nlReply) add(typ, flags uint16, seq uint32, body []byte) {
	n := nlmsgHdrLen + len(body)
	if len(r.dgram) > 0 && len(r.dgram)+align4(n) > dumpChunk {
		r.flush()
	}
	m := make([]byte, align4(n))
	binary.NativeEndian.PutUint32(m[0:], uint32(n))
	binary.NativeEndian.PutUint16(m[4:], typ)
	binary.NativeEndian.PutUint16(m[6:], flags)
	binary.NativeEndian.PutUint32(m[8:], seq)
	binary.NativeEndian.PutUint32(m[12:], r.port)
	copy(m[nlmsgHdrLen:], body)
	r.dgram = append(r.dgram, m...)
}

// flush ends the current datagram.
func (r *nlReply) flush() {
	if len(r.dgram) > 0 {
		r.out = append(r.out, r.dgram)
		r.dgram = nil
	}
}

// nlMsg is one request message: its header fields and payload.
type nlMsg struct {
	typ, flags uint16
	seq        uint32
	raw        []byte // the whole message, header included
	payload    []byte
}

// serveRoute answers the requests in one datagram sent by port.
// capAck leaves the request out of error replies (NETLINK_CAP_ACK).
func serveRoute(st *stack.Stack, b []byte, port uint32, capAck bool) [][]byte {
	r := &nlReply{port: port}
	if len(b) > 0 && len(b) < nlmsgHdrLen {
		r.errorMsg(nlMsg{raw: b}, syscall.EINVAL, true)
	}
	for len(b) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(b))
		if l < nlmsgHdrLen || l > len(b) {
			r.errorMsg(nlMsg{
				typ:   binary.NativeEndian.Uint16(b[4:]),
				flags: binary.NativeEndian.Uint16(b[6:]),
				seq:   binary.NativeEndian.Uint32(b[8:]),
				raw:   b[:nlmsgHdrLen],
			}, syscall.EINVAL, true)
			break
		}
		m := nlMsg{
			typ:     binary.NativeEndian.Uint16(b[4:]),
			flags:   binary.NativeEndian.Uint16(b[6:]),
			seq:     binary.NativeEndian.Uint32(b[8:]),
			raw:     b[:l],
			payload: b[nlmsgHdrLen:l],
		}
		var err syscall.Errno
		dumped := false
		// Only requests are served, and control messages (NOOP, DONE,
		// ...) have nothing to serve: both are acknowledged if asked.
		if m.flags&syscall.NLM_F_REQUEST != 0 && m.typ >= syscall.NLMSG_MIN_TYPE {
			dumped, err = r.route(st, m)
		}
		if !dumped && (err != 0 || m.flags&syscall.NLM_F_ACK != 0) {
			r.errorMsg(m, err, capAck)
		}
		b = b[min(align4(l), len(b)):]
	}
	r.flush()
	return r.out
}

// errorMsg answers m with NLMSG_ERROR: an acknowledgement when err is
// 0 (the request's header only, NLM_F_CAPPED), else the error and the
// whole request unless capped.
func (r *nlReply) errorMsg(m nlMsg, err syscall.Errno, capped bool) {
	var flags uint16
	capped = capped || err == 0
	n := sizeofNlerr
	if capped {
		flags |= unix.NLM_F_CAPPED
	} else if len(m.raw) > nlmsgHdrLen {
		n += len(m.raw) - nlmsgHdrLen
	}
	body := make([]byte, n)
	binary.NativeEndian.PutUint32(body, uint32(-int32(err)))
	// The request's header (zero-padded when it was short), and its
	// payload unless capped.
	copy(body[4:], m.raw)
	r.add(syscall.NLMSG_ERROR, flags, m.seq, body)
	r.flush()
}

// route serves one request; dumped says the reply was a dump (which
// ends with NLMSG_DONE and is not acknowledged).
func (r *nlReply) route(st *stack.Stack, m nlMsg) (bool, syscall.Errno) {
	if m.typ < syscall.RTM_BASE || (m.typ-syscall.RTM_BASE)&3 != 2 {
		return false, syscall.EOPNOTSUPP // new, del and set: nothing changes here
	}
	if len(m.payload) < syscall.SizeofRtGenmsg {
		return false, syscall.EINVAL // not even the family
	}
	family := m.payload[0]
	if m.flags&syscall.NLM_F_DUMP == 0 {
		if m.typ == syscall.RTM_GETLINK {
			return false, r.getLink(st, m)
		}
		return false, syscall.EOPNOTSUPP
	}
	var ok bool
	switch m.typ {
	case syscall.RTM_GETLINK:
		ok = true
		for _, l := range links(st) {
			r.add(syscall.RTM_NEWLINK, syscall.NLM_F_MULTI, m.seq, l.msg())
		}
	case syscall.RTM_GETADDR:
		ok = true
		for _, a := range addrs(st, family) {
			r.add(syscall.RTM_NEWADDR, syscall.NLM_F_MULTI, m.seq, a)
		}
	case syscall.RTM_GETROUTE:
		ok = true
		for _, rt := range routes(st, family) {
			r.add(syscall.RTM_NEWROUTE, syscall.NLM_F_MULTI, m.seq, rt)
		}
	}
	if !ok {
		return false, syscall.EOPNOTSUPP
	}
	r.add(syscall.NLMSG_DONE, syscall.NLM_F_MULTI, m.seq, make([]byte, 4)) // the dump's status: 0
	r.flush()
	return true, 0
}

// getLink answers RTM_GETLINK for one link, named by ifi_index or by
// an IFLA_IFNAME attribute.
func (r *nlReply) getLink(st *stack.Stack, m nlMsg) syscall.Errno {
	if len(m.payload) < sizeofIfinfo {
		return syscall.EINVAL
	}
	index := int32(binary.NativeEndian.Uint32(m.payload[4:]))
	attrs, ok := parseAttrs(m.payload[sizeofIfinfo:])
	if !ok {
		return syscall.EINVAL
	}
	name, hasName := "", false
	if v, ok := attrs[syscall.IFLA_IFNAME]; ok {
		name, hasName = cString(v), true
	}
	if index <= 0 && !hasName {
		return syscall.EINVAL
	}
	for _, l := range links(st) {
		if (index > 0 && l.index == index) || (index <= 0 && l.name == name) {
			r.add(syscall.RTM_NEWLINK, 0, m.seq, l.msg())
			r.flush()
			return 0
		}
	}
	return syscall.ENODEV
}

// parseAttrs reads a list of rtattrs; the last of each type wins.
func parseAttrs(b []byte) (map[uint16][]byte, bool) {
	out := map[uint16][]byte{}
	for len(b) >= rtaHdrLen {
		l := int(binary.NativeEndian.Uint16(b))
		if l < rtaHdrLen || l > len(b) {
			return nil, false
		}
		out[binary.NativeEndian.Uint16(b[2:])&^(syscall.NLA_F_NESTED|syscall.NLA_F_NET_BYTEORDER)] = b[rtaHdrLen:l]
		b = b[min(align4(l), len(b)):]
	}
	return out, true
}

// cString is a NUL-terminated string attribute's text.
func cString(v []byte) string {
	for i, c := range v {
		if c == 0 {
			return string(v[:i])
		}
	}
	return string(v)
}

// attrs builds a message body: a fixed header, then rtattrs.
type attrs []byte

func (a attrs) add(typ uint16, v []byte) attrs {
	n := rtaHdrLen + len(v)
	a = binary.NativeEndian.AppendUint16(a, uint16(n))
	a = binary.NativeEndian.AppendUint16(a, typ)
	a = append(a, v...)
	return append(a, make([]byte, align4(n)-n)...)
}

func (a attrs) u32(typ uint16, v uint32) attrs {
	return a.add(typ, binary.NativeEndian.AppendUint32(nil, v))
}

func (a attrs) u8(typ uint16, v uint8) attrs { return a.add(typ, []byte{v}) }

func (a attrs) str(typ uint16, s string) attrs { return a.add(typ, append([]byte(s), 0)) }

// link is one NIC as rtnetlink shows it.
type link struct {
	index               int32
	name                string
	info                stack.NICInfo
	arpType             uint16
	flags               uint32
	hwAddr, hwBroadcast []byte
	operState           uint8
}

// links returns the stack's NICs in index order.
func links(st *stack.Stack) []link {
	if st == nil {
		return nil
	}
	var out []link
	for id, info := range st.NICInfo() {
		out = append(out, newLink(int32(id), info))
	}
	slices.SortFunc(out, func(a, b link) int { return int(a.index - b.index) })
	return out
}

func newLink(index int32, info stack.NICInfo) link {
	l := link{index: index, name: info.Name, info: info, arpType: unix.ARPHRD_NONE, operState: operDown}
	if l.name == "" {
		l.name = "nic" + strconv.Itoa(int(index))
	}
	f := info.Flags
	if f.Up {
		l.flags |= syscall.IFF_UP
	}
	if f.Running {
		l.flags |= syscall.IFF_RUNNING | unix.IFF_LOWER_UP
		l.operState = operUp
	}
	if f.Promiscuous {
		l.flags |= syscall.IFF_PROMISC
	}
	switch {
	case f.Loopback:
		// Linux's lo: 6 zero bytes for both addresses, operstate
		// unknown (it has no carrier to speak of).
		l.arpType = syscall.ARPHRD_LOOPBACK
		l.flags |= syscall.IFF_LOOPBACK
		l.hwAddr, l.hwBroadcast = make([]byte, 6), make([]byte, 6)
		if f.Running {
			l.operState = operUnknown
		}
	case len(info.LinkAddress) == header.EthernetAddressSize:
		l.arpType = syscall.ARPHRD_ETHER
		l.flags |= syscall.IFF_BROADCAST | syscall.IFF_MULTICAST
		l.hwAddr = []byte(info.LinkAddress)
		l.hwBroadcast = []byte(header.EthernetBroadcastAddress)
	case len(info.LinkAddress) > 0:
		l.hwAddr = []byte(info.LinkAddress)
	}
	return l
}

// msg is the link's RTM_NEWLINK body.
func (l link) msg() []byte {
	a := make(attrs, sizeofIfinfo)
	a[0] = syscall.AF_UNSPEC
	binary.NativeEndian.PutUint16(a[2:], l.arpType)
	binary.NativeEndian.PutUint32(a[4:], uint32(l.index))
	binary.NativeEndian.PutUint32(a[8:], l.flags)
	a = a.str(syscall.IFLA_IFNAME, l.name)
	a = a.u32(syscall.IFLA_TXQLEN, txQueueLen)
	a = a.u8(unix.IFLA_OPERSTATE, l.operState)
	a = a.u8(unix.IFLA_LINKMODE, 0)
	a = a.u32(syscall.IFLA_MTU, l.info.MTU)
	if l.hwAddr != nil {
		a = a.add(syscall.IFLA_ADDRESS, l.hwAddr)
	}
	if l.hwBroadcast != nil {
		a = a.add(syscall.IFLA_BROADCAST, l.hwBroadcast)
	}
	s := l.info.Stats
	var stats [statsFields]uint64 // rx/tx packets, rx/tx bytes, errors, dropped...
	stats[0], stats[1] = s.Rx.Packets.Value(), s.Tx.Packets.Value()
	stats[2], stats[3] = s.Rx.Bytes.Value(), s.Tx.Bytes.Value()
	stats[7] = s.TxPacketsDroppedNoBufferSpace.Value()
	var s32, s64 []byte
	for _, v := range stats {
		s32 = binary.NativeEndian.AppendUint32(s32, uint32(v))
		s64 = binary.NativeEndian.AppendUint64(s64, v)
	}
	a = a.add(syscall.IFLA_STATS, s32)
	a = a.add(unix.IFLA_STATS64, s64)
	return a
}

// addrs returns the RTM_NEWADDR bodies of family's addresses (all for
// other families), IPv4 first, each family in link order, as Linux
// dumps them.
func addrs(st *stack.Stack, family uint8) [][]byte {
	ls := links(st)
	var out [][]byte
	for _, fam := range []uint8{syscall.AF_INET, syscall.AF_INET6} {
		if family != fam && (family == syscall.AF_INET || family == syscall.AF_INET6) {
			continue
		}
		for _, l := range ls {
			var as []tcpip.AddressWithPrefix
			for _, pa := range l.info.ProtocolAddresses {
				switch {
				case pa.Protocol == ipv4.ProtocolNumber && fam == syscall.AF_INET,
					pa.Protocol == ipv6.ProtocolNumber && fam == syscall.AF_INET6:
					if !pa.AddressWithPrefix.Address.Unspecified() {
						as = append(as, pa.AddressWithPrefix)
					}
				}
			}
			slices.SortFunc(as, func(a, b tcpip.AddressWithPrefix) int {
				x, _ := netip.AddrFromSlice(a.Address.AsSlice())
				y, _ := netip.AddrFromSlice(b.Address.AsSlice())
				return x.Compare(y)
			})
			for _, ap := range as {
				out = append(out, addrMsg(fam, l, ap))
			}
		}
	}
	return out
}

func addrMsg(family uint8, l link, ap tcpip.AddressWithPrefix) []byte {
	ip, _ := netip.AddrFromSlice(ap.Address.AsSlice())
	scope := uint8(unix.RT_SCOPE_UNIVERSE)
	switch {
	case ip.IsLoopback():
		scope = unix.RT_SCOPE_HOST
	case ip.IsLinkLocalUnicast():
		scope = unix.RT_SCOPE_LINK
	}
	a := make(attrs, sizeofIfaddr)
	a[0], a[1], a[2], a[3] = family, uint8(ap.PrefixLen), syscall.IFA_F_PERMANENT, scope
	binary.NativeEndian.PutUint32(a[4:], uint32(l.index))
	a = a.add(syscall.IFA_ADDRESS, ip.AsSlice())
	if family == syscall.AF_INET {
		// IPv4 addresses carry IFA_LOCAL too (the same address when
		// the link is not point-to-point), a broadcast address on
		// broadcast links, and the link's name as label.
		a = a.add(syscall.IFA_LOCAL, ip.AsSlice())
		if l.flags&syscall.IFF_BROADCAST != 0 && ap.PrefixLen < 31 {
			sn := ap.Subnet()
			bc := sn.Broadcast()
			a = a.add(syscall.IFA_BROADCAST, bc.AsSlice())
		}
		a = a.str(syscall.IFA_LABEL, l.name)
	}
	a = a.u32(unix.IFA_FLAGS, syscall.IFA_F_PERMANENT)
	// struct ifa_cacheinfo: preferred and valid lifetimes, created
	// and updated stamps.
	var ci []byte
	for _, v := range []uint32{infinityLife, infinityLife, 0, 0} {
		ci = binary.NativeEndian.AppendUint32(ci, v)
	}
	return a.add(unix.IFA_CACHEINFO, ci)
}

// routes returns the RTM_NEWROUTE bodies of the stack's route table
// (family's routes, or all), as main-table unicast routes.
func routes(st *stack.Stack, family uint8) [][]byte {
	if st == nil {
		return nil
	}
	var out [][]byte
	for _, rt := range st.GetRouteTable() {
		fam := uint8(syscall.AF_INET)
		if rt.Destination.ID().BitLen() == 128 {
			fam = syscall.AF_INET6
		}
		if family != fam && (family == syscall.AF_INET || family == syscall.AF_INET6) {
			continue
		}
		a := make(attrs, sizeofRtmsg)
		a[0], a[1] = fam, uint8(rt.Destination.Prefix())
		a[4] = unix.RT_TABLE_MAIN
		// A route via a gateway was configured (command line, DHCP);
		// an on-link one follows from an address, as Linux's
		// "proto kernel scope link" routes.
		a[5], a[6] = unix.RTPROT_KERNEL, unix.RT_SCOPE_LINK
		if rt.Gateway.BitLen() != 0 {
			a[5], a[6] = unix.RTPROT_BOOT, unix.RT_SCOPE_UNIVERSE
		}
		a[7] = unix.RTN_UNICAST
		a = a.u32(unix.RTA_TABLE, unix.RT_TABLE_MAIN)
		if rt.Destination.Prefix() > 0 {
			dst := rt.Destination.ID()
			a = a.add(unix.RTA_DST, dst.AsSlice())
		}
		if rt.Gateway.BitLen() != 0 {
			a = a.add(unix.RTA_GATEWAY, rt.Gateway.AsSlice())
		}
		a = a.u32(unix.RTA_OIF, uint32(rt.NIC))
		out = append(out, a)
	}
	return out
}
