package bench

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
)

// WrkResult is what one wrk run printed.
type WrkResult struct {
	Requests    int64
	Duration    time.Duration
	RequestsSec float64
	// Latency percentiles (wrk --latency): 50, 75, 90, 99.
	P50, P75, P90, P99 time.Duration
	// Errors counts socket errors (connect, read, write, timeout) and
	// non-2xx/3xx responses.
	Errors int64
	// HostCPU is the CPU time QEMU used per request during the run (all
	// its threads), VCPU that of its vCPU threads; 0 if not measured.
	// The guests share the host's CPUs with the load generator, so the
	// request rate follows from what each request costs the host.
	HostCPU, VCPU time.Duration
}

var (
	wrkReqSecRE  = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)\s*$`)
	wrkTotalRE   = regexp.MustCompile(`(?m)^\s*([0-9]+) requests in ([0-9.]+)(us|ms|s|m|h),`)
	wrkPctRE     = regexp.MustCompile(`(?m)^\s+(50|75|90|99)%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	wrkSockErrRE = regexp.MustCompile(`(?m)^\s*Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)\s*$`)
	wrkNon2xxRE  = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses: ([0-9]+)\s*$`)
)

var wrkUnits = map[string]time.Duration{
	"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
	"m": time.Minute, "h": time.Hour,
}

// ParseWrk reads the output of `wrk --latency`: the request count and
// rate, the latency distribution and any errors.
func ParseWrk(out string) (WrkResult, error) {
	var r WrkResult
	m := wrkReqSecRE.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New("wrk: no Requests/sec line")
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil || v < 0 || v > 1e12 {
		return r, fmt.Errorf("wrk: bad Requests/sec %q", m[1])
	}
	r.RequestsSec = v
	m = wrkTotalRE.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New(`wrk: no "N requests in T" line`)
	}
	if r.Requests, err = strconv.ParseInt(m[1], 10, 64); err != nil {
		return r, fmt.Errorf("wrk: bad request count %q", m[1])
	}
	if r.Duration, err = wrkDuration(m[2], m[3]); err != nil {
		return r, err
	}
	pct := map[string]*time.Duration{"50": &r.P50, "75": &r.P75, "90": &r.P90, "99": &r.P99}
	seen := map[string]bool{}
	for _, m := range wrkPctRE.FindAllStringSubmatch(out, -1) {
		if seen[m[1]] {
			return r, fmt.Errorf("wrk: %s%% latency printed twice", m[1])
		}
		seen[m[1]] = true
		if *pct[m[1]], err = wrkDuration(m[2], m[3]); err != nil {
			return r, err
		}
	}
	if len(seen) != len(pct) {
		return r, errors.New("wrk: no latency distribution (run wrk with --latency)")
	}
	if r.P50 > r.P75 || r.P75 > r.P90 || r.P90 > r.P99 {
		return r, fmt.Errorf("wrk: latency percentiles out of order: %v %v %v %v", r.P50, r.P75, r.P90, r.P99)
	}
	if m := wrkSockErrRE.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk: bad socket error count %q", s)
			}
			r.Errors += n
		}
	}
	if m := wrkNon2xxRE.FindStringSubmatch(out); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return r, fmt.Errorf("wrk: bad non-2xx count %q", m[1])
		}
		r.Errors += n
	}
	return r, nil
}

func wrkDuration(num, unit string) (time.Duration, error) {
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || f > 1e6 {
		return 0, fmt.Errorf("wrk: bad time %q%s", num, unit)
	}
	return time.Duration(math.Round(f * float64(wrkUnits[unit]))), nil
}

// TCPResult is one tcpbench client run.
type TCPResult struct {
	Dir     string // "send" (host to guest) or "recv" (guest to host)
	Bytes   int64
	Elapsed time.Duration
}

// MBps is the throughput in MB/s (10^6 bytes per second).
func (r TCPResult) MBps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds()
}

var tcpLineRE = regexp.MustCompile(`(?m)^TCPBENCH (\S+) (.*?)\r?$`)
var tcpResultRE = regexp.MustCompile(`^([0-9]+) bytes ([0-9]+(?:\.[0-9]+)?) s$`)

// ParseTCPBench reads the tcpbench client's result line,
// "TCPBENCH send 123456789 bytes 10.013 s", or its "TCPBENCH error ..."
// line as the error.
func ParseTCPBench(out string) (TCPResult, error) {
	m := tcpLineRE.FindStringSubmatch(out)
	if m == nil {
		return TCPResult{}, errors.New("tcpbench: no TCPBENCH line")
	}
	switch m[1] {
	case "error":
		return TCPResult{}, fmt.Errorf("tcpbench: %s", m[2])
	case "send", "recv":
	default:
		return TCPResult{}, fmt.Errorf("tcpbench: unknown direction %q", m[1])
	}
	v := tcpResultRE.FindStringSubmatch(m[2])
	if v == nil {
		return TCPResult{}, fmt.Errorf("tcpbench: bad result %q", m[2])
	}
	n, err := strconv.ParseInt(v[1], 10, 64)
	if err != nil {
		return TCPResult{}, fmt.Errorf("tcpbench: bad byte count %q", v[1])
	}
	s, err := strconv.ParseFloat(v[2], 64)
	if err != nil || !(s > 0) || s > 1e6 {
		return TCPResult{}, fmt.Errorf("tcpbench: bad time %q", v[2])
	}
	return TCPResult{Dir: m[1], Bytes: n, Elapsed: time.Duration(math.Round(s * float64(time.Second)))}, nil
}

// Addresses of the network benchmark: the namespace's tap is GatewayIP
// (netns), the guest under test GuestIP.
const (
	GuestIP   = "192.168.100.2"
	GatewayIP = "192.168.100.1"
	NetPrefix = 24
	NetMask   = "255.255.255.0"
)

// GosvNetCmdline is gosv's command line for the network benchmark: the
// static address, then the application's argv, if any.
func GosvNetCmdline(argv ...string) string {
	s := fmt.Sprintf("--ip=eth0,%s,%s --defaultgw=%s", GuestIP, NetMask, GatewayIP)
	if len(argv) > 0 {
		s += " " + strings.Join(argv, " ")
	}
	return s
}

// LinuxNetModules lists, in load order, the modules the Debian cloud
// kernel needs for virtio-net on the machine (all are modules there, none
// built in): virtio-mmio devices on microvm, which Linux finds through
// microvm's ACPI tables, PCI elsewhere.
func LinuxNetModules(machine string) []string {
	bus := []string{"virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci"}
	if machine == "microvm" {
		bus = []string{"virtio_mmio"}
	}
	m := []string{"virtio_ring", "virtio"}
	m = append(m, bus...)
	return append(m, "failover", "net_failover", "virtio_net")
}

// LinuxNetMarker is printed by the network /init once eth0 is up, before
// it starts the server.
const LinuxNetMarker = "LINUXNET up"

// NetInitScript returns the baseline's /init for the network benchmark:
// it loads the modules (from /lib/modules/NAME.ko, in order), waits for
// eth0, gives it GuestIP with a default route to GatewayIP, prints
// LinuxNetMarker and runs argv (an absolute program path and its
// arguments); should the server exit, it powers off. Arguments may not
// hold quotes, backslashes or newlines.
func NetInitScript(modules, argv []string) (string, error) {
	if len(argv) == 0 || !strings.HasPrefix(argv[0], "/") {
		return "", errors.New("bench: the network init needs an absolute program path")
	}
	for _, a := range append(append([]string(nil), modules...), argv...) {
		if a == "" || strings.ContainsAny(a, "'\"\\\n\r$`") {
			return "", fmt.Errorf("bench: unsafe word %q for the init script", a)
		}
	}
	for _, m := range modules {
		if strings.Contains(m, "/") {
			return "", fmt.Errorf("bench: module name %q has a slash", m)
		}
	}
	var b strings.Builder
	b.WriteString("#!/bin/busybox sh\n")
	b.WriteString("bb=/bin/busybox\n")
	b.WriteString("$bb mount -t proc proc /proc\n")
	b.WriteString("$bb mount -t sysfs sysfs /sys\n")
	for _, m := range modules {
		fmt.Fprintf(&b, "$bb insmod /lib/modules/%s.ko || echo 'LINUXNET error insmod %s'\n", m, m)
	}
	// Probing runs as the modules load, but give the device a moment.
	b.WriteString("i=0\n")
	b.WriteString("while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do $bb sleep 0.1; i=$((i+1)); done\n")
	b.WriteString("$bb ip link set lo up\n")
	fmt.Fprintf(&b, "$bb ip addr add %s/%d dev eth0\n", GuestIP, NetPrefix)
	b.WriteString("$bb ip link set eth0 up\n")
	fmt.Fprintf(&b, "$bb ip route add default via %s\n", GatewayIP)
	fmt.Fprintf(&b, "echo '%s'\n", LinuxNetMarker)
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("'" + a + "'")
	}
	b.WriteString("\necho \"LINUXNET server exited $?\"\n")
	b.WriteString("$bb poweroff -f\n")
	return b.String(), nil
}

