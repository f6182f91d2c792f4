// Command gosvbench measures how fast gosv boots next to a stock Linux
// guest under the same QEMU settings, and prints a Markdown report; with
// -write it also rewrites docs/benchmarks.md. `make bench` runs it.
//
// It builds the kernel, fetches Debian's cloud kernel and busybox-static
// with `apt-get download` into build/bench-cache (unpacked with dpkg-deb,
// nothing installed), builds a busybox initramfs, then boots each guest -n
// times, alternating, and searches for the smallest memory gosv boots in.
// The application benchmark (apps.go) then runs one static C program
// (boot/bench/testdata/appbench) as gosv's application and under the Linux
// guest's init, -n times each, alternating. The network benchmark
// (net.go, root only) boots each guest with a server on a tap device in a
// private network namespace and loads it with wrk and tcpbench; -only=net
// runs just that and rewrites only its section of -doc. See
// docs/benchmarks.md for what each figure means.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"gosv/boot/bench"
	"gosv/boot/kbuild"
	"gosv/boot/qemu"
)

// linuxCmdline is the baseline's kernel command line.
const linuxCmdline = "console=ttyS0 printk.time=1 quiet"

type options struct {
	n            int
	write        bool
	doc          string
	kernel       string
	machine      string
	accel        string
	mem, smp     int
	memLo, memHi int
	cache        string
	gosvTimeout  time.Duration
	linuxTimeout time.Duration
	apps         bool
	appTimeout   time.Duration
	only         string
	net          bool
	netRuns      int
	netServers   string
	abKernel     string
	abArgs       string
	netSMP       int
	profile      bool
	insns        bool
	sockStats    bool
	netDur       time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 5, "measured boots of each guest")
	flag.BoolVar(&o.write, "write", false, "also write the report to -doc")
	flag.StringVar(&o.doc, "doc", "docs/benchmarks.md", "report `file` for -write, relative to the module root")
	flag.StringVar(&o.kernel, "kernel", "", "gosv `image` to measure (default: build build/gosv.elf)")
	flag.StringVar(&o.machine, "machine", "microvm", "QEMU machine for both guests: microvm, q35 or pc")
	flag.StringVar(&o.accel, "accel", "", "accelerator: auto, kvm or tcg (default $"+qemu.EnvAccel+", else auto)")
	flag.IntVar(&o.mem, "m", 128, "guest memory in `MiB` for the timed boots")
	flag.IntVar(&o.smp, "smp", 1, "vCPUs for both guests")
	flag.IntVar(&o.memLo, "mem-lo", 2, "lower bound in `MiB` of the minimum-memory search")
	flag.IntVar(&o.memHi, "mem-hi", 128, "upper bound in `MiB` of the minimum-memory search")
	flag.StringVar(&o.cache, "cache", "build/bench-cache", "`dir` for the Linux packages, relative to the module root")
	flag.DurationVar(&o.gosvTimeout, "gosv-timeout", 30*time.Second, "timeout of one gosv boot")
	flag.DurationVar(&o.linuxTimeout, "linux-timeout", 90*time.Second, "timeout of one Linux boot")
	flag.BoolVar(&o.apps, "apps", true, "also run the application benchmark in both guests")
	flag.DurationVar(&o.appTimeout, "app-timeout", 3*time.Minute, "timeout of one application benchmark boot")
	flag.StringVar(&o.only, "only", "", "run only one benchmark: net (the network section of -doc is replaced)")
	flag.BoolVar(&o.net, "net", true, "also run the network benchmark (needs root)")
	flag.IntVar(&o.netRuns, "net-runs", 3, "boots of each server in the network benchmark")
	flag.StringVar(&o.netServers, "net-servers", "api,app,linux,tcp", "network benchmark runs to make, a comma-separated subset of api, app, linux, tcp (all for -write)")
	flag.StringVar(&o.abKernel, "ab", "", "also run the Go server and tcpbench on this second gosv `image`, alternating with the first, and log both (for A/B comparisons of a change; not in the report)")
	flag.StringVar(&o.abArgs, "ab-args", "", "kernel command-line `options` put before the application in -ab's runs (the same image with other settings: -ab build/gosv.elf -ab-args --idle-poll=0)")
	flag.IntVar(&o.netSMP, "net-smp", 2, "vCPUs for both guests in the network benchmark")
	flag.BoolVar(&o.sockStats, "ss", false, "log the host side's TCP state (ss -tin: window, cwnd, rwnd_limited) halfway through each tcpbench run, to tell what limits a transfer")
	flag.BoolVar(&o.insns, "insns", false, "count the guests' instructions per request with a QEMU TCG plugin (built with cc) and log where they went (slows the guests; figures are not for the report)")
	flag.BoolVar(&o.profile, "profile", false, "sample gosv's vCPUs through QMP during the HTTP runs and log a flat profile (slows the guest; figures are not for the report)")
	flag.DurationVar(&o.netDur, "net-time", 10*time.Second, "length of each measured wrk and tcpbench run")
	flag.Parse()
	if flag.NArg() > 0 || o.n < 1 || o.netRuns < 1 || o.netSMP < 1 || o.netDur < time.Second ||
		(o.only != "" && o.only != "net") || (o.write && o.netServers != "api,app,linux,tcp") {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "gosvbench: %v\n", err)
		os.Exit(1)
	}
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, "gosvbench: "+format+"\n", a...) }

