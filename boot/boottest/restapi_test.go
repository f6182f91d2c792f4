package boottest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gosv/boot/qemu"
)

// apiVM boots gosv with no application and one NIC on QEMU user
// networking, with guest port 8000 forwarded, and waits for the REST API.
func apiVM(t *testing.T, machine, transport string, memMB, cpus int, cmdline string) (*Running, string) {
	t.Helper()
	port := FreePort(t)
	r := Start(t, qemu.Config{
		Machine: machine, MemoryMB: memMB, CPUs: cpus, Cmdline: cmdline,
		NICs: []qemu.NIC{{Transport: transport, HostForward: []string{HostForward(port, 8000)}}},
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if code, body := r.WaitHTTP(base+"/os/name", 2*time.Minute); code != 200 || body != `"gosv"` {
		t.Fatalf("GET /os/name = %d %q, want 200 \"gosv\"", code, body)
	}
	return r, base
}

func do(t *testing.T, method, u string, form url.Values) (int, []byte) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, u, err)
	}
	return resp.StatusCode, b
}

// getJSON fetches u and decodes its JSON body into v, failing on any
// status but 200.
func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	code, b := do(t, "GET", u, nil)
	if code != 200 {
		t.Fatalf("GET %s = %d %s", u, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", u, err, b)
	}
}

// TestRESTAPI checks every endpoint of the in-kernel REST API from the
// host, through QEMU user networking, against what the VM was given.
func TestRESTAPI(t *testing.T) {
	const memMB, cpus = 256, 2
	r, base := apiVM(t, "microvm", "", memMB, cpus, "--verbose --hostname=apitest")

	var s string
	var n int64
	getJSON(t, base+"/os/version", &s)
	if s == "" {
		t.Errorf("/os/version is empty")
	}
	getJSON(t, base+"/os/vendor", &s)
	if s != "gosv" {
		t.Errorf("/os/vendor = %q", s)
	}
	getJSON(t, base+"/os/uptime", &n)
	if n < 0 || n > 600 {
		t.Errorf("/os/uptime = %d s", n)
	}
	getJSON(t, base+"/os/date", &s)
	if _, err := time.Parse("Mon Jan 02 15:04:05 MST 2006", s); err != nil {
		t.Errorf("/os/date %q: %v", s, err)
	}
	var total, free uint64
	getJSON(t, base+"/os/memory/total", &total)
	getJSON(t, base+"/os/memory/free", &free)
	if total > memMB<<20 || total < (memMB-16)<<20 || free == 0 || free >= total {
		t.Errorf("memory total %d, free %d for a %d MiB VM", total, free, memMB)
	}
	getJSON(t, base+"/os/dmesg", &s)
	if !strings.Contains(s, "gosv") {
		t.Errorf("/os/dmesg does not hold the boot messages: %q", s)
	}
	getJSON(t, base+"/os/hostname", &s)
	if s != "apitest" {
		t.Errorf("/os/hostname = %q, want apitest", s)
	}
	if code, b := do(t, "POST", base+"/os/hostname", url.Values{"name": {"renamed"}}); code != 200 {
		t.Errorf("POST /os/hostname = %d %s", code, b)
	}
	getJSON(t, base+"/os/hostname", &s)
	if s != "renamed" {
		t.Errorf("/os/hostname after POST = %q", s)
	}
	getJSON(t, base+"/os/cmdline", &s)
	if !strings.Contains(s, "--hostname=apitest") {
		t.Errorf("/os/cmdline = %q", s)
	}
	var threads struct {
		List []map[string]any `json:"list"`
	}
	getJSON(t, base+"/os/threads", &threads)
	if len(threads.List) < 2 {
		t.Errorf("/os/threads lists %d threads", len(threads.List))
	}
	// The requests so far went through the NIC: the kernel took device
	// interrupts, switched threads and made system calls.
	var stats map[string]uint64
	getJSON(t, base+"/os/stats/", &stats)
	for _, k := range []string{"syscalls", "context_switches", "device_interrupts"} {
		if stats[k] == 0 {
			t.Errorf("/os/stats/ %s = 0, want some (all: %v)", k, stats)
		}
	}
	getJSON(t, base+"/hardware/processor/count", &n)
	if n != cpus {
		t.Errorf("/hardware/processor/count = %d, want %d", n, cpus)
	}
	getJSON(t, base+"/hardware/processor/flags", &s)
	if !strings.Contains(" "+s+" ", " sse2 ") {
		t.Errorf("/hardware/processor/flags = %q, want sse2 among them", s)
	}
	getJSON(t, base+"/hardware/hypervisor", &s)
	if s == "" {
		t.Errorf("/hardware/hypervisor is empty")
	}
	getJSON(t, base+"/hardware/firmware/vendor", &s)

	// Environment: set, read, list, delete.
	if code, b := do(t, "POST", base+"/env/GOSV_TEST", url.Values{"val": {"42"}}); code != 200 {
		t.Errorf("POST /env/GOSV_TEST = %d %s", code, b)
	}
	getJSON(t, base+"/env/GOSV_TEST", &s)
	if s != "42" {
		t.Errorf("/env/GOSV_TEST = %q", s)
	}
	var env []string
	getJSON(t, base+"/env/", &env)
	if !strings.Contains(strings.Join(env, "\n"), "GOSV_TEST=42") {
		t.Errorf("/env/ = %q lacks GOSV_TEST=42", env)
	}
	if code, b := do(t, "DELETE", base+"/env/GOSV_TEST", nil); code != 200 {
		t.Errorf("DELETE /env/GOSV_TEST = %d %s", code, b)
	}
	if code, _ := do(t, "GET", base+"/env/GOSV_TEST", nil); code != 400 {
		t.Errorf("GET of a deleted variable = %d, want 400", code)
	}

	// Network: the NIC got QEMU's DHCP address; routes go through it.
	var ifs []struct {
		Config struct {
			Name, Addr, Mask, Flags, MTU string
			PhysAddr                     string `json:"phys_addr"`
		} `json:"config"`
		Data struct {
			IPackets uint64 `json:"ifi_ipackets"`
			OPackets uint64 `json:"ifi_opackets"`
		} `json:"data"`
	}
	getJSON(t, base+"/network/ifconfig/", &ifs)
	found := false
	for _, i := range ifs {
		if i.Config.Name == "eth0" {
			found = true
			if i.Config.Addr != "10.0.2.15" || i.Config.Mask != "255.255.255.0" || i.Config.PhysAddr == "" || i.Data.IPackets == 0 || i.Data.OPackets == 0 {
				t.Errorf("eth0 = %+v", i)
			}
		}
	}
	if !found {
		t.Errorf("/network/ifconfig/ has no eth0: %+v", ifs)
	}
	var routes []struct {
		Destination, Gateway, Flags, Netif string
	}
	getJSON(t, base+"/network/route/", &routes)
	gw := false
	for _, rt := range routes {
		if rt.Gateway == "10.0.2.2" && rt.Netif == "eth0" {
			gw = true
		}
	}
	if !gw {
		t.Errorf("/network/route/ has no default route via 10.0.2.2: %+v", routes)
	}
	var df []map[string]any
	getJSON(t, base+"/fs/df/", &df)

	// The API description lists what is served; errors are JSON.
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	getJSON(t, base+"/api-doc", &doc)
	if doc.OpenAPI == "" || doc.Paths["/os/name"] == nil || doc.Paths["/network/ifconfig/"] == nil {
		t.Errorf("/api-doc: openapi %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/no/such/thing", 404},
		{"DELETE", "/os/name", 405},
		{"POST", "/os/hostname", 400},
	} {
		code, b := do(t, tc.method, base+tc.path, nil)
		var e struct {
			Message string `json:"message"`
			Code    int    `json:"code"`
		}
		if code != tc.want || json.Unmarshal(b, &e) != nil || e.Code != tc.want || e.Message == "" {
			t.Errorf("%s %s = %d %s, want %d with a JSON error", tc.method, tc.path, code, b, tc.want)
		}
	}

	// Power off through the API: the VM stops with status 0.
	if code, b := do(t, "POST", base+"/os/poweroff", nil); code != 200 {
		t.Fatalf("POST /os/poweroff = %d %s", code, b)
	}
	res := r.Wait()
	if !res.Exited || res.GuestStatus != 0 {
		t.Errorf("after /os/poweroff: exited %v, status %d; serial:\n%s", res.Exited, res.GuestStatus, res.Serial)
	}
}

