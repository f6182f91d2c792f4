package appsys

import (
	"sync"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"gosv/kernel"
	"gosv/kernel/appsys/sockets"
	"gosv/vfs"
)

// Socket system calls: arguments are read from the application's
// memory, the work is done by package sockets, and results (fds,
// sockaddrs, lengths) are written back. Blocking calls park the serving
// goroutine; readiness is pushed to the core with kernel.SetReady.

// SetNetwork gives the application a network stack for AF_INET and
// AF_INET6 sockets, and the interfaces AF_NETLINK sockets report.
// Without one, those sockets fail with EAFNOSUPPORT; AF_UNIX works
// either way, and AF_NETLINK reports no interfaces. Call it before Run.
func (s *Server) SetNetwork(st *stack.Stack) { s.net = st }

// sockNode gives sockets a stat: S_IFSOCK.
type sockNode struct{ ino uint64 }

func (n sockNode) Stat() (vfs.Stat, error) {
	return vfs.Stat{Mode: vfs.S_IFSOCK | 0o777, Ino: n.ino, Nlink: 1}, nil
}
func (sockNode) ReadAt([]byte, int64) (int, error)  { return 0, syscall.ESPIPE }
func (sockNode) Readdir() ([]vfs.Dirent, error)     { return nil, syscall.ENOTDIR }
func (sockNode) Lookup(string) (vfs.Node, error)    { return nil, syscall.ENOTDIR }
func (sockNode) Readlink() (string, error)          { return "", syscall.EINVAL }
func (sockNode) WriteAt([]byte, int64) (int, error) { return 0, syscall.ESPIPE }

var sockInodes struct {
	sync.Mutex
	next uint64
}

// addSocket gives the application an fd for sk.
func (s *Server) addSocket(sk *sockets.Socket, cloexec bool) (int64, error) {
	sockInodes.Lock()
	sockInodes.next++
	node := sockNode{ino: sockInodes.next}
	sockInodes.Unlock()
	sk.SetUnixNamer(unixNamer{s})
	flags := oRdwr
	if sk.Nonblock() {
		flags |= oNonblock
	}
	fd, err := s.add(&openFile{node: node, sock: sk, path: "socket:", flags: flags}, cloexec)
	if err != nil {
		sk.Close()
	}
	return fd, err
}

// attachSocket reports a new socket's readiness to the core under
// handle h, now and on every change.
func attachSocket(sk *sockets.Socket, h int32) {
	force := uint32(0)
	if sk.Ringable() && kernel.AttachRing(h, sk.Rings()) == nil {
		// The core computes readiness from the rings; a report only
		// says "look again".
		force = kernel.ReadyForce
	}
	sk.SetNotify(func(ev uint32, edge bool) {
		ev |= kernel.ReadySocket | force
		if edge {
			// New data or a new connection is an edge even when the
			// socket was readable already (and the level recorded in
			// the core may not have dropped yet after the
			// application's last EAGAIN).
			ev |= kernel.ReadyForce
		}
		if sk.Nonblock() {
			ev |= kernel.ReadyNonblock
		}
		kernel.SetReady(h, ev)
	})
}

// socketOf returns the socket behind a request's fd argument.
func (s *Server) socketOf(r *kernel.Request) (*sockets.Socket, error) {
	f, err := s.file(r)
	if err != nil {
		return nil, err
	}
	if f.sock == nil {
		return nil, syscall.ENOTSOCK
	}
	return f.sock, nil
}

