package bench

import (
	"fmt"
	"strings"
	"time"
)

// The targets the report checks.
const (
	TargetGuestRatio = 20      // gosv reaches Go main at least this many times sooner than Linux reaches init
	TargetMemoryMiB  = 16      // gosv boots with at most this much memory
	TargetImageBytes = 8 << 20 // gosv's image is smaller than this

	// TargetSyscallRatio is "several times cheaper": an application's
	// system call in gosv costs at most 1/TargetSyscallRatio of the same
	// call in the Linux guest.
	TargetSyscallRatio = 3
	// TargetAppMainRatio: the application's main is reached at least this
	// many times sooner in gosv than in the Linux guest.
	TargetAppMainRatio = 20
)

// Report is everything one benchmark run measured, with the setting it
// ran in.
type Report struct {
	Date        string // YYYY-MM-DD
	HostCPU     string // /proc/cpuinfo model name
	HostCPUs    int
	LoadAvg     string // /proc/loadavg's 1/5/15-minute averages at the start
	LoadAvgEnd  string // and at the end
	QEMUVersion string
	Accel       string // "tcg" or "kvm"
	AccelReason string
	Machine     string
	MemoryMiB   int
	CPUs        int
	Runs        int // repetitions of each guest

	GosvVersion string   // the kernel's version stamp (git describe)
	GosvArgs    []string // QEMU command lines, program name first
	LinuxArgs   []string
	LinuxPkg    string // such as "linux-image-6.1.0-56-cloud-amd64 6.1.192-2"
	TSCNote     string // the tsc_early_khz given to Linux and where it came from, if any

	// HostTSCkHz is the host's TSC rate, the guests' under TCG, when known;
	// then GosvGuest is gosv's figures rescaled from its own calibration
	// (GosvTSCkHz, per boot) to this rate. GosvGuestPrinted is as printed.
	HostTSCkHz       int
	GosvTSCkHz       []int
	GosvGuestPrinted []time.Duration
	Busybox          string // such as "busybox-static 1:1.35.0-4"

	GosvWall, LinuxWall     Summary // QEMU process, exec to exit
	GosvGuest, LinuxGuest   Summary // guest clock: first instruction to Go main / kernel clock start to init
	GosvMarker, LinuxMarker Summary // host clock: exec to the marker line on the serial port

	// SMPSpeedups are the smp self-test's CPU-bound throughput ratios
	// (all CPUs against one) in gosv booted with SMPCPUs CPUs under
	// multi-threaded TCG.
	SMPCPUs     int
	SMPSpeedups []float64

	MinMemoryMiB           int
	MemLo, MemHi           int
	MemProbes              []Probe
	GosvImage              ImageSize
	LinuxKernel, LinuxInit int64 // bytes of vmlinuz and of the initramfs

	// App is the application benchmark, if it ran.
	App *AppReport
}

// AppReport is the application benchmark: one static binary run in both
// guests.
type AppReport struct {
	Compiler        string // such as "musl-gcc -static -O2"
	CompilerVersion string // such as "gcc 12.2.0, musl 1.2.3-1"
	Binary          int64  // bytes of the program
	GosvImage       int64  // bytes of gosv's application image
	LinuxInit       int64  // bytes of the Linux initramfs with the program
	GosvArgs        []string
	LinuxArgs       []string

	Gosv, Linux AppStats
	// GosvTSCkHz is the TSC rate gosv calibrated in each run and
	// GosvPrinted the program's figures as printed in gosv, before they
	// were rescaled to Report.HostTSCkHz (when that is known).
	GosvTSCkHz  []int
	GosvPrinted []AppResult
}

// Target is one stated goal and whether the measurement meets it.
type Target struct {
	Goal, Measured string
	Met            bool
}

