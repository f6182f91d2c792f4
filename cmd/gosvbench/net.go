package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"gosv/boot/appimage"
	"gosv/boot/bench"
	"gosv/boot/netns"
	"gosv/boot/qemu"
	"gosv/boot/qprof"
)

// Ports of the servers in the guests.
const (
	apiPort  = 8000 // gosv's REST API
	httpPort = 8080 // httpserver
	tcpPort  = 5201 // tcpbench
	guestMAC = "52:54:00:12:34:56"
)

// runNet runs the network benchmark: wrk against gosv's REST API, the
// static Go HTTP server in gosv and the same server in the Linux guest,
// then tcpbench both ways in each guest, o.netRuns times, alternating.
// Each server gets a boot of its own, on a tap device in a private
// namespace. Without root it returns a report that says it was skipped.
func runNet(ctx context.Context, o options, r *bench.Report, kernel, linuxCmdline string, lx linux) (*bench.NetReport, error) {
	accel := r.Accel
	nr := &bench.NetReport{
		Date: time.Now().UTC().Format("2006-01-02"), Accel: accel, Machine: o.machine,
		GosvVersion: r.GosvVersion, QEMUVersion: r.QEMUVersion, HostCPU: r.HostCPU, HostCPUs: r.HostCPUs,
		MemoryMiB: o.mem, CPUs: o.netSMP, Runs: o.netRuns, LoadAvg: loadAvg(),
		Wrk:         []string{"wrk", "--latency", "-t2", "-c32", "-d" + o.netDur.String()},
		WarmUp:      3 * time.Second,
		TCPDuration: o.netDur,
		LinuxPkg:    "`" + lx.pkg + "`",
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		nr.Skipped = "wrk is not installed (scripts/install-deps.sh installs it)"
		logf("network benchmark skipped: %s", nr.Skipped)
		return nr, nil
	}
	n, err := netns.Create()
	if errors.Is(err, netns.ErrUnavailable) {
		nr.Skipped = strings.TrimPrefix(err.Error(), netns.ErrUnavailable.Error()+": ")
		logf("network benchmark skipped: %v", err)
		return nr, nil
	}
	if err != nil {
		return nil, err
	}
	defer n.Close()
	if out, _ := exec.Command("wrk", "-v").CombinedOutput(); len(out) > 0 {
		line, _, _ := strings.Cut(string(out), "\n")
		nr.WrkVersion, _, _ = strings.Cut(strings.TrimSpace(line), " Copyright")
	}

	// The programs, built static, and their images.
	dir := filepath.Join(o.cache, "net")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	server, err := goBuild(filepath.Join("boot", "boottest", "testdata", "httpserver"), filepath.Join(dir, "httpserver"))
	if err != nil {
		return nil, err
	}
	tcpbench, err := goBuild(filepath.Join("boot", "bench", "testdata", "tcpbench"), filepath.Join(dir, "tcpbench"))
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		path string
		size *int64
	}{{server, &nr.ServerBinary}, {tcpbench, &nr.TCPBinary}} {
		st, err := os.Stat(f.path)
		if err != nil {
			return nil, err
		}
		*f.size = st.Size()
	}
	nr.LinuxModules = bench.LinuxNetModules(o.machine)
	mods, err := readModules(lx.modules, nr.LinuxModules)
	if err != nil {
		return nil, err
	}
	bb, err := os.ReadFile(lx.busybox)
	if err != nil {
		return nil, err
	}

	var plugin string
	if o.insns {
		plugin, err = filepath.Abs(filepath.Join(dir, "insncount.so"))
		if err != nil {
			return nil, err
		}
		if err := qprof.BuildPlugin("", filepath.Join("boot", "qprof", "plugin"), plugin); err != nil {
			return nil, err
		}
	}
	base := qemu.Config{Machine: o.machine, Accel: accel, MemoryMB: o.mem, CPUs: o.netSMP,
		Timeout: 15 * time.Minute, Wrapper: n.Wrapper(),
		NICs: []qemu.NIC{{Tap: n.Tap, MAC: guestMAC}}}
	gosv := func(initrd string, argv ...string) qemu.Config {
		c := base
		c.Kernel, c.Initrd, c.Cmdline = kernel, initrd, bench.GosvNetCmdline(argv...)
		return c
	}
	linux := func(name string, argv ...string) (qemu.Config, error) {
		prog, err := os.ReadFile(argv[0])
		if err != nil {
			return qemu.Config{}, err
		}
		argv = append([]string{"/bin/" + filepath.Base(argv[0])}, argv[1:]...)
		init, err := bench.NetInitScript(nr.LinuxModules, argv)
		if err != nil {
			return qemu.Config{}, err
		}
		var img bytes.Buffer
		if err := bench.WriteNetInitramfs(&img, bb, mods, []bench.File{{Name: argv[0][1:], Data: prog}}, init); err != nil {
			return qemu.Config{}, err
		}
		path := filepath.Join(dir, name+".cpio")
		c := base
		c.Kernel, c.Initrd, c.Cmdline = lx.vmlinuz, path, linuxCmdline
		return c, os.WriteFile(path, img.Bytes(), 0o644)
	}
	gosvImage := func(prog string) (string, error) {
		img, err := appimage.Build(appimage.Options{Program: prog})
		if err != nil {
			return "", fmt.Errorf("appimage %s: %w", prog, err)
		}
		path := filepath.Join(dir, filepath.Base(prog)+".gosv.cpio")
		return path, os.WriteFile(path, img, 0o644)
	}
	serverImg, err := gosvImage(server)
	if err != nil {
		return nil, err
	}
	tcpImg, err := gosvImage(tcpbench)
	if err != nil {
		return nil, err
	}
	httpArgs := []string{"-addr", fmt.Sprintf(":%d", httpPort)}
	tcpArgs := []string{"-s", fmt.Sprintf(":%d", tcpPort)}
	apiCfg := gosv("")
	gosvHTTP := gosv(serverImg, append([]string{"/bin/httpserver"}, httpArgs...)...)
	gosvTCP := gosv(tcpImg, append([]string{"/bin/tcpbench"}, tcpArgs...)...)
	linuxHTTP, err := linux("linux-httpserver", append([]string{server}, httpArgs...)...)
	if err != nil {
		return nil, err
	}
	linuxTCP, err := linux("linux-tcpbench", append([]string{tcpbench}, tcpArgs...)...)
	if err != nil {
		return nil, err
	}
	// The namespace's name is random: the report says NS.
	full := func(c qemu.Config) []string {
		return append([]string{"ip", "netns", "exec", "NS"}, qemu.Args(c, accel)...)
	}
	nr.GosvAPIArgs, nr.GosvHTTPArgs, nr.LinuxHTTPArgs = full(apiCfg), full(gosvHTTP), full(linuxHTTP)
	nr.GosvTCPArgs, nr.LinuxTCPArgs = full(gosvTCP), full(linuxTCP)

	b := &netBench{n: n, o: o, nr: nr, tcpbench: tcpbench, linuxKernel: lx.vmlinuz, plugin: plugin,
		appSyms: map[string]string{"/bin/httpserver": server, "/bin/tcpbench": tcpbench}}
	apiURL := fmt.Sprintf("http://%s:%d/os/name", bench.GuestIP, apiPort)
	appURL := fmt.Sprintf("http://%s:%d/", bench.GuestIP, httpPort)
	for i := range o.netRuns {
		logf("network run %d/%d", i+1, o.netRuns)
		var abRuns []bench.WrkResult
		abHTTP, abTCP := gosvHTTP, gosvTCP
		abHTTP.Kernel, abTCP.Kernel = o.abKernel, o.abKernel
		if o.abArgs != "" {
			abHTTP.Cmdline = o.abArgs + " " + abHTTP.Cmdline
			abTCP.Cmdline = o.abArgs + " " + abTCP.Cmdline
		}
		var abSend, abRecv []float64
		for _, h := range []struct {
			name string
			cfg  qemu.Config
			url  string
			dst  *[]bench.WrkResult
			run  string // the -net-servers name
		}{
			{"gosv REST API", apiCfg, apiURL, &nr.GosvAPI, "api"},
			{"gosv Go server", gosvHTTP, appURL, &nr.GosvHTTP, "app"},
			{"gosv B Go server", abHTTP, appURL, &abRuns, "ab"},
			{"Linux Go server", linuxHTTP, appURL, &nr.LinuxHTTP, "linux"},
		} {
			if !b.selected(h.run) {
				continue
			}
			r, err := b.http(ctx, h.name, h.cfg, h.url)
			if err != nil {
				return nil, err
			}
			*h.dst = append(*h.dst, r)
		}
		for _, t := range []struct {
			name       string
			cfg        qemu.Config
			send, recv *[]float64
			run        string
		}{
			{"gosv tcpbench", gosvTCP, &nr.GosvSend, &nr.GosvRecv, "tcp"},
			{"gosv B tcpbench", abTCP, &abSend, &abRecv, "abtcp"},
			{"Linux tcpbench", linuxTCP, &nr.LinuxSend, &nr.LinuxRecv, "tcp"},
		} {
			if !b.selected(t.run) {
				continue
			}
			s, r, err := b.tcp(ctx, t.name, t.cfg)
			if err != nil {
				return nil, err
			}
			*t.send, *t.recv = append(*t.send, s), append(*t.recv, r)
		}
	}
	nr.LoadAvgEnd = loadAvg()
	return nr, nil
}

