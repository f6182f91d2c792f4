// sockapp exercises an application's sockets in gosv: epoll's wake-up
// on adding a ready fd, an AF_UNIX socket pair, an AF_UNIX listener
// reached through Go's net package (non-blocking sockets and the
// netpoller), files passed over an AF_UNIX socket (SCM_RIGHTS), a TCP
// server and client on 127.0.0.1, and rounds of
// dial-and-close racing a dup under GC pressure. It prints one line per
// check; "tcp: no network" when the kernel gives the application no
// network stack (EAFNOSUPPORT). With a network it also lists the
// interfaces as net.Interfaces reads them from AF_NETLINK, and waits for
// a netlink reply with epoll.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

func main() {
	check("epoll add wakes", epollAddWakes)
	check("unix pair", unixPair)
	check("unix listener", func() error { return echo("unix", "/tmp/sockapp.sock") })
	check("unix rights", unixRights)
	err := echo("tcp", "127.0.0.1:0")
	if errors.Is(err, syscall.EAFNOSUPPORT) {
		fmt.Println("tcp: no network")
		return
	}
	report("tcp", err)
	check("tcp blocking", blockingAfterAccept)
	check("tcp dial race", dialCloseRace)
	check("interfaces", interfaces)
	check("netlink epoll", netlinkEpoll)
}

// interfaces checks what net.Interfaces and Interface.Addrs read from
// AF_NETLINK route dumps: "lo", up and loopback, with 127.0.0.1/8 and
// ::1/128.
func interfaces() error {
	ift, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, ifi := range ift {
		if ifi.Name != "lo" {
			continue
		}
		if ifi.Flags&(net.FlagUp|net.FlagLoopback) != net.FlagUp|net.FlagLoopback {
			return fmt.Errorf("lo flags %v, want up|loopback", ifi.Flags)
		}
		if byName, err := net.InterfaceByName("lo"); err != nil || byName.Index != ifi.Index {
			return fmt.Errorf("InterfaceByName(lo) = %+v, %v; want index %d", byName, err, ifi.Index)
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, a := range addrs {
			have[a.String()] = true
		}
		if !have["127.0.0.1/8"] || !have["::1/128"] {
			return fmt.Errorf("lo addresses %v, want 127.0.0.1/8 and ::1/128", addrs)
		}
		return nil
	}
	return fmt.Errorf("no lo in %+v", ift)
}

// netlinkEpoll checks that a netlink socket becomes readable, through
// epoll, when its reply is queued, and not before.
func netlinkEpoll() error {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	defer syscall.Close(ep)
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}); err != nil {
		return err
	}
	ev := make([]syscall.EpollEvent, 1)
	if n, err := syscall.EpollWait(ep, ev, 0); n != 0 || err != nil {
		return fmt.Errorf("epoll_wait before a request = %d, %v; want nothing ready", n, err)
	}
	// NLMSG_NOOP with NLM_F_ACK: the answer is one NLMSG_ERROR 0.
	req := make([]byte, syscall.NLMSG_HDRLEN)
	*(*syscall.NlMsghdr)(unsafe.Pointer(&req[0])) = syscall.NlMsghdr{Len: syscall.NLMSG_HDRLEN, Type: syscall.NLMSG_NOOP,
		Flags: syscall.NLM_F_REQUEST | syscall.NLM_F_ACK, Seq: 77}
	if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return err
	}
	if n, err := syscall.EpollWait(ep, ev, 5000); n != 1 || err != nil || ev[0].Events&syscall.EPOLLIN == 0 {
		return fmt.Errorf("epoll_wait after a request = %d %+v, %v; want readable", n, ev[0], err)
	}
	b := make([]byte, 4096)
	n, from, err := syscall.Recvfrom(fd, b, 0)
	if err != nil {
		return err
	}
	msgs, err := syscall.ParseNetlinkMessage(b[:n])
	if err != nil || len(msgs) != 1 || msgs[0].Header.Type != syscall.NLMSG_ERROR || msgs[0].Header.Seq != 77 {
		return fmt.Errorf("reply %x (%v), want one NLMSG_ERROR for seq 77", b[:n], err)
	}
	if nl, ok := from.(*syscall.SockaddrNetlink); !ok || nl.Pid != 0 {
		return fmt.Errorf("reply from %+v, want the kernel (pid 0)", from)
	}
	if _, _, err := syscall.Recvfrom(fd, b, 0); err != syscall.EAGAIN {
		return fmt.Errorf("second recv: %v, want EAGAIN", err)
	}
	return nil
}

// epollAddWakes blocks one thread in epoll_wait on an empty set while
// another adds a pipe that is readable already: as on Linux, the add
// must wake the waiter. Go's netpoller depends on it (it blocks in
// epoll_wait while other threads add sockets whose connect is done).
func epollAddWakes() error {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	defer syscall.Close(ep)
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		return err
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	done := make(chan error, 1)
	go func() {
		events := make([]syscall.EpollEvent, 4)
		for {
			n, err := syscall.EpollWait(ep, events, -1)
			if err == syscall.EINTR {
				continue
			}
			if err == nil && (n != 1 || int(events[0].Fd) != p[0]) {
				err = fmt.Errorf("epoll_wait returned %d events %v, want the pipe", n, events[:n])
			}
			done <- err
			return
		}
	}()
	time.Sleep(200 * time.Millisecond) // let the waiter block
	if _, err := syscall.Write(p[1], []byte("x")); err != nil {
		return err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | -syscall.EPOLLET, Fd: int32(p[0])}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, p[0], &ev); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("epoll_wait still blocked 10 s after a ready fd was added")
	}
}

