package appsys

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"sort"
	"syscall"
	"testing"
	"unsafe"

	"gosv/kernel/appsys/sockets"
	"gosv/vfs"
	"gosv/vfs/ramfs"
)

// fakeFDs is the core's fd table for files passed over sockets: fd ->
// handle, references per handle as the core counts them.
type fakeFDs struct {
	fds     map[int32]int32
	cloexec map[int32]bool
	core    map[int32]bool // fds the core serves itself
	refs    map[int32]int
	full    bool // EMFILE
}

func newFakeFDs() *fakeFDs {
	return &fakeFDs{fds: map[int32]int32{}, cloexec: map[int32]bool{}, core: map[int32]bool{}, refs: map[int32]int{}}
}

func (f *fakeFDs) RefFD(fd int32) (int32, error) {
	if f.core[fd] {
		return -1, syscall.EOPNOTSUPP
	}
	h, ok := f.fds[fd]
	if !ok {
		return -1, syscall.EBADF
	}
	f.refs[h]++
	return h, nil
}

func (f *fakeFDs) UnrefHandle(h int32) (bool, error) {
	if f.refs[h] <= 0 {
		return false, syscall.EINVAL
	}
	f.refs[h]--
	return f.refs[h] == 0, nil
}

func (f *fakeFDs) NewAppFD(h int32, cloexec bool) (int, error) {
	if f.full {
		return -1, syscall.EMFILE
	}
	fd := int32(0)
	for f.fds[fd] != 0 || f.core[fd] {
		fd++
	}
	f.fds[fd], f.cloexec[fd] = h, cloexec
	f.refs[h]++
	return int(fd), nil
}

// close closes fd as the core does, releasing the handle at the last
// reference.
func (f *fakeFDs) close(s *Server, fd int32) {
	h := f.fds[fd]
	delete(f.fds, fd)
	if f.refs[h]--; f.refs[h] == 0 {
		s.release(h)
	}
}

// rightsServer has a fake fd table and open files at handles 1..n
// behind fds 10+h.
func rightsServer(t *testing.T, n int) (*Server, *fakeFDs) {
	t.Helper()
	var fs vfs.FS
	if err := fs.Mount("/", ramfs.New()); err != nil {
		t.Fatal(err)
	}
	s := New(&fs, "/")
	f := newFakeFDs()
	s.fds = f
	for h := int32(1); h <= int32(n); h++ {
		s.files[h] = &openFile{path: fmt.Sprintf("file%d", h), handle: h}
		f.fds[10+h], f.refs[h] = h, 1
	}
	return s, f
}

// msg is a struct msghdr with its buffers, in Go memory (one address
// space: the handlers read it as the application's).
type msg struct {
	hdr     [sizeofMsghdr / 8]uint64
	iov     [2]uint64
	data    []byte
	control []byte
}

var keep []*msg // keeps messages on the heap, where they do not move

func newMsg(data string, control []byte) *msg {
	m := &msg{data: append([]byte(data), 0), control: control}
	keep = append(keep, m)
	m.iov = [2]uint64{uint64(uintptr(unsafe.Pointer(&m.data[0]))), uint64(len(data))}
	m.hdr[msgIov/8] = uint64(uintptr(unsafe.Pointer(&m.iov)))
	m.hdr[msgIovlen/8] = 1
	if len(control) > 0 {
		m.hdr[msgControl/8] = uint64(uintptr(unsafe.Pointer(&control[0])))
		m.hdr[msgControllen/8] = uint64(len(control))
	}
	return m
}

func (m *msg) addr() uint64 { return uint64(uintptr(unsafe.Pointer(&m.hdr))) }

func (m *msg) controllen() int { return int(m.hdr[msgControllen/8]) }

func (m *msg) flags() int { return int(uint32(m.hdr[msgFlags/8])) }

