// sockapp exercises an application's sockets in gosv: an AF_UNIX
// socket pair, an AF_UNIX listener reached through Go's net package
// (non-blocking sockets and the netpoller), and a TCP server and client
// on 127.0.0.1. It prints one line per check; "tcp: no network" when
// the kernel gives the application no network stack (EAFNOSUPPORT).
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

func main() {
	check("unix pair", unixPair)
	check("unix listener", func() error { return echo("unix", "/tmp/sockapp.sock") })
	err := echo("tcp", "127.0.0.1:0")
	if errors.Is(err, syscall.EAFNOSUPPORT) {
		fmt.Println("tcp: no network")
		return
	}
	report("tcp", err)
	check("tcp blocking", blockingAfterAccept)
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
