package sockets

import (
	"fmt"
	"sync"
	"syscall"

	"gvisor.dev/gvisor/pkg/waiter"
)

// AF_UNIX sockets live in process: each end owns a receive buffer that
// its peer writes into. Abstract names are kept in one table for the
// machine, as the kernel's are. Path names live in the file system when
// the socket has a UnixNamer (SetUnixNamer): bind makes a socket file and
// the socket is found again through that file, so unlinking it frees the
// name, as on Linux. Without a namer, path names share the abstract
// names' table.

// A UnixNamer keeps AF_UNIX path names in a file system. Paths are as
// the application gave them (relative ones start at its working
// directory). Errors are syscall.Errno values.
type UnixNamer interface {
	// MakeSocketFile creates a socket file at path (bind):
	// EADDRINUSE if anything exists there. The key identifies the file
	// and must be comparable.
	MakeSocketFile(path string) (key any, err error)
	// FindSocketFile returns the key of the socket file at path
	// (connect, sendto): the lookup's error (ENOENT...), or
	// ECONNREFUSED for a file that is not a socket.
	FindSocketFile(path string) (key any, err error)
}

// Rights are the open files an SCM_RIGHTS message carries, opaque here:
// the system-call layer makes them from the sender's fds and installs
// them as the receiver's. Release drops them when they are never
// received (a socket closed with them queued, a read(2) of their
// message); it is called once.
type Rights interface{ Release() }

// unixBufSize is how much an end buffers before writers block (Linux's
// default socket memory, net.core.wmem_default).
const unixBufSize = 212992

type unixMsg struct {
	data   []byte
	from   string
	rights Rights
}

// unixSeg is a run of a stream's bytes; rights ride with the first
// bytes of the write that passed them.
type unixSeg struct {
	data   []byte
	rights Rights
}

// unixEnd is one AF_UNIX socket.
type unixEnd struct {
	typ int
	wq  waiter.Queue

	// namer keeps path names (nil: they go in unixNames).
	namer UnixNamer

	mu   sync.Mutex
	name string
	// file is the key of the socket file a path name made (namer's).
	file any
	peer *unixEnd
	// Received data: a byte stream, or messages (datagram, seqpacket).
	stream []unixSeg
	msgs   []unixMsg
	queued int
	// rcvShut: nothing more will arrive (own SHUT_RD, peer's SHUT_WR or
	// close); sndShut: writes fail with EPIPE.
	rcvShut, sndShut bool
	listening        bool
	backlog          int
	pending          []*unixEnd
	closed           bool
	passcred         bool
}

var _ impl = (*unixEnd)(nil)

// unixNames is the machine's AF_UNIX name table: abstract names (and
// path names of sockets without a namer) in m, the sockets bound to
// socket files by the files' keys in files.
var unixNames = struct {
	sync.Mutex
	m     map[string]*unixEnd
	files map[any]*unixEnd
	auto  int
}{m: map[string]*unixEnd{}, files: map[any]*unixEnd{}}

// isPath says whether a decoded name is a path name (not abstract,
// not unnamed).
func isPath(name string) bool { return name != "" && name[0] != 0 }

// SetUnixNamer makes an AF_UNIX socket keep path names in a file system
// (see UnixNamer); other sockets ignore it. Call it before Bind or
// Connect.
func (s *Socket) SetUnixNamer(n UnixNamer) {
	if u, ok := s.impl.(*unixEnd); ok {
		u.namer = n
	}
}