func run(ctx context.Context, o options) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := kbuild.ModuleRoot(wd)
	if err != nil {
		return err
	}
	// Paths are shown relative to the module root in the report.
	if err := os.Chdir(root); err != nil {
		return err
	}
	if _, err := exec.LookPath(qemu.Binary); err != nil {
		return qemu.ErrNoQEMU
	}

	r := &bench.Report{
		Date:     time.Now().UTC().Format("2006-01-02"),
		HostCPUs: runtime.NumCPU(),
		Machine:  o.machine, MemoryMiB: o.mem, CPUs: o.smp, Runs: o.n,
		MemLo: o.memLo, MemHi: o.memHi,
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		r.HostCPU = bench.CPUModel(string(b))
	}
	r.LoadAvg = loadAvg()
	if out, err := exec.Command(qemu.Binary, "--version").Output(); err == nil {
		r.QEMUVersion = bench.QEMUVersion(string(out))
	}

	// gosv.
	kernel := o.kernel
	r.GosvVersion = "prebuilt"
	if kernel == "" {
		kernel = filepath.Join("build", "gosv.elf")
		logf("building %s", kernel)
		r.GosvVersion = version()
		if _, err := kbuild.Build(kbuild.Options{Out: kernel, Dir: root, Version: r.GosvVersion}); err != nil {
			return err
		}
	}
	if r.GosvImage, err = imageSize(kernel); err != nil {
		return fmt.Errorf("%s: %w", kernel, err)
	}

	// Linux.
	lx, err := prepareLinux(o.cache)
	if err != nil {
		return err
	}
	r.LinuxPkg, r.Busybox = debName(lx.linuxDeb), debName(lx.busyboxDeb)
	for _, f := range []struct {
		path string
		size *int64
	}{{lx.vmlinuz, &r.LinuxKernel}, {lx.initrd, &r.LinuxInit}} {
		st, err := os.Stat(f.path)
		if err != nil {
			return err
		}
		*f.size = st.Size()
	}

	// One accelerator for every boot, chosen (and probed) with gosv.
	forced := o.accel
	if forced == "" {
		forced = os.Getenv(qemu.EnvAccel)
	}
	r.Accel, r.AccelReason = qemu.ChooseAccel(kernel, forced)
	logf("accelerator %s (%s)", r.Accel, r.AccelReason)

	gosvCfg := qemu.Config{Kernel: kernel, Machine: o.machine, Accel: r.Accel,
		MemoryMB: o.mem, CPUs: o.smp, Timeout: o.gosvTimeout}
	linuxCfg := qemu.Config{Kernel: lx.vmlinuz, Initrd: lx.initrd, Cmdline: linuxCmdline,
		Machine: o.machine, Accel: r.Accel, MemoryMB: o.mem, CPUs: o.smp, Timeout: o.linuxTimeout}

	// Warm up (page cache, QEMU's own start-up), then alternate.
	logf("warm-up boots")
	warm, err := bootGosv(ctx, gosvCfg)
	if err != nil {
		return err
	}
	if r.Accel == "tcg" {
		// Under TCG the guest's TSC is the host's. On a busy host Linux's
		// PIT calibration of it can fail, after which the boot hangs: tell
		// Linux the rate instead, which only spares it the calibration.
		// gosv's boot times are rescaled to the same rate (see below).
		khz, src := 0, ""
		if out, err := exec.Command("dmesg").Output(); err == nil {
			if k, ok := bench.HostTSCkHz(string(out)); ok {
				khz, src = k, "the host kernel's log"
				r.HostTSCkHz = k
			}
		}
		if khz == 0 {
			if k, ok := bench.GosvTSCkHz(warm.serial); ok {
				khz, src = k, "gosv's calibration in the warm-up boot"
			}
		}
		if khz > 0 {
			linuxCfg.Cmdline += fmt.Sprintf(" tsc_early_khz=%d", khz)
			r.TSCNote = fmt.Sprintf("%d kHz, from %s", khz, src)
		}
	}
	r.GosvArgs = qemu.Args(gosvCfg, r.Accel)
	r.LinuxArgs = qemu.Args(linuxCfg, r.Accel)
	if o.only == "net" {
		nr, err := runNet(ctx, o, r, kernel, linuxCfg.Cmdline, lx)
		if err != nil {
			return err
		}
		if nr.Skipped != "" {
			// Keep the measured section in -doc.
			return fmt.Errorf("network benchmark not run: %s", nr.Skipped)
		}
		md := nr.Markdown()
		fmt.Print(md)
		if o.write {
			doc, err := os.ReadFile(o.doc)
			if err != nil && !os.IsNotExist(err) {
				return err
			}
			if err := os.WriteFile(o.doc, []byte(bench.SpliceSection(string(doc), md)), 0o644); err != nil {
				return err
			}
			logf("wrote the network section of %s", o.doc)
		}
		return nil
	}
	if _, err := bootLinux(ctx, linuxCfg); err != nil {
		return err
	}
	var gw, gg, gm, lw, lg, lm []time.Duration
	for i := range o.n {
		g, err := bootGosv(ctx, gosvCfg)
		if err != nil {
			return err
		}
		l, err := bootLinux(ctx, linuxCfg)
		if err != nil {
			return err
		}
		r.GosvGuestPrinted = append(r.GosvGuestPrinted, g.guest)
		if k, ok := bench.GosvTSCkHz(g.serial); ok {
			r.GosvTSCkHz = append(r.GosvTSCkHz, k)
			if r.HostTSCkHz > 0 {
				// gosv scaled TSC ticks by its own calibration, which a
				// busy host can throw off; rescale them to the true rate.
				g.guest = bench.RescaleTSC(g.guest, k, r.HostTSCkHz)
			}
		} else if r.HostTSCkHz > 0 {
			return fmt.Errorf("gosv printed no TSC rate to rescale its boot time by:\n%s", g.serial)
		}
		gw, gg, gm = append(gw, g.wall), append(gg, g.guest), append(gm, g.marker)
		lw, lg, lm = append(lw, l.wall), append(lg, l.guest), append(lm, l.marker)
		logf("run %d/%d: gosv %v (guest %v), Linux %v (guest %v)", i+1, o.n,
			g.wall.Round(time.Millisecond), g.guest.Round(10*time.Microsecond),
			l.wall.Round(time.Millisecond), l.guest.Round(10*time.Microsecond))
	}
	r.GosvWall, r.GosvGuest, r.GosvMarker = bench.Summarize(gw), bench.Summarize(gg), bench.Summarize(gm)
	r.LinuxWall, r.LinuxGuest, r.LinuxMarker = bench.Summarize(lw), bench.Summarize(lg), bench.Summarize(lm)

	if o.apps {
		if err := runApps(ctx, o, r, gosvCfg, linuxCfg, lx); err != nil {
			return err
		}
	}

	// Smallest memory gosv boots in.
	logf("searching the minimum memory in [%d, %d] MiB", o.memLo, o.memHi)
	r.MinMemoryMiB, r.MemProbes, err = bench.MinPassing(o.memLo, o.memHi, func(mib int) (bool, error) {
		cfg := gosvCfg
		cfg.MemoryMB = mib
		_, err := bootGosv(ctx, cfg)
		var qe *qemu.Error
		var bad *badBoot
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &bad):
			logf("  %d MiB fails: %s", mib, lastLine(bad.serial))
			return false, nil
		case errors.As(err, &qe) && ctx.Err() == nil:
			logf("  %d MiB fails: QEMU %s: %s", mib, qe.Msg, lastLine(qe.Serial+qe.Stderr))
			return false, nil
		}
		return false, err
	})
	if err != nil {
		return err
	}

	// SMP scaling: the smp self-test prints its speed-up.
	r.SMPCPUs = 2
	for i := 0; i < 3; i++ {
		cfg := gosvCfg
		cfg.CPUs = r.SMPCPUs
		cfg.Cmdline = "--test=smp"
		res, err := qemu.Run(ctx, cfg)
		if err != nil {
			return fmt.Errorf("smp boot: %w", err)
		}
		v, ok := bench.ParseSpeedup(res.Serial)
		if !ok {
			return fmt.Errorf("smp boot printed no speed-up:\n%s", res.Serial)
		}
		logf("smp run %d: speed-up %.2fx", i+1, v)
		r.SMPSpeedups = append(r.SMPSpeedups, v)
	}

	r.LoadAvgEnd = loadAvg()
	md := r.Markdown()
	if o.net {
		nr, err := runNet(ctx, o, r, kernel, linuxCfg.Cmdline, lx)
		if err != nil {
			return err
		}
		md = bench.SpliceSection(md, nr.Markdown())
	}
	fmt.Print(md)
	if o.write {
		if err := os.WriteFile(o.doc, []byte(md), 0o644); err != nil {
			return err
		}
		logf("wrote %s", o.doc)
	}
	return nil
}

