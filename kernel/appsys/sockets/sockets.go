// Package sockets gives an application Linux sockets: AF_INET and
// AF_INET6 stream and datagram sockets over gVisor's netstack (the
// tcpip endpoints themselves, not gonet, so that non-blocking I/O,
// waiter queues and socket options map one to one), and AF_UNIX
// socket pairs kept in process, and AF_NETLINK NETLINK_ROUTE sockets
// that answer link, address and route dumps from the stack. Addresses come and go as raw Linux
// sockaddr bytes and errors are syscall.Errno values, so the system-call
// glue (kernel/appsys) only moves bytes between the application's memory
// and these calls.
//
// Blocking calls wait on the socket's waiter queue in the calling
// goroutine (SO_RCVTIMEO/SO_SNDTIMEO bound them); Close wakes them with
// EBADF, and their Interrupter (a signal for the application thread)
// with ErrInterrupted. Readiness changes are reported through the function given to
// SetNotify, as Linux epoll bits.
package sockets

import (
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gosv/internal/lazywake"
	"gosv/internal/memcopy"
	"gosv/kernel"

	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/waiter"
)

// Linux epoll/poll bits a socket reports.
const (
	EventIn    = 0x1
	EventOut   = 0x4
	EventErr   = 0x8
	EventHup   = 0x10
	EventRdHup = 0x2000
)

// Socket type flags and message flags (include/linux/net.h, socket.h).
const (
	SockNonblock = syscall.SOCK_NONBLOCK
	SockCloexec  = syscall.SOCK_CLOEXEC
	sockTypeMask = 0xf

	msgPeek        = syscall.MSG_PEEK
	msgTrunc       = syscall.MSG_TRUNC
	msgDontwait    = syscall.MSG_DONTWAIT
	msgWaitall     = syscall.MSG_WAITALL
	msgNosignal    = syscall.MSG_NOSIGNAL
	msgMore        = syscall.MSG_MORE
	msgEOR         = syscall.MSG_EOR
	msgCmsgCloexec = syscall.MSG_CMSG_CLOEXEC
)

// impl is what a socket family provides. Its calls never block: they
// return EAGAIN and Socket waits on queue() for the events that may
// change that.
type impl interface {
	queue() *waiter.Queue
	readiness() uint32
	bind(addr []byte) error
	listen(backlog int) error
	accept(wantAddr bool) (impl, []byte, error)
	// connect starts a connection: nil when done, EINPROGRESS when it
	// continues; connectResult reports how it ended.
	connect(addr []byte) error
	connectResult() error
	// recv returns the bytes read and the size of the message they came
	// from (a datagram's full length; n for streams).
	recv(bufs [][]byte, peek, wantFrom bool) (n, total int, from []byte, err error)
	send(bufs [][]byte, to []byte, flags int) (int, error)
	shutdown(how int) error
	sockname() ([]byte, error)
	peername() ([]byte, error)
	getsockopt(s *Socket, level, name int) ([]byte, error)
	setsockopt(s *Socket, level, name int, v []byte) error
	buffered() int
	close()
}

// Socket is one open socket (an open file description: dup'ed fds share
// it).
type Socket struct {
	Domain, Type, Protocol int

	impl     impl
	nonblock atomic.Bool
	// SO_RCVTIMEO and SO_SNDTIMEO (0: wait forever).
	rcvTimeo, sndTimeo atomic.Int64

	closed    chan struct{}
	closeOnce sync.Once

	// Readiness reporting (SetNotify).
	pubMu  sync.Mutex
	notify func(events uint32, edge bool)
	entry  waiter.Entry
	kick   *lazywake.Signal
	// stateEvent: the endpoint reported an error or hang-up since
	// publishLoop last looked. reported is the readiness last reported.
	stateEvent atomic.Bool
	reported   atomic.Uint32

	// Stream rings (ring.go), for accepted non-blocking TCP connections.
	ringable bool
	ring     *rings
}