// PassCred reports SO_PASSCRED: the application wants its AF_UNIX
// messages' credentials (SCM_CREDENTIALS).
func (s *Socket) PassCred() bool {
	u, ok := s.impl.(*unixEnd)
	if !ok {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.passcred
}

func checkUnixType(typ, protocol int) error {
	if protocol != 0 {
		return syscall.EPROTONOSUPPORT
	}
	switch typ {
	case syscall.SOCK_STREAM, syscall.SOCK_DGRAM, syscall.SOCK_SEQPACKET:
		return nil
	}
	return syscall.ESOCKTNOSUPPORT
}

func newUnix(typ, protocol int) (*unixEnd, error) {
	if err := checkUnixType(typ, protocol); err != nil {
		return nil, err
	}
	return &unixEnd{typ: typ}, nil
}

func newUnixPair(typ, protocol int) (*unixEnd, *unixEnd, error) {
	if err := checkUnixType(typ, protocol); err != nil {
		return nil, nil, err
	}
	a, b := &unixEnd{typ: typ}, &unixEnd{typ: typ}
	a.peer, b.peer = b, a
	return a, b, nil
}

func (u *unixEnd) connected() bool { return u.typ != syscall.SOCK_DGRAM }

func (u *unixEnd) queue() *waiter.Queue { return &u.wq }

func (u *unixEnd) readiness() uint32 {
	u.mu.Lock()
	listening, pending := u.listening, len(u.pending)
	readable := u.queued > 0 || len(u.msgs) > 0 || u.rcvShut
	rcvShut, sndShut, peer := u.rcvShut, u.sndShut, u.peer
	u.mu.Unlock()
	var ev uint32
	if listening {
		if pending > 0 {
			ev |= EventIn
		}
		return ev
	}
	if readable {
		ev |= EventIn
	}
	if rcvShut {
		ev |= EventRdHup
	}
	if rcvShut && sndShut {
		ev |= EventHup
	}
	// The peer's lock is taken with ours released: two ends asking
	// about each other at once must not deadlock.
	switch {
	case sndShut:
		ev |= EventOut // writes do not block: they fail
	case peer != nil:
		if peer.room() > 0 {
			ev |= EventOut
		}
	case !u.connected():
		ev |= EventOut
	default:
		ev |= EventHup // an unconnected stream socket, as on Linux
	}
	return ev
}

// room is how much more the end can take (takes u.mu).
func (u *unixEnd) room() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed || u.rcvShut {
		return unixBufSize // writes will not block (they fail or vanish)
	}
	return unixBufSize - u.queued
}

func (u *unixEnd) bind(addr []byte) error {
	name, err := DecodeUnix(addr)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.name != "" {
		return syscall.EINVAL
	}
	if isPath(name) && u.namer != nil {
		key, err := u.namer.MakeSocketFile(name)
		if err != nil {
			return err
		}
		unixNames.Lock()
		unixNames.files[key] = u
		unixNames.Unlock()
		u.name, u.file = name, key
		return nil
	}
	unixNames.Lock()
	defer unixNames.Unlock()
	if name == "" {
		// Autobind: an abstract name of five hex digits.
		for {
			unixNames.auto++
			name = fmt.Sprintf("\x00%05x", unixNames.auto&0xfffff)
			if unixNames.m[name] == nil {
				break
			}
		}
	}
	if unixNames.m[name] != nil {
		return syscall.EADDRINUSE
	}
	unixNames.m[name] = u
	u.name = name
	return nil
}

func (u *unixEnd) listen(backlog int) error {
	if !u.connected() {
		return syscall.EOPNOTSUPP
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.name == "" || u.peer != nil {
		return syscall.EINVAL
	}
	u.listening = true
	u.backlog = min(max(backlog, 1), somaxconn)
	return nil
}

func (u *unixEnd) accept(wantAddr bool) (impl, []byte, error) {
	if !u.connected() {
		return nil, nil, syscall.EOPNOTSUPP
	}
	u.mu.Lock()
	if !u.listening {
		u.mu.Unlock()
		return nil, nil, syscall.EINVAL
	}
	if len(u.pending) == 0 {
		u.mu.Unlock()
		return nil, nil, syscall.EAGAIN
	}
	n := u.pending[0]
	u.pending = u.pending[1:]
	u.mu.Unlock()
	var addr []byte
	if wantAddr {
		addr = EncodeUnix(n.peerName())
	}
	return n, addr, nil
}

// lookup finds the socket a sockaddr names: through the file system
// for a path name when u has a namer.
func (u *unixEnd) lookup(addr []byte) (*unixEnd, error) {
	name, err := DecodeUnix(addr)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, syscall.EINVAL // Linux: connect needs a name
	}
	var t *unixEnd
	if isPath(name) && u.namer != nil {
		key, err := u.namer.FindSocketFile(name)
		if err != nil {
			return nil, err
		}
		unixNames.Lock()
		t = unixNames.files[key]
		unixNames.Unlock()
	} else {
		unixNames.Lock()
		t = unixNames.m[name]
		unixNames.Unlock()
	}
	if t == nil {
		return nil, syscall.ECONNREFUSED
	}
	return t, nil
}

