package bench

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
)

const appSerial = "gosv 0.1.0 on QEMU TCG, 1 CPU(s), 127 MiB memory (121 MiB free), booted via PVH\r\n" +
	"gosv: clock tsc (PIT-calibrated) (2088 MHz TSC)\n" +
	"gosv: boot time 49.40 ms (first instruction to Go main)\n" +
	"APPBENCH main_ns 211182357\r\n" +
	"APPBENCH syscall_ns 1375.6\n" +
	"APPBENCH thread_us 89.24\n" +
	"APPBENCH futex_us 45.61\n" +
	"APPBENCH done\n" +
	"gosv: application exited with status 0\n"

func TestParseApp(t *testing.T) {
	r, err := ParseApp(appSerial)
	if err != nil {
		t.Fatal(err)
	}
	want := AppResult{Main: 211182357 * time.Nanosecond, SyscallNs: 1375.6, ThreadUs: 89.24, FutexUs: 45.61}
	if r != want {
		t.Errorf("ParseApp = %+v, want %+v", r, want)
	}
	// Linux's console output: kernel lines around the program's.
	lx := "[    1.2] Run /init as init process\nAPPBENCH main_ns 1215100000\nAPPBENCH syscall_ns 551.1\n" +
		"APPBENCH thread_us 424.4\nAPPBENCH futex_us 15.71\nAPPBENCH done\nLINUXAPP status 0\n[    2.5] reboot: Power down\n"
	if r, err := ParseApp(lx); err != nil || r.Main != 1215100*time.Microsecond || r.SyscallNs != 551.1 {
		t.Errorf("Linux output: %+v, %v", r, err)
	}
	for _, c := range []struct{ name, serial, err string }{
		{"empty", "", "no main_ns"},
		{"no done", strings.Replace(appSerial, "APPBENCH done\n", "", 1), "no done"},
		{"missing measure", strings.Replace(appSerial, "APPBENCH thread_us 89.24\n", "", 1), "no thread_us"},
		{"twice", strings.Replace(appSerial, "APPBENCH done", "APPBENCH futex_us 1\nAPPBENCH done", 1), "twice"},
		{"after done", strings.Replace(appSerial, "APPBENCH done\n", "APPBENCH done\nAPPBENCH futex_us 2\n", 1), "after done"},
		{"bad number", strings.Replace(appSerial, "1375.6", "fast", 1), "bad value"},
		{"zero", strings.Replace(appSerial, "1375.6", "0.0", 1), "bad value"},
		{"negative", strings.Replace(appSerial, "89.24", "-1", 1), "bad value"},
		{"no value", strings.Replace(appSerial, "futex_us 45.61", "futex_us", 1), "bad value"},
		{"unknown", strings.Replace(appSerial, "APPBENCH done", "APPBENCH fork_us 3\nAPPBENCH done", 1), "unknown measure"},
		{"error", strings.Replace(appSerial, "APPBENCH thread_us 89.24", "APPBENCH error thread 17", 1), "failed: thread 17"},
	} {
		if _, err := ParseApp(c.serial); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want one with %q", c.name, err, c.err)
		}
	}
	// A line that merely contains the marker mid-line is not the program's.
	if _, err := ParseApp("x APPBENCH main_ns 5\n"); err == nil || !strings.Contains(err.Error(), "no main_ns") {
		t.Errorf("mid-line marker: %v", err)
	}
}

func TestAppSourcePrintsWhatParseAppReads(t *testing.T) {
	src := string(AppSource)
	for _, l := range []string{AppMarker, "APPBENCH syscall_ns ", "APPBENCH thread_us ", "APPBENCH futex_us ", "APPBENCH done", "APPBENCH error "} {
		if !strings.Contains(src, `out("`+l) {
			t.Errorf("appbench.c does not print %q", l)
		}
	}
	// The marker line must be the first thing main does.
	i := strings.Index(src, "int main(")
	if i < 0 {
		t.Fatal("no main in appbench.c")
	}
	body := strings.TrimSpace(src[i+strings.Index(src[i:], "{")+1:])
	if !strings.HasPrefix(body, `out("`+AppMarker) {
		t.Errorf("main does not start with the marker line: %.60q", body)
	}
}