func newSocket(domain, typ, protocol int, im impl) *Socket {
	return &Socket{Domain: domain, Type: typ, Protocol: protocol, impl: im, closed: make(chan struct{})}
}

// New creates a socket as socket(2) does; typ may carry SOCK_NONBLOCK
// (SOCK_CLOEXEC is the caller's business: it belongs to the fd). A nil
// stack leaves only AF_UNIX and AF_NETLINK (with no interfaces).
func New(st *stack.Stack, domain, typ, protocol int) (*Socket, error) {
	if typ&^(sockTypeMask|SockNonblock|SockCloexec) != 0 {
		return nil, syscall.EINVAL
	}
	base := typ & sockTypeMask
	var s *Socket
	switch domain {
	case syscall.AF_INET, syscall.AF_INET6:
		if st == nil {
			return nil, syscall.EAFNOSUPPORT
		}
		im, proto, err := newInet(st, domain, base, protocol)
		if err != nil {
			return nil, err
		}
		s = newSocket(domain, base, proto, im)
	case syscall.AF_UNIX:
		im, err := newUnix(base, protocol)
		if err != nil {
			return nil, err
		}
		s = newSocket(domain, base, 0, im)
	case syscall.AF_NETLINK:
		im, err := newNetlink(st, base, protocol)
		if err != nil {
			return nil, err
		}
		s = newSocket(domain, base, protocol, im)
	default:
		return nil, syscall.EAFNOSUPPORT
	}
	s.nonblock.Store(typ&SockNonblock != 0)
	return s, nil
}

// Pair creates two connected sockets as socketpair(2) does (AF_UNIX
// only, as on Linux).
func Pair(domain, typ, protocol int) (*Socket, *Socket, error) {
	if typ&^(sockTypeMask|SockNonblock|SockCloexec) != 0 {
		return nil, nil, syscall.EINVAL
	}
	if domain != syscall.AF_UNIX {
		if domain == syscall.AF_INET || domain == syscall.AF_INET6 {
			return nil, nil, syscall.EOPNOTSUPP
		}
		return nil, nil, syscall.EAFNOSUPPORT
	}
	base := typ & sockTypeMask
	a, b, err := newUnixPair(base, protocol)
	if err != nil {
		return nil, nil, err
	}
	sa, sb := newSocket(domain, base, 0, a), newSocket(domain, base, 0, b)
	sa.nonblock.Store(typ&SockNonblock != 0)
	sb.nonblock.Store(typ&SockNonblock != 0)
	return sa, sb, nil
}

// Nonblock reports O_NONBLOCK.
func (s *Socket) Nonblock() bool { return s.nonblock.Load() }

// SetNonblock sets O_NONBLOCK (fcntl F_SETFL, ioctl FIONBIO), and
// publishes, since the readiness report carries it.
func (s *Socket) SetNonblock(on bool) {
	s.nonblock.Store(on)
	s.publish(false)
}

// Readiness returns the epoll events the socket is ready for now.
func (s *Socket) Readiness() uint32 { return s.impl.readiness() }