func (u *unixEnd) connect(addr []byte) error {
	t, err := u.lookup(addr)
	if err != nil {
		return err
	}
	if t.typ != u.typ {
		return syscall.EPROTOTYPE
	}
	if !u.connected() {
		u.mu.Lock()
		u.peer = t
		u.mu.Unlock()
		return nil
	}
	u.mu.Lock()
	if u.peer != nil {
		u.mu.Unlock()
		return syscall.EISCONN
	}
	if u.listening {
		u.mu.Unlock()
		return syscall.EINVAL
	}
	u.mu.Unlock()
	t.mu.Lock()
	if !t.listening || t.closed {
		t.mu.Unlock()
		return syscall.ECONNREFUSED
	}
	if len(t.pending) >= t.backlog {
		t.mu.Unlock()
		return syscall.EAGAIN
	}
	// The server's end of the new connection, named as the listener.
	n := &unixEnd{typ: u.typ, name: t.name, peer: u}
	t.pending = append(t.pending, n)
	t.mu.Unlock()
	u.mu.Lock()
	u.peer = n
	u.mu.Unlock()
	t.wq.Notify(waiter.EventIn)
	return nil
}

func (u *unixEnd) connectResult() error { return nil }

func (u *unixEnd) peerName() string {
	u.mu.Lock()
	p := u.peer
	u.mu.Unlock()
	if p == nil {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.name
}

func (u *unixEnd) recv(bufs [][]byte, peek, wantFrom bool) (int, int, []byte, error) {
	n, total, from, rights, err := u.recvRights(bufs, peek, wantFrom)
	if rights != nil {
		rights.Release() // read(2) and recvfrom(2) close passed files, as Linux does
	}
	return n, total, from, err
}

// recvRights is recv that also returns the files the data passed (not
// on MSG_PEEK). A stream read stops after the bytes that carried files,
// so that each read returns one write's files at most, as on Linux.
func (u *unixEnd) recvRights(bufs [][]byte, peek, wantFrom bool) (n, total int, from []byte, rights Rights, err error) {
	u.mu.Lock()
	if u.listening {
		u.mu.Unlock()
		return 0, 0, nil, nil, syscall.EINVAL
	}
	switch {
	case u.typ == syscall.SOCK_STREAM && u.queued > 0:
		want := iovLen(bufs)
		i := 0
		for i < len(u.stream) && n < want {
			seg := u.stream[i]
			c := copyOutAt(bufs, n, seg.data)
			n += c
			if seg.rights != nil && !peek {
				rights = seg.rights
				u.stream[i].rights = nil
			}
			if c < len(seg.data) {
				if !peek {
					u.stream[i].data = seg.data[c:]
				}
				break
			}
			i++
			if seg.rights != nil {
				break
			}
		}
		total = n
		if !peek {
			u.stream = u.stream[i:]
			u.queued -= n
		}
	case u.typ != syscall.SOCK_STREAM && len(u.msgs) > 0:
		m := u.msgs[0]
		n, total = copyOutAt(bufs, 0, m.data), len(m.data)
		if wantFrom && m.from != "" {
			// An unnamed sender has no address at all: Linux sets
			// msg_namelen to 0 (getpeername says AF_UNIX alone).
			from = EncodeUnix(m.from)
		}
		if !peek {
			rights = m.rights
			u.msgs = u.msgs[1:]
			u.queued -= len(m.data)
		}
	case u.rcvShut:
		u.mu.Unlock()
		return 0, 0, nil, nil, nil // end of stream
	case u.connected() && u.peer == nil:
		u.mu.Unlock()
		return 0, 0, nil, nil, syscall.ENOTCONN
	default:
		u.mu.Unlock()
		return 0, 0, nil, nil, syscall.EAGAIN
	}
	u.mu.Unlock()
	if !peek {
		// Room freed: whoever writes to us may go on.
		if p := u.writer(); p != nil {
			p.wq.Notify(waiter.EventOut)
		}
	}
	return n, total, from, rights, nil
}

// writer is the end that writes into u (its peer, for connections).
func (u *unixEnd) writer() *unixEnd {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.connected() {
		return u.peer
	}
	return nil
}

// copyOutAt copies data into bufs from byte off of them on, returning
// how much fitted.
func copyOutAt(bufs [][]byte, off int, data []byte) int {
	n := 0
	for _, b := range bufs {
		if off >= len(b) {
			off -= len(b)
			continue
		}
		c := copy(b[off:], data[n:])
		off = 0
		n += c
		if n == len(data) {
			break
		}
	}
	return n
}

func (u *unixEnd) send(bufs [][]byte, to []byte, flags int) (int, error) {
	return u.sendRights(bufs, to, flags, nil)
}

// sendRights is send with files to pass. They belong to the receiving
// end once the call succeeds, and stay the caller's on error.
func (u *unixEnd) sendRights(bufs [][]byte, to []byte, flags int, rights Rights) (int, error) {
	u.mu.Lock()
	shut, peer, name := u.sndShut, u.peer, u.name
	u.mu.Unlock()
	if shut {
		return 0, syscall.EPIPE
	}
	if !u.connected() && to != nil {
		t, err := u.lookup(to)
		if err != nil {
			return 0, err
		}
		peer = t
	} else if u.connected() && to != nil && peer != nil {
		return 0, syscall.EISCONN
	}
	if peer == nil {
		if u.connected() {
			return 0, syscall.ENOTCONN
		}
		return 0, syscall.EDESTADDRREQ
	}
	size := iovLen(bufs)
	if u.typ != syscall.SOCK_STREAM && size > unixBufSize {
		return 0, syscall.EMSGSIZE
	}
	if u.typ == syscall.SOCK_STREAM && size == 0 {
		// No bytes to carry them: Linux drops the files too.
		if rights != nil {
			rights.Release()
		}
		return 0, nil
	}
	peer.mu.Lock()
	if peer.closed || peer.rcvShut {
		peer.mu.Unlock()
		if u.connected() {
			return 0, syscall.EPIPE
		}
		return 0, syscall.ECONNREFUSED
	}
	room := unixBufSize - peer.queued
	if room <= 0 || (u.typ != syscall.SOCK_STREAM && room < size) {
		peer.mu.Unlock()
		return 0, syscall.EAGAIN
	}
	data := make([]byte, min(room, size))
	copyIn(data, bufs)
	switch {
	case u.typ != syscall.SOCK_STREAM:
		peer.msgs = append(peer.msgs, unixMsg{data: data, from: name, rights: rights})
	case rights == nil && len(peer.stream) > 0 && peer.stream[len(peer.stream)-1].rights == nil:
		last := &peer.stream[len(peer.stream)-1]
		last.data = append(last.data, data...)
	default:
		peer.stream = append(peer.stream, unixSeg{data: data, rights: rights})
	}
	peer.queued += len(data)
	peer.mu.Unlock()
	peer.wq.Notify(waiter.EventIn)
	return len(data), nil
}

func copyIn(dst []byte, bufs [][]byte) {
	n := 0
	for _, b := range bufs {
		n += copy(dst[n:], b)
		if n == len(dst) {
			return
		}
	}
}

func (u *unixEnd) shutdown(how int) error {
	u.mu.Lock()
	peer := u.peer
	if peer == nil && u.connected() {
		u.mu.Unlock()
		return syscall.ENOTCONN
	}
	rd, wr := how != syscall.SHUT_WR, how != syscall.SHUT_RD
	if rd {
		u.rcvShut = true
	}
	if wr {
		u.sndShut = true
	}
	u.mu.Unlock()
	if peer != nil && u.connected() {
		peer.mu.Lock()
		if wr {
			peer.rcvShut = true
		}
		if rd {
			peer.sndShut = true
		}
		peer.mu.Unlock()
		peer.wq.Notify(waiter.EventIn | waiter.EventOut | waiter.EventRdHUp | waiter.EventHUp)
	}
	u.wq.Notify(waiter.EventIn | waiter.EventOut | waiter.EventRdHUp | waiter.EventHUp)
	return nil
}

func (u *unixEnd) sockname() ([]byte, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return EncodeUnix(u.name), nil
}

func (u *unixEnd) peername() ([]byte, error) {
	u.mu.Lock()
	p := u.peer
	u.mu.Unlock()
	if p == nil {
		return nil, syscall.ENOTCONN
	}
	return EncodeUnix(u.peerName()), nil
}

func (u *unixEnd) buffered() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.typ != syscall.SOCK_STREAM && len(u.msgs) > 0 {
		return len(u.msgs[0].data) // Linux: the next datagram's size
	}
	return u.queued
}

