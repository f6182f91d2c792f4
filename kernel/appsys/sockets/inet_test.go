package sockets

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestTCPEcho(t *testing.T) {
	st := loopbackStack(t)
	c, s := connected(t, st)
	write(t, c, "hello")
	if got := read(t, s, 100); got != "hello" {
		t.Fatalf("server read %q, want %q", got, "hello")
	}
	// Vectored both ways: two buffers out, three in.
	if n, err := s.Write(nil, [][]byte{[]byte("ab"), []byte("cde")}); err != nil || n != 5 {
		t.Fatalf("Write = %d, %v", n, err)
	}
	waitReady(t, c, EventIn)
	b1, b2, b3 := make([]byte, 1), make([]byte, 2), make([]byte, 10)
	n, err := c.Read(nil, [][]byte{b1, b2, b3})
	if err != nil || n != 5 || string(b1)+string(b2)+string(b3[:2]) != "abcde" {
		t.Fatalf("Read = %d, %v: %q %q %q", n, err, b1, b2, b3)
	}
}

func TestTCPNames(t *testing.T) {
	st := loopbackStack(t)
	l, laddr := listener(t, st, 0)
	c := mustNew(t, st, syscall.AF_INET, syscall.SOCK_STREAM)
	if _, err := c.PeerName(); err != syscall.ENOTCONN {
		t.Fatalf("PeerName before connect: %v, want ENOTCONN", err)
	}
	if err := c.Connect(nil, laddr); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	s, from, err := l.Accept(nil, 0, true)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer s.Close()
	cname, _ := c.SockName()
	cpeer, _ := c.PeerName()
	sname, _ := s.SockName()
	speer, _ := s.PeerName()
	for _, tc := range []struct {
		what      string
		got, want []byte
	}{
		{"accept's address vs client's name", from, cname},
		{"server's peer vs client's name", speer, cname},
		{"client's peer vs listener", cpeer, laddr},
		{"server's name vs listener", sname, laddr},
	} {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("%s: got %x, want %x", tc.what, tc.got, tc.want)
		}
	}
	if !bytes.Equal(cname[4:8], localhost[:]) || port(t, cname) == 0 {
		t.Errorf("client name %x: want 127.0.0.1 and a port", cname)
	}
}

func TestTCPIPv6AndMapped(t *testing.T) {
	st := loopbackStack(t)
	l := mustNew(t, st, syscall.AF_INET6, syscall.SOCK_STREAM)
	if err := l.Bind(sockaddrIn6([16]byte{}, 0)); err != nil {
		t.Fatalf("Bind [::]: %v", err)
	}
	if err := l.Listen(4); err != nil {
		t.Fatal(err)
	}
	name, _ := l.SockName()
	p := port(t, name)
	// An IPv4 client reaches the dual-stack listener; the server sees
	// it v4-mapped.
	c := mustNew(t, st, syscall.AF_INET, syscall.SOCK_STREAM)
	if err := c.Connect(nil, sockaddrIn(localhost, p)); err != nil {
		t.Fatalf("Connect 127.0.0.1: %v", err)
	}
	s, from, err := l.Accept(nil, 0, true)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer s.Close()
	want := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}
	if len(from) != 28 || !bytes.Equal(from[8:24], want) {
		t.Errorf("accepted from %x, want v4-mapped 127.0.0.1", from)
	}
	c6 := mustNew(t, st, syscall.AF_INET6, syscall.SOCK_STREAM)
	if err := c6.Connect(nil, sockaddrIn6([16]byte{15: 1}, p)); err != nil {
		t.Fatalf("Connect [::1]: %v", err)
	}
	s6, _, err := l.Accept(nil, 0, false)
	if err != nil {
		t.Fatalf("Accept v6: %v", err)
	}
	s6.Close()
}