// SetNotify makes fn be called with the socket's readiness now and
// after every change, until Close. edge says the report comes from an
// event on the socket (data, a connection, a state change), which
// edge-triggered epoll must report even when the readiness bits are
// the ones reported before (Linux wakes on every event); other reports
// follow the application's own calls and only update the level. fn is
// called from one goroutine at a time; it must not call back into the
// socket's blocking calls.
func (s *Socket) SetNotify(fn func(events uint32, edge bool)) {
	s.pubMu.Lock()
	first := s.notify == nil
	s.notify = fn
	s.pubMu.Unlock()
	if first {
		// Waiter callbacks can run with netstack's endpoint locks held,
		// where asking for readiness could deadlock: they only kick a
		// goroutine that asks. The kick does not wake an idle CPU
		// (lazywake): the callback runs in TCP's processing of a
		// segment, whose goroutine blocks soon after, and then runs
		// the loop on its own CPU. A channel send woke the other CPU
		// for each segment, to spin and steal the loop.
		kick := new(lazywake.Signal)
		s.kick = kick
		s.entry = waiter.NewFunctionEntry(waiter.EventIn|waiter.EventOut|waiter.EventErr|waiter.EventHUp|waiter.EventRdHUp, func(m waiter.EventMask) {
			if m&^(waiter.EventIn|waiter.EventOut) != 0 {
				s.stateEvent.Store(true)
			}
			kick.Notify()
		})
		s.impl.queue().EventRegister(&s.entry)
		go s.publishLoop(s.kick)
		if s.ring != nil {
			s.pump() // what arrived before the registration
		}
	}
	s.publish(true)
}

func (s *Socket) publishLoop(kick *lazywake.Signal) {
	// One signal to wait on, which closeNow kicks too.
	for {
		kick.Wait()
		select {
		case <-s.closed:
			return
		default:
		}
		// A ring socket's readiness is the core's to compute from the
		// rings: it needs a report (which wakes every epoll waiter)
		// only when the pump says so, or the endpoint's state or
		// readiness changed (the core also answers EAGAIN from the
		// last reported readiness, for writes past the ring).
		state := s.stateEvent.Swap(false)
		if s.ring != nil && !s.pump() && !state && s.impl.readiness() == s.reported.Load() {
			continue
		}
		s.publish(true)
	}
}

// publish reports the current readiness. The lock orders reports, so a
// stale one never overwrites a newer one.
func (s *Socket) publish(edge bool) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if s.notify == nil {
		return
	}
	select {
	case <-s.closed:
		return
	default:
	}
	ev := s.impl.readiness()
	s.reported.Store(ev)
	s.notify(ev, edge)
}

// Close releases the socket and wakes its blocked calls with EBADF. A
// socket with rings stops reporting at once and keeps sending what the
// application wrote (as Linux sends a closed socket's buffer), then
// closes.
func (s *Socket) Close() {
	if s.ring != nil {
		s.pubMu.Lock()
		s.notify = nil
		s.pubMu.Unlock()
		go func() {
			s.flushRings(flushTimeout)
			s.closeNow()
		}()
		return
	}
	s.closeNow()
}

func (s *Socket) closeNow() {
	s.closeOnce.Do(func() {
		// No report after Close returns: the caller reuses the
		// socket's handle, and a report still in flight (publish
		// holds pubMu while it calls notify) would land on the new
		// socket's readiness.
		s.pubMu.Lock()
		s.notify = nil
		s.pubMu.Unlock()
		close(s.closed)
		if s.kick != nil {
			s.impl.queue().EventUnregister(&s.entry)
			s.kick.Notify() // publishLoop sees closed and returns
		}
		s.impl.close()
	})
}

// Interrupter tells a blocking call to stop waiting: the application
// thread it serves has a signal to handle. Interrupted is asked only
// once the call is about to wait (so calls that never wait cost
// nothing); its channel is closed when the call is interrupted.
type Interrupter interface {
	Interrupted() <-chan struct{}
}

// ErrInterrupted ends an interrupted call that transferred nothing:
// the system-call server turns it into EINTR or a restart of the call,
// as the signal's handler asks (SA_RESTART). A call with a timeout
// (SO_RCVTIMEO, SO_SNDTIMEO) gets EINTR instead, as on Linux.
const ErrInterrupted = kernel.ErrRestart

