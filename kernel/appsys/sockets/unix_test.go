package sockets

import (
	"bytes"
	"syscall"
	"testing"
)

func TestUnixPairStream(t *testing.T) {
	a, b, err := Pair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	write(t, a, "over")
	write(t, a, "flow")
	if got := read(t, b, 100); got != "overflow" {
		t.Fatalf("read %q, want the two writes as one stream", got)
	}
	b.SetNonblock(true)
	if _, err := b.Read(nil, [][]byte{make([]byte, 4)}); err != syscall.EAGAIN {
		t.Fatalf("empty non-blocking read: %v, want EAGAIN", err)
	}
	if err := a.Shutdown(syscall.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	if ev := b.Readiness(); ev&(EventIn|EventRdHup) != EventIn|EventRdHup {
		t.Fatalf("readiness after peer's SHUT_WR %#x, want IN|RDHUP", ev)
	}
	if got := read(t, b, 4); got != "" {
		t.Fatalf("read after SHUT_WR = %q, want end of stream", got)
	}
	wantErrno(t, "write after SHUT_WR", func() error { _, err := a.Write(nil, [][]byte{[]byte("x")}); return err }(), syscall.EPIPE)
	b.Close()
	if ev := a.Readiness(); ev&EventHup == 0 {
		t.Fatalf("readiness after peer close %#x, want HUP", ev)
	}
}

func TestUnixPairFull(t *testing.T) {
	a, b, err := Pair(syscall.AF_UNIX, syscall.SOCK_STREAM|SockNonblock, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	big := make([]byte, unixBufSize+100)
	n, err := a.Write(nil, [][]byte{big})
	if err != nil || n != unixBufSize {
		t.Fatalf("Write past the buffer = %d, %v; want %d", n, err, unixBufSize)
	}
	if ev := a.Readiness(); ev&EventOut != 0 {
		t.Fatalf("full writer reports %#x: writable", ev)
	}
	if _, err := a.Write(nil, [][]byte{big}); err != syscall.EAGAIN {
		t.Fatalf("write to a full peer: %v, want EAGAIN", err)
	}
	if b.Buffered() != unixBufSize {
		t.Fatalf("FIONREAD = %d, want %d", b.Buffered(), unixBufSize)
	}
	read(t, b, 1000)
	if ev := a.Readiness(); ev&EventOut == 0 {
		t.Fatalf("writer after a read reports %#x: not writable", ev)
	}
}

func TestUnixDgramPair(t *testing.T) {
	a, b, err := Pair(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	write(t, a, "one")
	write(t, a, "two!")
	buf := make([]byte, 2)
	n, _, flags, err := b.RecvMsg(nil, [][]byte{buf}, 0, false)
	if err != nil || n != 2 || flags&syscall.MSG_TRUNC == 0 {
		t.Fatalf("short read of a datagram = %d flags %#x, %v; want 2 with MSG_TRUNC", n, flags, err)
	}
	buf = make([]byte, 10)
	n, from, _, err := b.RecvMsg(nil, [][]byte{buf}, 0, true)
	if err != nil || string(buf[:n]) != "two!" {
		t.Fatalf("second datagram %q, %v: message boundaries lost", buf[:n], err)
	}
	if from != nil {
		t.Errorf("sender address %q from an unnamed socket, want none (Linux: msg_namelen 0)", from)
	}
}

func TestUnixNamed(t *testing.T) {
	const path = "/tmp/gosv-test.sock"
	l := mustNew(t, nil, syscall.AF_UNIX, syscall.SOCK_STREAM)
	if err := l.Bind(EncodeUnix(path)); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(4); err != nil {
		t.Fatal(err)
	}
	other := mustNew(t, nil, syscall.AF_UNIX, syscall.SOCK_STREAM)
	wantErrno(t, "bind a used name", other.Bind(EncodeUnix(path)), syscall.EADDRINUSE)
	wantErrno(t, "connect to nobody", other.Connect(nil, EncodeUnix("/nobody")), syscall.ECONNREFUSED)

	c := mustNew(t, nil, syscall.AF_UNIX, syscall.SOCK_STREAM)
	if err := c.Connect(nil, EncodeUnix(path)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if l.Readiness()&EventIn == 0 {
		t.Fatal("listener not readable with a pending connection")
	}
	s, _, err := l.Accept(nil, 0, true)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer s.Close()
	write(t, c, "hi")
	if got := read(t, s, 10); got != "hi" {
		t.Fatalf("server read %q", got)
	}
	peer, _ := c.PeerName()
	if !bytes.Equal(peer, EncodeUnix(path)) {
		t.Errorf("client's peer %q, want %q", peer, EncodeUnix(path))
	}
	// Closing the listener frees its name.
	l.Close()
	if err := other.Bind(EncodeUnix(path)); err != nil {
		t.Fatalf("bind after the listener closed: %v", err)
	}
}

func TestUnixAutobindDgram(t *testing.T) {
	srv := mustNew(t, nil, syscall.AF_UNIX, syscall.SOCK_DGRAM)
	if err := srv.Bind(EncodeUnix("\x00gosv-abstract")); err != nil {
		t.Fatal(err)
	}
	cl := mustNew(t, nil, syscall.AF_UNIX, syscall.SOCK_DGRAM)
	if err := cl.Bind(EncodeUnix("")); err != nil { // autobind
		t.Fatal(err)
	}
	name, _ := cl.SockName()
	if len(name) != 2+6 || name[2] != 0 {
		t.Fatalf("autobound name %q, want an abstract 5-digit name", name)
	}
	if _, err := cl.SendMsg(nil, [][]byte{[]byte("req")}, EncodeUnix("\x00gosv-abstract"), 0); err != nil {
		t.Fatal(err)
	}
	n, from, _, err := srv.RecvMsg(nil, [][]byte{make([]byte, 8)}, 0, true)
	if err != nil || n != 3 || !bytes.Equal(from, name) {
		t.Fatalf("recvfrom = %d from %q, %v; want 3 from %q", n, from, err, name)
	}
}

func TestPairErrors(t *testing.T) {
	for _, tc := range []struct {
		name           string
		domain, typ, p int
		want           error
	}{
		{"inet", syscall.AF_INET, syscall.SOCK_STREAM, 0, syscall.EOPNOTSUPP},
		{"unknown", 77, syscall.SOCK_STREAM, 0, syscall.EAFNOSUPPORT},
		{"raw unix", syscall.AF_UNIX, syscall.SOCK_RAW, 0, syscall.ESOCKTNOSUPPORT},
		{"protocol", syscall.AF_UNIX, syscall.SOCK_STREAM, 6, syscall.EPROTONOSUPPORT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Pair(tc.domain, tc.typ, tc.p)
			wantErrno(t, "Pair", err, tc.want)
		})
	}
}