// Targets checks the report against the stated targets.
func (r *Report) Targets() []Target {
	ratio := Ratio(r.LinuxGuest.Median, r.GosvGuest.Median)
	ts := []Target{
		{
			Goal: fmt.Sprintf("gosv reaches Go main ≥ %d× sooner than Linux reaches init (guest clocks, medians)", TargetGuestRatio),
			Measured: fmt.Sprintf("%.1f× on medians (%s vs %s); %.1f× on minimums", ratio,
				ms(r.LinuxGuest.Median), ms(r.GosvGuest.Median), Ratio(r.LinuxGuest.Min, r.GosvGuest.Min)),
			Met: ratio >= TargetGuestRatio,
		},
		{
			Goal:     fmt.Sprintf("gosv boots in ≤ %d MiB", TargetMemoryMiB),
			Measured: fmt.Sprintf("boots with %d MiB", r.MinMemoryMiB),
			Met:      r.MinMemoryMiB > 0 && r.MinMemoryMiB <= TargetMemoryMiB,
		},
		{
			Goal:     fmt.Sprintf("gosv image < %d MiB", TargetImageBytes>>20),
			Measured: fmt.Sprintf("%s file, %s loaded", mib(r.GosvImage.File), mib(int64(r.GosvImage.LoadFile))),
			Met:      r.GosvImage.File > 0 && r.GosvImage.File < TargetImageBytes,
		},
	}
	if a := r.App; a != nil {
		sys := FloatRatio(a.Linux.Syscall.Median, a.Gosv.Syscall.Median)
		host := Ratio(a.Linux.Marker.Median, a.Gosv.Marker.Median)
		ts = append(ts, Target{
			Goal: fmt.Sprintf("application system calls several times (≥ %d×) cheaper in gosv than in the Linux guest (no privilege switch); getppid(), medians", TargetSyscallRatio),
			Measured: fmt.Sprintf("%.2f× (%.1f ns in Linux, %.1f ns in gosv)",
				sys, a.Linux.Syscall.Median, a.Gosv.Syscall.Median),
			Met: sys >= TargetSyscallRatio,
		}, Target{
			Goal: fmt.Sprintf("application main reached ≥ %d× sooner than in the Linux guest (host clock, QEMU exec to the program's first line, medians)", TargetAppMainRatio),
			Measured: fmt.Sprintf("%.1f× (%s vs %s); on the guests' own clocks %.1f×",
				host, ms(a.Linux.Marker.Median), ms(a.Gosv.Marker.Median),
				Ratio(a.Linux.Main.Median, a.Gosv.Main.Median)),
			Met: host >= TargetAppMainRatio,
		})
	}
	return ts
}

// FloatRatio is a/b, or 0 when b is not positive.
func FloatRatio(a, b float64) float64 {
	if !(b > 0) {
		return 0
	}
	return a / b
}