// wait runs try until it stops returning EAGAIN, sleeping on the
// socket's queue for mask between tries. nonblock makes one try;
// timeout > 0 bounds the wait (then EAGAIN, as Linux's SO_*TIMEO); a
// closed intr channel ends it (ErrInterrupted, or EINTR with a
// timeout). intr may be nil.
func (s *Socket) wait(intr Interrupter, mask waiter.EventMask, nonblock bool, timeout time.Duration, try func() error) error {
	err := try()
	if err != syscall.EAGAIN || nonblock {
		return err
	}
	var interrupted <-chan struct{}
	if intr != nil {
		interrupted = intr.Interrupted()
	}
	e, ch := waiter.NewChannelEntry(mask | waiter.EventErr | waiter.EventHUp)
	q := s.impl.queue()
	q.EventRegister(&e)
	defer q.EventUnregister(&e)
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	for {
		if err = try(); err != syscall.EAGAIN {
			return err
		}
		select {
		case <-ch:
		case <-expired:
			return syscall.EAGAIN
		case <-s.closed:
			return syscall.EBADF
		case <-interrupted:
			if timeout > 0 {
				return syscall.EINTR
			}
			return ErrInterrupted
		}
	}
}

func (s *Socket) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// Bind binds the socket to a raw sockaddr.
func (s *Socket) Bind(addr []byte) error {
	defer s.publish(false)
	return s.impl.bind(addr)
}

// Listen marks a stream socket as accepting connections.
func (s *Socket) Listen(backlog int) error {
	defer s.publish(false)
	return s.impl.listen(backlog)
}

// Accept takes a connection from a listening socket; flags are
// accept4's (SOCK_NONBLOCK applies to the new socket). The peer's
// address comes back when wantAddr is set.
func (s *Socket) Accept(intr Interrupter, flags int, wantAddr bool) (*Socket, []byte, error) {
	if flags&^(SockNonblock|SockCloexec) != 0 {
		return nil, nil, syscall.EINVAL
	}
	var im impl
	var addr []byte
	err := s.wait(intr, waiter.EventIn, s.Nonblock(), time.Duration(s.rcvTimeo.Load()), func() error {
		var err error
		im, addr, err = s.impl.accept(wantAddr)
		return err
	})
	s.publish(false)
	if err != nil {
		return nil, nil, err
	}
	ns := newSocket(s.Domain, s.Type, s.Protocol, im)
	ns.nonblock.Store(flags&SockNonblock != 0)
	_, inet := im.(*inet)
	ns.ringable = inet && s.Type == syscall.SOCK_STREAM && flags&SockNonblock != 0
	return ns, addr, nil
}

// Connect connects to a raw sockaddr. A non-blocking socket returns
// EINPROGRESS and reports the outcome through SO_ERROR and readiness.
func (s *Socket) Connect(intr Interrupter, addr []byte) error {
	defer s.publish(false)
	err := s.impl.connect(addr)
	if err != syscall.EINPROGRESS || s.Nonblock() {
		return err
	}
	werr := s.wait(intr, waiter.EventOut, false, time.Duration(s.sndTimeo.Load()), func() error {
		if s.impl.readiness()&(EventOut|EventErr|EventHup) == 0 {
			return syscall.EAGAIN
		}
		return nil
	})
	if werr == syscall.EAGAIN {
		return syscall.EINPROGRESS // timed out; the attempt goes on
	}
	if werr != nil {
		return werr
	}
	return s.impl.connectResult()
}

// RecvMsg reads into bufs (recvmsg, recvfrom, read and readv). flags
// are MSG_* bits; from is the sender's sockaddr when wantFrom is set,
// and outFlags are recvmsg's msg_flags (MSG_TRUNC).
func (s *Socket) RecvMsg(intr Interrupter, bufs [][]byte, flags int, wantFrom bool) (n int, from []byte, outFlags int, err error) {
	n, from, outFlags, _, err = s.recvMsg(intr, bufs, flags, wantFrom, false)
	return n, from, outFlags, err
}

