// tcpbench measures TCP throughput between two machines, like iperf3 but
// as one small static Go program that runs unchanged as gosv's
// application, in the Linux guest and on the host.
//
//	tcpbench -s :5201                        serve
//	tcpbench -c 192.168.100.2:5201 -dir send  the client sends for -d
//	tcpbench -c 192.168.100.2:5201 -dir recv  the server sends for -d
//
// The client opens one connection, says which way the data goes (one byte,
// 'S' or 'R') and for how long (8 bytes, big-endian nanoseconds), then
// times the transfer and prints
//
//	TCPBENCH send 123456789 bytes 10.013 s
//
// For send, the byte count is what the server received, which it returns
// after the client closes its side; the time runs until that count
// arrives, so data still queued when the client stops writing is counted
// and timed. For recv, the time runs until the server closes.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"time"
)

const chunk = 128 << 10

func main() {
	serve := flag.String("s", "", "serve on `addr`")
	connect := flag.String("c", "", "connect to `addr`")
	dir := flag.String("dir", "send", "send or recv (as seen by the client)")
	dur := flag.Duration("d", 10*time.Second, "transfer time")
	flag.Parse()
	switch {
	case *serve != "":
		server(*serve)
	case *connect != "" && (*dir == "send" || *dir == "recv") && *dur > 0:
		if err := client(*connect, *dir, *dur); err != nil {
			fmt.Printf("TCPBENCH error %v\n", err)
			os.Exit(1)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

func server(addr string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("tcpbench: listening on", addr)
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			if err := handle(c); err != nil {
				log.Printf("tcpbench: %v: %v", c.RemoteAddr(), err)
			}
		}()
	}
}

func handle(c net.Conn) error {
	var hdr [9]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil // a readiness probe: connected and closed
	}
	d := time.Duration(binary.BigEndian.Uint64(hdr[1:]))
	switch hdr[0] {
	case 'S':
		n, err := io.Copy(io.Discard, c)
		if err != nil {
			return err
		}
		var cnt [8]byte
		binary.BigEndian.PutUint64(cnt[:], uint64(n))
		_, err = c.Write(cnt[:])
		return err
	case 'R':
		if d <= 0 || d > time.Hour {
			return fmt.Errorf("bad duration %v", d)
		}
		buf := make([]byte, chunk)
		for end := time.Now().Add(d); time.Now().Before(end); {
			if _, err := c.Write(buf); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("bad mode %q", hdr[0])
}

func client(addr, dir string, d time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	var hdr [9]byte
	hdr[0] = 'S'
	if dir == "recv" {
		hdr[0] = 'R'
	}
	binary.BigEndian.PutUint64(hdr[1:], uint64(d))
	start := time.Now()
	if _, err := c.Write(hdr[:]); err != nil {
		return err
	}
	var n int64
	if dir == "recv" {
		if n, err = io.Copy(io.Discard, c); err != nil {
			return err
		}
	} else {
		buf := make([]byte, chunk)
		for end := start.Add(d); time.Now().Before(end); {
			if _, err := c.Write(buf); err != nil {
				return err
			}
		}
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			return err
		}
		var cnt [8]byte
		if _, err := io.ReadFull(c, cnt[:]); err != nil {
			return fmt.Errorf("reading the server's count: %v", err)
		}
		n = int64(binary.BigEndian.Uint64(cnt[:]))
	}
	fmt.Printf("TCPBENCH %s %d bytes %.3f s\n", dir, n, time.Since(start).Seconds())
	return nil
}