// dialCloseRace is Go's net TestFileCloseRace under garbage-collector
// pressure: each round dials, then dups the connection's fd (File) and
// closes it from two goroutines. Rounds stalled forever when the
// netpoller missed a connect that completed before the socket was
// added to its epoll set, or a readiness change that looked like no
// change.
func dialCloseRace() error {
	defer debug.SetGCPercent(debug.SetGCPercent(1))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				var b [1]byte
				c.Read(b[:])
				c.Close()
			}()
		}
	}()
	const rounds = 1000
	done := make(chan error, 1)
	var progress atomic.Int64
	go func() {
		for i := 0; i < rounds; i++ {
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				done <- err
				return
			}
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				if f, err := c.(*net.TCPConn).File(); err == nil {
					f.Close()
				}
			}()
			go func() {
				defer wg.Done()
				c.Close()
			}()
			wg.Wait()
			progress.Add(1)
		}
		done <- nil
	}()
	last := int64(-1)
	for {
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			if p := progress.Load(); p == last {
				return fmt.Errorf("stalled after %d of %d rounds", p, rounds)
			} else {
				last = p
			}
		}
	}
}

// blockingAfterAccept makes a connection Go accepted non-blocking (in
// gosv: one whose data goes through the core's rings) blocking, then
// reads before the peer has written, and writes, with plain system calls.
func blockingAfterAccept() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		return err
	}
	defer s.Close()
	raw, err := s.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	var got []byte
	var rerr, werr error
	go func() {
		time.Sleep(100 * time.Millisecond)
		c.Write([]byte("late"))
	}()
	raw.Control(func(fd uintptr) {
		if err := syscall.SetNonblock(int(fd), false); err != nil {
			rerr = err
			return
		}
		buf := make([]byte, 16)
		n, err := syscall.Read(int(fd), buf) // blocks until "late" arrives
		got, rerr = buf[:max(n, 0)], err
		_, werr = syscall.Write(int(fd), []byte("back"))
	})
	if rerr != nil || string(got) != "late" {
		return fmt.Errorf("blocking read: %q, %v", got, rerr)
	}
	if werr != nil {
		return fmt.Errorf("blocking write: %v", werr)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "back" {
		return fmt.Errorf("peer read %q, %v", buf, err)
	}
	return nil
}

func check(name string, f func() error) { report(name, f()) }

func report(name string, err error) {
	if err != nil {
		fmt.Printf("%s: FAIL: %v\n", name, err)
		os.Exit(1)
	}
	fmt.Printf("%s: ok\n", name)
}

func unixPair() error {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	if _, err := syscall.Write(fds[0], []byte("ping")); err != nil {
		return err
	}
	b := make([]byte, 8)
	n, err := syscall.Read(fds[1], b)
	if err != nil || string(b[:n]) != "ping" {
		return fmt.Errorf("read %q, %v", b[:n], err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fds[0], &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return fmt.Errorf("fstat mode %#o, %v; want a socket", st.Mode, err)
	}
	return nil
}

// unixRights passes a pipe's read end over a socket pair and closes the
// sender's fd while the message is in flight: the receiver's new fd
// must read what the pipe gets. An eventfd (served by the core, not a
// file) is refused.
func unixRights() error {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		return err
	}
	defer syscall.Close(p[1])
	if err := syscall.Sendmsg(fds[0], []byte("r"), syscall.UnixRights(p[0]), nil, 0); err != nil {
		return fmt.Errorf("sendmsg: %v", err)
	}
	syscall.Close(p[0])
	oob := make([]byte, syscall.CmsgSpace(4))
	n, oobn, flags, _, err := syscall.Recvmsg(fds[1], make([]byte, 4), oob, syscall.MSG_CMSG_CLOEXEC)
	if err != nil || n != 1 || flags&syscall.MSG_CTRUNC != 0 {
		return fmt.Errorf("recvmsg = %d, flags %#x, %v", n, flags, err)
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return fmt.Errorf("control messages %v, %v", msgs, err)
	}
	got, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(got) != 1 {
		return fmt.Errorf("rights %v, %v", got, err)
	}
	defer syscall.Close(got[0])
	if _, err := syscall.Write(p[1], []byte("through")); err != nil {
		return err
	}
	b := make([]byte, 16)
	if n, err := syscall.Read(got[0], b); err != nil || string(b[:n]) != "through" {
		return fmt.Errorf("read from the passed pipe: %q, %v", b[:n], err)
	}
	fl, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(got[0]), syscall.F_GETFD, 0)
	if errno != 0 || fl&syscall.FD_CLOEXEC == 0 {
		return fmt.Errorf("F_GETFD = %#x, %v; want FD_CLOEXEC", fl, errno)
	}
	efd, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, 0, 0)
	if errno != 0 {
		return errno
	}
	defer syscall.Close(int(efd))
	if err := syscall.Sendmsg(fds[0], []byte("e"), syscall.UnixRights(int(efd)), nil, 0); err != syscall.EOPNOTSUPP {
		return fmt.Errorf("passing an eventfd: %v, want EOPNOTSUPP", err)
	}
	return nil
}

// echo starts a server that echoes one connection, dials it, and
// checks a round trip and the addresses both ends see.
func echo(network, addr string) error {
	l, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(c, c)
		done <- err
	}()
	c, err := net.Dial(network, l.Addr().String())
	if err != nil {
		return err
	}
	msg := []byte("hello over " + network)
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != string(msg) {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	if network == "tcp" && c.RemoteAddr().String() != l.Addr().String() {
		return fmt.Errorf("peer %v, listener %v", c.RemoteAddr(), l.Addr())
	}
	// Half close: the server's copy ends, then it closes.
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		return err
	}
	if n, err := c.Read(got); err != io.EOF {
		return fmt.Errorf("read after the server closed: %d, %v; want EOF", n, err)
	}
	c.Close()
	return <-done
}