func (u *unixEnd) close() {
	u.mu.Lock()
	u.closed, u.rcvShut, u.sndShut = true, true, true
	peer, pending, name, file := u.peer, u.pending, u.name, u.file
	u.pending = nil
	// Files in flight to this end will never be received. (A socket
	// passed over itself keeps itself open, as it would on Linux
	// without its garbage collector.)
	var drop []Rights
	for _, seg := range u.stream {
		if seg.rights != nil {
			drop = append(drop, seg.rights)
		}
	}
	for _, m := range u.msgs {
		if m.rights != nil {
			drop = append(drop, m.rights)
		}
	}
	u.stream, u.msgs, u.queued = nil, nil, 0
	u.mu.Unlock()
	for _, r := range drop {
		r.Release()
	}
	if name != "" {
		unixNames.Lock()
		if file != nil {
			// The socket file stays (Linux leaves it for unlink).
			if unixNames.files[file] == u {
				delete(unixNames.files, file)
			}
		} else if unixNames.m[name] == u {
			delete(unixNames.m, name)
		}
		unixNames.Unlock()
	}
	for _, n := range pending {
		n.close()
	}
	if peer != nil && u.connected() {
		peer.mu.Lock()
		peer.rcvShut, peer.sndShut = true, true
		peer.mu.Unlock()
		peer.wq.Notify(waiter.EventIn | waiter.EventOut | waiter.EventRdHUp | waiter.EventHUp)
	}
	u.wq.Notify(waiter.EventIn | waiter.EventOut | waiter.EventHUp)
}

