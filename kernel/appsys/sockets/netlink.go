package sockets

import (
	"encoding/binary"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/waiter"
)

// AF_NETLINK sockets, NETLINK_ROUTE only: the application sends
// requests to the kernel (port 0) and reads the replies that
// rtnetlink.go builds from the network stack at the time of the
// request. Nothing is ever sent to multicast groups, so a socket that
// joins one just hears nothing; unicast between application sockets
// is refused.

// sockaddr_nl (include/uapi/linux/netlink.h): family u16, pad u16,
// nl_pid u32, nl_groups u32.
const sizeofSockaddrNl = 12

// netlinkBufSize is how much a socket queues before replies are
// dropped (and the next recv fails with ENOBUFS, as Linux's overrun).
const netlinkBufSize = 212992

// appPID is the application's pid, the port id Linux gives the first
// socket a process binds (gosv runs one process, pid 1).
const appPID = 1

// netlinkSock is one AF_NETLINK socket.
type netlinkSock struct {
	typ int
	st  *stack.Stack // nil: no network, no interfaces
	wq  waiter.Queue

	mu     sync.Mutex
	port   uint32 // 0 until bound (explicitly or by the first send)
	groups uint32 // accepted, never delivered to
	dst    uint32 // connect's destination port (0: the kernel)
	msgs   [][]byte
	queued int
	// overrun: a reply was dropped for want of room; the next recv on
	// an empty queue reports ENOBUFS.
	overrun bool
	closed  bool
	// SOL_NETLINK options: capAck leaves the request out of error
	// replies; the others are only remembered for getsockopt.
	capAck, extAck, strictChk, pktInfo, noENOBUFS, bcastErr, allNSID bool
}

var _ impl = (*netlinkSock)(nil)

// netlinkPorts is the machine's table of bound netlink port ids.
var netlinkPorts = struct {
	sync.Mutex
	m     map[uint32]*netlinkSock
	rover uint32 // next port id to try after appPID, counting down
}{m: map[uint32]*netlinkSock{}, rover: 0xfffff000}

func newNetlink(st *stack.Stack, typ, protocol int) (*netlinkSock, error) {
	if typ != syscall.SOCK_RAW && typ != syscall.SOCK_DGRAM {
		return nil, syscall.ESOCKTNOSUPPORT
	}
	if protocol != syscall.NETLINK_ROUTE {
		return nil, syscall.EPROTONOSUPPORT
	}
	return &netlinkSock{typ: typ, st: st}, nil
}

// DecodeNetlink decodes a sockaddr_nl into its port id and groups.
func DecodeNetlink(b []byte) (port, groups uint32, err error) {
	f, err := Family(b)
	if err != nil {
		return 0, 0, err
	}
	if f != syscall.AF_NETLINK || len(b) < sizeofSockaddrNl {
		return 0, 0, syscall.EINVAL
	}
	return binary.NativeEndian.Uint32(b[4:]), binary.NativeEndian.Uint32(b[8:]), nil
}

// EncodeNetlink encodes a sockaddr_nl.
func EncodeNetlink(port, groups uint32) []byte {
	b := make([]byte, sizeofSockaddrNl)
	binary.NativeEndian.PutUint16(b, syscall.AF_NETLINK)
	binary.NativeEndian.PutUint32(b[4:], port)
	binary.NativeEndian.PutUint32(b[8:], groups)
	return b
}

func (n *netlinkSock) queue() *waiter.Queue { return &n.wq }

func (n *netlinkSock) readiness() uint32 {
	n.mu.Lock()
	defer n.mu.Unlock()
	ev := uint32(EventOut) // requests are answered at once: sends never wait
	if len(n.msgs) > 0 {
		ev |= EventIn
	}
	if n.overrun {
		ev |= EventErr
	}
	return ev
}

// bindLocked gives the socket port (0: the next free one, as Linux's
// autobind). Callers hold n.mu.
func (n *netlinkSock) bindLocked(port uint32) error {
	netlinkPorts.Lock()
	defer netlinkPorts.Unlock()
	if port == 0 {
		port = appPID
		for netlinkPorts.m[port] != nil {
			port = netlinkPorts.rover
			netlinkPorts.rover--
			if netlinkPorts.rover < 0x80000000 {
				netlinkPorts.rover = 0xfffff000
			}
		}
	} else if netlinkPorts.m[port] != nil {
		return syscall.EADDRINUSE
	}
	netlinkPorts.m[port] = n
	n.port = port
	return nil
}

func (n *netlinkSock) bind(addr []byte) error {
	port, groups, err := DecodeNetlink(addr)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.port != 0 {
		// Binding again may change the groups, not the port.
		if port != 0 && port != n.port {
			return syscall.EINVAL
		}
	} else if err := n.bindLocked(port); err != nil {
		return err
	}
	n.groups = groups
	return nil
}

func (n *netlinkSock) listen(int) error { return syscall.EOPNOTSUPP }

func (n *netlinkSock) accept(bool) (impl, []byte, error) { return nil, nil, syscall.EOPNOTSUPP }

func (n *netlinkSock) connect(addr []byte) error {
	if f, err := Family(addr); err == nil && f == syscall.AF_UNSPEC {
		n.mu.Lock()
		n.dst = 0
		n.mu.Unlock()
		return nil
	}
	port, _, err := DecodeNetlink(addr)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.port == 0 {
		if err := n.bindLocked(0); err != nil {
			return err
		}
	}
	n.dst = port
	return nil
}

func (n *netlinkSock) connectResult() error { return nil }