type netBench struct {
	n           *netns.Net
	o           options
	nr          *bench.NetReport
	tcpbench    string            // the client, run in the namespace
	linuxKernel string            // to tell the Linux guest's boots from gosv's
	plugin      string            // the insncount plugin, for -insns
	appSyms     map[string]string // guest program -> host binary, for symbols
}

// selected reports whether run (api, app, ab, linux, tcp or abtcp) is to
// be made: -net-servers lists them, and ab and abtcp (the B image's Go
// server and tcpbench) run when -ab names a kernel.
func (b *netBench) selected(run string) bool {
	switch run {
	case "ab":
		return b.o.abKernel != "" && b.selected("app")
	case "abtcp":
		return b.o.abKernel != "" && b.selected("tcp")
	}
	return slices.Contains(strings.Split(b.o.netServers, ","), run)
}

// http boots cfg, waits for url to answer, warms up and measures once.
func (b *netBench) http(ctx context.Context, name string, cfg qemu.Config, url string) (bench.WrkResult, error) {
	profiling := b.o.profile && cfg.Kernel != b.linuxKernel
	qmp := filepath.Join(os.TempDir(), fmt.Sprintf("gosvbench-qmp-%d.sock", os.Getpid()))
	if profiling {
		cfg.ExtraArgs = append(cfg.ExtraArgs, "-qmp", "unix:"+qmp+",server=on,wait=off")
	}
	var insns *insnCounter
	if b.plugin != "" {
		insns = b.newInsnCounter(&cfg)
		defer insns.close()
	}
	v := startVM(ctx, cfg)
	defer v.stop()
	if err := b.waitHTTP(ctx, v, url); err != nil {
		return bench.WrkResult{}, fmt.Errorf("%s: %w", name, err)
	}
	warm := append(append([]string(nil), b.nr.Wrk[:len(b.nr.Wrk)-1]...), "-d"+b.nr.WarmUp.String(), url)
	if _, err := b.run(ctx, warm...); err != nil {
		return bench.WrkResult{}, fmt.Errorf("%s: warm-up: %w", name, err)
	}
	insns.start()
	before := b.coreCounters(cfg)
	cpuBefore, cpuErr := v.hostCPU()
	stop, profiled := make(chan struct{}), make(chan struct{})
	if profiling {
		go func() { b.profile(name, qmp, cfg, stop); close(profiled) }()
	}
	out, err := b.run(ctx, append(append([]string(nil), b.nr.Wrk...), url)...)
	if profiling {
		close(stop)
		<-profiled
	}
	if err != nil {
		return bench.WrkResult{}, fmt.Errorf("%s: %w", name, err)
	}
	r, err := bench.ParseWrk(out)
	if err != nil {
		return r, fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	if v.exited() {
		return r, fmt.Errorf("%s: the VM stopped during the run:\n%s", name, v.serial.String())
	}
	logf("  %s: %.0f req/s, p50 %v, p99 %v, %d errors", name, r.RequestsSec, r.P50, r.P99, r.Errors)
	if cpuAfter, err := v.hostCPU(); cpuErr == nil && err == nil && r.Requests > 0 {
		r.HostCPU, r.VCPU = cpuBefore.per(cpuAfter, float64(r.Requests))
		logf("  %s: host CPU per request %v (vCPUs %v), vCPU host sleeps %.2f", name, r.HostCPU.Round(time.Microsecond), r.VCPU.Round(time.Microsecond), cpuBefore.sleepsPer(cpuAfter, float64(r.Requests)))
	}
	b.logPer(cfg, before, r.RequestsSec*b.o.netDur.Seconds(), "request")
	b.logGosvStats(cfg)
	insns.report(name, r.RequestsSec*b.o.netDur.Seconds())
	return r, nil
}

// tcp boots cfg and measures host → guest, then guest → host, in MB/s.
func (b *netBench) tcp(ctx context.Context, name string, cfg qemu.Config) (send, recv float64, err error) {
	var insns *insnCounter
	if b.plugin != "" {
		insns = b.newInsnCounter(&cfg)
		defer insns.close()
	}
	v := startVM(ctx, cfg)
	defer v.stop()
	addr := fmt.Sprintf("%s:%d", bench.GuestIP, tcpPort)
	if err := b.waitTCP(ctx, v, addr); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", name, err)
	}
	if _, err := b.run(ctx, b.tcpbench, "-c", addr, "-dir", "send", "-d", "2s"); err != nil {
		return 0, 0, fmt.Errorf("%s: warm-up: %w", name, err)
	}
	var mbps [2]float64
	for i, dir := range []string{"send", "recv"} {
		insns.start()
		counters := b.coreCounters(cfg)
		cpuBefore, cpuErr := v.hostCPU()
		if b.o.sockStats {
			go b.logSockStats(ctx, name+" "+dir, b.o.netDur/2)
		}
		out, err := b.run(ctx, b.tcpbench, "-c", addr, "-dir", dir, "-d", b.o.netDur.String())
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %s: %w", name, dir, err)
		}
		r, err := bench.ParseTCPBench(out)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", name, err)
		}
		mbps[i] = r.MBps()
		if cpuAfter, err := v.hostCPU(); cpuErr == nil && err == nil && mbps[i] > 0 {
			total, vcpus := cpuBefore.per(cpuAfter, mbps[i]*b.o.netDur.Seconds())
			logf("  %s: %s: host CPU per MB %v (vCPUs %v), vCPU host sleeps %.1f", name, dir, total.Round(time.Microsecond), vcpus.Round(time.Microsecond), cpuBefore.sleepsPer(cpuAfter, mbps[i]*b.o.netDur.Seconds()))
		}
		b.logPer(cfg, counters, mbps[i]*b.o.netDur.Seconds(), "MB ("+dir+")")
		insns.report(name+" "+dir+" (per MB)", mbps[i]*b.o.netDur.Seconds())
	}
	logf("  %s: host → guest %.1f MB/s, guest → host %.1f MB/s", name, mbps[0], mbps[1])
	b.logGosvStats(cfg)
	return mbps[0], mbps[1], nil
}