// RecvMsgRights is RecvMsg that also returns the files an AF_UNIX
// message passed (SCM_RIGHTS), or nil: the caller installs them or
// releases them. A read that meets passed files stops after the bytes
// that carried them.
func (s *Socket) RecvMsgRights(intr Interrupter, bufs [][]byte, flags int, wantFrom bool) (n int, from []byte, outFlags int, rights Rights, err error) {
	return s.recvMsg(intr, bufs, flags, wantFrom, true)
}

func (s *Socket) recvMsg(intr Interrupter, bufs [][]byte, flags int, wantFrom, keepRights bool) (n int, from []byte, outFlags int, rights Rights, err error) {
	defer s.publish(false)
	u, _ := s.impl.(*unixEnd)
	keepRights = keepRights && u != nil
	nonblock := s.Nonblock() || flags&msgDontwait != 0
	peek := flags&msgPeek != 0
	want := iovLen(bufs)
	for {
		var got, total int
		err = s.wait(intr, waiter.EventIn, nonblock, time.Duration(s.rcvTimeo.Load()), func() error {
			var err error
			if keepRights {
				got, total, from, rights, err = u.recvRights(bufs, peek, wantFrom)
			} else {
				got, total, from, err = s.impl.recv(bufs, peek, wantFrom)
			}
			return err
		})
		if err != nil {
			if n > 0 {
				return n, from, outFlags, nil, nil
			}
			return 0, nil, 0, nil, err
		}
		n += got
		if total > got {
			outFlags |= msgTrunc
		}
		// MSG_WAITALL on a stream: go on until full, end of stream
		// or an error.
		if flags&msgWaitall == 0 || peek || nonblock || s.Type != syscall.SOCK_STREAM || got == 0 || n >= want || rights != nil {
			if flags&msgTrunc != 0 && s.Type != syscall.SOCK_STREAM {
				n = total // MSG_TRUNC asks for the datagram's real length
			}
			return n, from, outFlags, rights, nil
		}
		bufs = advance(bufs, got)
	}
}

// SendMsg writes bufs (sendmsg, sendto, write and writev), to the
// sockaddr to when it is not nil. A blocking stream send writes
// everything unless an error or timeout stops it.
func (s *Socket) SendMsg(intr Interrupter, bufs [][]byte, to []byte, flags int) (int, error) {
	return s.sendMsg(intr, bufs, to, flags, nil)
}

// SendMsgRights is SendMsg passing files (SCM_RIGHTS) with the first
// bytes sent: AF_UNIX only (EINVAL otherwise, as Linux). The socket owns
// rights once the call succeeds; on error they are still the caller's.
func (s *Socket) SendMsgRights(intr Interrupter, bufs [][]byte, to []byte, flags int, rights Rights) (int, error) {
	if _, ok := s.impl.(*unixEnd); !ok && rights != nil {
		return 0, syscall.EINVAL
	}
	return s.sendMsg(intr, bufs, to, flags, rights)
}

func (s *Socket) sendMsg(intr Interrupter, bufs [][]byte, to []byte, flags int, rights Rights) (int, error) {
	defer s.publish(false)
	nonblock := s.Nonblock() || flags&msgDontwait != 0
	want := iovLen(bufs)
	total := 0
	for {
		var n int
		err := s.wait(intr, waiter.EventOut, nonblock, time.Duration(s.sndTimeo.Load()), func() error {
			var err error
			if rights != nil {
				n, err = s.impl.(*unixEnd).sendRights(bufs, to, flags, rights)
				if err == nil {
					rights = nil // passed, with these bytes
				}
			} else {
				n, err = s.impl.send(bufs, to, flags)
			}
			return err
		})
		total += n
		if err != nil {
			if total > 0 {
				return total, nil
			}
			return 0, err
		}
		if nonblock || s.Type != syscall.SOCK_STREAM || total >= want {
			return total, nil
		}
		bufs = advance(bufs, n)
	}
}

// Read and Write are recv and send without flags (read(2), write(2)).
func (s *Socket) Read(intr Interrupter, bufs [][]byte) (int, error) {
	n, _, _, err := s.RecvMsg(intr, bufs, 0, false)
	return n, err
}