func TestNonblockingConnectAccept(t *testing.T) {
	st := loopbackStack(t)
	l, addr := listener(t, st, SockNonblock)
	if _, _, err := l.Accept(nil, 0, false); err != syscall.EAGAIN {
		t.Fatalf("Accept on empty non-blocking listener: %v, want EAGAIN", err)
	}
	c := mustNew(t, st, syscall.AF_INET, syscall.SOCK_STREAM|SockNonblock)
	err := c.Connect(nil, addr)
	if err != nil && err != syscall.EINPROGRESS {
		t.Fatalf("non-blocking Connect: %v, want EINPROGRESS or success", err)
	}
	waitReady(t, c, EventOut)
	v, err := c.GetSockOpt(syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err != nil || binary.LittleEndian.Uint32(v) != 0 {
		t.Fatalf("SO_ERROR = %x, %v; want 0", v, err)
	}
	// As on Linux, the first connect after completion reports success,
	// later ones EISCONN.
	if err := c.Connect(nil, addr); err != nil && err != syscall.EISCONN {
		t.Fatalf("Connect after completion: %v, want success", err)
	}
	if err := c.Connect(nil, addr); err != syscall.EISCONN {
		t.Fatalf("Connect again: %v, want EISCONN", err)
	}
	waitReady(t, l, EventIn)
	s, _, err := l.Accept(nil, SockNonblock, false)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer s.Close()
	if !s.Nonblock() {
		t.Error("accept4(SOCK_NONBLOCK) gave a blocking socket")
	}
	if _, err := s.Read(nil, [][]byte{make([]byte, 8)}); err != syscall.EAGAIN {
		t.Fatalf("Read with nothing sent: %v, want EAGAIN", err)
	}
	// MSG_DONTWAIT makes one call non-blocking on a blocking socket.
	bc, bs := connected(t, st)
	if _, _, _, err := bs.RecvMsg(nil, [][]byte{make([]byte, 8)}, syscall.MSG_DONTWAIT, false); err != syscall.EAGAIN {
		t.Fatalf("RecvMsg(MSG_DONTWAIT): %v, want EAGAIN", err)
	}
	_ = bc
}

func TestConnectRefused(t *testing.T) {
	st := loopbackStack(t)
	// A port nobody listens on: bind one and close it.
	tmp := mustNew(t, st, syscall.AF_INET, syscall.SOCK_STREAM)
	if err := tmp.Bind(sockaddrIn(localhost, 0)); err != nil {
		t.Fatal(err)
	}
	addr, _ := tmp.SockName()
	tmp.Close()

	c := mustNew(t, st, syscall.AF_INET, syscall.SOCK_STREAM)
	wantErrno(t, "blocking connect to a closed port", c.Connect(nil, addr), syscall.ECONNREFUSED)

	n := mustNew(t, st, syscall.AF_INET, syscall.SOCK_STREAM|SockNonblock)
	if err := n.Connect(nil, addr); err != syscall.EINPROGRESS && err != syscall.ECONNREFUSED {
		t.Fatalf("non-blocking connect: %v", err)
	}
	waitReady(t, n, EventErr)
	v, err := n.GetSockOpt(syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err != nil {
		t.Fatal(err)
	}
	if got := syscall.Errno(binary.LittleEndian.Uint32(v)); got != syscall.ECONNREFUSED {
		t.Fatalf("SO_ERROR = %v, want ECONNREFUSED", got)
	}
}

func TestShutdown(t *testing.T) {
	st := loopbackStack(t)
	c, s := connected(t, st)
	if err := c.Shutdown(syscall.SHUT_WR); err != nil {
		t.Fatalf("Shutdown(SHUT_WR): %v", err)
	}
	waitReady(t, s, EventIn|EventRdHup)
	if got := read(t, s, 10); got != "" {
		t.Fatalf("read after peer's SHUT_WR = %q, want end of stream", got)
	}
	wantErrno(t, "write after SHUT_WR", func() error { _, err := c.Write(nil, [][]byte{[]byte("x")}); return err }(), syscall.EPIPE)
	// The other direction still works.
	write(t, s, "still open")
	if got := read(t, c, 20); got != "still open" {
		t.Fatalf("read %q after half close", got)
	}
	wantErrno(t, "bad how", c.Shutdown(7), syscall.EINVAL)
	u := mustNew(t, st, syscall.AF_INET, syscall.SOCK_STREAM)
	wantErrno(t, "shutdown unconnected", u.Shutdown(syscall.SHUT_RDWR), syscall.ENOTCONN)
	// Closing the server end: the client sees end of stream.
	s.Close()
	waitReady(t, c, EventIn)
	if got := read(t, c, 10); got != "" {
		t.Fatalf("read after peer close = %q, want end of stream", got)
	}
}

func TestLargeBlockingWrite(t *testing.T) {
	st := loopbackStack(t)
	c, s := connected(t, st)
	msg := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: more than the buffers
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if n, err := c.Write(nil, [][]byte{msg}); err != nil || n != len(msg) {
			t.Errorf("Write = %d, %v; want %d", n, err, len(msg))
		}
	}()
	got := make([]byte, len(msg))
	n, _, _, err := s.RecvMsg(nil, [][]byte{got}, syscall.MSG_WAITALL, false)
	wg.Wait()
	if err != nil || n != len(msg) || !bytes.Equal(got, msg) {
		t.Fatalf("RecvMsg(MSG_WAITALL) = %d, %v; data equal %v", n, err, bytes.Equal(got, msg))
	}
}

func TestRecvTimeout(t *testing.T) {
	st := loopbackStack(t)
	_, s := connected(t, st)
	tv := timevalOpt(30 * time.Millisecond)
	if err := s.SetSockOpt(syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, tv); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := s.Read(nil, [][]byte{make([]byte, 4)})
	if err != syscall.EAGAIN || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("Read with SO_RCVTIMEO: %v after %v, want EAGAIN after >= 30ms", err, time.Since(start))
	}
}

