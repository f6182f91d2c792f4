// Package netns gives network tests a private network: a Linux network
// namespace holding a tap device for QEMU, the host end's address, and
// optionally a DHCP server (dnsmasq), so a gosv VM can be reached over a
// real virtio-net path without touching the machine's own networking.
// Test traffic goes only to the namespace: the test process dials into
// it (Dial enters the namespace for the socket call only), and tools run
// inside it with Command.
//
// It needs root (or CAP_NET_ADMIN), /dev/net/tun and iproute2; New skips
// the test when any is missing.
package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Net is one namespace with a tap device.
type Net struct {
	Name   string // namespace name, for ip netns exec
	Tap    string // tap device QEMU attaches to
	HostIP string // the namespace's address on the tap
	Prefix int    // prefix length of the tap's subnet
	t      testing.TB
}

// New creates a namespace with tap device "tap0" addressed 192.168.100.1/24
// and removes it when the test ends.
func New(t testing.TB) *Net {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespace tests need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed (make test installs it)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("no /dev/net/tun")
	}
	var b [4]byte
	rand.Read(b[:])
	n := &Net{Name: "gosv-" + hex.EncodeToString(b[:]), Tap: "tap0", HostIP: "192.168.100.1", Prefix: 24, t: t}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.Name).Run() })
	for _, c := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "tuntap", "add", "dev", n.Tap, "mode", "tap"},
		{"ip", "addr", "add", fmt.Sprintf("%s/%d", n.HostIP, n.Prefix), "dev", n.Tap},
		{"ip", "link", "set", n.Tap, "up"},
	} {
		if out, err := n.Command(c...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return n
}

// Wrapper is the command prefix that runs a program inside the namespace
// (qemu.Config.Wrapper).
func (n *Net) Wrapper() []string { return []string{"ip", "netns", "exec", n.Name} }

// Command returns cmd set up to run inside the namespace.
func (n *Net) Command(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

// StartDHCP runs dnsmasq as a DHCP server on the tap, leasing addresses
// from first to last (in the tap's subnet) and naming the host end as
// router and DNS server, until the test ends.
func (n *Net) StartDHCP(first, last string) {
	n.t.Helper()
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		n.t.Skip("dnsmasq not installed (make test installs dnsmasq-base)")
	}
	dir := n.t.TempDir()
	cmd := n.Command("dnsmasq", "--no-daemon", "--port=0", "--bind-interfaces", "--interface="+n.Tap,
		"--except-interface=lo", "--dhcp-range="+first+","+last+",255.255.255.0,1h",
		"--dhcp-option=option:router,"+n.HostIP, "--dhcp-option=option:dns-server,"+n.HostIP,
		"--dhcp-leasefile="+filepath.Join(dir, "leases"), "--pid-file="+filepath.Join(dir, "pid"),
		"--log-dhcp", "--conf-file=/dev/null")
	log := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("starting dnsmasq: %v", err)
	}
	n.t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if n.t.Failed() {
			n.t.Logf("dnsmasq log:\n%s", log.String())
		}
	})
}

// Dial connects from inside the namespace. Only the socket is created
// there: the calling goroutine's thread enters the namespace for the
// connect and leaves it before anything else runs on that thread.
func (n *Net) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, err
	}
	defer self.Close()
	target, err := os.Open("/run/netns/" + n.Name)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("entering namespace %s: %w", n.Name, err)
	}
	defer func() {
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			panic("netns: cannot return to the original namespace: " + err.Error())
		}
	}()
	// A plain connect on this thread: the resolver and the poller must
	// not hand the work to other threads.
	d := net.Dialer{Timeout: 10 * time.Second}
	return d.DialContext(ctx, network, addr)
}

// HTTPClient returns a client whose connections are made inside the
// namespace.
func (n *Net) HTTPClient() *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DialContext: n.Dial, MaxIdleConnsPerHost: 64},
	}
}
