package sockets

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
)

// fakeNamer is a file system holding only socket files and, to be
// refused, other files: path -> key.
type fakeNamer struct {
	mu    sync.Mutex
	files map[string]*fakeFile
}

type fakeFile struct {
	path   string
	socket bool
}

func newFakeNamer() *fakeNamer { return &fakeNamer{files: map[string]*fakeFile{}} }

func (n *fakeNamer) MakeSocketFile(p string) (any, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.files[p] != nil {
		return nil, syscall.EADDRINUSE
	}
	f := &fakeFile{path: p, socket: true}
	n.files[p] = f
	return f, nil
}

func (n *fakeNamer) FindSocketFile(p string) (any, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f := n.files[p]
	switch {
	case f == nil:
		return nil, syscall.ENOENT
	case !f.socket:
		return nil, syscall.ECONNREFUSED
	}
	return f, nil
}

func (n *fakeNamer) exists(p string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.files[p] != nil
}

func (n *fakeNamer) unlink(p string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.files, p)
}

func namedSocket(t *testing.T, n UnixNamer, typ int) *Socket {
	t.Helper()
	s := mustNew(t, nil, syscall.AF_UNIX, typ)
	s.SetUnixNamer(n)
	return s
}

// TestUnixPathNamesAreFiles follows Go's TestUnixUnlink: bind makes a
// file, close leaves it, unlink frees the name even while the listener
// is open, and connect finds sockets through the files.
func TestUnixPathNamesAreFiles(t *testing.T) {
	fs := newFakeNamer()
	const path = "/tmp/sock"
	l := namedSocket(t, fs, syscall.SOCK_STREAM)
	if err := l.Bind(EncodeUnix(path)); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	if !fs.exists(path) {
		t.Fatal("no socket file after bind")
	}
	if err := l.Listen(4); err != nil {
		t.Fatal(err)
	}
	c := namedSocket(t, fs, syscall.SOCK_STREAM)
	if err := c.Connect(nil, EncodeUnix(path)); err != nil {
		t.Fatalf("Connect through the file: %v", err)
	}
	wantErrno(t, "bind over the file", namedSocket(t, fs, syscall.SOCK_STREAM).Bind(EncodeUnix(path)), syscall.EADDRINUSE)

	fs.unlink(path)
	wantErrno(t, "connect after unlink", namedSocket(t, fs, syscall.SOCK_STREAM).Connect(nil, EncodeUnix(path)), syscall.ENOENT)
	l2 := namedSocket(t, fs, syscall.SOCK_STREAM)
	if err := l2.Bind(EncodeUnix(path)); err != nil {
		t.Fatalf("bind after unlink, the first listener still open: %v", err)
	}
	if name, _ := l2.SockName(); string(name) != string(EncodeUnix(path)) {
		t.Errorf("SockName = %q, want %q", name, EncodeUnix(path))
	}
	l2.Close()
	if !fs.exists(path) {
		t.Error("close removed the socket file (Linux leaves it to unlink)")
	}
	wantErrno(t, "connect to a closed listener's file", namedSocket(t, fs, syscall.SOCK_STREAM).Connect(nil, EncodeUnix(path)), syscall.ECONNREFUSED)
}

func TestUnixPathErrors(t *testing.T) {
	fs := newFakeNamer()
	fs.files["/regular"] = &fakeFile{path: "/regular"}
	dg := namedSocket(t, fs, syscall.SOCK_DGRAM)
	if err := dg.Bind(EncodeUnix("/dgram")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		typ  int
		op   func(*Socket) error
		want error
	}{
		{"connect to nothing", syscall.SOCK_STREAM, func(s *Socket) error { return s.Connect(nil, EncodeUnix("/none")) }, syscall.ENOENT},
		{"connect to a regular file", syscall.SOCK_STREAM, func(s *Socket) error { return s.Connect(nil, EncodeUnix("/regular")) }, syscall.ECONNREFUSED},
		{"connect to another type", syscall.SOCK_STREAM, func(s *Socket) error { return s.Connect(nil, EncodeUnix("/dgram")) }, syscall.EPROTOTYPE},
		{"connect to no name", syscall.SOCK_STREAM, func(s *Socket) error { return s.Connect(nil, EncodeUnix("")) }, syscall.EINVAL},
		{"sendto nothing", syscall.SOCK_DGRAM, func(s *Socket) error {
			_, err := s.SendMsg(nil, [][]byte{[]byte("x")}, EncodeUnix("/none"), 0)
			return err
		}, syscall.ENOENT},
		{"bind twice", syscall.SOCK_STREAM, func(s *Socket) error {
			if err := s.Bind(EncodeUnix("/a")); err != nil {
				return err
			}
			return s.Bind(EncodeUnix("/b"))
		}, syscall.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErrno(t, tc.name, tc.op(namedSocket(t, fs, tc.typ)), tc.want)
		})
	}
	if fs.exists("/b") {
		t.Error("a failed second bind made a file")
	}
}

// fakeRights counts releases.
type fakeRights struct {
	name     string
	released *int
}

func (r fakeRights) Release() { *r.released++ }

func recvRights(t *testing.T, s *Socket, n int) (string, Rights) {
	t.Helper()
	b := make([]byte, n)
	got, _, _, r, err := s.RecvMsgRights(nil, [][]byte{b}, syscall.MSG_DONTWAIT, false)
	if err != nil {
		t.Fatalf("RecvMsgRights: %v", err)
	}
	return string(b[:got]), r
}

