package bench

import (
	"fmt"
	"strings"
)

// appMarkdown renders the "Applications" section.
func (r *Report) appMarkdown(p func(format string, a ...any)) {
	a := r.App
	p("## Applications\n\n")
	p("One static binary, [`appbench.c`](../boot/bench/testdata/appbench/appbench.c)\n")
	p("built with `%s` (%s;\n", a.Compiler, a.CompilerVersion)
	p("%s), runs in both guests, in the QEMU settings of the boots\n", bytesMiB(a.Binary))
	p("above: %d measured runs in each guest (after one unmeasured warm-up run\n", a.Gosv.Marker.N)
	p("each), alternating.\n\n")
	p("- gosv: the binary packed as `/bin/%s` into an application image\n", AppName)
	p("  (`gosv/boot/appimage`, as `gosv build` does; %s), booted as\n", bytesMiB(a.GosvImage))
	p("  the initrd with the kernel command line `/bin/%s`. gosv runs it as its\n", AppName)
	p("  application; its exit status (0) becomes the guest status.\n")
	p("- Linux: the same binary as `/bin/%s` in the busybox initramfs\n", AppName)
	p("  (%s), with an `/init` script that runs it first thing, prints\n", bytesMiB(a.LinuxInit))
	p("  its exit status (`LINUXAPP status 0`) and runs `poweroff -f`; same\n")
	p("  kernel command line as the boots. Linux's figure to main therefore\n")
	p("  includes starting busybox's shell as init and forking the program,\n")
	p("  which is how a minimal Linux guest starts an application.\n")
	p("- The program times itself with `clock_gettime(CLOCK_MONOTONIC)` and\n")
	p("  prints `APPBENCH <measure> <value>` lines with `write(2)`:\n")
	p("  - *main reached, host clock*: host wall clock from the exec of QEMU to\n")
	p("    the arrival of the program's first line, `APPBENCH main_ns`, which it\n")
	p("    writes at the start of `main`.\n")
	p("  - *main reached, guest clock*: the `CLOCK_MONOTONIC` reading in that\n")
	p("    line. gosv's clock starts at its clock set-up in early kernel set-up\n")
	p("    (after the page tables and the TSC calibration, before the Go\n")
	p("    runtime starts); Linux's at the zero of its printk time stamps, early\n")
	p("    in `setup_arch` (`timekeeping_init` starts it from there). Both leave\n")
	p("    out the firmware and the loader, Linux's also the bzImage decompressor\n")
	p("    and its earliest set-up. The zero points differ: this is each guest's\n")
	p("    own view; the host clock is the common ruler.\n")
	p("  - *system call*: 200000 `syscall(SYS_getppid)` calls in a loop (after\n")
	p("    1000 unmeasured ones), ns per call; `syscall()` so that no C library\n")
	p("    can answer from a cache.\n")
	p("  - *thread create + join*: 2000 `pthread_create` + `pthread_join` pairs\n")
	p("    of a thread that returns at once, µs per pair.\n")
	p("  - *futex round trip*: two threads pass a shared `int` back and forth\n")
	p("    with raw `futex(FUTEX_WAKE_PRIVATE)` and `futex(FUTEX_WAIT_PRIVATE)`\n")
	p("    calls, 20000 round trips, µs per round trip.")
	if r.CPUs == 1 {
		p(" With one vCPU each round\n")
		p("    trip is two wakes, two waits and two switches between the threads.\n")
	} else {
		p(" With %d vCPUs the two\n", r.CPUs)
		p("    threads may run on different vCPUs.\n")
	}
	if r.HostTSCkHz > 0 {
		p("- gosv's `CLOCK_MONOTONIC` is the TSC at the rate gosv calibrated, so, as\n")
		p("  with the boot times, the program's figures in gosv are rescaled to the\n")
		p("  host's TSC rate (%d kHz); its calibrations in these runs were off by\n", r.HostTSCkHz)
		p("  %s. Linux was told the rate (`tsc_early_khz`). The figures as\n", calibrationSpread(a.GosvTSCkHz, r.HostTSCkHz))
		p("  printed are listed below the table.\n")
	}
	if r.Accel == "tcg" {
		p("- Under TCG the costs are those of QEMU's translated code: a system\n")
		p("  call's price is set by how expensive QEMU makes each instruction on\n")
		p("  the path (a privilege switch, `swapgs`, an `fxsave`, a page-table\n")
		p("  switch), which is not what it costs on hardware or under KVM. The\n")
		p("  ratios compare the two kernels' paths under the same emulator; they\n")
		p("  do not predict the ratios under KVM. On the system-call path, gosv's\n")
		p("  entry (`kernel/trap_amd64.s`) saves and restores the FPU state\n")
		p("  (`FXSAVE64`/`FXRSTOR64`), reads and twice writes the FS base MSR and\n")
		p("  returns with `IRETQ`; Linux's `getppid` does none of the FPU or MSR\n")
		p("  work and returns with `SYSRET`. Under TCG each of those instructions\n")
		p("  is a call into a QEMU helper; this benchmark does not break the cost\n")
		p("  down further.\n")
	}
	p("\nQEMU command lines (first run):\n\n```\n%s\n%s\n```\n\n", shellJoin(a.GosvArgs), shellJoin(a.LinuxArgs))

	p("Median (min – max) over %d runs each; for the ratios, larger means gosv is\n", a.Gosv.Marker.N)
	p("faster.\n\n")
	p("| measure | gosv | Linux | Linux / gosv (median; min) |\n")
	p("|---|---|---|---|\n")
	row := func(name string, g, l Summary) {
		p("| %s | %s | %s | %.1f×; %.1f× |\n", name, spread(g), spread(l),
			Ratio(l.Median, g.Median), Ratio(l.Min, g.Min))
	}
	frow := func(name, unit string, prec int, g, l FloatSummary) {
		p("| %s | %s | %s | %.2f×; %.2f× |\n", name, fspread(g, unit, prec), fspread(l, unit, prec),
			FloatRatio(l.Median, g.Median), FloatRatio(l.Min, g.Min))
	}
	row("main reached, host clock (QEMU exec to the program's first line)", a.Gosv.Marker, a.Linux.Marker)
	row("main reached, guest clock (`CLOCK_MONOTONIC` at main)", a.Gosv.Main, a.Linux.Main)
	frow("system call (`getppid`)", "ns", 1, a.Gosv.Syscall, a.Linux.Syscall)
	frow("thread create + join", "µs", 1, a.Gosv.Thread, a.Linux.Thread)
	frow("futex round trip between two threads", "µs", 2, a.Gosv.Futex, a.Linux.Futex)
	p("\n")

	p("Each run, in the order run:\n\n")
	p("- gosv, main reached (host clock): %s\n", list(a.Gosv.Marker.Values))
	p("- Linux, main reached (host clock): %s\n", list(a.Linux.Marker.Values))
	p("- gosv, main reached (guest clock): %s\n", list(a.Gosv.Main.Values))
	p("- Linux, main reached (guest clock): %s\n", list(a.Linux.Main.Values))
	p("- gosv, system call: %s\n", flist(a.Gosv.Syscall.Values, "ns", 1))
	p("- Linux, system call: %s\n", flist(a.Linux.Syscall.Values, "ns", 1))
	p("- gosv, thread create + join: %s\n", flist(a.Gosv.Thread.Values, "µs", 1))
	p("- Linux, thread create + join: %s\n", flist(a.Linux.Thread.Values, "µs", 1))
	p("- gosv, futex round trip: %s\n", flist(a.Gosv.Futex.Values, "µs", 2))
	p("- Linux, futex round trip: %s\n", flist(a.Linux.Futex.Values, "µs", 2))
	if r.HostTSCkHz > 0 && len(a.GosvPrinted) > 0 {
		var sys, thr, fut []float64
		for _, x := range a.GosvPrinted {
			sys, thr, fut = append(sys, x.SyscallNs), append(thr, x.ThreadUs), append(fut, x.FutexUs)
		}
		mhz := make([]string, len(a.GosvTSCkHz))
		for i, k := range a.GosvTSCkHz {
			mhz[i] = fmt.Sprint(k / 1000)
		}
		p("- gosv as printed: system call %s; thread %s; futex %s\n",
			flist(sys, "ns", 1), flist(thr, "µs", 1), flist(fut, "µs", 2))
		p("- gosv calibrated TSC rate: %s MHz (host %.3f MHz)\n", strings.Join(mhz, ", "), float64(r.HostTSCkHz)/1000)
	}
	p("\n")
}

func fmtFloat(v float64, prec int) string { return fmt.Sprintf("%.*f", prec, v) }

func fspread(s FloatSummary, unit string, prec int) string {
	if s.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%s %s (%s – %s %s)", fmtFloat(s.Median, prec), unit,
		fmtFloat(s.Min, prec), fmtFloat(s.Max, prec), unit)
}

func flist(v []float64, unit string, prec int) string {
	if len(v) == 0 {
		return "–"
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmtFloat(x, prec)
	}
	return strings.Join(s, ", ") + " " + unit
}