func TestCloseWakesAccept(t *testing.T) {
	st := loopbackStack(t)
	l, _ := listener(t, st, 0)
	done := make(chan error)
	go func() {
		_, _, err := l.Accept(nil, 0, false)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	l.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Accept on a closed socket succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still blocked after Close")
	}
}

func TestUDP(t *testing.T) {
	st := loopbackStack(t)
	a := mustNew(t, st, syscall.AF_INET, syscall.SOCK_DGRAM|SockNonblock)
	b := mustNew(t, st, syscall.AF_INET, syscall.SOCK_DGRAM)
	for _, s := range []*Socket{a, b} {
		if err := s.Bind(sockaddrIn(localhost, 0)); err != nil {
			t.Fatal(err)
		}
	}
	aaddr, _ := a.SockName()
	baddr, _ := b.SockName()
	if _, _, _, err := a.RecvMsg(nil, [][]byte{make([]byte, 4)}, 0, true); err != syscall.EAGAIN {
		t.Fatalf("recv on empty non-blocking UDP socket: %v, want EAGAIN", err)
	}
	if n, err := b.SendMsg(nil, [][]byte{[]byte("datagram")}, aaddr, 0); err != nil || n != 8 {
		t.Fatalf("sendto = %d, %v", n, err)
	}
	waitReady(t, a, EventIn)
	if a.Buffered() == 0 {
		t.Error("FIONREAD is 0 with a datagram queued")
	}
	// Peek, then a truncating read that asks for the real length.
	buf := make([]byte, 4)
	n, from, _, err := a.RecvMsg(nil, [][]byte{buf}, syscall.MSG_PEEK, true)
	if err != nil || n != 4 || string(buf) != "data" || !bytes.Equal(from, baddr) {
		t.Fatalf("peek = %d %q from %x, %v; want 4 \"data\" from %x", n, buf, from, err, baddr)
	}
	n, _, flags, err := a.RecvMsg(nil, [][]byte{buf}, syscall.MSG_TRUNC, false)
	if err != nil || n != 8 || flags&syscall.MSG_TRUNC == 0 {
		t.Fatalf("recv(MSG_TRUNC) = %d flags %#x, %v; want 8 with MSG_TRUNC", n, flags, err)
	}
	if _, _, _, err := a.RecvMsg(nil, [][]byte{buf}, 0, false); err != syscall.EAGAIN {
		t.Fatalf("datagram read twice: %v", err)
	}
	// A zero-length read consumes a datagram and says who sent it.
	if _, err := b.SendMsg(nil, [][]byte{[]byte("gone")}, aaddr, 0); err != nil {
		t.Fatal(err)
	}
	waitReady(t, a, EventIn)
	n, from, flags, err = a.RecvMsg(nil, [][]byte{nil}, 0, true)
	if err != nil || n != 0 || !bytes.Equal(from, baddr) || flags&syscall.MSG_TRUNC == 0 {
		t.Fatalf("zero-length recvfrom = %d from %x flags %#x, %v; want 0 from %x, MSG_TRUNC", n, from, flags, err, baddr)
	}
	if _, _, _, err := a.RecvMsg(nil, [][]byte{buf}, 0, false); err != syscall.EAGAIN {
		t.Fatalf("the zero-length read left its datagram queued: %v", err)
	}
	// Connected UDP: write without an address; listen makes no sense.
	if err := a.Connect(nil, baddr); err != nil {
		t.Fatal(err)
	}
	write(t, a, "reply")
	n, from, _, err = b.RecvMsg(nil, [][]byte{make([]byte, 16)}, 0, true)
	if err != nil || n != 5 || !bytes.Equal(from, aaddr) {
		t.Fatalf("recvfrom = %d from %x, %v", n, from, err)
	}
	wantErrno(t, "listen on UDP", b.Listen(1), syscall.EOPNOTSUPP)
}