// TestVirtioNetTransports brings the API up over each virtio transport
// and moves a response of many segments (the API description) through it.
func TestVirtioNetTransports(t *testing.T) {
	for _, tc := range []struct{ machine, transport string }{
		{"microvm", "mmio"},
		{"microvm", "mmio-v2"},
		{"q35", "pci"},
		{"q35", "pci-modern"},
		{"q35", "pci-legacy"},
		// INTx through the I/O APIC, as SeaBIOS routes it on pc. (On
		// q35 the line's GSI is only in ACPI's _PRT, which gosv does
		// not read: devices there use MSI-X.)
		{"pc", "pci-intx"},
	} {
		t.Run(tc.machine+"-"+tc.transport, func(t *testing.T) {
			t.Parallel()
			r, base := apiVM(t, tc.machine, tc.transport, 128, 1, "")
			code, b := do(t, "GET", base+"/api-doc", nil)
			if code != 200 || len(b) < 8<<10 || !json.Valid(b) {
				t.Errorf("GET /api-doc = %d, %d bytes, valid JSON %v", code, len(b), json.Valid(b))
			}
			do(t, "POST", base+"/os/poweroff", nil)
			if res := r.Wait(); !res.Exited || res.GuestStatus != 0 {
				t.Errorf("after /os/poweroff: exited %v, status %d", res.Exited, res.GuestStatus)
			}
		})
	}
}