// logSockStats logs, after wait, what the host's TCP knows of its
// connections to the guest: the windows both ways, cwnd, RTT, and for
// how long sending was limited by the receiver's window, the send
// buffer or cwnd.
func (b *netBench) logSockStats(ctx context.Context, name string, wait time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(wait):
	}
	out, err := b.run(ctx, "ss", "-tin", "dst", bench.GuestIP)
	if err != nil {
		logf("  %s: ss: %v", name, err)
		return
	}
	logf("  %s: ss -tin:\n%s", name, out)
}

// run runs a command in the namespace and returns its standard output.
func (b *netBench) run(ctx context.Context, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.netDur+2*time.Minute)
	defer cancel()
	w := b.n.Wrapper()
	cmd := exec.CommandContext(ctx, w[0], append(w[1:], argv...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %w\n%s%s", strings.Join(argv, " "), err, out.String(), errb.String())
	}
	return out.String(), nil
}

// logGosvStats logs gosv's counters of lost and repeated packets after a
// run, which explain a slow figure; they are not part of the report.
func (b *netBench) logGosvStats(cfg qemu.Config) {
	if cfg.Kernel == b.linuxKernel {
		return
	}
	st, err := b.getCounters("/network/stats/")
	if err != nil {
		logf("  gosv /network/stats/: %v", err)
		return
	}
	var keys []string
	for k, v := range st {
		l := strings.ToLower(k)
		if v != 0 && (strings.Contains(l, "retrans") || strings.Contains(l, "drop") ||
			strings.Contains(l, "error") || strings.Contains(l, "fail") || strings.Contains(l, "timeout")) {
			keys = append(keys, fmt.Sprintf("%s=%d", k, v))
		}
	}
	slices.Sort(keys)
	logf("  gosv counters: %s", strings.Join(keys, " "))
}

