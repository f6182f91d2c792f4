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
	"errors"
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
	Name   string     // namespace name, for ip netns exec
	Tap    string     // tap device QEMU attaches to
	HostIP string     // the namespace's address on the tap
	Prefix int        // prefix length of the tap's subnet
	t      testing.TB // set by New
}

// ErrUnavailable wraps the reason a namespace cannot be made here (not
// root, no iproute2, no /dev/net/tun, namespaces not allowed).
var ErrUnavailable = errors.New("netns: network namespaces unavailable")

// New creates a namespace with tap device "tap0" addressed 192.168.100.1/24
// and removes it when the test ends. It skips the test when namespaces are
// unavailable.
func New(t testing.TB) *Net {
	t.Helper()
	n, err := Create()
	if errors.Is(err, ErrUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	n.t = t
	t.Cleanup(func() { n.Close() })
	return n
}

// Create is New for programs that are not tests, such as the benchmark
// command: the caller removes the namespace with Close. StartDHCP needs a
// namespace made by New. Errors wrap ErrUnavailable when the machine
// cannot have namespaces at all.
func Create() (*Net, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: they need root", ErrUnavailable)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("%w: ip (iproute2) not installed (scripts/install-deps.sh installs it)", ErrUnavailable)
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return nil, fmt.Errorf("%w: no /dev/net/tun", ErrUnavailable)
	}
	var b [4]byte
	rand.Read(b[:])
	n := &Net{Name: "gosv-" + hex.EncodeToString(b[:]), Tap: "tap0", HostIP: "192.168.100.1", Prefix: 24}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w: cannot create a network namespace: %v: %s", ErrUnavailable, err, out)
	}
	for _, c := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "tuntap", "add", "dev", n.Tap, "mode", "tap"},
		{"ip", "addr", "add", fmt.Sprintf("%s/%d", n.HostIP, n.Prefix), "dev", n.Tap},
		{"ip", "link", "set", n.Tap, "up"},
	} {
		if out, err := n.Command(c...).CombinedOutput(); err != nil {
			n.Close()
			return nil, fmt.Errorf("netns: %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return n, nil
}

// Close removes the namespace and its tap device.
func (n *Net) Close() error {
	if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
		return fmt.Errorf("netns: ip netns del %s: %v: %s", n.Name, err, out)
	}
	return nil
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
	if n.t == nil {
		panic("netns: StartDHCP needs a namespace made by New")
	}
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