func TestLinuxAppStatus(t *testing.T) {
	if st, ok := LinuxAppStatus("APPBENCH done\nLINUXAPP status 0\n"); !ok || st != 0 {
		t.Errorf("status 0: %d, %v", st, ok)
	}
	if st, ok := LinuxAppStatus("LINUXAPP status 139\r\n"); !ok || st != 139 {
		t.Errorf("status 139: %d, %v", st, ok)
	}
	if _, ok := LinuxAppStatus("LINUXAPP status \n"); ok {
		t.Error("parsed a status line without a number")
	}
}

func TestAppRescale(t *testing.T) {
	r := AppResult{Main: 100 * time.Millisecond, SyscallNs: 100, ThreadUs: 10, FutexUs: 1}
	got := r.Rescale(4000000, 2000000)
	if want := (AppResult{Main: 200 * time.Millisecond, SyscallNs: 200, ThreadUs: 20, FutexUs: 2}); got != want {
		t.Errorf("Rescale = %+v, want %+v", got, want)
	}
	if got := r.Rescale(0, 2000000); got != r {
		t.Errorf("unknown rate changed the figures: %+v", got)
	}
}

func TestAppRuns(t *testing.T) {
	var a AppRuns
	for i, v := range []float64{3, 1, 2, 10} {
		a.Add(time.Duration(i+1)*time.Second, AppResult{Main: time.Duration(v), SyscallNs: v, ThreadUs: 2 * v, FutexUs: v / 2})
	}
	s := a.Stats()
	if s.Marker.N != 4 || s.Marker.Median != 2500*time.Millisecond || s.Main.Median != 2 {
		t.Errorf("durations: %+v %+v", s.Marker, s.Main)
	}
	if s.Syscall.N != 4 || s.Syscall.Min != 1 || s.Syscall.Median != 2.5 || s.Syscall.Max != 10 {
		t.Errorf("syscall: %+v", s.Syscall)
	}
	if !slices.Equal(s.Syscall.Values, []float64{3, 1, 2, 10}) || s.Thread.Median != 5 || s.Futex.Median != 1.25 {
		t.Errorf("order or other measures: %+v %+v %+v", s.Syscall, s.Thread, s.Futex)
	}
	if f := SummarizeFloats([]float64{61.2, 60.1, 70}); f.Median != 61.2 || f.Min != 60.1 || f.Max != 70 {
		t.Errorf("odd: %+v", f)
	}
	if f := SummarizeFloats(nil); f.N != 0 || f.Median != 0 {
		t.Errorf("empty: %+v", f)
	}
	if FloatRatio(3, 1.5) != 2 || FloatRatio(1, 0) != 0 {
		t.Error("FloatRatio")
	}
}