func (n *netlinkSock) recv(bufs [][]byte, peek, wantFrom bool) (int, int, []byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.msgs) == 0 {
		if n.overrun && !peek {
			n.overrun = false
			return 0, 0, nil, syscall.ENOBUFS
		}
		return 0, 0, nil, syscall.EAGAIN
	}
	m := n.msgs[0]
	got := copyOutAt(bufs, 0, m)
	if !peek {
		n.msgs[0] = nil
		n.msgs = n.msgs[1:]
		n.queued -= len(m)
	}
	var from []byte
	if wantFrom {
		from = EncodeNetlink(0, 0) // every message comes from the kernel
	}
	return got, len(m), from, nil
}

func (n *netlinkSock) send(bufs [][]byte, to []byte, flags int) (int, error) {
	size := iovLen(bufs)
	if size > netlinkBufSize {
		return 0, syscall.EMSGSIZE
	}
	n.mu.Lock()
	dst := n.dst
	if n.port == 0 {
		if err := n.bindLocked(0); err != nil {
			n.mu.Unlock()
			return 0, err
		}
	}
	port, capAck := n.port, n.capAck
	n.mu.Unlock()
	if to != nil {
		p, _, err := DecodeNetlink(to)
		if err != nil {
			return 0, err
		}
		dst = p
	}
	if dst != 0 {
		return 0, syscall.ECONNREFUSED // only the kernel answers
	}
	req := make([]byte, size)
	copyIn(req, bufs)
	replies := serveRoute(n.st, req, port, capAck)
	if len(replies) == 0 {
		return size, nil
	}
	n.mu.Lock()
	for _, r := range replies {
		if n.queued > 0 && n.queued+len(r) > netlinkBufSize {
			n.overrun = true
			break
		}
		n.msgs = append(n.msgs, r)
		n.queued += len(r)
	}
	n.mu.Unlock()
	n.wq.Notify(waiter.EventIn)
	return size, nil
}

func (n *netlinkSock) shutdown(int) error { return syscall.EOPNOTSUPP }

func (n *netlinkSock) sockname() ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return EncodeNetlink(n.port, n.groups), nil
}

func (n *netlinkSock) peername() ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return EncodeNetlink(n.dst, 0), nil
}

func (n *netlinkSock) buffered() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.msgs) > 0 {
		return len(n.msgs[0])
	}
	return 0
}

func (n *netlinkSock) close() {
	n.mu.Lock()
	n.closed = true
	port := n.port
	n.msgs, n.queued = nil, 0
	n.mu.Unlock()
	if port != 0 {
		netlinkPorts.Lock()
		if netlinkPorts.m[port] == n {
			delete(netlinkPorts.m, port)
		}
		netlinkPorts.Unlock()
	}
	n.wq.Notify(waiter.EventIn | waiter.EventOut | waiter.EventHUp)
}

// SOL_SOCKET options netlink users set (iproute2, libnl); syscall
// lacks the *FORCE ones.
const (
	soSndbufForce = 32
	soRcvbufForce = 33
)

// boolOption returns the field behind a SOL_NETLINK flag option.
func (n *netlinkSock) boolOption(name int) *bool {
	switch name {
	case unix.NETLINK_CAP_ACK:
		return &n.capAck
	case unix.NETLINK_EXT_ACK:
		return &n.extAck
	case unix.NETLINK_GET_STRICT_CHK:
		return &n.strictChk
	case unix.NETLINK_PKTINFO:
		return &n.pktInfo
	case unix.NETLINK_NO_ENOBUFS:
		return &n.noENOBUFS
	case unix.NETLINK_BROADCAST_ERROR:
		return &n.bcastErr
	case unix.NETLINK_LISTEN_ALL_NSID:
		return &n.allNSID
	}
	return nil
}

func (n *netlinkSock) getsockopt(so *Socket, level, name int) ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch level {
	case syscall.SOL_SOCKET:
		switch name {
		case syscall.SO_ERROR:
			return intOpt(0), nil
		case syscall.SO_PASSCRED:
			return intOpt(0), nil
		case syscall.SO_SNDBUF, syscall.SO_RCVBUF:
			return intOpt(netlinkBufSize), nil
		}
	case unix.SOL_NETLINK:
		if p := n.boolOption(name); p != nil {
			return boolOpt(*p), nil
		}
		if name == unix.NETLINK_LIST_MEMBERSHIPS {
			return intOpt(int(n.groups)), nil
		}
		return nil, syscall.ENOPROTOOPT
	}
	return nil, syscall.ENOPROTOOPT
}

func (n *netlinkSock) setsockopt(so *Socket, level, name int, v []byte) error {
	switch level {
	case syscall.SOL_SOCKET:
		switch name {
		case syscall.SO_SNDBUF, syscall.SO_RCVBUF, soSndbufForce, soRcvbufForce, syscall.SO_PASSCRED:
			_, err := intValue(v)
			return err // accepted; the buffer has one size
		}
		return syscall.ENOPROTOOPT
	case unix.SOL_NETLINK:
		val, err := intValue(v)
		if err != nil {
			return err
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		switch name {
		case unix.NETLINK_ADD_MEMBERSHIP, unix.NETLINK_DROP_MEMBERSHIP:
			// Groups are accepted so monitors start; no notification
			// is ever sent.
			if val <= 0 {
				return syscall.EINVAL
			}
			if val <= 32 {
				bit := uint32(1) << (val - 1)
				if name == unix.NETLINK_ADD_MEMBERSHIP {
					n.groups |= bit
				} else {
					n.groups &^= bit
				}
			}
			return nil
		}
		if p := n.boolOption(name); p != nil {
			*p = val != 0
			return nil
		}
		return syscall.ENOPROTOOPT
	}
	return syscall.ENOPROTOOPT
}
