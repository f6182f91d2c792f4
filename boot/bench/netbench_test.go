package bench

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
)

func readWrk(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "wrk", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseWrk(t *testing.T) {
	us, ms := time.Microsecond, time.Millisecond
	for _, tc := range []struct {
		file string
		want WrkResult
	}{
		// Captured from wrk 4.1.0 against httpserver on the host.
		{"ok.txt", WrkResult{Requests: 96941, Duration: 2010 * ms, RequestsSec: 48287.73,
			P50: 477 * us, P75: 1200 * us, P90: 2490 * us, P99: 6020 * us}},
		{"non2xx.txt", WrkResult{Requests: 38283, Duration: time.Second, RequestsSec: 38258.74,
			P50: 75 * us, P75: 124 * us, P90: 479 * us, P99: 3500 * us, Errors: 38283}},
		// wrk's format with socket errors and a latency in seconds.
		{"errors.txt", WrkResult{Requests: 2951, Duration: 10030 * ms, RequestsSec: 294.23,
			P50: 62310 * us, P75: 101900 * us, P90: 254770 * us, P99: 1210 * ms, Errors: 19}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ParseWrk(readWrk(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseWrk:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseWrkRejects(t *testing.T) {
	ok := readWrk(t, "ok.txt")
	for _, tc := range []struct {
		name, out, want string
	}{
		{"empty", "", "no Requests/sec"},
		{"connection refused", "unable to connect to 192.168.100.2:8080 Connection refused\n", "no Requests/sec"},
		{"no --latency", strings.Replace(ok, "     99%    6.02ms\n", "", 1), "latency distribution"},
		{"no total", strings.Replace(ok, "  96941 requests in 2.01s, 13.22MB read\n", "", 1), "requests in"},
		{"out of order", strings.Replace(ok, "     99%    6.02ms", "     99%    6.02us", 1), "out of order"},
		{"twice", strings.Replace(ok, "     50%  477.00us\n", "     50%  477.00us\n     50%  478.00us\n", 1), "twice"},
		{"bad rate", strings.Replace(ok, "Requests/sec:  48287.73", "Requests/sec:  4.8.2", 1), "bad Requests/sec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseWrk(tc.out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseWrk error = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func FuzzParseWrk(f *testing.F) {
	for _, n := range []string{"ok.txt", "non2xx.txt", "errors.txt"} {
		f.Add(readWrk(f, n))
	}
	f.Add("Requests/sec: 1\n 1 requests in 1h,\n 50% 1us\n 75% 1us\n 90% 1us\n 99% 1us\n")
	f.Fuzz(func(t *testing.T, out string) {
		r, err := ParseWrk(out)
		if err != nil {
			return
		}
		if r.RequestsSec < 0 || r.Requests < 0 || r.Errors < 0 || r.P50 > r.P99 || r.P50 < 0 {
			t.Errorf("accepted an impossible result %+v", r)
		}
	})
}

func TestParseTCPBench(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      TCPResult
		mbps      float64
		err       string
	}{
		{"send", "TCPBENCH send 3206938624 bytes 2.003 s\n", TCPResult{"send", 3206938624, 2003 * time.Millisecond}, 1601.07, ""},
		{"recv among other lines", "tcpbench: hi\r\nTCPBENCH recv 100000000 bytes 10.000 s\r\n", TCPResult{"recv", 100000000, 10 * time.Second}, 10, ""},
		{"error", "TCPBENCH error dial tcp: connection refused\n", TCPResult{}, 0, "connection refused"},
		{"nothing", "", TCPResult{}, 0, "no TCPBENCH line"},
		{"direction", "TCPBENCH both 1 bytes 1 s\n", TCPResult{}, 0, "unknown direction"},
		{"zero time", "TCPBENCH send 1 bytes 0 s\n", TCPResult{}, 0, "bad time"},
		{"garbage", "TCPBENCH send lots\n", TCPResult{}, 0, "bad result"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTCPBench(tc.out)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error = %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if m := got.MBps(); m < tc.mbps-0.01 || m > tc.mbps+0.01 {
				t.Errorf("MBps = %.3f, want %.2f", m, tc.mbps)
			}
		})
	}
}

func FuzzParseTCPBench(f *testing.F) {
	f.Add("TCPBENCH send 3206938624 bytes 2.003 s\n")
	f.Add("TCPBENCH error x\n")
	f.Fuzz(func(t *testing.T, out string) {
		r, err := ParseTCPBench(out)
		if err == nil && (r.Elapsed <= 0 || r.Bytes < 0 || r.MBps() < 0) {
			t.Errorf("accepted %+v", r)
		}
	})
}

func TestLinuxNetModules(t *testing.T) {
	// Each module's depends= (modinfo) in Debian's 6.1 cloud kernel.
	deps := map[string][]string{
		"virtio":       {"virtio_ring"},
		"virtio_mmio":  {"virtio", "virtio_ring"},
		"virtio_pci":   {"virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio", "virtio_ring"},
		"net_failover": {"failover"},
		"virtio_net":   {"virtio_ring", "virtio", "net_failover"},
	}
	for _, tc := range []struct{ machine, bus string }{{"microvm", "virtio_mmio"}, {"q35", "virtio_pci"}, {"pc", "virtio_pci"}} {
		t.Run(tc.machine, func(t *testing.T) {
			mods := LinuxNetModules(tc.machine)
			at := map[string]int{}
			for i, m := range mods {
				at[m] = i
			}
			for _, need := range []string{tc.bus, "virtio_net"} {
				if _, ok := at[need]; !ok {
					t.Fatalf("%v lacks %s", mods, need)
				}
			}
			for m, i := range at {
				for _, d := range deps[m] {
					if j, ok := at[d]; !ok || j > i {
						t.Errorf("%v: %s needs %s loaded first", mods, m, d)
					}
				}
			}
		})
	}
}

func TestNetInitScriptRejects(t *testing.T) {
	for _, tc := range []struct {
		name          string
		modules, argv []string
	}{
		{"no program", []string{"virtio"}, nil},
		{"relative program", nil, []string{"bin/httpserver"}},
		{"quote", nil, []string{"/bin/x", "it's"}},
		{"dollar", nil, []string{"/bin/x", "$HOME"}},
		{"newline", nil, []string{"/bin/x", "a\nb"}},
		{"module path", []string{"../virtio"}, []string{"/bin/x"}},
		{"empty word", nil, []string{"/bin/x", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := NetInitScript(tc.modules, tc.argv); err == nil {
				t.Errorf("NetInitScript(%q, %q) accepted:\n%s", tc.modules, tc.argv, s)
			}
		})
	}
}

// TestNetInitScriptRuns runs the script with a shell and a fake busybox
// that logs its arguments: the commands must come in order, and the
// server must get its arguments.
func TestNetInitScriptRuns(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	fake := filepath.Join(dir, "busybox")
	server := filepath.Join(dir, "server")
	for path, body := range map[string]string{
		fake:   "#!/bin/sh\necho \"bb $*\" >> " + log + "\n",
		server: "#!/bin/sh\necho \"server $*\" >> " + log + "\nexit 3\n",
	} {
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script, err := NetInitScript([]string{"virtio_ring", "virtio_net"}, []string{server, "-addr", ":8080"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(script, "bb=/bin/busybox\n") {
		t.Fatalf("script does not name busybox in one place:\n%s", script)
	}
	// eth0 never shows up here: the wait loop must give up by itself.
	script = strings.Replace(script, "bb=/bin/busybox\n", "bb="+fake+"\n", 1)
	script = strings.ReplaceAll(script, "/sys/class/net/eth0", filepath.Join(dir, "no-eth0"))
	out, err := exec.Command(sh, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("script failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), LinuxNetMarker+"\nLINUXNET server exited 3\n") {
		t.Errorf("output %q lacks the marker and the server's status", out)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "bb sleep 0.1" {
			got = append(got, l)
		}
	}
	want := []string{
		"bb mount -t proc proc /proc",
		"bb mount -t sysfs sysfs /sys",
		"bb insmod /lib/modules/virtio_ring.ko",
		"bb insmod /lib/modules/virtio_net.ko",
		"bb ip link set lo up",
		"bb ip addr add 192.168.100.2/24 dev eth0",
		"bb ip link set eth0 up",
		"bb ip route add default via 192.168.100.1",
		"server -addr :8080",
		"bb poweroff -f",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("commands run (-want +got):\n-%q\n+%q", want, got)
	}
	if n := strings.Count(string(b), "bb sleep 0.1"); n != 100 {
		t.Errorf("waited %d times for eth0, want 100", n)
	}
}

func TestNetInitramfs(t *testing.T) {
	bb := []byte("\x7fELF busybox")
	mods := map[string][]byte{"virtio_net": []byte("\x7fELF virtio_net"), "virtio": []byte("\x7fELF virtio")}
	progs := []File{{Name: "bin/httpserver", Data: []byte("\x7fELF server")}}
	init, err := NetInitScript([]string{"virtio", "virtio_net"}, []string{"/bin/httpserver"})
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	for _, w := range []*bytes.Buffer{&a, &b} {
		if err := WriteNetInitramfs(w, bb, mods, progs, init); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("initramfs not reproducible")
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(a.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	files, modes := map[string]string{}, map[string]uint64{}
	for _, r := range recs {
		data, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
		if err != nil {
			t.Fatal(err)
		}
		files[r.Name], modes[r.Name] = string(data), r.Mode
	}
	want := map[string]struct {
		data string
		mode uint64
	}{
		"init":                      {init, cpio.S_IFREG | 0o755},
		"bin/busybox":               {string(bb), cpio.S_IFREG | 0o755},
		"bin/httpserver":            {"\x7fELF server", cpio.S_IFREG | 0o755},
		"lib/modules/virtio.ko":     {"\x7fELF virtio", cpio.S_IFREG | 0o644},
		"lib/modules/virtio_net.ko": {"\x7fELF virtio_net", cpio.S_IFREG | 0o644},
		"sys":                       {"", cpio.S_IFDIR | 0o755},
		"proc":                      {"", cpio.S_IFDIR | 0o755},
		"lib/modules":               {"", cpio.S_IFDIR | 0o755},
		"dev/console":               {"", cpio.S_IFCHR | 0o600},
	}
	for name, w := range want {
		if files[name] != w.data || modes[name] != w.mode {
			t.Errorf("%s: got %q mode %o, want %q mode %o", name, files[name], modes[name], w.data, w.mode)
		}
	}
	for _, bad := range []struct {
		mods  map[string][]byte
		progs []File
	}{
		{map[string][]byte{"a/b": nil}, nil},
		{nil, []File{{Name: "/bin/x"}}},
		{nil, []File{{Name: "init"}}},
	} {
		if err := WriteNetInitramfs(io.Discard, bb, bad.mods, bad.progs, init); err == nil {
			t.Errorf("WriteNetInitramfs accepted modules %v, programs %v", bad.mods, bad.progs)
		}
	}
}

func TestGosvNetCmdline(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{nil, "--ip=eth0,192.168.100.2,255.255.255.0 --defaultgw=192.168.100.1"},
		{[]string{"/bin/httpserver", "-addr", ":8080"}, "--ip=eth0,192.168.100.2,255.255.255.0 --defaultgw=192.168.100.1 /bin/httpserver -addr :8080"},
	} {
		if got := GosvNetCmdline(tc.argv...); got != tc.want {
			t.Errorf("GosvNetCmdline(%q) = %q, want %q", tc.argv, got, tc.want)
		}
	}
}

func TestSpliceSection(t *testing.T) {
	sec := "## Network\n\nnew\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"replace in the middle", "# B\n\n## Apps\n\na\n\n## Network\n\nold\nold\n\n## Targets\n\nt\n",
			"# B\n\n## Apps\n\na\n\n## Network\n\nnew\n\n## Targets\n\nt\n"},
		{"replace at the end", "# B\n\n## Network\n\nold\n", "# B\n\n## Network\n\nnew\n\n"},
		{"insert before Targets", "# B\n\n## Apps\n\na\n\n## Targets\n\nt\n",
			"# B\n\n## Apps\n\na\n\n## Network\n\nnew\n\n## Targets\n\nt\n"},
		{"append", "# B\n\ntext", "# B\n\ntext\n\n## Network\n\nnew\n\n"},
		{"empty", "", "## Network\n\nnew\n\n"},
		{"heading must be whole", "# B\n\n## Networking\n\nx\n", "# B\n\n## Networking\n\nx\n\n## Network\n\nnew\n\n"},
		{"subsections go with it", "## Network\n\n### HTTP\n\nold\n\n## Targets\n", "## Network\n\nnew\n\n## Targets\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SpliceSection(tc.doc, sec); got != tc.want {
				t.Errorf("SpliceSection:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestSummarizeWrk(t *testing.T) {
	ms := time.Millisecond
	s := SummarizeWrk([]WrkResult{
		{RequestsSec: 300, P50: 3 * ms, P99: 30 * ms, Errors: 1},
		{RequestsSec: 100, P50: 1 * ms, P99: 10 * ms},
		{RequestsSec: 200, P50: 2 * ms, P99: 50 * ms, Errors: 2},
	})
	if s.ReqSec.Median != 200 || s.ReqSec.Min != 100 || s.P50.Median != 2*ms || s.P99.Median != 30*ms || s.P99.Max != 50*ms || s.Errors != 3 {
		t.Errorf("SummarizeWrk = %+v", s)
	}
}

func TestNetMarkdown(t *testing.T) {
	t.Run("skipped", func(t *testing.T) {
		md := (&NetReport{Skipped: "they need root"}).Markdown()
		if !strings.HasPrefix(md, NetHeading+"\n") || !strings.Contains(md, "they need root") || strings.Contains(md, "|") {
			t.Errorf("skipped section:\n%s", md)
		}
	})
	t.Run("measured", func(t *testing.T) {
		ms, us := time.Millisecond, time.Microsecond
		n := &NetReport{
			Date: "2026-01-02", Accel: "tcg", Machine: "microvm", MemoryMiB: 128, CPUs: 2, Runs: 1,
			Wrk: []string{"wrk", "--latency", "-t2", "-c32", "-d10s"}, TCPDuration: 10 * time.Second,
			LinuxModules: []string{"virtio_net"},
			GosvAPIArgs:  []string{"ip", "netns", "exec", "NS", "qemu-system-x86_64", "-append", "--ip=eth0,a b"},
			GosvAPI:      []WrkResult{{RequestsSec: 3000, P50: 8 * ms, P99: 20 * ms, HostCPU: 600 * us, VCPU: 500 * us}},
			GosvHTTP:     []WrkResult{{RequestsSec: 1000, P50: 30 * ms, P99: 120 * ms, Errors: 4, HostCPU: 400 * us, VCPU: 350 * us}},
			LinuxHTTP:    []WrkResult{{RequestsSec: 4000, P50: 7 * ms, P99: 40 * ms, HostCPU: 200 * us, VCPU: 150 * us}},
			GosvSend:     []float64{10}, GosvRecv: []float64{50},
			LinuxSend: []float64{100}, LinuxRecv: []float64{100},
		}
		md := n.Markdown()
		for _, want := range []string{
			"| gosv REST API (`/os/name`) | 3000 (3000–3000) | 8.00 ms (8.00 ms–8.00 ms) | 20.00 ms (20.00 ms–20.00 ms) | 0.75× | 0.50× | 0 |",
			"| gosv, Go server | 1000 (1000–1000) | 30.00 ms (30.00 ms–30.00 ms) | 120.00 ms (120.00 ms–120.00 ms) | 0.25× | 3.00× | 4 |",
			"| Linux, Go server | 4000 (4000–4000) | 7.00 ms (7.00 ms–7.00 ms) | 40.00 ms (40.00 ms–40.00 ms) | 1.00× | 1.00× | 0 |",
			"| host → guest | 10.0 (10.0–10.0) | 100.0 (100.0–100.0) | 0.10× |",
			"| guest → host | 50.0 (50.0–50.0) | 100.0 (100.0–100.0) | 0.50× |",
			"slower under gosv: 0.25×",
			"| gosv REST API (`/os/name`) | 600 µs | 500 µs | 3.00× |",
			"| gosv, Go server | 400 µs | 350 µs | 2.00× |",
			"| Linux, Go server | 200 µs | 150 µs | 1.00× |",
			"gosv is slower than Linux receiving (host → guest, 0.10×) and slower sending (guest → host, 0.50×).",
			"ip netns exec NS qemu-system-x86_64 -append '--ip=eth0,a b'",
			"`wrk --latency -t2 -c32 -d10s`",
		} {
			if !strings.Contains(md, want) {
				t.Errorf("report lacks %q:\n%s", want, md)
			}
		}
	})
}
