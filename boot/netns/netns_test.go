package netns

import (
	"context"
	"io"
	"net"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// listenIn opens a TCP listener inside n, the way Dial connects.
func listenIn(t *testing.T, n *Net, addr string) net.Listener {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, _ := os.Open("/proc/thread-self/ns/net")
	defer self.Close()
	target, err := os.Open("/run/netns/" + n.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatal(err)
	}
	defer unix.Setns(int(self.Fd()), unix.CLONE_NEWNET)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDialReachesOnlyTheNamespace(t *testing.T) {
	n := New(t)
	l := listenIn(t, n, n.HostIP+":7777")
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Write([]byte("inside"))
			c.Close()
		}
	}()
	c, err := n.Dial(context.Background(), "tcp", n.HostIP+":7777")
	if err != nil {
		t.Fatalf("Dial into the namespace: %v", err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if string(b) != "inside" {
		t.Errorf("read %q", b)
	}
	// The address lives in the namespace, not in the host's own.
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ip, _, _ := net.ParseCIDR(a.String()); ip.String() == n.HostIP {
			t.Errorf("%s is on a host interface", n.HostIP)
		}
	}
	// The tap exists inside.
	if out, err := n.Command("ip", "link", "show", n.Tap).CombinedOutput(); err != nil {
		t.Errorf("tap missing: %v %s", err, out)
	}
}
