package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"gosv/boot/appimage"
	"gosv/boot/bench"
	"gosv/boot/qemu"
)

// runApps runs the application benchmark: the same static binary as
// gosv's application and under the Linux baseline's init, in the boots'
// QEMU settings, one warm-up boot of each, then o.n of each, alternating.
func runApps(ctx context.Context, o options, r *bench.Report, gosvCfg, linuxCfg qemu.Config, lx linux) error {
	a := &bench.AppReport{}
	dir := filepath.Join(o.cache, bench.AppName)
	bin, err := buildApp(dir, a)
	if err != nil {
		return err
	}
	st, err := os.Stat(bin)
	if err != nil {
		return err
	}
	a.Binary = st.Size()

	// gosv: the program packed with appimage, the kernel command line
	// naming it.
	img, err := appimage.Build(appimage.Options{Program: bin})
	if err != nil {
		return fmt.Errorf("appimage: %w", err)
	}
	gosvImage := filepath.Join(dir, bench.AppName+".cpio")
	if err := os.WriteFile(gosvImage, img, 0o644); err != nil {
		return err
	}
	a.GosvImage = int64(len(img))
	gosvCfg.Initrd, gosvCfg.Cmdline = gosvImage, "/bin/"+bench.AppName
	gosvCfg.Timeout = o.appTimeout

	// Linux: the same binary in the busybox initramfs, run by /init.
	bb, err := os.ReadFile(lx.busybox)
	if err != nil {
		return err
	}
	prog, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	var lxImg bytes.Buffer
	if err := bench.WriteAppInitramfs(&lxImg, bb, prog); err != nil {
		return err
	}
	linuxImage := filepath.Join(dir, "initramfs.cpio")
	if err := os.WriteFile(linuxImage, lxImg.Bytes(), 0o644); err != nil {
		return err
	}
	a.LinuxInit = int64(lxImg.Len())
	linuxCfg.Initrd = linuxImage
	linuxCfg.Timeout = o.appTimeout

	a.GosvArgs, a.LinuxArgs = qemu.Args(gosvCfg, r.Accel), qemu.Args(linuxCfg, r.Accel)

	logf("application benchmark: warm-up boots")
	if _, _, err := bootGosvApp(ctx, gosvCfg); err != nil {
		return err
	}
	if _, _, err := bootLinuxApp(ctx, linuxCfg); err != nil {
		return err
	}
	var g, l bench.AppRuns
	for i := range o.n {
		gm, gr, err := bootGosvApp(ctx, gosvCfg)
		if err != nil {
			return err
		}
		lm, lr, err := bootLinuxApp(ctx, linuxCfg)
		if err != nil {
			return err
		}
		a.GosvPrinted = append(a.GosvPrinted, gr.res)
		if k, ok := bench.GosvTSCkHz(gr.serial); ok {
			a.GosvTSCkHz = append(a.GosvTSCkHz, k)
			if r.HostTSCkHz > 0 {
				// As with the boot times: gosv's clock runs at the rate
				// gosv calibrated; rescale to the true TSC rate.
				gr.res = gr.res.Rescale(k, r.HostTSCkHz)
			}
		} else if r.HostTSCkHz > 0 {
			return fmt.Errorf("gosv printed no TSC rate to rescale the application's figures by:\n%s", gr.serial)
		}
		g.Add(gm, gr.res)
		l.Add(lm, lr.res)
		logf("app run %d/%d: main after %v (gosv) / %v (Linux); getppid %.1f / %.1f ns; thread %.1f / %.1f µs; futex %.2f / %.2f µs",
			i+1, o.n, gm.Round(time.Millisecond), lm.Round(time.Millisecond),
			gr.res.SyscallNs, lr.res.SyscallNs, gr.res.ThreadUs, lr.res.ThreadUs, gr.res.FutexUs, lr.res.FutexUs)
	}
	a.Gosv, a.Linux = g.Stats(), l.Stats()
	r.App = a
	return nil
}

// buildApp compiles the benchmark program static into dir, with musl-gcc
// if it is installed, else with gcc, and notes the compiler in a.
func buildApp(dir string, a *bench.AppReport) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	src := filepath.Join(dir, bench.AppName+".c")
	if err := os.WriteFile(src, bench.AppSource, 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, bench.AppName)
	cc := "musl-gcc"
	if _, err := exec.LookPath(cc); err != nil {
		logf("musl-gcc not found (scripts/install-deps.sh installs musl-tools); building the application benchmark with gcc -static")
		cc = "gcc"
	}
	args := []string{"-static", "-O2", "-o", bin, src, "-lpthread"}
	logf("%s %s", cc, strings.Join(args, " "))
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s: %w\n%s", cc, err, out)
	}
	a.Compiler = cc + " -static -O2"
	a.CompilerVersion = compilerVersion(cc)
	return bin, nil
}

// compilerVersion names the C compiler and C library.
func compilerVersion(cc string) string {
	gcc := "gcc"
	if out, err := exec.Command("gcc", "-dumpfullversion").Output(); err == nil {
		gcc = "gcc " + strings.TrimSpace(string(out))
	}
	if cc != "musl-gcc" {
		return gcc + ", glibc"
	}
	lib := "musl"
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", "musl-dev").Output(); err == nil && len(out) > 0 {
		lib = "musl " + strings.TrimSpace(string(out))
	}
	return gcc + ", " + lib
}

// appBoot is one run of the benchmark program.
type appBoot struct {
	res    bench.AppResult
	serial string
}

func bootGosvApp(ctx context.Context, cfg qemu.Config) (time.Duration, appBoot, error) {
	res, mark, err := timedRun(ctx, cfg, bench.AppMarker)
	if err != nil {
		return 0, appBoot{}, fmt.Errorf("gosv application benchmark: %w", err)
	}
	a, err := bench.ParseApp(res.Serial)
	if err != nil {
		return 0, appBoot{}, &badBoot{"gosv application benchmark: " + err.Error(), res.Serial}
	}
	if !res.Exited || res.GuestStatus != 0 {
		return 0, appBoot{}, &badBoot{fmt.Sprintf("gosv application benchmark: guest status %#x (exited %v), want 0", res.GuestStatus, res.Exited), res.Serial}
	}
	return mark, appBoot{a, res.Serial}, nil
}

func bootLinuxApp(ctx context.Context, cfg qemu.Config) (time.Duration, appBoot, error) {
	res, mark, err := timedRun(ctx, cfg, bench.AppMarker)
	if err != nil {
		return 0, appBoot{}, fmt.Errorf("linux application benchmark: %w", err)
	}
	a, err := bench.ParseApp(res.Serial)
	if err != nil {
		return 0, appBoot{}, &badBoot{"linux application benchmark: " + err.Error(), res.Serial}
	}
	if st, ok := bench.LinuxAppStatus(res.Serial); !ok || st != 0 {
		return 0, appBoot{}, &badBoot{fmt.Sprintf("linux application benchmark: exit status %d (reported %v), want 0", st, ok), res.Serial}
	}
	if res.Exited || res.ExitCode != 0 {
		return 0, appBoot{}, &badBoot{fmt.Sprintf("linux application benchmark: QEMU exit code %d, want 0 (power-off)", res.ExitCode), res.Serial}
	}
	return mark, appBoot{a, res.Serial}, nil
}