// Markdown renders the report as the whole of docs/benchmarks.md.
func (r *Report) Markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	p("# Benchmarks\n\n")
	p("Boot figures for gosv next to a stock Linux guest, measured by\n")
	p("`cmd/gosvbench` in one run, under the same QEMU settings, with gosv and\n")
	p("Linux boots alternating")
	if r.App != nil {
		p(", and the same application binary run in both\n")
		p("guests ([Applications](#applications))")
	}
	p(". This file is generated by `make bench`; rerun it\n")
	p("to refresh the figures.\n\n")

	p("## Method\n\n")
	p("- Measured %s on a host with %s (%d CPUs), QEMU %s,\n", r.Date, r.HostCPU, r.HostCPUs, r.QEMUVersion)
	p("  accelerator **%s** (%s).\n", strings.ToUpper(r.Accel), r.AccelReason)
	p("  The host's load average was %s at the start and %s at the end;\n", r.LoadAvg, r.LoadAvgEnd)
	p("  other work on the host widens the spread (min – max) of the figures.\n")
	if r.Accel == "tcg" {
		p("  Under TCG every guest instruction is translated, so absolute times are\n")
		p("  far longer than under KVM; the ratios are the figures to compare, and\n")
		p("  both guests pay the same emulation cost in the same run.\n")
	}
	p("- Both guests: machine `%s`, `-m %d`, `-smp %d`, no devices but the\n", r.Machine, r.MemoryMiB, r.CPUs)
	p("  serial port and isa-debug-exit; %d measured boots of each (after one\n", r.Runs)
	p("  unmeasured warm-up boot each), alternating.\n")
	p("- gosv: `build/gosv.elf` (version %s), booted through its PVH entry; it prints its\n", r.GosvVersion)
	p("  banner and boot time and powers off with guest status 0.\n")
	p("- Linux: Debian's %s (the kernel behind\n", r.LinuxPkg)
	p("  `linux-image-cloud-amd64`) and %s, fetched with\n", r.Busybox)
	p("  `apt-get download` and unpacked with `dpkg-deb -x` into\n")
	p("  `build/bench-cache/` (nothing is installed). The initramfs holds only\n")
	p("  `/bin/busybox` and an `/init` script that prints `LINUXINIT <uptime>`,\n")
	p("  reads the kernel's \"Run /init as init process\" line back with `dmesg`\n")
	p("  and runs `poweroff -f` (ACPI; with `acpi=off` the power-off hangs on\n")
	p("  microvm). The bzImage is booted through QEMU's Linux boot protocol, as\n")
	p("  the package ships no uncompressed vmlinux to enter through PVH. The\n")
	p("  command line has `quiet` (and no `earlyprintk`), Linux's fastest\n")
	p("  console setting.\n")
	if r.TSCNote != "" {
		p("  It also has `tsc_early_khz` (%s): under TCG the\n", r.TSCNote)
		p("  guest's TSC is the host's, and on a busy host Linux's PIT calibration\n")
		p("  of it fails now and then, after which the boot hangs. Being told the\n")
		p("  rate only spares Linux that calibration.\n")
	}
	p("- Measures:\n")
	p("  - *QEMU process*: host wall clock from the exec of QEMU to its exit:\n")
	p("    QEMU's start-up, firmware, the guest's boot, its power-off and\n")
	p("    QEMU's teardown.\n")
	p("  - *Guest time*: gosv's own TSC measurement from its first instruction\n")
	p("    to Go main (`gosv: boot time`), against Linux's printk timestamp of\n")
	p("    \"Run /init as init process\". Linux's clock starts at 0 early in\n")
	p("    `setup_arch`, so its figure leaves out the firmware, the bzImage\n")
	p("    decompressor and the earliest setup: the comparison favours Linux.\n")
	if r.HostTSCkHz > 0 {
		p("    gosv computes its figure with the TSC rate it calibrated against\n")
		p("    the PIT over 2.5 ms; under TCG that rate is off by a percent or so,\n")
		p("    and on a busy host at times by far more (seen while writing this\n")
		p("    benchmark: 4705 MHz for the 2096 MHz TSC, with the host's CPUs busy),\n")
		p("    so its figures")
		p(" here are rescaled to the host's TSC rate (%d kHz, the guests'\n", r.HostTSCkHz)
		p("    rate")
		p(" under TCG). Its calibrations in this run were off by %s;\n", calibrationSpread(r.GosvTSCkHz, r.HostTSCkHz))
		p("    the figures as printed are listed below the table.\n")
	}
	p("  - *Host time to marker*: host wall clock from the exec of QEMU to the\n")
	p("    moment the marker line (`gosv: boot time`, `LINUXINIT`) arrives on\n")
	p("    the serial port; it includes everything the guest clocks leave out.\n")
	p("  - *Minimum memory*: binary search for the smallest `-m` in [%d, %d] MiB\n", r.MemLo, r.MemHi)
	p("    with which gosv prints its banner and boot time and exits with guest\n")
	p("    status 0.\n")
	p("  - *Image size*: bytes of `build/gosv.elf` and bytes its PT_LOAD segments\n")
	p("    load from the file (the rest of the file is mostly padding between\n")
	p("    its 2 MiB-aligned segments, and symbols); for Linux the vmlinuz\n")
	p("    (compressed bzImage) and the initramfs.\n\n")

	p("QEMU command lines (first run):\n\n```\n%s\n%s\n```\n\n", shellJoin(r.GosvArgs), shellJoin(r.LinuxArgs))

	p("## Results\n\n")
	p("Times are median (min – max) over %d boots each.\n\n", r.Runs)
	p("| measure | gosv | Linux | Linux / gosv (median; min) |\n")
	p("|---|---|---|---|\n")
	row := func(name string, g, l Summary) {
		p("| %s | %s | %s | %.1f×; %.1f× |\n", name, spread(g), spread(l),
			Ratio(l.Median, g.Median), Ratio(l.Min, g.Min))
	}
	row("QEMU process, exec to exit", r.GosvWall, r.LinuxWall)
	row("guest time to Go main (gosv) / to init (Linux)", r.GosvGuest, r.LinuxGuest)
	row("host time, exec to marker line", r.GosvMarker, r.LinuxMarker)
	p("| minimum memory | %d MiB | not measured | |\n", r.MinMemoryMiB)
	p("| image file | %s (`gosv.elf`) | %s (vmlinuz) + %s (initramfs) | %.1f× |\n",
		bytesMiB(r.GosvImage.File), bytesMiB(r.LinuxKernel), bytesMiB(r.LinuxInit),
		float64(r.LinuxKernel+r.LinuxInit)/float64(max(r.GosvImage.File, 1)))
	p("| loaded from the image (PT_LOAD) | %s (%s in memory with .bss) | | |\n\n",
		bytesMiB(int64(r.GosvImage.LoadFile)), mib(int64(r.GosvImage.LoadMem)))

	p("Each boot, in the order run:\n\n")
	p("- gosv guest time: %s\n", list(r.GosvGuest.Values))
	if r.HostTSCkHz > 0 {
		p("- gosv guest time as printed: %s\n", list(r.GosvGuestPrinted))
		mhz := make([]string, len(r.GosvTSCkHz))
		for i, k := range r.GosvTSCkHz {
			mhz[i] = fmt.Sprint(k / 1000)
		}
		p("- gosv calibrated TSC rate: %s MHz (host %.3f MHz)\n", strings.Join(mhz, ", "), float64(r.HostTSCkHz)/1000)
	}
	p("- Linux guest time: %s\n", list(r.LinuxGuest.Values))
	p("- gosv QEMU process: %s\n", list(r.GosvWall.Values))
	p("- Linux QEMU process: %s\n", list(r.LinuxWall.Values))
	var probes []string
	for _, pr := range r.MemProbes {
		mark := "fails"
		if pr.OK {
			mark = "boots"
		}
		probes = append(probes, fmt.Sprintf("%d MiB %s", pr.MiB, mark))
	}
	p("- memory search: %s\n\n", strings.Join(probes, ", "))

	if r.App != nil {
		r.appMarkdown(p)
	}

	if len(r.SMPSpeedups) > 0 {
		p("## SMP scaling\n\n")
		p("gosv booted with `-smp %d` (`-accel tcg,thread=multi` under TCG) and\n", r.SMPCPUs)
		p("`--test=smp`: a CPU-bound loop on %d goroutines against one goroutine,\n", r.SMPCPUs)
		p("300 ms each, in the same boot. Speed-ups: ")
		var s []string
		for _, v := range r.SMPSpeedups {
			s = append(s, fmt.Sprintf("%.2fx", v))
		}
		p("%s (ideal: %d.00x). With %d host cores shared with QEMU's own\n", strings.Join(s, ", "), r.SMPCPUs, r.HostCPUs)
		p("threads and other load, the host's load decides how close it gets.\n\n")
	}

	p("## Targets\n\n")
	p("| target | measured | met |\n|---|---|---|\n")
	var met, missed []string
	for _, t := range r.Targets() {
		yes := "**no**"
		if t.Met {
			yes = "yes"
			met = append(met, t.Goal)
		} else {
			missed = append(missed, t.Goal)
		}
		p("| %s | %s | %s |\n", t.Goal, t.Measured, yes)
	}
	p("\n")
	switch {
	case len(missed) == 0:
		p("All %d targets are met by this measurement.\n\n", len(met))
	case len(met) == 0:
		p("None of the targets is met by this measurement.\n\n")
	default:
		p("Met by this measurement: %s. **Not met**: %s.\n\n", strings.Join(met, "; "), strings.Join(missed, "; "))
	}

	p("## How to reproduce\n\n")
	p("```sh\nmake bench\n```\n\n")
	p("This builds the kernel, installs QEMU if it is missing, fetches the two\n")
	p("Debian packages into `build/bench-cache/` on first use (apt's package\n")
	p("lists must be present: `apt-get update`), builds the application\n")
	p("benchmark with `musl-gcc` (`scripts/install-deps.sh` installs it; without\n")
	p("it, `gcc -static`), runs the boots and rewrites\n")
	p("this file. `go run ./cmd/gosvbench -n 10` prints the report without\n")
	p("writing it; `-h` lists the settings (`-machine`, `-m`, `-smp`, `-accel`,\n")
	p("or `GOSV_ACCEL`; `-apps=false` leaves out the application benchmark).\n")
	p("Every QEMU run has a timeout.\n")
	return b.String()
}

