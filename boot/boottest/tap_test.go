package boottest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"gosv/boot/netns"
	"gosv/boot/qemu"
)

// tapVM boots gosv on a tap device in a fresh network namespace and
// waits until the REST API answers at addr.
func tapVM(t *testing.T, n *netns.Net, cmdline, addr string) (*Running, *http.Client) {
	t.Helper()
	r := Start(t, qemu.Config{
		MemoryMB: 128, Cmdline: cmdline, Wrapper: n.Wrapper(),
		NICs: []qemu.NIC{{Tap: n.Tap, MAC: "52:54:00:12:34:56"}},
	})
	c := n.HTTPClient()
	c.Timeout = 5 * time.Second
	if code, body := r.WaitHTTPClient(c, "http://"+addr+":8000/os/name", 2*time.Minute); code != 200 || body != `"gosv"` {
		t.Fatalf("GET /os/name = %d %q", code, body)
	}
	return r, c
}

// checkIfconfig fetches /network/ifconfig/eth0 and compares the address.
func checkIfconfig(t *testing.T, c *http.Client, addr string) {
	t.Helper()
	resp, err := c.Get("http://" + addr + ":8000/network/ifconfig/eth0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var i struct {
		Config struct {
			Addr, Mask string
			PhysAddr   string `json:"phys_addr"`
		} `json:"config"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&i); err != nil {
		t.Fatal(err)
	}
	if i.Config.Addr != addr || i.Config.Mask != "255.255.255.0" || i.Config.PhysAddr != "52:54:00:12:34:56" {
		t.Errorf("eth0 = %+v, want %s/255.255.255.0 with MAC 52:54:00:12:34:56", i.Config, addr)
	}
}

func powerOff(t *testing.T, r *Running, c *http.Client, addr string) {
	t.Helper()
	resp, err := c.Post("http://"+addr+":8000/os/poweroff", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if res := r.Wait(); !res.Exited || res.GuestStatus != 0 {
		t.Errorf("after /os/poweroff: exited %v, status %d", res.Exited, res.GuestStatus)
	}
}

// TestTapDHCP: the VM takes its address from a DHCP server (dnsmasq) in
// the test's namespace and is reachable there.
func TestTapDHCP(t *testing.T) {
	n := netns.New(t)
	n.StartDHCP("192.168.100.50", "192.168.100.50")
	const addr = "192.168.100.50"
	r, c := tapVM(t, n, "--verbose", addr)
	checkIfconfig(t, c, addr)
	if !strings.Contains(r.Serial(), addr) {
		t.Errorf("the console does not report the leased address %s", addr)
	}
	powerOff(t, r, c, addr)
}

// TestTapStatic: OSv-style static configuration on the command line.
func TestTapStatic(t *testing.T) {
	n := netns.New(t)
	const addr = "192.168.100.20"
	r, c := tapVM(t, n, "--ip=eth0,"+addr+",255.255.255.0 --defaultgw=192.168.100.1 --nameserver=192.168.100.1", addr)
	checkIfconfig(t, c, addr)
	// IPv6: the NIC's link-local address (EUI-64 from the MAC) answers
	// too, on the same dual-stack API socket, once duplicate address
	// detection is done.
	url := "http://[fe80::5054:ff:fe12:3456%25" + n.Tap + "]:8000/os/name"
	if code, body := r.WaitHTTPClient(c, url, 30*time.Second); code != 200 || body != `"gosv"` {
		t.Errorf("GET %s over IPv6 = %d %q", url, code, body)
	}
	powerOff(t, r, c, addr)
}
