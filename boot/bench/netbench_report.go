package bench

import (
	"fmt"
	"strings"
	"time"
)

// NetHeading starts the network section of docs/benchmarks.md.
const NetHeading = "## Network"

// NetReport is the network benchmark: HTTP and TCP throughput against
// gosv and the Linux baseline over a tap device in a network namespace.
type NetReport struct {
	// Skipped, when set, says why the benchmark did not run; the section
	// then says only that.
	Skipped string

	Date        string
	GosvVersion string // the kernel's version stamp
	QEMUVersion string
	HostCPU     string
	HostCPUs    int
	Accel       string
	Machine     string
	MemoryMiB   int
	CPUs        int
	Runs        int      // boots of each server
	LoadAvg     string   // host load at the start
	LoadAvgEnd  string   // and at the end
	WrkVersion  string   // first line of wrk -v
	Wrk         []string // the wrk command, without the URL
	WarmUp      time.Duration
	TCPDuration time.Duration

	// QEMU command lines, wrapper first.
	GosvAPIArgs, GosvHTTPArgs, LinuxHTTPArgs []string
	GosvTCPArgs, LinuxTCPArgs                []string
	LinuxPkg                                 string
	LinuxModules                             []string
	ServerBinary, TCPBinary                  int64 // bytes of the static Go programs

	// One result per run.
	GosvAPI, GosvHTTP, LinuxHTTP []WrkResult
	// MB/s per run; send is host to guest, recv guest to host.
	GosvSend, GosvRecv, LinuxSend, LinuxRecv []float64
}

// NetSummary is the spread of one server's wrk runs.
type NetSummary struct {
	ReqSec   FloatSummary
	P50, P99 Summary
	HostCPU  Summary // of the runs that measured it
	VCPU     Summary
	Errors   int64
}

// SummarizeWrk summarizes wrk runs.
func SummarizeWrk(runs []WrkResult) NetSummary {
	var s NetSummary
	var rps []float64
	var p50, p99, cpu, vcpu []time.Duration
	for _, r := range runs {
		rps, p50, p99 = append(rps, r.RequestsSec), append(p50, r.P50), append(p99, r.P99)
		if r.HostCPU > 0 {
			cpu, vcpu = append(cpu, r.HostCPU), append(vcpu, r.VCPU)
		}
		s.Errors += r.Errors
	}
	s.ReqSec, s.P50, s.P99 = SummarizeFloats(rps), Summarize(p50), Summarize(p99)
	if len(cpu) > 0 {
		s.HostCPU, s.VCPU = Summarize(cpu), Summarize(vcpu)
	}
	return s
}