// calibrationSpread says how far calibrated rates are from the true one.
func calibrationSpread(khz []int, trueKHz int) string {
	if len(khz) == 0 || trueKHz <= 0 {
		return "an unknown amount"
	}
	lo, hi := 0.0, 0.0
	for i, k := range khz {
		d := 100 * (float64(k) - float64(trueKHz)) / float64(trueKHz)
		if i == 0 || d < lo {
			lo = d
		}
		if i == 0 || d > hi {
			hi = d
		}
	}
	return fmt.Sprintf("%+.1f%% to %+.1f%%", lo, hi)
}

// ms formats d in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func spread(s Summary) string {
	if s.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%s – %s)", ms(s.Median), strings.TrimSuffix(ms(s.Min), " ms"), ms(s.Max))
}

func list(v []time.Duration) string {
	if len(v) == 0 {
		return "–"
	}
	s := make([]string, len(v))
	for i, d := range v {
		s[i] = strings.TrimSuffix(ms(d), " ms")
	}
	return strings.Join(s, ", ") + " ms"
}

func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

func bytesMiB(n int64) string { return fmt.Sprintf("%d bytes (%s)", n, mib(n)) }

// shellJoin quotes args so the command line can be pasted into a shell.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsFunc(a, func(r rune) bool {
			return !strings.ContainsRune("+-./,:=_@%", r) && !('a' <= r && r <= 'z' ||
				'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
		}) {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
