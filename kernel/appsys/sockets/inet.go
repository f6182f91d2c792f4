package sockets

import (
	"sync"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/waiter"
)

// somaxconn bounds listen backlogs, as /proc/sys/net/core/somaxconn
// does on Linux.
const somaxconn = 4096

// inet is an AF_INET or AF_INET6 socket: a netstack endpoint.
type inet struct {
	family int
	stream bool
	ep     tcpip.Endpoint
	wq     *waiter.Queue

	mu     sync.Mutex
	target tcpip.FullAddress // of the last connect, asked again for its result
}

var _ impl = (*inet)(nil)

func newInet(st *stack.Stack, family, typ, protocol int) (*inet, int, error) {
	netProto := header.IPv4ProtocolNumber
	icmpProto := syscall.IPPROTO_ICMP
	if family == syscall.AF_INET6 {
		netProto, icmpProto = header.IPv6ProtocolNumber, syscall.IPPROTO_ICMPV6
	}
	var trans tcpip.TransportProtocolNumber
	switch {
	case typ == syscall.SOCK_STREAM && (protocol == 0 || protocol == syscall.IPPROTO_TCP):
		trans, protocol = header.TCPProtocolNumber, syscall.IPPROTO_TCP
	case typ == syscall.SOCK_DGRAM && (protocol == 0 || protocol == syscall.IPPROTO_UDP):
		trans, protocol = header.UDPProtocolNumber, syscall.IPPROTO_UDP
	case typ == syscall.SOCK_DGRAM && protocol == icmpProto:
		// Ping sockets: echo requests and their replies, no
		// privilege needed (Linux's net.ipv4.ping_group_range).
		trans = tcpip.TransportProtocolNumber(protocol)
	case typ == syscall.SOCK_RAW && protocol >= 0 && protocol <= 255:
		return newRaw(st, family, netProto, protocol)
	case typ == syscall.SOCK_STREAM || typ == syscall.SOCK_DGRAM || typ == syscall.SOCK_RAW:
		return nil, 0, syscall.EPROTONOSUPPORT
	default:
		// SOCK_SEQPACKET and the rest.
		return nil, 0, syscall.ESOCKTNOSUPPORT
	}
	if st.NetworkProtocolInstance(netProto) == nil {
		return nil, 0, syscall.EAFNOSUPPORT
	}
	if st.TransportProtocolInstance(trans) == nil {
		return nil, 0, syscall.EPROTONOSUPPORT
	}
	wq := &waiter.Queue{}
	ep, err := st.NewEndpoint(trans, netProto, wq)
	if err != nil {
		return nil, 0, errno(err)
	}
	return &inet{family: family, stream: typ == syscall.SOCK_STREAM, ep: ep, wq: wq}, protocol, nil
}

// newRaw makes a raw IP socket for protocol: it receives that
// protocol's packets (IPv4 ones with their IP header, as on Linux) and
// sends payloads the stack puts an IP header on. IPPROTO_RAW sockets
// only send, with the caller's IP header (IP_HDRINCL). The application
// is the only one in the machine, so it has CAP_NET_RAW.
func newRaw(st *stack.Stack, family int, netProto tcpip.NetworkProtocolNumber, protocol int) (*inet, int, error) {
	if st.NetworkProtocolInstance(netProto) == nil {
		return nil, 0, syscall.EAFNOSUPPORT
	}
	if protocol == 0 {
		return nil, 0, syscall.EPROTONOSUPPORT // Linux: no raw socket for IPPROTO_IP
	}
	wq := &waiter.Queue{}
	ep, err := st.NewRawEndpoint(tcpip.TransportProtocolNumber(protocol), netProto, wq, protocol != syscall.IPPROTO_RAW)
	if err != nil {
		if _, ok := err.(*tcpip.ErrUnknownProtocol); ok {
			return nil, 0, syscall.EPROTONOSUPPORT
		}
		return nil, 0, errno(err)
	}
	return &inet{family: family, ep: ep, wq: wq}, protocol, nil
}

func (s *inet) queue() *waiter.Queue { return s.wq }

func (s *inet) readiness() uint32 {
	const all = waiter.EventIn | waiter.EventOut | waiter.EventErr | waiter.EventHUp | waiter.EventRdHUp
	return s.ep.Readiness(all).ToLinux()
}

func (s *inet) bind(addr []byte) error {
	a, err := DecodeInet(s.family, addr)
	if err != nil {
		// Linux lets AF_INET sockets bind AF_UNSPEC with INADDR_ANY.
		if f, ferr := Family(addr); ferr == nil && f == syscall.AF_UNSPEC && s.family == syscall.AF_INET && len(addr) >= sizeofSockaddrIn && allZero(addr[4:8]) {
			a, err = DecodeInet(syscall.AF_INET, append([]byte{syscall.AF_INET, 0}, addr[2:]...))
		}
		if err != nil {
			return err
		}
	}
	return errno(s.ep.Bind(a))
}

func (s *inet) listen(backlog int) error {
	if backlog < 0 || backlog > somaxconn {
		backlog = somaxconn
	}
	return errno(s.ep.Listen(backlog))
}