// logPer logs how much each of gosv's counters grew since before, per
// unit (units of them were served).
func (b *netBench) logPer(cfg qemu.Config, before map[string]uint64, units float64, unit string) {
	after := b.coreCounters(cfg)
	if before == nil || after == nil || units <= 0 {
		return
	}
	var per []string
	for k, v := range after {
		// Counters below 0.05 per unit (start-up calls) are noise here.
		if x := float64(v-before[k]) / units; x >= 0.05 {
			per = append(per, fmt.Sprintf("%s=%.2f", k, x))
		}
	}
	slices.Sort(per)
	logf("  gosv core events per %s: %s", unit, strings.Join(per, " "))
}

// coreCounters reads gosv's /os/stats/ and, prefixed "net.", the TCP
// segment and device counts of /network/stats/ (nil for the Linux guest or on
// failure), to log what the kernel did per request.
func (b *netBench) coreCounters(cfg qemu.Config) map[string]uint64 {
	if cfg.Kernel == b.linuxKernel {
		return nil
	}
	core, err := b.getCounters("/os/stats/")
	if err != nil {
		return nil
	}
	network, _ := b.getCounters("/network/stats/")
	for k, v := range network {
		if strings.HasPrefix(k, "tcp.") && strings.Contains(k, "egments") || strings.Contains(k, ".device.") {
			core["net."+k] = v
		}
	}
	return core
}