func (s *Socket) Write(intr Interrupter, bufs [][]byte) (int, error) {
	return s.SendMsg(intr, bufs, nil, 0)
}

// Shutdown shuts down reading (SHUT_RD), writing (SHUT_WR) or both.
func (s *Socket) Shutdown(how int) error {
	defer s.publish(false)
	if how < syscall.SHUT_RD || how > syscall.SHUT_RDWR {
		return syscall.EINVAL
	}
	if s.ring != nil && how != syscall.SHUT_RD {
		s.flushRings(flushTimeout) // what was written goes before the FIN
	}
	if err := s.impl.shutdown(how); err != nil {
		return err
	}
	if s.ring != nil && how != syscall.SHUT_RD {
		// The core serves writes from the ring: after SHUT_WR they
		// fail with EPIPE, as the endpoint's own writes do.
		s.ring.TxErr.CompareAndSwap(0, uint32(syscall.EPIPE))
	}
	return nil
}

// SockName and PeerName return the local and remote sockaddrs.
func (s *Socket) SockName() ([]byte, error) { return s.impl.sockname() }
func (s *Socket) PeerName() ([]byte, error) { return s.impl.peername() }

// Buffered returns the bytes waiting to be read (FIONREAD).
func (s *Socket) Buffered() int { return s.ringBuffered() + s.impl.buffered() }

// iovWriter writes into a list of buffers in order.
type iovWriter struct {
	bufs  [][]byte
	n     int
	small [2][]byte // holds bufs when there are few (a ring's one or two)
}

func (w *iovWriter) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 && len(w.bufs) > 0 {
		c := memcopy.Copy(w.bufs[0], p)
		p, done, w.n = p[c:], done+c, w.n+c
		if c == len(w.bufs[0]) {
			w.bufs = w.bufs[1:]
		} else {
			w.bufs[0] = w.bufs[0][c:]
		}
	}
	if len(p) > 0 {
		return done, io.ErrShortWrite
	}
	return done, nil
}

func newIOVWriter(bufs [][]byte) *iovWriter {
	// Copy the slice headers: Write trims them.
	w := &iovWriter{}
	w.bufs = appendNonEmpty(w.small[:0], bufs)
	return w
}

// iovReader reads a list of buffers in order (tcpip.Payloader).
type iovReader struct {
	bufs  [][]byte
	left  int
	small [2][]byte // holds bufs when there are few
}

func newIOVReader(bufs [][]byte) *iovReader {
	r := &iovReader{left: iovLen(bufs)}
	r.bufs = appendNonEmpty(r.small[:0], bufs)
	return r
}

func (r *iovReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	done := 0
	for len(p) > 0 && len(r.bufs) > 0 {
		c := memcopy.Copy(p, r.bufs[0])
		p, done, r.left = p[c:], done+c, r.left-c
		if c == len(r.bufs[0]) {
			r.bufs = r.bufs[1:]
		} else {
			r.bufs[0] = r.bufs[0][c:]
		}
	}
	return done, nil
}

func (r *iovReader) Len() int { return r.left }

func iovLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

func nonEmpty(bufs [][]byte) [][]byte { return appendNonEmpty(bufs[:0:0], bufs) }

// appendNonEmpty appends the non-empty buffers of bufs to dst.
func appendNonEmpty(dst, bufs [][]byte) [][]byte {
	for _, b := range bufs {
		if len(b) > 0 {
			dst = append(dst, b)
		}
	}
	return dst
}

// advance drops the first n bytes of bufs.
func advance(bufs [][]byte, n int) [][]byte {
	out := append([][]byte(nil), bufs...)
	for n > 0 && len(out) > 0 {
		if n >= len(out[0]) {
			n -= len(out[0])
			out = out[1:]
			continue
		}
		out[0] = out[0][n:]
		n = 0
	}
	return out
}