// received parses what recvmsg wrote into the control buffer.
func (m *msg) received(t *testing.T) (fds []int32, creds []byte) {
	t.Helper()
	b := m.control[:m.controllen()]
	for len(b) >= cmsgHdrLen {
		l := int(binary.LittleEndian.Uint64(b))
		typ := binary.LittleEndian.Uint32(b[12:])
		if l < cmsgHdrLen || l > len(b) {
			t.Fatalf("bad cmsg_len %d in %d bytes", l, len(b))
		}
		switch typ {
		case syscall.SCM_RIGHTS:
			for i := cmsgHdrLen; i+4 <= l; i += 4 {
				fds = append(fds, int32(binary.LittleEndian.Uint32(b[i:])))
			}
		case syscall.SCM_CREDENTIALS:
			creds = b[cmsgHdrLen:l]
		}
		b = b[min(cmsgSpace(l-cmsgHdrLen), len(b)):]
	}
	return fds, creds
}

func pair(t *testing.T, typ int) (*sockets.Socket, *sockets.Socket) {
	t.Helper()
	a, b, err := sockets.Pair(syscall.AF_UNIX, typ|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	return a, b
}

func handles(s *Server) []int32 {
	var hs []int32
	for h := range s.files {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i] < hs[j] })
	return hs
}

func TestPassFiles(t *testing.T) {
	for _, c := range []struct {
		name     string
		typ      int
		send     []int32 // fds passed (handle = fd-10)
		room     int     // control buffer of the receiver
		flags    int
		got      []int32 // fds received
		cloexec  bool
		ctrunc   bool
		inFlight []int32 // handles open once the sender closed its fds
		open     []int32 // handles open after the receive
	}{
		{"stream, one file, close-on-exec", syscall.SOCK_STREAM, []int32{11}, 24, syscall.MSG_CMSG_CLOEXEC, []int32{0}, true, false, []int32{1}, []int32{1}},
		{"datagram, two files", syscall.SOCK_DGRAM, []int32{11, 12}, 24, 0, []int32{0, 1}, false, false, []int32{1, 2}, []int32{1, 2}},
		{"the same file twice", syscall.SOCK_STREAM, []int32{13, 13}, 24, 0, []int32{0, 1}, false, false, []int32{3}, []int32{3}},
		{"too little room: the rest are closed", syscall.SOCK_STREAM, []int32{11, 12, 13}, 24, 0, []int32{0, 1}, false, true, []int32{1, 2, 3}, []int32{1, 2}},
		{"no control buffer", syscall.SOCK_DGRAM, []int32{12}, 0, 0, nil, false, true, []int32{2}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, fds := rightsServer(t, 3)
			a, b := pair(t, c.typ)
			out := newMsg("x", rightsMsg(c.send...))
			if n, err := s.sendOne(a, nil, out.addr(), 0); n != 1 || err != nil {
				t.Fatalf("sendmsg = %d, %v", n, err)
			}
			for _, fd := range []int32{11, 12, 13} {
				fds.close(s, fd) // in flight, the files stay open
			}
			if got := handles(s); !reflect.DeepEqual(got, c.inFlight) {
				t.Errorf("open handles in flight (-want +got):\n-%v\n+%v", c.inFlight, got)
			}
			in := newMsg("..", make([]byte, c.room))
			n, err := s.recvOne(b, nil, in.addr(), c.flags)
			if n != 1 || err != nil {
				t.Fatalf("recvmsg = %d, %v", n, err)
			}
			got, _ := in.received(t)
			if !reflect.DeepEqual(got, c.got) {
				t.Errorf("received fds (-want +got):\n-%v\n+%v", c.got, got)
			}
			for i, fd := range got {
				if h := fds.fds[fd]; h != c.send[i]-10 {
					t.Errorf("fd %d is handle %d, want %d", fd, h, c.send[i]-10)
				}
				if fds.cloexec[fd] != c.cloexec {
					t.Errorf("fd %d close-on-exec %v, want %v", fd, fds.cloexec[fd], c.cloexec)
				}
			}
			if echo := in.flags()&syscall.MSG_CMSG_CLOEXEC != 0; echo != (c.flags&syscall.MSG_CMSG_CLOEXEC != 0) {
				t.Errorf("msg_flags %#x: MSG_CMSG_CLOEXEC %v, want it as in the call's flags %#x", in.flags(), echo, c.flags)
			}
			if ctrunc := in.flags()&syscall.MSG_CTRUNC != 0; ctrunc != c.ctrunc {
				t.Errorf("MSG_CTRUNC %v, want %v", ctrunc, c.ctrunc)
			}
			if got := handles(s); !reflect.DeepEqual(got, c.open) {
				t.Errorf("open handles after the receive (-want +got):\n-%v\n+%v", c.open, got)
			}
			for _, fd := range got {
				fds.close(s, fd)
			}
			if len(s.files) != 0 {
				t.Errorf("handles %v open after every fd closed", handles(s))
			}
		})
	}
}

func TestPassFilesErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		ctl  []byte
		want error
	}{
		{"bad fd", rightsMsg(11, 99), syscall.EBADF},
		{"fd the core serves", rightsMsg(11, 1), syscall.EOPNOTSUPP},
		{"bad control message", rightsMsg(11)[:12], nil}, // shorter than a header: ignored
		{"unknown type", cmsg(syscall.SOL_SOCKET, 77, nil), syscall.EINVAL},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, fds := rightsServer(t, 1)
			fds.core[1] = true
			a, _ := pair(t, syscall.SOCK_STREAM)
			_, err := s.sendOne(a, nil, newMsg("x", c.ctl).addr(), 0)
			if err != c.want {
				t.Errorf("sendmsg: %v, want %v", err, c.want)
			}
			if fds.refs[1] != 1 {
				t.Errorf("handle 1 has %d references after a failed send, want 1", fds.refs[1])
			}
		})
	}
	t.Run("peer closed", func(t *testing.T) {
		s, fds := rightsServer(t, 1)
		a, b := pair(t, syscall.SOCK_STREAM)
		b.Close()
		if _, err := s.sendOne(a, nil, newMsg("x", rightsMsg(11)).addr(), 0); err != syscall.EPIPE {
			t.Errorf("sendmsg to a closed peer: %v, want EPIPE", err)
		}
		if fds.refs[1] != 1 {
			t.Errorf("handle 1 has %d references, want 1", fds.refs[1])
		}
	})
	t.Run("receiver closes with files queued", func(t *testing.T) {
		s, fds := rightsServer(t, 1)
		a, b := pair(t, syscall.SOCK_DGRAM)
		if _, err := s.sendOne(a, nil, newMsg("x", rightsMsg(11)).addr(), 0); err != nil {
			t.Fatal(err)
		}
		fds.close(s, 11)
		if s.files[1] == nil {
			t.Fatal("file closed while in flight")
		}
		b.Close()
		if s.files[1] != nil || fds.refs[1] != 0 {
			t.Errorf("file still open (%d references) after its message was dropped", fds.refs[1])
		}
	})
	t.Run("fd table full", func(t *testing.T) {
		s, fds := rightsServer(t, 1)
		a, b := pair(t, syscall.SOCK_DGRAM)
		if _, err := s.sendOne(a, nil, newMsg("x", rightsMsg(11)).addr(), 0); err != nil {
			t.Fatal(err)
		}
		fds.close(s, 11)
		fds.full = true
		in := newMsg(".", make([]byte, 24))
		if _, err := s.recvOne(b, nil, in.addr(), 0); err != nil {
			t.Fatal(err)
		}
		if got, _ := in.received(t); len(got) != 0 || in.flags()&syscall.MSG_CTRUNC == 0 {
			t.Errorf("received %v, flags %#x; want nothing and MSG_CTRUNC", got, in.flags())
		}
		if s.files[1] != nil {
			t.Error("a file no fd could take stayed open")
		}
	})
}