// boot is one measured boot.
type boot struct {
	wall   time.Duration // QEMU process, exec to exit
	guest  time.Duration // the guest's own figure
	marker time.Duration // exec to the marker line
	serial string
}

// badBoot is a boot that ran to its end without the expected result.
type badBoot struct{ msg, serial string }

func (e *badBoot) Error() string { return e.msg + "\nserial output:\n" + e.serial }

// timedRun runs cfg, timing the marker line from QEMU's exec.
func timedRun(ctx context.Context, cfg qemu.Config, marker string) (*qemu.Result, time.Duration, error) {
	clock := &bench.MarkerClock{Marker: marker}
	var start time.Time
	cfg.Console = clock
	cfg.OnStart = func(string, string, []string) { start = time.Now() }
	res, err := qemu.Run(ctx, cfg)
	if err != nil {
		return res, 0, err
	}
	at, ok := clock.Seen()
	if !ok {
		return res, 0, &badBoot{"no " + strings.TrimSpace(marker) + " line", res.Serial}
	}
	return res, at.Sub(start), nil
}

func bootGosv(ctx context.Context, cfg qemu.Config) (boot, error) {
	res, mark, err := timedRun(ctx, cfg, bench.GosvMarker)
	if err != nil {
		return boot{}, fmt.Errorf("gosv (-m %d): %w", cfg.MemoryMB, err)
	}
	t, ok := bench.GosvBootTime(res.Serial)
	switch {
	case !bench.GosvBanner(res.Serial) || !ok:
		return boot{}, &badBoot{fmt.Sprintf("gosv (-m %d): no banner or boot time", cfg.MemoryMB), res.Serial}
	case !res.Exited || res.GuestStatus != 0:
		return boot{}, &badBoot{fmt.Sprintf("gosv (-m %d): guest status %#x (exited %v), want 0", cfg.MemoryMB, res.GuestStatus, res.Exited), res.Serial}
	}
	return boot{wall: res.Elapsed, guest: t, marker: mark, serial: res.Serial}, nil
}