// File is a file for an initramfs.
type File struct {
	Name string // path inside the archive, without a leading slash
	Data []byte
}

// WriteNetInitramfs writes the baseline's initramfs for the network
// benchmark: as WriteInitramfs, with an empty /sys, the kernel modules as
// /lib/modules/NAME.ko (their uncompressed .ko contents, keyed by name),
// the programs (executable) and init as /init.
func WriteNetInitramfs(w io.Writer, busybox []byte, modules map[string][]byte, programs []File, init string) error {
	extra := []cpio.Record{cpio.Directory("sys", 0o755), cpio.Directory("lib", 0o755), cpio.Directory("lib/modules", 0o755)}
	names := slices.Sorted(maps.Keys(modules))
	for _, n := range names {
		if n == "" || strings.Contains(n, "/") {
			return fmt.Errorf("bench: bad module name %q", n)
		}
		extra = append(extra, cpio.StaticRecord(modules[n], cpio.Info{Name: "lib/modules/" + n + ".ko", Mode: cpio.S_IFREG | 0o644}))
	}
	for _, p := range programs {
		if p.Name == "" || strings.HasPrefix(p.Name, "/") || p.Name == "init" {
			return fmt.Errorf("bench: bad program path %q", p.Name)
		}
		extra = append(extra, cpio.StaticRecord(p.Data, cpio.Info{Name: p.Name, Mode: cpio.S_IFREG | 0o755}))
	}
	return writeInitramfs(w, busybox, init, extra...)
}