func TestPassCredentials(t *testing.T) {
	s, _ := rightsServer(t, 1)
	a, b := pair(t, syscall.SOCK_STREAM)
	if err := b.SetSockOpt(syscall.SOL_SOCKET, syscall.SO_PASSCRED, []byte{1, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.sendOne(a, nil, newMsg("x", rightsMsg(11)).addr(), 0); err != nil {
		t.Fatal(err)
	}
	in := newMsg(".", make([]byte, 64))
	if _, err := s.recvOne(b, nil, in.addr(), 0); err != nil {
		t.Fatal(err)
	}
	fds, creds := in.received(t)
	if want := ucredData(1, 0, 0); !reflect.DeepEqual(creds, want) || len(fds) != 1 {
		t.Errorf("control (-want +got):\n-creds %v, 1 fd\n+creds %v, fds %v", want, creds, fds)
	}
	if in.controllen() != cmsgSpace(sizeofUcred)+cmsgSpace(4) {
		t.Errorf("msg_controllen %d, want %d", in.controllen(), cmsgSpace(sizeofUcred)+cmsgSpace(4))
	}
}

// TestUnixNamesInFiles binds and connects through the server's file
// system, as Go's TestUnixUnlink and TestProtocolListenError check.
func TestUnixNamesInFiles(t *testing.T) {
	s, _ := rightsServer(t, 0)
	if _, err := s.fs.Mkdir("/", "/tmp", 0o777); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.fs.Create("/", "/tmp/regular", 0o644, true); err != nil {
		t.Fatal(err)
	}
	sock := func(typ int) *sockets.Socket {
		sk, err := sockets.New(nil, syscall.AF_UNIX, typ, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sk.Close)
		sk.SetUnixNamer(unixNamer{s})
		return sk
	}
	l := sock(syscall.SOCK_STREAM)
	if err := l.Bind(sockets.EncodeUnix("/tmp/sock")); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(1); err != nil {
		t.Fatal(err)
	}
	n, err := s.fs.Resolve("/", "/tmp/sock", false)
	if err != nil {
		t.Fatalf("no file after bind: %v", err)
	}
	if st, _ := n.Stat(); st.Mode != vfs.S_IFSOCK|0o755 {
		t.Errorf("socket file mode %#o, want %#o (0777 less the umask)", st.Mode, vfs.S_IFSOCK|0o755)
	}
	s.chdirTo(s.cwdDir(), "/tmp")
	if err := sock(syscall.SOCK_STREAM).Connect(nil, sockets.EncodeUnix("sock")); err != nil {
		t.Errorf("connect by a relative path: %v", err)
	}
	for _, c := range []struct {
		name string
		op   func(*sockets.Socket) error
		want error
	}{
		{"bind over the socket file", func(k *sockets.Socket) error { return k.Bind(sockets.EncodeUnix("/tmp/sock")) }, syscall.EADDRINUSE},
		{"bind over a regular file", func(k *sockets.Socket) error { return k.Bind(sockets.EncodeUnix("/tmp/regular")) }, syscall.EADDRINUSE},
		{"bind //", func(k *sockets.Socket) error { return k.Bind(sockets.EncodeUnix("//")) }, syscall.EADDRINUSE},
		{"bind in a missing directory", func(k *sockets.Socket) error { return k.Bind(sockets.EncodeUnix("/none/sock")) }, syscall.ENOENT},
		{"connect to nothing", func(k *sockets.Socket) error { return k.Connect(nil, sockets.EncodeUnix("/tmp/none")) }, syscall.ENOENT},
		{"connect to a regular file", func(k *sockets.Socket) error { return k.Connect(nil, sockets.EncodeUnix("/tmp/regular")) }, syscall.ECONNREFUSED},
		{"connect to a directory", func(k *sockets.Socket) error { return k.Connect(nil, sockets.EncodeUnix("/tmp")) }, syscall.ECONNREFUSED},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.op(sock(syscall.SOCK_STREAM)); err != c.want {
				t.Errorf("%v, want %v", err, c.want)
			}
		})
	}
	if err := s.fs.Unlink("/", "/tmp/sock"); err != nil {
		t.Fatal(err)
	}
	if err := sock(syscall.SOCK_DGRAM).Bind(sockets.EncodeUnix("/tmp/sock")); err != nil {
		t.Errorf("bind after unlink, the listener still open: %v", err)
	}
}