func (s *inet) accept(wantAddr bool) (impl, []byte, error) {
	var peer tcpip.FullAddress
	var pp *tcpip.FullAddress
	if wantAddr {
		pp = &peer
	}
	ep, wq, err := s.ep.Accept(pp)
	if err != nil {
		return nil, nil, errno(err)
	}
	var addr []byte
	if wantAddr {
		addr = EncodeInet(s.family, peer)
	}
	return &inet{family: s.family, stream: s.stream, ep: ep, wq: wq}, addr, nil
}

func (s *inet) connect(addr []byte) error {
	if f, err := Family(addr); err == nil && f == syscall.AF_UNSPEC {
		// AF_UNSPEC dissolves a datagram socket's association.
		return errno(s.ep.Disconnect())
	}
	a, err := DecodeInet(s.family, addr)
	if err != nil {
		return err
	}
	// Linux connects to the local host for the unspecified address
	// (0.0.0.0 or ::, also v4-mapped), which Go's Dial relies on.
	if a.Addr.Unspecified() || isMappedAny(a.Addr) {
		a.Addr = loopbackFor(s.family, a.Addr)
	}
	s.mu.Lock()
	s.target = a
	s.mu.Unlock()
	return errno(s.ep.Connect(a))
}

func (s *inet) connectResult() error {
	// Asking again after the wait gives the outcome: nil once
	// connected, or the error that ended the attempt.
	s.mu.Lock()
	a := s.target
	s.mu.Unlock()
	err := s.ep.Connect(a)
	if _, ok := err.(*tcpip.ErrAlreadyConnected); ok {
		return nil
	}
	return errno(err)
}

func (s *inet) recv(bufs [][]byte, peek, wantFrom bool) (int, int, []byte, error) {
	empty := iovLen(bufs) == 0
	if s.stream && empty {
		return 0, 0, nil, nil
	}
	if empty {
		// A zero-length read takes the datagram and reports its sender
		// (Linux); gVisor refuses a buffer with no room, so give it one
		// byte that the caller never sees.
		var scratch [1]byte
		bufs = [][]byte{scratch[:]}
	}
	w := newIOVWriter(bufs)
	res, err := s.ep.Read(w, tcpip.ReadOptions{Peek: peek, NeedRemoteAddr: wantFrom && !s.stream})
	if err != nil {
		if _, eof := err.(*tcpip.ErrClosedForReceive); eof {
			return 0, 0, nil, nil
		}
		return 0, 0, nil, errno(err)
	}
	var from []byte
	if wantFrom {
		if s.stream {
			// Linux leaves msg_name alone on connected streams.
			from = nil
		} else {
			from = EncodeInet(s.family, res.RemoteAddr)
		}
	}
	if empty {
		res.Count = 0
	}
	return res.Count, max(res.Total, res.Count), from, nil
}

func (s *inet) send(bufs [][]byte, to []byte, flags int) (int, error) {
	opts := tcpip.WriteOptions{More: flags&msgMore != 0, EndOfRecord: flags&msgEOR != 0}
	if to != nil && !s.stream {
		a, err := DecodeInet(s.family, to)
		if err != nil {
			return 0, err
		}
		opts.To = &a
	}
	n, err := s.ep.Write(newIOVReader(bufs), opts)
	if err != nil {
		return int(n), errno(err)
	}
	return int(n), nil
}

func (s *inet) shutdown(how int) error {
	var f tcpip.ShutdownFlags
	switch how {
	case syscall.SHUT_RD:
		f = tcpip.ShutdownRead
	case syscall.SHUT_WR:
		f = tcpip.ShutdownWrite
	default:
		f = tcpip.ShutdownRead | tcpip.ShutdownWrite
	}
	return errno(s.ep.Shutdown(f))
}

func (s *inet) sockname() ([]byte, error) {
	a, err := s.ep.GetLocalAddress()
	if err != nil {
		return nil, errno(err)
	}
	return EncodeInet(s.family, a), nil
}

func (s *inet) peername() ([]byte, error) {
	a, err := s.ep.GetRemoteAddress()
	if err != nil {
		return nil, errno(err)
	}
	return EncodeInet(s.family, a), nil
}

func (s *inet) buffered() int {
	n, err := s.ep.GetSockOptInt(tcpip.ReceiveQueueSizeOption)
	if err != nil {
		return 0
	}
	return n
}

func (s *inet) close() { s.ep.Close() }

// isMappedAny reports whether a is ::ffff:0.0.0.0.
func isMappedAny(a tcpip.Address) bool {
	b := a.AsSlice()
	return len(b) == 16 && string(b[:12]) == "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff" && string(b[12:]) == "\x00\x00\x00\x00"
}

// loopbackFor returns the loopback address for an unspecified address a
// of a socket of family: 127.0.0.1, ::ffff:127.0.0.1 or ::1.
func loopbackFor(family int, a tcpip.Address) tcpip.Address {
	switch {
	case family == syscall.AF_INET || a.BitLen() == 32:
		return tcpip.AddrFrom4([4]byte{127, 0, 0, 1})
	case isMappedAny(a):
		return tcpip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1})
	}
	return tcpip.AddrFrom16([16]byte{15: 1})
}