func TestSocketErrors(t *testing.T) {
	st := loopbackStack(t)
	for _, tc := range []struct {
		name                  string
		domain, typ, protocol int
		want                  error
	}{
		{"unknown family", 1234, syscall.SOCK_STREAM, 0, syscall.EAFNOSUPPORT},
		{"raw IPPROTO_IP", syscall.AF_INET, syscall.SOCK_RAW, 0, syscall.EPROTONOSUPPORT},
		{"raw, unknown protocol", syscall.AF_INET, syscall.SOCK_RAW, 132, syscall.EPROTONOSUPPORT},
		{"seqpacket", syscall.AF_INET, syscall.SOCK_SEQPACKET, 0, syscall.ESOCKTNOSUPPORT},
		{"ping over IPv6 with ICMPv4", syscall.AF_INET6, syscall.SOCK_DGRAM, syscall.IPPROTO_ICMP, syscall.EPROTONOSUPPORT},
		{"stream over udp", syscall.AF_INET, syscall.SOCK_STREAM, syscall.IPPROTO_UDP, syscall.EPROTONOSUPPORT},
		{"bad flags", syscall.AF_INET, syscall.SOCK_STREAM | 0x100, 0, syscall.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(st, tc.domain, tc.typ, tc.protocol)
			wantErrno(t, "New", err, tc.want)
		})
	}
	if _, err := New(nil, syscall.AF_INET, syscall.SOCK_STREAM, 0); err != syscall.EAFNOSUPPORT {
		t.Errorf("New without a stack: %v, want EAFNOSUPPORT", err)
	}
	s := mustNew(t, st, syscall.AF_INET, syscall.SOCK_STREAM)
	wantErrno(t, "bind short sockaddr", s.Bind(sockaddrIn(localhost, 0)[:8]), syscall.EINVAL)
	wantErrno(t, "bind foreign address", s.Bind(sockaddrIn([4]byte{10, 1, 2, 3}, 0)), syscall.EADDRNOTAVAIL)
	_, addr := listener(t, st, 0)
	wantErrno(t, "bind a used port", s.Bind(addr), syscall.EADDRINUSE)
	wantErrno(t, "accept on an unlistening socket", func() error { _, _, err := s.Accept(nil, 0, false); return err }(), syscall.EINVAL)
}