// Markdown renders the section, NetHeading first.
func (n *NetReport) Markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n\n", NetHeading)
	if n.Skipped != "" {
		p("Not measured in this run: %s. Run `sudo make bench`, or\n", n.Skipped)
		p("`sudo go run ./cmd/gosvbench -only=net -write` for this section alone.\n\n")
		return b.String()
	}
	p("Measured %s with gosv %s on %s (%d host CPUs), QEMU %s, %s;\n", n.Date, n.GosvVersion, n.HostCPU, n.HostCPUs, n.QEMUVersion, n.Accel)
	p("%s of each server (alternating), host load\n", plural(n.Runs, "boot"))
	p("%s at the start, %s at the end. Under TCG the absolute figures are\n", n.LoadAvg, n.LoadAvgEnd)
	p("low and the host's %d CPUs are shared by the guest's vCPUs and the\n", n.HostCPUs)
	p("load generator; the ratios between the guests are what to read.\n\n")

	p("### Method\n\n")
	p("- A private network namespace (`gosv/boot/netns`; NS below) holds a tap device\n")
	p("  `tap0` at %s/%d; QEMU runs inside it (`ip netns exec`) with one\n", GatewayIP, NetPrefix)
	p("  virtio-net NIC on that tap, and the load generators run inside it too,\n")
	p("  so no traffic touches the host's own networking. Both guests get\n")
	p("  %s statically, the same machine (%s, virtio-net over %s), %d MiB\n", GuestIP, n.Machine, transportName(n.Machine), n.MemoryMiB)
	p("  and %d vCPUs.\n", n.CPUs)
	p("- gosv: `%s` on its command line, then the application.\n", GosvNetCmdline())
	p("  The REST API is gosv's own (`GET /os/name` on port 8000, no\n")
	p("  application loaded).\n")
	p("- Linux: %s with a busybox initramfs whose `/init` loads the\n", n.LinuxPkg)
	p("  virtio-net modules (`insmod` of %s, from the\n", codeList(n.LinuxModules))
	p("  package, uncompressed), configures `eth0` with busybox `ip`, prints\n")
	p("  `%s` and runs the server.\n", LinuxNetMarker)
	p("- HTTP server: [`httpserver`](../boot/boottest/testdata/httpserver/main.go),\n")
	p("  a static Go `net/http` server (`CGO_ENABLED=0`, %s), the same\n", bytesMiB(n.ServerBinary))
	p("  binary in both guests, `GET /` answering a one-line body.\n")
	p("- Load: `%s` (%s), run in the namespace after the server\n", strings.Join(n.Wrk, " "), n.WrkVersion)
	p("  first answers and after a %v unmeasured warm-up run of the same command.\n", n.WarmUp)
	p("- TCP throughput: [`tcpbench`](../boot/bench/testdata/tcpbench/main.go), a\n")
	p("  static Go sender/receiver (%s), as the guest's server\n", bytesMiB(n.TCPBinary))
	p("  (`tcpbench -s :5201`) and as the client in the namespace, one\n")
	p("  connection for %v each way: *host → guest* (the client sends; counted\n", n.TCPDuration)
	p("  as what the server received) and *guest → host* (the server sends).\n")
	p("  MB/s is 10⁶ bytes per second.\n\n")
	p("QEMU command lines:\n\n```\n")
	for _, c := range []struct {
		name string
		args []string
	}{
		{"gosv REST API", n.GosvAPIArgs}, {"gosv Go server", n.GosvHTTPArgs}, {"Linux Go server", n.LinuxHTTPArgs},
		{"gosv tcpbench", n.GosvTCPArgs}, {"Linux tcpbench", n.LinuxTCPArgs},
	} {
		p("# %s\n%s\n", c.name, shellJoin(c.args))
	}
	p("```\n\n")

	api, gh, lh := SummarizeWrk(n.GosvAPI), SummarizeWrk(n.GosvHTTP), SummarizeWrk(n.LinuxHTTP)
	servers := []struct {
		name string
		s    NetSummary
	}{{"gosv REST API (`/os/name`)", api}, {"gosv, Go server", gh}, {"Linux, Go server", lh}}
	p("### HTTP\n\n")
	p("Medians over the runs (min–max in brackets). Ratios are against the\n")
	p("Linux guest running the same Go server: above 1× the request rate is\n")
	p("higher, below 1× the latency lower, than Linux's.\n\n")
	p("| Server | requests/s | p50 latency | p99 latency | req/s vs Linux | p99 vs Linux | errors |\n")
	p("|---|---|---|---|---|---|---|\n")
	for _, row := range servers {
		p("| %s | %.0f (%.0f–%.0f) | %s | %s | %s | %s | %d |\n", row.name,
			row.s.ReqSec.Median, row.s.ReqSec.Min, row.s.ReqSec.Max,
			latency(row.s.P50), latency(row.s.P99),
			times(row.s.ReqSec.Median, lh.ReqSec.Median),
			times(float64(row.s.P99.Median), float64(lh.P99.Median)), row.s.Errors)
	}
	p("\n")
	p("%s\n\n", httpVerdict(gh, lh))
	if api.HostCPU.Median > 0 && gh.HostCPU.Median > 0 && lh.HostCPU.Median > 0 {
		p("What a request costs the host: QEMU's CPU time (all its threads, and\n")
		p("its vCPU threads alone) per request, medians over the runs. The guests\n")
		p("share the host's %d CPUs with wrk, so this, more than latency, sets\n", n.HostCPUs)
		p("the request rate.\n\n")
		p("| Server | host CPU per request | of which vCPUs | vs Linux |\n|---|---|---|---|\n")
		for _, row := range servers {
			p("| %s | %s | %s | %s |\n", row.name, durUs(row.s.HostCPU.Median), durUs(row.s.VCPU.Median),
				times(float64(row.s.HostCPU.Median), float64(lh.HostCPU.Median)))
		}
		p("\n")
	}

	p("### TCP throughput\n\n")
	p("| Direction | gosv MB/s | Linux MB/s | gosv / Linux |\n|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		g, l []float64
	}{{"host → guest", n.GosvSend, n.LinuxSend}, {"guest → host", n.GosvRecv, n.LinuxRecv}} {
		g, l := SummarizeFloats(row.g), SummarizeFloats(row.l)
		p("| %s | %.1f (%.1f–%.1f) | %.1f (%.1f–%.1f) | %s |\n", row.name,
			g.Median, g.Min, g.Max, l.Median, l.Min, l.Max, times(g.Median, l.Median))
	}
	p("\n%s\n\n", tcpVerdict(SummarizeFloats(n.GosvSend).Median/SummarizeFloats(n.LinuxSend).Median,
		SummarizeFloats(n.GosvRecv).Median/SummarizeFloats(n.LinuxRecv).Median))
	p("Each run's figures, in order: gosv API req/s %s; gosv Go server %s;\n", rates(n.GosvAPI), rates(n.GosvHTTP))
	p("Linux Go server %s. TCP MB/s host → guest: gosv %s, Linux %s;\n", rates(n.LinuxHTTP), floats(n.GosvSend), floats(n.LinuxSend))
	p("guest → host: gosv %s, Linux %s.\n\n", floats(n.GosvRecv), floats(n.LinuxRecv))
	p("On a shared host these medians move ±20%% between runs of one build;\n")
	p("judge a change by pairs (`gosvbench -only=net -ab OLD.elf` runs two\n")
	p("kernels alternately; docs/network.md has the figures of past changes).\n\n")
	p("Re-run this section alone with `sudo go run ./cmd/gosvbench -only=net -write`\n")
	p("(it needs root for the namespace); `make bench` runs it with the rest.\n\n")
	return b.String()
}