func bootLinux(ctx context.Context, cfg qemu.Config) (boot, error) {
	res, mark, err := timedRun(ctx, cfg, bench.LinuxMarker)
	if err != nil {
		return boot{}, fmt.Errorf("linux: %w", err)
	}
	t, ok := bench.LinuxInitTime(res.Serial)
	if _, up := bench.LinuxUptime(res.Serial); !ok || !up {
		return boot{}, &badBoot{"linux: no LINUXINIT uptime or \"Run /init\" time stamp", res.Serial}
	}
	if res.Exited || res.ExitCode != 0 {
		return boot{}, &badBoot{fmt.Sprintf("linux: QEMU exit code %d, want 0 (power-off)", res.ExitCode), res.Serial}
	}
	return boot{wall: res.Elapsed, guest: t, marker: mark, serial: res.Serial}, nil
}

func imageSize(path string) (bench.ImageSize, error) {
	f, err := os.Open(path)
	if err != nil {
		return bench.ImageSize{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return bench.ImageSize{}, err
	}
	return bench.ELFSize(f, st.Size())
}

// linux is the prepared baseline guest.
type linux struct {
	pkg                  string
	linuxDeb, busyboxDeb string
	vmlinuz, initrd      string
	busybox              string // unpacked /bin/busybox
	modules              string // the kernel's unpacked module tree
}

// prepareLinux fetches and unpacks the Debian cloud kernel and
// busybox-static into cache (once), and writes the initramfs.
func prepareLinux(cache string) (linux, error) {
	var lx linux
	debs := filepath.Join(cache, "debs")
	rootfs := filepath.Join(cache, "root")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return lx, err
	}
	out, err := exec.Command("apt-cache", "depends", "linux-image-cloud-amd64").Output()
	if err != nil {
		return lx, fmt.Errorf("apt-cache depends linux-image-cloud-amd64: %w", err)
	}
	if lx.pkg, err = bench.LinuxImagePackage(string(out)); err != nil {
		return lx, err
	}
	ver := strings.TrimPrefix(lx.pkg, "linux-image-")
	lx.vmlinuz = filepath.Join(rootfs, "boot", "vmlinuz-"+ver)
	lx.modules = filepath.Join(rootfs, "lib", "modules", ver)
	busybox := filepath.Join(rootfs, "bin", "busybox")
	lx.busybox = busybox

	for _, pkg := range []string{lx.pkg, "busybox-static"} {
		deb, err := findDeb(debs, pkg)
		if err != nil {
			return lx, err
		}
		if deb == "" {
			logf("apt-get download %s", pkg)
			cmd := exec.Command("apt-get", "download", "-q", pkg)
			cmd.Dir = debs
			var msg bytes.Buffer
			cmd.Stdout, cmd.Stderr = &msg, &msg
			if err := cmd.Run(); err != nil {
				return lx, fmt.Errorf("apt-get download %s: %w\n%s", pkg, err, msg.String())
			}
			if deb, err = findDeb(debs, pkg); err != nil || deb == "" {
				return lx, fmt.Errorf("apt-get download %s left no .deb in %s", pkg, debs)
			}
		}
		if pkg == "busybox-static" {
			lx.busyboxDeb = deb
		} else {
			lx.linuxDeb = deb
		}
		want := lx.vmlinuz
		if pkg == "busybox-static" {
			want = busybox
		}
		if _, err := os.Stat(want); err == nil {
			continue
		}
		logf("dpkg-deb -x %s", filepath.Base(deb))
		if out, err := exec.Command("dpkg-deb", "-x", deb, rootfs).CombinedOutput(); err != nil {
			return lx, fmt.Errorf("dpkg-deb -x %s: %w\n%s", deb, err, out)
		}
		if _, err := os.Stat(want); err != nil {
			return lx, fmt.Errorf("%s did not provide %s", deb, want)
		}
	}

	bb, err := os.ReadFile(busybox)
	if err != nil {
		return lx, err
	}
	var img bytes.Buffer
	if err := bench.WriteInitramfs(&img, bb); err != nil {
		return lx, err
	}
	lx.initrd = filepath.Join(cache, "initramfs.cpio")
	return lx, os.WriteFile(lx.initrd, img.Bytes(), 0o644)
}

// debName returns "`package` version" for a .deb file.
func debName(deb string) string {
	out, err := exec.Command("dpkg-deb", "-f", deb, "Package", "Version").Output()
	f := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			f[k] = strings.TrimSpace(v)
		}
	}
	if err != nil || f["Package"] == "" {
		return "`" + filepath.Base(deb) + "`"
	}
	return "`" + f["Package"] + "` " + f["Version"]
}

// findDeb returns the downloaded .deb of pkg in dir, or "".
func findDeb(dir, pkg string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
	if err != nil || len(m) == 0 {
		return "", err
	}
	return m[len(m)-1], nil
}

// version stamps the kernel as the Makefile does.
func version() string {
	out, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return "dev"
}

// loadAvg returns the 1, 5 and 15-minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// lastLine returns the last non-blank line of s.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return "(no output)"
	}
	return strings.TrimSpace(s)
}