func TestSockopts(t *testing.T) {
	st := loopbackStack(t)
	tcpSock := mustNew(t, st, syscall.AF_INET6, syscall.SOCK_STREAM)
	udpSock := mustNew(t, st, syscall.AF_INET, syscall.SOCK_DGRAM)
	for _, tc := range []struct {
		name        string
		s           *Socket
		level, opt  int
		set         []byte
		want        []byte // nil: read back what was set
		atLeastWant bool   // the value read back is >= want (buffer sizes)
	}{
		{name: "SO_REUSEADDR", s: tcpSock, level: syscall.SOL_SOCKET, opt: syscall.SO_REUSEADDR, set: intOpt(1)},
		{name: "SO_REUSEPORT", s: tcpSock, level: syscall.SOL_SOCKET, opt: soReusePort, set: intOpt(1)},
		{name: "SO_KEEPALIVE", s: tcpSock, level: syscall.SOL_SOCKET, opt: syscall.SO_KEEPALIVE, set: intOpt(1)},
		{name: "SO_BROADCAST", s: udpSock, level: syscall.SOL_SOCKET, opt: syscall.SO_BROADCAST, set: intOpt(1)},
		{name: "SO_LINGER", s: tcpSock, level: syscall.SOL_SOCKET, opt: syscall.SO_LINGER, set: append(intOpt(1), intOpt(7)...)},
		{name: "SO_SNDBUF", s: tcpSock, level: syscall.SOL_SOCKET, opt: syscall.SO_SNDBUF, set: intOpt(65536), want: intOpt(65536), atLeastWant: true},
		{name: "SO_RCVBUF", s: tcpSock, level: syscall.SOL_SOCKET, opt: syscall.SO_RCVBUF, set: intOpt(65536), want: intOpt(65536), atLeastWant: true},
		{name: "SO_RCVTIMEO", s: tcpSock, level: syscall.SOL_SOCKET, opt: syscall.SO_RCVTIMEO, set: timevalOpt(1500 * time.Millisecond)},
		{name: "TCP_NODELAY", s: tcpSock, level: syscall.IPPROTO_TCP, opt: syscall.TCP_NODELAY, set: intOpt(1)},
		{name: "TCP_KEEPIDLE", s: tcpSock, level: syscall.IPPROTO_TCP, opt: syscall.TCP_KEEPIDLE, set: intOpt(30)},
		{name: "TCP_KEEPINTVL", s: tcpSock, level: syscall.IPPROTO_TCP, opt: syscall.TCP_KEEPINTVL, set: intOpt(15)},
		{name: "TCP_KEEPCNT", s: tcpSock, level: syscall.IPPROTO_TCP, opt: syscall.TCP_KEEPCNT, set: intOpt(9)},
		{name: "TCP_DEFER_ACCEPT", s: tcpSock, level: syscall.IPPROTO_TCP, opt: syscall.TCP_DEFER_ACCEPT, set: intOpt(5)},
		{name: "TCP_FASTOPEN accepted", s: tcpSock, level: syscall.IPPROTO_TCP, opt: tcpFastopen, set: intOpt(5), want: intOpt(0)},
		{name: "IPV6_V6ONLY", s: tcpSock, level: syscall.IPPROTO_IPV6, opt: syscall.IPV6_V6ONLY, set: intOpt(1)},
		{name: "IP_TOS", s: udpSock, level: syscall.IPPROTO_IP, opt: syscall.IP_TOS, set: intOpt(0x10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.SetSockOpt(tc.level, tc.opt, tc.set); err != nil {
				t.Fatalf("SetSockOpt: %v", err)
			}
			got, err := tc.s.GetSockOpt(tc.level, tc.opt)
			if err != nil {
				t.Fatalf("GetSockOpt: %v", err)
			}
			want := tc.want
			if want == nil {
				want = tc.set
			}
			if tc.atLeastWant {
				if binary.LittleEndian.Uint32(got) < binary.LittleEndian.Uint32(want) {
					t.Fatalf("got %d, want at least %d", binary.LittleEndian.Uint32(got), binary.LittleEndian.Uint32(want))
				}
				return
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("(-want +got)\n-%x\n+%x", want, got)
			}
		})
	}
	// Read-only and identity options.
	for _, tc := range []struct {
		name string
		s    *Socket
		opt  int
		want int
	}{
		{"SO_TYPE", tcpSock, syscall.SO_TYPE, syscall.SOCK_STREAM},
		{"SO_DOMAIN", tcpSock, soDomain, syscall.AF_INET6},
		{"SO_PROTOCOL", udpSock, soProtocol, syscall.IPPROTO_UDP},
		{"SO_ACCEPTCONN", tcpSock, syscall.SO_ACCEPTCONN, 0},
		{"SO_ERROR", tcpSock, syscall.SO_ERROR, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.s.GetSockOpt(syscall.SOL_SOCKET, tc.opt)
			if err != nil || !bytes.Equal(got, intOpt(tc.want)) {
				t.Fatalf("got %x, %v; want %x", got, err, intOpt(tc.want))
			}
			wantErrno(t, "set", tc.s.SetSockOpt(syscall.SOL_SOCKET, tc.opt, intOpt(1)), syscall.ENOPROTOOPT)
		})
	}
	wantErrno(t, "short int", tcpSock.SetSockOpt(syscall.SOL_SOCKET, syscall.SO_REUSEADDR, []byte{1}), syscall.EINVAL)
	wantErrno(t, "unknown option", tcpSock.SetSockOpt(syscall.SOL_SOCKET, 9999, intOpt(1)), syscall.ENOPROTOOPT)
	wantErrno(t, "TCP option on UDP", udpSock.SetSockOpt(syscall.IPPROTO_TCP, syscall.TCP_NODELAY, intOpt(1)), syscall.ENOPROTOOPT)
	wantErrno(t, "bad keepidle", tcpSock.SetSockOpt(syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, intOpt(0)), syscall.EINVAL)
	if info, err := tcpSock.GetSockOpt(syscall.IPPROTO_TCP, syscall.TCP_INFO); err != nil || len(info) < 8 {
		t.Errorf("TCP_INFO = %x, %v", info, err)
	}
	if cc, err := tcpSock.GetSockOpt(syscall.IPPROTO_TCP, syscall.TCP_CONGESTION); err != nil || strings.TrimRight(string(cc), "\x00") == "" {
		t.Errorf("TCP_CONGESTION = %q, %v", cc, err)
	}
}