// sockaddrIn reads a sockaddr argument of addrlen bytes.
func sockaddrIn(addr, addrlen uint64) ([]byte, error) {
	if int32(addrlen) < 0 || addrlen > sockets.MaxSockaddr {
		return nil, syscall.EINVAL
	}
	if addrlen == 0 {
		return nil, syscall.EINVAL
	}
	b, err := bytesAt(addr, addrlen)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// sockaddrOut writes sa to a (buffer, *socklen_t) pair as Linux does:
// truncated to the buffer, with the full length stored. A NULL length
// pointer means the caller wants no address.
func sockaddrOut(sa []byte, addr, lenp uint64) error {
	if lenp == 0 {
		return nil
	}
	n := int32(*(*uint32)(ptr(lenp)))
	if n < 0 {
		return syscall.EINVAL
	}
	if c := min(int(n), len(sa)); c > 0 {
		b, err := bytesAt(addr, uint64(c))
		if err != nil {
			return err
		}
		copy(b, sa)
	}
	put32(lenp, uint32(len(sa)))
	return nil
}

func (s *Server) socket(r *kernel.Request) (int64, error) {
	sk, err := sockets.New(s.net, int(r.Args[0]), int(r.Args[1]), int(r.Args[2]))
	if err != nil {
		return 0, err
	}
	return s.addSocket(sk, r.Args[1]&sockets.SockCloexec != 0)
}

func (s *Server) socketpair(r *kernel.Request) (int64, error) {
	out := r.Args[3]
	if _, err := bytesAt(out, 8); err != nil {
		return 0, err
	}
	a, b, err := sockets.Pair(int(r.Args[0]), int(r.Args[1]), int(r.Args[2]))
	if err != nil {
		return 0, err
	}
	cloexec := r.Args[1]&sockets.SockCloexec != 0
	fa, err := s.addSocket(a, cloexec)
	if err != nil {
		b.Close()
		return 0, err
	}
	fb, err := s.addSocket(b, cloexec)
	if err != nil {
		return 0, err // the first end stays open; rare enough (EMFILE)
	}
	put32(out, uint32(fa))
	put32(out+4, uint32(fb))
	return 0, nil
}

func (s *Server) bind(r *kernel.Request) (int64, error) {
	sk, err := s.socketOf(r)
	if err != nil {
		return 0, err
	}
	sa, err := sockaddrIn(r.Args[1], r.Args[2])
	if err != nil {
		return 0, err
	}
	return 0, sk.Bind(sa)
}

func (s *Server) listen(r *kernel.Request) (int64, error) {
	sk, err := s.socketOf(r)
	if err != nil {
		return 0, err
	}
	return 0, sk.Listen(int(int32(r.Args[1])))
}

func (s *Server) connect(r *kernel.Request) (int64, error) {
	sk, err := s.socketOf(r)
	if err != nil {
		return 0, err
	}
	sa, err := sockaddrIn(r.Args[1], r.Args[2])
	if err != nil {
		return 0, err
	}
	return 0, sk.Connect(s.intr(r), sa)
}

func (s *Server) accept(r *kernel.Request) (int64, error) {
	flags := 0
	if r.Nr == syscall.SYS_ACCEPT4 {
		flags = int(r.Args[3])
	}
	sk, err := s.socketOf(r)
	if err != nil {
		return 0, err
	}
	wantAddr := r.Args[1] != 0 && r.Args[2] != 0
	ns, sa, err := sk.Accept(s.intr(r), flags, wantAddr)
	if err != nil {
		return 0, err
	}
	if wantAddr {
		if err := sockaddrOut(sa, r.Args[1], r.Args[2]); err != nil {
			ns.Close()
			return 0, err
		}
	}
	return s.addSocket(ns, flags&sockets.SockCloexec != 0)
}

func (s *Server) getsockname(r *kernel.Request) (int64, error) {
	return s.name(r, (*sockets.Socket).SockName)
}

func (s *Server) getpeername(r *kernel.Request) (int64, error) {
	return s.name(r, (*sockets.Socket).PeerName)
}

func (s *Server) name(r *kernel.Request, get func(*sockets.Socket) ([]byte, error)) (int64, error) {
	sk, err := s.socketOf(r)
	if err != nil {
		return 0, err
	}
	if r.Args[2] == 0 {
		return 0, syscall.EFAULT
	}
	sa, err := get(sk)
	if err != nil {
		return 0, err
	}
	return 0, sockaddrOut(sa, r.Args[1], r.Args[2])
}

func (s *Server) sendto(r *kernel.Request) (int64, error) {
	sk, err := s.socketOf(r)
	if err != nil {
		return 0, err
	}
	b, err := bytesAt(r.Args[1], r.Args[2])
	if err != nil {
		return 0, err
	}
	var to []byte
	if r.Args[4] != 0 {
		if to, err = sockaddrIn(r.Args[4], r.Args[5]); err != nil {
			return 0, err
		}
	}
	n, err := sk.SendMsg(s.intr(r), [][]byte{b}, to, int(r.Args[3]))
	return int64(n), err
}

func (s *Server) recvfrom(r *kernel.Request) (int64, error) {
	sk, err := s.socketOf(r)
	if err != nil {
		return 0, err
	}
	b, err := bytesAt(r.Args[1], r.Args[2])
	if err != nil {
		return 0, err
	}
	wantFrom := r.Args[4] != 0 && r.Args[5] != 0
	n, from, _, err := sk.RecvMsg(s.intr(r), [][]byte{b}, int(r.Args[3]), wantFrom)
	if err != nil {
		return 0, err
	}
	if wantFrom {
		if from == nil {
			put32(r.Args[5], 0) // connected stream: no address
		} else if err := sockaddrOut(from, r.Args[4], r.Args[5]); err != nil {
			return 0, err
		}
	}
	return int64(n), nil
}

// struct msghdr on x86-64 (56 bytes) and struct mmsghdr (64).
const (
	msgName       = 0
	msgNamelen    = 8
	msgIov        = 16
	msgIovlen     = 24
	msgControl    = 32
	msgControllen = 40
	msgFlags      = 48
	sizeofMsghdr  = 56
	sizeofMmsghdr = 64

	msgWaitForOne = 0x10000
)

func (s *Server) sendmsg(r *kernel.Request) (int64, error) {
	sk, err := s.socketOf(r)
	if err != nil {
		return 0, err
	}
	return s.sendOne(sk, s.intr(r), r.Args[1], int(r.Args[2]))
}

// msghdrBufs checks that a struct msghdr is readable and returns the
// buffers its iovec array names.
func msghdrBufs(hdr uint64) ([][]byte, error) {
	if _, err := bytesAt(hdr, sizeofMsghdr); err != nil {
		return nil, err
	}
	return iovecs(get64(hdr+msgIov), get64(hdr+msgIovlen))
}

func (s *Server) sendOne(sk *sockets.Socket, intr sockets.Interrupter, hdr uint64, flags int) (int64, error) {
	bufs, err := msghdrBufs(hdr)
	if err != nil {
		return 0, err
	}
	var to []byte
	if name := get64(hdr + msgName); name != 0 {
		if to, err = sockaddrIn(name, uint64(*(*uint32)(ptr(hdr + msgNamelen)))); err != nil {
			return 0, err
		}
	}
	// Control messages: AF_UNIX ones pass fds (SCM_RIGHTS) or
	// credentials. Inet ones (TOS, TTL, packet info) only tune a
	// datagram and are ignored.
	if sk.Domain != syscall.AF_UNIX {
		n, err := sk.SendMsg(intr, bufs, to, flags)
		return int64(n), err
	}
	ctl, err := controlIn(hdr)
	if err != nil {
		return 0, err
	}
	if len(ctl.fds) == 0 {
		n, err := sk.SendMsg(intr, bufs, to, flags)
		return int64(n), err
	}
	rights, err := s.takeRights(ctl.fds)
	if err != nil {
		return 0, err
	}
	n, err := sk.SendMsgRights(intr, bufs, to, flags, rights)
	if err != nil {
		rights.Release() // still ours on error
	}
	return int64(n), err
}

// controlIn reads and parses a sendmsg's control messages.
func controlIn(hdr uint64) (sendControl, error) {
	size := get64(hdr + msgControllen)
	if size == 0 {
		return sendControl{}, nil
	}
	if size > maxControl {
		return sendControl{}, syscall.ENOBUFS
	}
	b, err := bytesAt(get64(hdr+msgControl), size)
	if err != nil {
		return sendControl{}, err
	}
	return parseControl(b)
}

func (s *Server) recvmsg(r *kernel.Request) (int64, error) {
	sk, err := s.socketOf(r)
	if err != nil {
		return 0, err
	}
	return s.recvOne(sk, s.intr(r), r.Args[1], int(r.Args[2]))
}

func (s *Server) recvOne(sk *sockets.Socket, intr sockets.Interrupter, hdr uint64, flags int) (int64, error) {
	bufs, err := msghdrBufs(hdr)
	if err != nil {
		return 0, err
	}
	name := get64(hdr + msgName)
	var n, outFlags int
	var from []byte
	var rights sockets.Rights
	if sk.Domain == syscall.AF_UNIX {
		n, from, outFlags, rights, err = sk.RecvMsgRights(intr, bufs, flags, name != 0)
	} else {
		n, from, outFlags, err = sk.RecvMsg(intr, bufs, flags, name != 0)
	}
	if err != nil {
		return 0, err
	}
	if name != 0 {
		if from == nil {
			put32(hdr+msgNamelen, 0)
		} else if err := sockaddrOut(from, name, hdr+msgNamelen); err != nil {
			return 0, err
		}
	}
	used, ctrunc := s.controlOut(sk, hdr, rights, flags&syscall.MSG_CMSG_CLOEXEC != 0)
	// Linux starts msg_flags from the call's MSG_CMSG_CLOEXEC, and
	// programs see it there (Go's syscall TestSCMCredentials checks).
	outFlags |= flags & syscall.MSG_CMSG_CLOEXEC
	if ctrunc {
		outFlags |= syscall.MSG_CTRUNC
	}
	put64(hdr+msgControllen, uint64(used))
	put32(hdr+msgFlags, uint32(outFlags))
	return int64(n), nil
}

// controlOut writes recvmsg's control messages: the credentials when
// SO_PASSCRED is on (one process, pid 1, running as root: as
// SO_PEERCRED says), then the passed files as new fds, as many as fit
// (the rest are closed and truncated says so, as on Linux). It returns
// the control bytes used.
func (s *Server) controlOut(sk *sockets.Socket, hdr uint64, rights sockets.Rights, cloexec bool) (used int, truncated bool) {
	var room []byte
	if size := get64(hdr + msgControllen); size > 0 {
		b, err := bytesAt(get64(hdr+msgControl), min(size, maxControl))
		if err == nil {
			room = b
		}
	}
	if sk.Domain == syscall.AF_UNIX && sk.PassCred() {
		u, t := putCmsg(room[used:], syscall.SOL_SOCKET, syscall.SCM_CREDENTIALS, ucredData(1, 0, 0))
		used, truncated = used+u, truncated || t
	}
	if rights == nil {
		return used, truncated
	}
	fr, ok := rights.(*fileRights)
	if !ok {
		rights.Release()
		return used, truncated
	}
	fds, t := s.installRights(fr, fdsFit(len(room)-used), cloexec)
	truncated = truncated || t
	if len(fds) > 0 {
		u, _ := putCmsg(room[used:], syscall.SOL_SOCKET, syscall.SCM_RIGHTS, rightsData(fds))
		used += u
	}
	return used, truncated
}

// sendmmsg and recvmmsg run the single-message calls over an array,
// stopping at the first failure (reported only if nothing was done).
func (s *Server) sendmmsg(r *kernel.Request) (int64, error) {
	return s.mmsg(r, int(r.Args[3]), (*Server).sendOne)
}

func (s *Server) recvmmsg(r *kernel.Request) (int64, error) {
	if r.Args[4] != 0 {
		return 0, syscall.EINVAL // a timeout is not supported
	}
	return s.mmsg(r, int(r.Args[3]), (*Server).recvOne)
}

func (s *Server) mmsg(r *kernel.Request, flags int, one func(*Server, *sockets.Socket, sockets.Interrupter, uint64, int) (int64, error)) (int64, error) {
	sk, err := s.socketOf(r)
	if err != nil {
		return 0, err
	}
	vec, vlen := r.Args[1], min(r.Args[2], 1024) // UIO_MAXIOV
	var done int64
	for i := uint64(0); i < vlen; i++ {
		hdr := vec + i*sizeofMmsghdr
		n, err := one(s, sk, s.intr(r), hdr, flags)
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		put32(hdr+sizeofMsghdr, uint32(n))
		done++
		if flags&msgWaitForOne != 0 {
			flags |= syscall.MSG_DONTWAIT
		}
	}
	return done, nil
}

func (s *Server) shutdown(r *kernel.Request) (int64, error) {
	sk, err := s.socketOf(r)
	if err != nil {
		return 0, err
	}
	return 0, sk.Shutdown(int(r.Args[1]))
}

func (s *Server) setsockopt(r *kernel.Request) (int64, error) {
	sk, err := s.socketOf(r)
	if err != nil {
		return 0, err
	}
	if int32(r.Args[4]) < 0 || r.Args[4] > 4096 {
		return 0, syscall.EINVAL
	}
	v, err := bytesAt(r.Args[3], r.Args[4])
	if err != nil {
		return 0, err
	}
	return 0, sk.SetSockOpt(int(int32(r.Args[1])), int(int32(r.Args[2])), append([]byte(nil), v...))
}

func (s *Server) getsockopt(r *kernel.Request) (int64, error) {
	sk, err := s.socketOf(r)
	if err != nil {
		return 0, err
	}
	lenp := r.Args[4]
	if lenp == 0 {
		return 0, syscall.EFAULT
	}
	n := int32(*(*uint32)(ptr(lenp)))
	if n < 0 {
		return 0, syscall.EINVAL
	}
	v, err := sk.GetSockOpt(int(int32(r.Args[1])), int(int32(r.Args[2])))
	if err != nil {
		return 0, err
	}
	c := min(int(n), len(v))
	if c > 0 {
		b, err := bytesAt(r.Args[3], uint64(c))
		if err != nil {
			return 0, err
		}
		copy(b, v)
	}
	put32(lenp, uint32(c))
	return 0, nil
}

// sockTransfer serves read, write, readv and writev on a socket fd, all
// buffers in one call (a readv must not block for its second buffer);
// positioned calls fail with ESPIPE.
func sockTransfer(f *openFile, sl *inflight, bufs [][]byte, off int64, write bool) (int64, error) {
	if off >= 0 {
		return 0, syscall.ESPIPE
	}
	var n int
	var err error
	if write {
		n, err = f.sock.Write(sl.intr(), bufs)
	} else {
		n, err = f.sock.Read(sl.intr(), bufs)
	}
	return int64(n), err
}

// sendfile(out_fd, in_fd, *offset, count) copies from a file to a socket
// (or any file the server writes) without the application's buffers: at
// *offset, which is advanced, or at in_fd's offset, which moves by what
// was sent. A socket's send ring is drained first, so the file's bytes
// follow what the application wrote before.
func (s *Server) sendfile(r *kernel.Request) (int64, error) {
	out, err := s.file(r)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	in, ok := s.files[r.ArgHandles[1]]
	s.mu.Unlock()
	if !ok || r.ArgHandles[1] < 0 {
		return 0, syscall.EBADF
	}
	if in.sock != nil || in.pipe != nil {
		return 0, syscall.EINVAL // Linux wants something it can map
	}
	offp, count := r.Args[2], int64(r.Args[3])
	off := int64(-1)
	if offp != 0 {
		if off = int64(get64(offp)); off < 0 {
			return 0, syscall.EINVAL
		}
	}
	if count < 0 || count > 0x7ffff000 {
		count = 0x7ffff000 // Linux's MAX_RW_COUNT
	}
	if out.sock != nil {
		if err := out.sock.DrainSendRing(out.sock.Nonblock()); err != nil {
			return 0, err
		}
	}
	buf := make([]byte, min(count, 64<<10))
	var total int64
	for total < count {
		chunk := buf[:min(count-total, int64(len(buf)))]
		pos := int64(-1)
		if off >= 0 {
			pos = off + total
		}
		n, err := in.read(s.slot(r), chunk, pos)
		if err != nil || n == 0 {
			if total > 0 {
				break
			}
			return 0, err
		}
		w, err := out.writeAt(s.slot(r), chunk[:n], -1)
		if w < n && off < 0 {
			in.unread(n - w) // in_fd's offset moves by what was sent
		}
		total += w
		if err != nil || w < n {
			if total > 0 {
				break
			}
			return 0, err
		}
	}
	if offp != 0 {
		put64(offp, uint64(off+total))
	}
	return total, nil
}