func rightsName(r Rights) string {
	if r == nil {
		return "<nil>"
	}
	return r.(fakeRights).name
}

func TestUnixRightsStream(t *testing.T) {
	a, b, err := Pair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	var released int
	send := func(msg string, r Rights) {
		t.Helper()
		if n, err := a.SendMsgRights(nil, [][]byte{[]byte(msg)}, nil, 0, r); err != nil || n != len(msg) {
			t.Fatalf("SendMsgRights(%q) = %d, %v", msg, n, err)
		}
	}
	send("ab", fakeRights{"r1", &released})
	send("cd", nil)
	send("ef", fakeRights{"r2", &released})
	send("gh", nil)
	// Each read stops after the bytes that carried files.
	var got []string
	for i := 0; i < 3; i++ {
		data, r := recvRights(t, b, 100)
		got = append(got, fmt.Sprintf("%s+%s", data, rightsName(r)))
	}
	want := []string{"ab+r1", "cdef+r2", "gh+<nil>"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reads (-want +got):\n-%v\n+%v", want, got)
	}
	if released != 0 {
		t.Errorf("%d releases of received rights, want 0 (the receiver owns them)", released)
	}

	// A short read takes the files with the first bytes.
	send("long", fakeRights{"r3", &released})
	if data, r := recvRights(t, b, 1); data != "l" || rightsName(r) != "r3" {
		t.Errorf("short read = %q+%s, want l+r3", data, rightsName(r))
	}
	if data, r := recvRights(t, b, 10); data != "ong" || r != nil {
		t.Errorf("rest = %q+%s, want ong+<nil>", data, rightsName(r))
	}

	// read(2) and close drop what they do not hand over.
	send("x", fakeRights{"r4", &released})
	read(t, b, 10)
	if released != 1 {
		t.Errorf("read(2) of passed files: %d releases, want 1", released)
	}
	send("y", fakeRights{"r5", &released})
	if n, err := a.SendMsgRights(nil, nil, nil, 0, fakeRights{"r6", &released}); n != 0 || err != nil {
		t.Errorf("zero-byte stream send = %d, %v", n, err)
	}
	if released != 2 {
		t.Errorf("zero-byte stream send: %d releases, want 2 (Linux drops its files)", released)
	}
	b.Close()
	if released != 3 {
		t.Errorf("close with files queued: %d releases, want 3", released)
	}
	if _, err := a.SendMsgRights(nil, [][]byte{[]byte("z")}, nil, 0, fakeRights{"r7", &released}); err == nil || released != 3 {
		t.Errorf("send to a closed peer: err %v, %d releases; want an error and the rights left to the caller", err, released)
	}
}

func TestUnixRightsDgram(t *testing.T) {
	a, b, err := Pair(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var released int
	for _, m := range []struct {
		msg string
		r   Rights
	}{{"", fakeRights{"empty", &released}}, {"one", nil}, {"two", fakeRights{"r2", &released}}} {
		if _, err := a.SendMsgRights(nil, [][]byte{[]byte(m.msg)}, nil, 0, m.r); err != nil {
			t.Fatal(err)
		}
	}
	// Peeking leaves the files queued.
	if _, _, _, r, err := b.RecvMsgRights(nil, [][]byte{make([]byte, 8)}, syscall.MSG_PEEK, false); err != nil || r != nil {
		t.Errorf("peek = %v, %v; want no rights", rightsName(r), err)
	}
	var got []string
	for i := 0; i < 3; i++ {
		data, r := recvRights(t, b, 100)
		got = append(got, fmt.Sprintf("%s+%s", data, rightsName(r)))
	}
	want := []string{"+empty", "one+<nil>", "two+r2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("datagrams (-want +got):\n-%v\n+%v", want, got)
	}
	if _, err := a.SendMsgRights(nil, [][]byte{[]byte("q")}, nil, 0, fakeRights{"q", &released}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if released != 1 {
		t.Errorf("close with a datagram's files queued: %d releases, want 1", released)
	}
}

func TestSendRightsInet(t *testing.T) {
	st := loopbackStack(t)
	s := mustNew(t, st, syscall.AF_INET, syscall.SOCK_DGRAM)
	var released int
	_, err := s.SendMsgRights(nil, [][]byte{[]byte("x")}, sockaddrIn(localhost, 9), 0, fakeRights{"r", &released})
	wantErrno(t, "SCM_RIGHTS on UDP", err, syscall.EINVAL)
}

func TestPassCred(t *testing.T) {
	a, b, err := Pair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	if a.PassCred() {
		t.Fatal("SO_PASSCRED on by default")
	}
	if err := a.SetSockOpt(syscall.SOL_SOCKET, syscall.SO_PASSCRED, intOpt(1)); err != nil {
		t.Fatal(err)
	}
	v, err := a.GetSockOpt(syscall.SOL_SOCKET, syscall.SO_PASSCRED)
	if err != nil || !a.PassCred() || string(v) != string(intOpt(1)) {
		t.Errorf("after setting SO_PASSCRED: PassCred %v, getsockopt %v, %v", a.PassCred(), v, err)
	}
	if b.PassCred() {
		t.Error("SO_PASSCRED leaked to the peer")
	}
}