func TestReadinessNotify(t *testing.T) {
	st := loopbackStack(t)
	l, addr := listener(t, st, SockNonblock)
	events := make(chan uint32, 64)
	l.SetNotify(func(ev uint32, _ bool) { events <- ev })
	if ev := <-events; ev&EventIn != 0 {
		t.Fatalf("fresh listener reported %#x: readable with nothing queued", ev)
	}
	c := mustNew(t, st, syscall.AF_INET, syscall.SOCK_STREAM)
	if err := c.Connect(nil, addr); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, EventIn, "listener after a connection")
	s, _, err := l.Accept(nil, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitEvent(t, events, 0, "listener after accept drained it")

	sev := make(chan uint32, 64)
	s.SetNotify(func(ev uint32, _ bool) { sev <- ev })
	waitEvent(t, sev, EventOut, "connection, idle")
	write(t, c, "ping")
	waitEvent(t, sev, EventIn|EventOut, "connection with data")
	read(t, s, 10)
	waitEvent(t, sev, EventOut, "connection drained")
	c.Close()
	waitEvent(t, sev, EventIn|EventOut|EventRdHup, "after the peer closed")
}

// waitEvent waits for a report whose bits under mask equal want, where
// mask is IN|OUT|RDHUP.
func waitEvent(t *testing.T, ch chan uint32, want uint32, what string) {
	t.Helper()
	const mask = EventIn | EventOut | EventRdHup
	var last uint32
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev&mask == want {
				return
			}
			last = ev
		case <-timeout:
			t.Fatalf("%s: last readiness %#x, want %#x (of %#x)", what, last, want, mask)
		}
	}
}

// TestConnectUnspecified: as on Linux, connecting to 0.0.0.0 or :: reaches
// the local host (Go's Dial("tcp4", "[::]:port") relies on it), and the
// connection works afterwards (options, data).
func TestConnectUnspecified(t *testing.T) {
	st := loopbackStack(t)
	l4, laddr := listener(t, st, 0)
	l6 := mustNew(t, st, syscall.AF_INET6, syscall.SOCK_STREAM)
	if err := l6.Bind(sockaddrIn6([16]byte{}, 0)); err != nil {
		t.Fatal(err)
	}
	if err := l6.Listen(4); err != nil {
		t.Fatal(err)
	}
	l6addr, _ := l6.SockName()
	for _, tc := range []struct {
		family int
		addr   []byte
		l      *Socket
	}{
		{syscall.AF_INET, sockaddrIn([4]byte{}, port(t, laddr)), l4},
		{syscall.AF_INET6, sockaddrIn6([16]byte{}, port(t, l6addr)), l6},
	} {
		l := tc.l
		c := mustNew(t, st, tc.family, syscall.SOCK_STREAM)
		if err := c.Connect(nil, tc.addr); err != nil {
			t.Fatalf("Connect to the unspecified address (family %d): %v", tc.family, err)
		}
		s, _, err := l.Accept(nil, 0, false)
		if err != nil {
			t.Fatalf("Accept: %v", err)
		}
		if err := c.SetSockOpt(syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, intOpt(15)); err != nil {
			t.Errorf("TCP_KEEPIDLE after connecting: %v", err)
		}
		write(t, c, "hi")
		if got := read(t, s, 10); got != "hi" {
			t.Errorf("read %q", got)
		}
		s.Close()
		c.Close()
	}
}

// TestCloseEndsPublishLoop: each notified socket has a goroutine that
// reports readiness; Close must end it, or a server leaks one goroutine
// per connection.
func TestCloseEndsPublishLoop(t *testing.T) {
	st := loopbackStack(t)
	before := runtime.NumGoroutine()
	for range 20 {
		s := mustNew(t, st, syscall.AF_INET, syscall.SOCK_STREAM)
		s.SetNotify(func(uint32, bool) {})
		s.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after closing 20 notified sockets, %d before", n, before)
	}
}