// getCounters reads a JSON object of counters from gosv's REST API.
func (b *netBench) getCounters(path string) (map[string]uint64, error) {
	c := b.n.HTTPClient()
	c.Timeout = 10 * time.Second
	resp, err := c.Get(fmt.Sprintf("http://%s:%d%s", bench.GuestIP, apiPort, path))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st map[string]uint64
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, err
	}
	return st, nil
}

const readyTimeout = 3 * time.Minute

func (b *netBench) waitHTTP(ctx context.Context, v *vm, url string) error {
	c := b.n.HTTPClient()
	c.Timeout = 5 * time.Second
	deadline := time.Now().Add(readyTimeout)
	for {
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if e := b.notYet(ctx, v, deadline, url, err); e != nil {
			return e
		}
	}
}

func (b *netBench) waitTCP(ctx context.Context, v *vm, addr string) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		c, err := b.n.Dial(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if e := b.notYet(ctx, v, deadline, addr, err); e != nil {
			return e
		}
	}
}

// notYet waits a moment before the next readiness probe, or says why
// there is no point.
func (b *netBench) notYet(ctx context.Context, v *vm, deadline time.Time, what string, err error) error {
	switch {
	case v.exited():
		return fmt.Errorf("the VM stopped before %s answered: %v\nserial output:\n%s", what, v.err, v.serial.String())
	case time.Now().After(deadline):
		return fmt.Errorf("%s did not answer in %v: %v\nserial output:\n%s", what, readyTimeout, err, v.serial.String())
	case ctx.Err() != nil:
		return ctx.Err()
	}
	time.Sleep(300 * time.Millisecond)
	return nil
}

