package boottest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gosv/boot/appimage"
)

// appOutput is what the application printed: the serial output without
// the kernel's own lines.
func appOutput(serial string) string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(serial, "\r\n", "\n"), "\n") {
		if strings.HasPrefix(l, "gosv") || l == "" {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func trimLines(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestGoApplication builds a static Go program and runs it unmodified in
// gosv on two CPUs: output and exit status must match a native run.
func TestGoApplication(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "goapp")
	wd, _ := os.Getwd()
	Build(t, filepath.Join(wd, "testdata", "goapp"), []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}, "go", "build", "-o", bin, ".")
	img := AppImage(t, bin)
	for _, args := range [][]string{{"one", "two"}, {"exit3"}} {
		want, wantCode := Native(t, dir, []string{"GOAPP=x", "TMPDIR=/tmp"}, append([]string{bin}, args...)...)
		res := BootApp(t, img, "--env=GOAPP=x /bin/goapp "+strings.Join(args, " "), 2)
		if got := appOutput(res.Serial); got != trimLines(want) {
			t.Errorf("args %v: output differs from the native run\n--- native\n%s\n--- gosv\n%s", args, want, got)
		}
		if res.GuestStatus != wantCode || !res.Exited {
			t.Errorf("args %v: guest status %d, native exit code %d", args, res.GuestStatus, wantCode)
		}
	}
}

// TestCApplications builds the same C program static with musl, static
// with glibc and as static-PIE, and compares each run in gosv with the
// native run of the same binary.
func TestCApplications(t *testing.T) {
	wd, _ := os.Getwd()
	src := filepath.Join(wd, "testdata", "capp", "capp.c")
	for _, c := range []struct {
		name string
		cc   []string
	}{
		{"musl-static", []string{"musl-gcc", "-static", "-O2"}},
		{"glibc-static", []string{"gcc", "-static", "-O2"}},
		{"glibc-static-pie", []string{"gcc", "-static-pie", "-O2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "capp")
			Build(t, dir, nil, append(c.cc, "-o", bin, src, "-lpthread")...)
			img := AppImage(t, bin)
			for _, arg := range []string{"exit7", "plain"} {
				want, wantCode := Native(t, dir, nil, bin, arg)
				res := BootApp(t, img, "/bin/capp "+arg, 1)
				if got := appOutput(res.Serial); got != trimLines(want) {
					t.Errorf("%s: output differs\n--- native\n%s\n--- gosv\n%s", arg, want, got)
				}
				if res.GuestStatus != wantCode || !res.Exited {
					t.Errorf("%s: guest status %d, native %d", arg, res.GuestStatus, wantCode)
				}
			}
		})
	}
}

// TestApplicationCrash: a NULL store in the application prints a report
// like Linux's and the machine exits with 128+SIGSEGV.
func TestApplicationCrash(t *testing.T) {
	wd, _ := os.Getwd()
	dir := t.TempDir()
	bin := filepath.Join(dir, "capp")
	Build(t, dir, nil, "musl-gcc", "-static", "-O2", "-o", bin, filepath.Join(wd, "testdata", "capp", "capp.c"), "-lpthread")
	res := BootApp(t, AppImage(t, bin), "/bin/capp segv", 1)
	if !regexp.MustCompile(`killed by SIGSEGV \(11\): page fault at address 0x10`).MatchString(res.Serial) ||
		!strings.Contains(res.Serial, "RIP 0x") {
		t.Errorf("no crash report:\n%s", res.Serial)
	}
	// isa-debug-exit carries 7 bits: 139 arrives as 11.
	if !strings.Contains(res.Serial, "application exited with status 139") || res.GuestStatus != 139&0x7f {
		t.Errorf("guest status %d, want 139 (11 through isa-debug-exit)", res.GuestStatus)
	}
}

// TestBusybox runs single busybox applets on files in the image, with
// the same files and relative paths as a native run.
func TestBusybox(t *testing.T) {
	const busybox = "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("busybox-static not installed (make test installs it)")
	}
	dir := t.TempDir()
	files := map[string]string{
		"words.txt": "pear\napple\nfig\nbanana\n",
		"lorem.txt": strings.Repeat("lorem ipsum dolor sit amet\n", 50),
	}
	var maps []appimage.Mapping
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		maps = append(maps, appimage.Mapping{Host: p, Guest: "/data/" + name})
	}
	img := AppImage(t, busybox, maps...)
	for _, cmd := range []string{
		"echo hello from busybox",
		"cat words.txt",
		"sort words.txt",
		"wc lorem.txt",
		"sha256sum lorem.txt words.txt",
		"ls",
		"head -n 2 words.txt",
	} {
		argv := strings.Fields(cmd)
		want, wantCode := Native(t, dir, nil, append([]string{busybox}, argv...)...)
		res := BootApp(t, img, "--cwd=/data /bin/busybox "+cmd, 1)
		if got := appOutput(res.Serial); got != trimLines(want) {
			t.Errorf("%s: output differs\n--- native\n%s\n--- gosv\n%s", cmd, want, got)
		}
		if res.GuestStatus != wantCode || !res.Exited {
			t.Errorf("%s: guest status %d, native %d", cmd, res.GuestStatus, wantCode)
		}
	}
}