func (u *unixEnd) getsockopt(so *Socket, level, name int) ([]byte, error) {
	if level != syscall.SOL_SOCKET {
		return nil, syscall.EOPNOTSUPP
	}
	switch name {
	case syscall.SO_ERROR, syscall.SO_REUSEADDR, syscall.SO_KEEPALIVE, syscall.SO_BROADCAST:
		return intOpt(0), nil
	case syscall.SO_PASSCRED:
		u.mu.Lock()
		defer u.mu.Unlock()
		return boolOpt(u.passcred), nil
	case syscall.SO_SNDBUF, syscall.SO_RCVBUF:
		return intOpt(unixBufSize), nil
	case syscall.SO_ACCEPTCONN:
		u.mu.Lock()
		defer u.mu.Unlock()
		return boolOpt(u.listening), nil
	case syscall.SO_PEERCRED:
		// struct ucred {pid, uid, gid}: one process, running as root.
		return append(intOpt(1), make([]byte, 8)...), nil
	case syscall.SO_LINGER:
		return make([]byte, 8), nil
	}
	return nil, syscall.ENOPROTOOPT
}

func (u *unixEnd) setsockopt(so *Socket, level, name int, v []byte) error {
	if level != syscall.SOL_SOCKET {
		return syscall.EOPNOTSUPP
	}
	switch name {
	case syscall.SO_PASSCRED:
		v, err := intValue(v)
		if err != nil {
			return err
		}
		u.mu.Lock()
		u.passcred = v != 0
		u.mu.Unlock()
		return nil
	case syscall.SO_REUSEADDR, syscall.SO_KEEPALIVE, syscall.SO_SNDBUF,
		syscall.SO_RCVBUF, syscall.SO_BROADCAST, syscall.SO_LINGER:
		_, err := intValue(v)
		return err // accepted; buffers here have one size
	}
	return syscall.ENOPROTOOPT
}