func TestAppInitramfs(t *testing.T) {
	bb, prog := []byte("\x7fELF pretend busybox"), []byte("\x7fELF pretend appbench")
	var a, b bytes.Buffer
	if err := WriteAppInitramfs(&a, bb, prog); err != nil {
		t.Fatal(err)
	}
	if err := WriteAppInitramfs(&b, bb, prog); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("initramfs not reproducible")
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(a.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	modes := map[string]uint64{}
	for _, r := range recs {
		data, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
		if err != nil {
			t.Fatal(err)
		}
		files[r.Name], modes[r.Name] = string(data), r.Mode
	}
	if files["bin/busybox"] != string(bb) || files["bin/appbench"] != string(prog) || files["init"] != AppInitScript {
		t.Errorf("contents: %q", files)
	}
	for _, n := range []string{"bin/appbench", "init", "bin/busybox"} {
		if modes[n] != cpio.S_IFREG|0o755 {
			t.Errorf("%s mode %o", n, modes[n])
		}
	}
	if m, ok := modes["dev/console"]; !ok || m&cpio.S_IFMT != cpio.S_IFCHR {
		t.Error("no /dev/console")
	}
	lines := strings.Split(strings.TrimSpace(AppInitScript), "\n")
	if len(lines) != 4 || lines[0] != "#!/bin/busybox sh" || lines[1] != "/bin/appbench" ||
		!strings.Contains(lines[2], LinuxAppMarker+"$?") || lines[3] != "/bin/busybox poweroff -f" {
		t.Errorf("init script: %q", lines)
	}
	// The boot benchmark's initramfs is unchanged by the app variant.
	var boot bytes.Buffer
	if err := WriteInitramfs(&boot, bb); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(boot.Bytes(), []byte("appbench")) {
		t.Error("boot initramfs holds the application")
	}
}

func TestAppReport(t *testing.T) {
	d := func(v ...float64) Summary {
		s := make([]time.Duration, len(v))
		for i, x := range v {
			s[i] = time.Duration(x * float64(time.Millisecond))
		}
		return Summarize(s)
	}
	r := &Report{
		Accel: "tcg", CPUs: 1, Runs: 3, HostTSCkHz: 2000000,
		GosvGuest: d(50, 45, 55), LinuxGuest: d(1125, 1100, 1150),
		MinMemoryMiB: 9, GosvImage: ImageSize{File: 6451304, LoadFile: 1, LoadMem: 1},
	}
	if len(r.Targets()) != 3 {
		t.Fatalf("targets without an application benchmark: %+v", r.Targets())
	}
	if strings.Contains(r.Markdown(), "## Applications") {
		t.Error("Applications section without an application benchmark")
	}
	r.App = &AppReport{
		Compiler: "musl-gcc -static -O2", CompilerVersion: "gcc 12.2.0, musl 1.2.3-1",
		Binary: 44352, GosvImage: 46512, LinuxInit: 2027764,
		GosvArgs:  []string{"qemu-system-x86_64", "-append", "/bin/appbench"},
		LinuxArgs: []string{"qemu-system-x86_64", "-initrd", "build/bench-cache/appbench/initramfs.cpio"},
		Gosv: AppStats{
			Marker: d(100, 90, 110), Main: d(40, 35, 45),
			Syscall: SummarizeFloats([]float64{20, 19, 21}), Thread: SummarizeFloats([]float64{100, 90, 110}),
			Futex: SummarizeFloats([]float64{5, 4, 6}),
		},
		Linux: AppStats{
			Marker: d(2100, 2000, 2200), Main: d(1200, 1150, 1250),
			Syscall: SummarizeFloats([]float64{80, 76, 84}), Thread: SummarizeFloats([]float64{400, 380, 420}),
			Futex: SummarizeFloats([]float64{15, 14, 16}),
		},
		GosvTSCkHz:  []int{1990000, 2000000, 2010000},
		GosvPrinted: []AppResult{{SyscallNs: 20.1}, {SyscallNs: 19}, {SyscallNs: 21.2}},
	}
	ts := r.Targets()
	if len(ts) != 5 || !ts[3].Met || !ts[4].Met {
		t.Fatalf("targets: %+v", ts)
	}
	if !strings.Contains(ts[3].Measured, "4.00× (80.0 ns in Linux, 20.0 ns in gosv)") ||
		!strings.Contains(ts[4].Measured, "21.0× (2100.0 ms vs 100.0 ms); on the guests' own clocks 30.0×") {
		t.Errorf("measured: %q; %q", ts[3].Measured, ts[4].Measured)
	}
	md := r.Markdown()
	for _, want := range []string{
		"## Applications", "[Applications](#applications)", "`musl-gcc -static -O2` (gcc 12.2.0, musl 1.2.3-1;",
		"| main reached, host clock (QEMU exec to the program's first line) | 100.0 ms (90.0 – 110.0 ms) | 2100.0 ms (2000.0 – 2200.0 ms) | 21.0×; 22.2× |",
		"| system call (`getppid`) | 20.0 ns (19.0 – 21.0 ns) | 80.0 ns (76.0 – 84.0 ns) | 4.00×; 4.00× |",
		"| thread create + join | 100.0 µs (90.0 – 110.0 µs) | 400.0 µs (380.0 – 420.0 µs) | 4.00×; 4.22× |",
		"| futex round trip between two threads | 5.00 µs (4.00 – 6.00 µs) | 15.00 µs (14.00 – 16.00 µs) | 3.00×; 3.50× |",
		"- gosv, system call: 20.0, 19.0, 21.0 ns", "- gosv as printed: system call 20.1, 19.0, 21.2 ns",
		"gosv calibrated TSC rate: 1990, 2000, 2010 MHz", "off by\n  -0.5% to +0.5%",
		"-append /bin/appbench", "All 5 targets are met", "two switches between the threads",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}

	// Missed targets are stated, not hidden.
	r.App.Gosv.Syscall = SummarizeFloats([]float64{1690, 1600, 1700})
	r.App.Gosv.Marker = d(230, 220, 240)
	ts = r.Targets()
	if ts[3].Met || ts[4].Met || !strings.Contains(ts[3].Measured, "0.05×") {
		t.Errorf("targets: %+v", ts)
	}
	md = r.Markdown()
	if !strings.Contains(md, "**Not met**: application system calls") || strings.Count(md, "| **no** |") != 2 {
		t.Errorf("missed targets not stated:\n%s", md)
	}
}