// TestProcSelfExe: /proc/self/exe names the program's path in the
// image (compared with a fixed string: on a merged-/usr host the native
// answer is /usr/bin/busybox).
func TestProcSelfExe(t *testing.T) {
	const busybox = "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("busybox-static not installed (make test installs it)")
	}
	res := BootApp(t, AppImage(t, busybox), "/bin/busybox readlink /proc/self/exe", 1)
	if got := appOutput(res.Serial); got != "/bin/busybox" {
		t.Errorf("readlink /proc/self/exe = %q, want /bin/busybox", got)
	}
}

// TestMoreSyscalls covers mremap (moving pages), sysinfo and poll.
func TestMoreSyscalls(t *testing.T) {
	wd, _ := os.Getwd()
	dir := t.TempDir()
	bin := filepath.Join(dir, "sys")
	Build(t, dir, nil, "musl-gcc", "-static", "-O2", "-o", bin, filepath.Join(wd, "testdata", "capp", "sys.c"))
	want, wantCode := Native(t, dir, nil, bin)
	res := BootApp(t, AppImage(t, bin), "/bin/sys", 1)
	if got := appOutput(res.Serial); got != trimLines(want) || res.GuestStatus != wantCode {
		t.Errorf("output differs (status %d, native %d)\n--- native\n%s\n--- gosv\n%s", res.GuestStatus, wantCode, want, got)
	}
}

// TestBadExecutable: a program that is not a loadable x86-64 ELF is
// refused with a message saying why, and the machine exits non-zero
// instead of faulting.
func TestBadExecutable(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"script", []byte("#!/bin/sh\necho hi\n"), "not a loadable executable"},
		{"truncated", []byte("\x7fELF\x02\x01\x01"), "not a loadable executable"},
	} {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, c.content, 0o755); err != nil {
			t.Fatal(err)
		}
		res := BootApp(t, AppImage(t, p), "/bin/"+c.name, 1)
		if !strings.Contains(res.Serial, c.want) || !strings.Contains(res.Serial, "/bin/"+c.name) {
			t.Errorf("%s: no clear refusal:\n%s", c.name, res.Serial)
		}
		if !res.Exited || res.GuestStatus == 0 || strings.Contains(res.Serial, "FATAL") {
			t.Errorf("%s: guest status %d (exited %v); want a clean non-zero exit", c.name, res.GuestStatus, res.Exited)
		}
	}
}