// vm is a guest running in the background.
type vm struct {
	pid    atomic.Int64 // QEMU's, once started
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	serial *qemu.ConsoleBuffer
}

func startVM(ctx context.Context, cfg qemu.Config) *vm {
	ctx, cancel := context.WithCancel(ctx)
	v := &vm{cancel: cancel, done: make(chan struct{}), serial: &qemu.ConsoleBuffer{}}
	cfg.Console = v.serial
	cfg.Started = func(pid int) { v.pid.Store(int64(pid)) }
	// Named threads let hostCPU tell the vCPUs from QEMU's other threads.
	cfg.ExtraArgs = append(cfg.ExtraArgs, "-name", "gosvbench,debug-threads=on")
	go func() {
		defer close(v.done)
		_, v.err = qemu.Run(ctx, cfg)
	}()
	return v
}

func (v *vm) exited() bool {
	select {
	case <-v.done:
		return true
	default:
		return false
	}
}

// hostCPU reads the CPU time QEMU has used so far.
func (v *vm) hostCPU() (hostCPU, error) {
	pid := v.pid.Load()
	if pid == 0 {
		return hostCPU{}, errors.New("QEMU has not started")
	}
	return readHostCPU(int(pid))
}

// stop kills the guest and waits for QEMU to go.
func (v *vm) stop() {
	v.cancel()
	<-v.done
}

// goBuild builds the Go program in dir static for linux/amd64.
func goBuild(dir, out string) (string, error) {
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	logf("go build %s", dir)
	cmd := exec.Command("go", "build", "-o", abs, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", dir, err, out)
	}
	return abs, nil
}

// readModules reads each named module's .ko from the unpacked kernel
// package's module tree.
func readModules(root string, names []string) (map[string][]byte, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	mods := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := d.Name()
		for _, ext := range []string{".ko.xz", ".ko.zst", ".ko.gz"} {
			if n := strings.TrimSuffix(base, ext); n != base && want[n] {
				return fmt.Errorf("%s is compressed; the benchmark loads uncompressed modules with busybox insmod", path)
			}
		}
		if n := strings.TrimSuffix(base, ".ko"); n != base && want[n] {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			mods[n] = b
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if mods[n] == nil {
			return nil, fmt.Errorf("module %s.ko not found under %s", n, root)
		}
	}
	return mods, nil
}

// profile samples the guest through QMP until stop closes, then logs
// the profile (the -profile flag).
func (b *netBench) profile(name, qmp string, cfg qemu.Config, stop <-chan struct{}) {
	mon, err := qprof.Dial(qmp, 5*time.Second)
	if err != nil {
		logf("  profile %s: %v", name, err)
		return
	}
	defer mon.Close()
	ksyms, err := qprof.LoadSymbols(cfg.Kernel)
	if err != nil {
		logf("  profile %s: %v", name, err)
		return
	}
	s := &qprof.Sampler{Mon: mon, Kernel: ksyms, Depth: 6}
	if strings.Contains(cfg.Cmdline, "/bin/httpserver") {
		s.App, _ = qprof.LoadSymbols(filepath.Join(b.o.cache, "net", "httpserver"))
	}
	if err := s.Run(10*time.Millisecond, stop); err != nil {
		logf("  profile %s: %v", name, err)
	}
	var out strings.Builder
	s.Profile.Report(&out, 40)
	logf("  profile of %s:\n%s", name, out.String())
}