// httpVerdict says in words how gosv's Go server compares.
func httpVerdict(g, l NetSummary) string {
	if g.ReqSec.Median <= 0 || l.ReqSec.Median <= 0 {
		return "No comparison: a server served no requests."
	}
	r := g.ReqSec.Median / l.ReqSec.Median
	if r >= 1 {
		return fmt.Sprintf("The Go server serves %.2f× Linux's request rate under gosv.", r)
	}
	return fmt.Sprintf("The Go server is slower under gosv: %.2f× Linux's request rate.", r)
}

// tcpVerdict says in words how gosv's throughput compares, given the
// ratios gosv/Linux host → guest and guest → host.
func tcpVerdict(send, recv float64) string {
	word := func(r float64) string {
		if r >= 1 {
			return "faster"
		}
		return "slower"
	}
	if !(send > 0) || !(recv > 0) {
		return "No comparison: a transfer moved no data."
	}
	return fmt.Sprintf("gosv is %s than Linux receiving (host → guest, %.2f×) and %s sending (guest → host, %.2f×).",
		word(send), send, word(recv), recv)
}

func transportName(machine string) string {
	if machine == "microvm" {
		return "virtio-mmio"
	}
	return "virtio-pci"
}

func times(a, b float64) string {
	if b <= 0 || a <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func latency(s Summary) string {
	if s.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%s–%s)", durMs(s.Median), durMs(s.Min), durMs(s.Max))
}

func durUs(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func durMs(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func rates(rs []WrkResult) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprintf("%.0f", r.RequestsSec))
	}
	return listOrNone(s)
}

func floats(fs []float64) string {
	var s []string
	for _, f := range fs {
		s = append(s, fmt.Sprintf("%.1f", f))
	}
	return listOrNone(s)
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func codeList(s []string) string {
	var q []string
	for _, x := range s {
		q = append(q, "`"+x+"`")
	}
	return strings.Join(q, ", ")
}

// SpliceSection puts section (starting with its "## " heading line) into
// doc: in place of the section with the same heading, else before
// "## Targets", else at the end.
func SpliceSection(doc, section string) string {
	heading, _, _ := strings.Cut(section, "\n")
	section = strings.TrimRight(section, "\n") + "\n\n"
	start := sectionStart(doc, heading)
	if start < 0 {
		if t := sectionStart(doc, "## Targets"); t >= 0 {
			return doc[:t] + section + doc[t:]
		}
		if doc != "" && !strings.HasSuffix(doc, "\n\n") {
			doc = strings.TrimRight(doc, "\n") + "\n\n"
		}
		return doc + section
	}
	end := len(doc)
	if i := strings.Index(doc[start+len(heading):], "\n## "); i >= 0 {
		end = start + len(heading) + i + 1
	}
	return doc[:start] + section + doc[end:]
}

// sectionStart returns the offset of the line that is exactly heading,
// or -1.
func sectionStart(doc, heading string) int {
	for off := 0; off < len(doc); {
		line, _, _ := strings.Cut(doc[off:], "\n")
		if strings.TrimRight(line, " \r") == heading {
			return off
		}
		off += len(line) + 1
	}
	return -1
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