// TestAVXState runs a C program that needs AVX enabled by the kernel
// (QEMU's -cpu max offers it under TCG) and checks that YMM registers
// survive system calls, preemption, migration between the two CPUs and
// clobbering signal handlers, and that handlers see Linux's XSAVE frame
// format and can change the registers there (testdata/capp/avx.c).
func TestAVXState(t *testing.T) {
	wd, _ := os.Getwd()
	dir := t.TempDir()
	bin := filepath.Join(dir, "avx")
	Build(t, dir, nil, "musl-gcc", "-static", "-O2", "-o", bin, filepath.Join(wd, "testdata", "capp", "avx.c"), "-lpthread")
	res := BootApp(t, AppImage(t, bin), "/bin/avx", 2)
	want := "avx: usable (avx2 1)\navx: signal ok\navx: frame ok\navx: threads ok\navx: signal ok\navx: all ok"
	if got := appOutput(res.Serial); got != want || res.GuestStatus != 0 || !res.Exited {
		t.Errorf("status %d (exited %v), output:\n%s\nwant:\n%s", res.GuestStatus, res.Exited, got, want)
	}
}

// TestGoUsesAVX: a Go program in gosv sees AVX2 as usable, so its
// runtime copies with AVX, and its large unaligned copies are right
// while goroutines are preempted.
func TestGoUsesAVX(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "avxgo")
	wd, _ := os.Getwd()
	Build(t, filepath.Join(wd, "testdata", "avxgo"), []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}, "go", "build", "-o", bin, ".")
	res := BootApp(t, AppImage(t, bin), "/bin/avxgo", 2)
	want := "avxgo: osxsave true avx true avx2 true\navxgo: copies ok"
	if got := appOutput(res.Serial); got != want || res.GuestStatus != 0 || !res.Exited {
		t.Errorf("status %d (exited %v), output:\n%s\nwant:\n%s", res.GuestStatus, res.Exited, got, want)
	}
}

// TestSignalInterruptsCalls: a signal interrupts a C program's blocking
// pipe read and write, eventfd read and accept (the first three served
// by the system-call server, eventfd by the core) as on Linux: EINTR
// without SA_RESTART, a restart with it, a partial count for a write
// that moved some bytes, nothing for an ignored signal
// (testdata/capp/sigintr.c). Output compared with the native run.
func TestSignalInterruptsCalls(t *testing.T) { matchNativeC(t, "sigintr", 2) }

// TestTimers: alarm, setitimer, POSIX timers and timerfd as on Linux
// (testdata/capp/timers.c): SIGALRM interrupts a blocking read, periodic
// ticks arrive, timer signals carry SI_TIMER, their value and overrun
// counts and go to the thread SIGEV_THREAD_ID names, a timerfd counts
// expirations and wakes epoll, poll and a blocking read, CPU-time
// timers (ITIMER_PROF, ITIMER_VIRTUAL, CLOCK_THREAD_CPUTIME_ID, another
// thread's clock) tick with CPU time used and not while sleeping, and
// bad arguments fail with Linux's errors. Output compared with the
// native run.
func TestTimers(t *testing.T) { matchNativeC(t, "timers", 2) }

// matchNativeC builds testdata/capp/NAME.c statically with musl, runs it
// natively and in gosv on cpus CPUs, and fails unless both print the
// same and exit with the same status.
func matchNativeC(t *testing.T, name string, cpus int) {
	t.Helper()
	wd, _ := os.Getwd()
	dir := t.TempDir()
	bin := filepath.Join(dir, name)
	Build(t, dir, nil, "musl-gcc", "-static", "-O2", "-o", bin, filepath.Join(wd, "testdata", "capp", name+".c"), "-lpthread")
	want, wantCode := Native(t, dir, nil, bin)
	res := BootApp(t, AppImage(t, bin), "/bin/"+name, cpus)
	if got := appOutput(res.Serial); got != trimLines(want) || res.GuestStatus != wantCode || !res.Exited {
		t.Errorf("output differs (status %d, native %d)\n--- native\n%s\n--- gosv\n%s", res.GuestStatus, wantCode, want, got)
	}
}
