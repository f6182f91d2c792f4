package boottest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gosv/boot/appimage"
	"gosv/boot/qemu"
)

// skipped names top-level tests (and examples) of a package, as regexp
// alternatives, and why they do not run.
type skipped struct {
	tests, why string
}

// stdlibPackage is a standard library package whose own tests run in gosv.
type stdlibPackage struct {
	path string
	// dirs are more GOROOT-relative trees the tests read (the package's
	// own directory, with its testdata, is always there, perhaps as part
	// of one of them).
	dirs []string
	// unikernel lists tests that cannot work in a unikernel at all, which
	// runs one process: no fork, exec or child processes (as in OSv).
	unikernel []skipped
	// gaps lists tests that fail for want of something the kernel could
	// provide but does not yet. A package with gaps is skipped unless
	// GOSV_STDLIB_GAPS says otherwise (see TestGoStdlibTests).
	gaps []skipped
	// awaiting lists tests that wait for a planned feature, named with
	// its issue: they are skipped and the rest of the package runs,
	// unless GOSV_STDLIB_GAPS=include.
	awaiting []skipped
	// slow lists tests that pass but take minutes under TCG; they run
	// only with GOSV_STDLIB_SLOW=1, which gives the package four times
	// the time.
	slow []skipped
}

// execTests is why tests that start processes cannot run.
const execTests = "they start child processes (fork/exec; gosv runs one process)"

var stdlibPackages = []stdlibPackage{
	{path: "strconv"},
	{path: "sort"},
	{
		path: "sync",
		unikernel: []skipped{
			{"TestMutexMisuse|TestIssue76126", "they re-run the test binary as a child process to watch it crash: " + execTests},
		},
	},
	{path: "time"}, // the zone database: see stdlibImage
	{
		path: "os",
		unikernel: []skipped{
			{"TestFileChdirTestlog|TestStdPipe|TestExecutable|TestReadNonblockingFd|TestProcessWithHandleLinux|" +
				"TestKillFindProcess|TestKillStartProcess|TestGetppid|TestStatStdin|TestStartProcess", execTests},
		},
		// They build and walk thousands of small trees, with os.Root and
		// without (17 s natively, several minutes under TCG; Link and
		// Rename 684 tree pairs each).
		slow: []skipped{{"TestRootMulti.*", "thousands of trees"}},
	},
	{path: "strings"},
	{path: "bytes"},
	{path: "math"},
	{path: "encoding/json"}, // TestHTTPDecoding serves over loopback TCP
	{path: "regexp"},
	{path: "container/list"},
	{path: "fmt"},
	{path: "bufio"},
	{path: "io"},
	{path: "io/fs"},
	{path: "path/filepath", dirs: []string{"src/unicode"}}, // TestBug3486 walks it
	{path: "archive/tar"},
	{path: "text/template"},
	{path: "context"},
	{path: "compress/gzip"}, // Example_compressingReader uses httptest
	{path: "net/http"},
	{
		path: "net",
		dirs: []string{"src/testdata"}, // the sendfile tests send ../testdata/Isaac.Newton-Opticks.txt
		unikernel: []skipped{
			{"TestSplice", execTests},
		},
	},
	{
		path: "os/signal",
		unikernel: []skipped{
			{"TestAtomicStop|TestNotifyContextNotifications", "they re-run the test binary to signal it: " + execTests},
		},
	},
	{
		path: "syscall",
		unikernel: []skipped{
			{"TestPidFD|TestZeroSysProcAttr|TestSetpgid|TestPgid|TestExec|TestForeground|TestForegroundSignal|TestPrlimitOtherProcess|TestPrlimitFileLimit|TestFcntlFlock|TestPassFD", execTests},
			{"TestSetuidEtc", "gosv has one user, root: the set*id calls are not there (ENOSYS)"},
		},
	},
	{
		path: "crypto/tls",
		unikernel: []skipped{
			{"TestFIPSServerProtocolVersion|TestFIPSServerCipherSuites|TestFIPSServerCurves|TestFIPSServerSignatureAndHash",
				"their GODEBUG=fips140=only half re-runs the test binary: " + execTests},
		},
	},
	{path: "log/syslog"},
	{path: "net/rpc"},
	{path: "net/http/httputil"},
	{path: "net/smtp"},
	{path: "net/textproto"},
	{path: "mime/multipart"},
	{path: "os/user"},
	// CPU profiles: per-thread timer_create(CLOCK_THREAD_CPUTIME_ID)
	// timers send SIGPROF (kernel/appsys/timers.go).
	{path: "runtime/pprof"},
	{path: "crypto/x509"},
	{path: "log/slog"},
	{path: "archive/zip"},
	{path: "mime"},
	{path: "net/mail"},
	{path: "net/url"},
	{path: "net/netip"},
	{path: "testing/fstest"},
	{path: "expvar"},
	{path: "net/http/cookiejar"},
	{path: "html/template"},
	{path: "compress/flate", dirs: []string{"src/testdata"}}, // ../../testdata/Isaac.Newton-Opticks.txt
	{path: "database/sql"},
	{path: "io/ioutil", dirs: []string{"src/io"}}, // TestReadDir reads ..
	{
		path: "runtime/debug",
		unikernel: []skipped{
			{"TestSetCrashOutput", "it re-runs the test binary to watch it crash: " + execTests},
		},
	},
}

// TestGoStdlibTests builds the tests of standard library packages on the
// host, runs each test binary unmodified in gosv (two CPUs, -test.short)
// from its package directory in the image, as go test does, and requires
// PASS and exit status 0.
//
// GOSV_STDLIB_GAPS chooses what happens to packages with kernel gaps:
// empty skips them; "exclude" runs them without the gap tests (to keep the
// rest of the package checked); "include" runs everything, to see which
// gaps the kernel has closed. Awaiting tests are skipped unless it is
// "include". GOSV_STDLIB_SLOW=1 runs the slow tests too.
// GOSV_STDLIB_RUN=regexp runs only the matching tests (-test.run);
// GOSV_STDLIB_VERBOSE=1 adds -test.v=true and logs the output.
func TestGoStdlibTests(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not in PATH")
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	goroot := strings.TrimSpace(string(out))
	mode := os.Getenv("GOSV_STDLIB_GAPS")
	if mode != "" && mode != "exclude" && mode != "include" {
		t.Fatalf("GOSV_STDLIB_GAPS=%q: want empty, exclude or include", mode)
	}
	slow := os.Getenv("GOSV_STDLIB_SLOW") == "1"
	for _, pkg := range stdlibPackages {
		t.Run(pkg.path, func(t *testing.T) {
			skips := pkg.unikernel
			if mode != "include" {
				skips = append(skips[:len(skips):len(skips)], pkg.awaiting...)
			}
			if !slow {
				skips = append(skips[:len(skips):len(skips)], pkg.slow...)
			}
			if len(pkg.gaps) > 0 {
				switch mode {
				case "":
					var b strings.Builder
					for _, g := range pkg.gaps {
						b.WriteString("\n  " + g.tests + ": " + g.why)
					}
					t.Skipf("kernel gaps (GOSV_STDLIB_GAPS=exclude runs the rest, =include everything):%s", b.String())
				case "exclude":
					skips = append(skips[:len(skips):len(skips)], pkg.gaps...)
				}
			}
			runStdlibTests(t, goroot, pkg, skips, slow && len(pkg.slow) > 0)
		})
	}
}

func runStdlibTests(t *testing.T, goroot string, pkg stdlibPackage, skips []skipped, long bool) {
	dir := t.TempDir()
	name := strings.ReplaceAll(pkg.path, "/", "_") + ".test"
	bin := filepath.Join(dir, name)
	Build(t, dir, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}, "go", "test", "-c", "-o", bin, pkg.path)
	img := stdlibImage(t, goroot, pkg, bin, dir)

	src := filepath.ToSlash(filepath.Join(goroot, "src", pkg.path))
	timeout := 170 * time.Second
	if long {
		timeout *= 4
	}
	args := []string{"--cwd=" + src, "/bin/" + name, "-test.short", "-test.v=false",
		// A hang ends in the test binary's own goroutine dump, before QEMU's timeout.
		"-test.timeout=" + timeout.String()}
	if len(skips) > 0 {
		var names []string
		for _, s := range skips {
			names = append(names, s.tests)
		}
		args = append(args, "-test.skip=^("+strings.Join(names, "|")+")$")
	}
	if run := os.Getenv("GOSV_STDLIB_RUN"); run != "" {
		args = append(args, "-test.run="+run) // to look at one test
	}
	if os.Getenv("GOSV_STDLIB_VERBOSE") == "1" {
		args = append(args, "-test.v=true") // names each test as it starts
	}
	cmdline := strings.Join(args, " ")
	res := Boot(t, qemu.Config{Initrd: img, Cmdline: cmdline, CPUs: 2, MemoryMB: 512, Timeout: timeout + 20*time.Second})
	got := appOutput(res.Serial)
	if os.Getenv("GOSV_STDLIB_VERBOSE") == "1" {
		t.Logf("output:\n%s", got)
	}
	if !strings.HasSuffix(got, "\nPASS") && got != "PASS" || res.GuestStatus != 0 || !res.Exited {
		t.Errorf("%s: guest status %d (exited %v), want PASS and status 0; serial output:\n%s",
			pkg.path, res.GuestStatus, res.Exited, excerpt(res.Serial, 150, 100))
	}
}

// stdlibImage packs a test binary with its package directory (and any
// more trees it needs) at their host paths under GOROOT.
func stdlibImage(t *testing.T, goroot string, pkg stdlibPackage, bin, tmp string) string {
	t.Helper()
	var dirs []appimage.Mapping
	trees := []string{filepath.Join("src", pkg.path)}
	for _, d := range pkg.dirs {
		if strings.HasPrefix(trees[0], d+string(filepath.Separator)) {
			trees = trees[1:] // d holds the package's directory
		}
		trees = append(trees, d)
	}
	for _, d := range trees {
		p := filepath.Join(goroot, d)
		dirs = append(dirs, appimage.Mapping{Host: p, Guest: filepath.ToSlash(p)})
	}
	var files []appimage.Mapping
	switch pkg.path {
	case "time":
		// time's tests load zones from ../../lib/time/zoneinfo.zip
		// relative to GOROOT/src/time (internal_test.go) and from
		// GOROOT/lib/time/zoneinfo.zip (testenv.GOROOT).
		zip := filepath.Join(goroot, "lib", "time", "zoneinfo.zip")
		files = append(files, appimage.Mapping{Host: zip, Guest: filepath.ToSlash(zip)})
	case "os":
		// TestChdirAndGetwd and TestReaddirnamesOneAtATime use /usr/bin.
		usrbin := filepath.Join(tmp, "usrbin")
		if err := os.MkdirAll(usrbin, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"true", "false", "env"} {
			if err := os.WriteFile(filepath.Join(usrbin, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		dirs = append(dirs, appimage.Mapping{Host: usrbin, Guest: "/usr/bin"})
	}
	img, err := appimage.Build(appimage.Options{Program: bin, Files: files, Dirs: dirs})
	if err != nil {
		t.Fatalf("building the application image: %v", err)
	}
	p := filepath.Join(tmp, "app.cpio")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// excerpt returns the first head and the last tail lines of s: the
// failures and a panic's header come first, the end of a goroutine dump
// last.
func excerpt(s string, head, tail int) string {
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n"), "\n")
	if len(lines) > head+tail {
		lines = append(append(lines[:head:head], "[...]"), lines[len(lines)-tail:]...)
	}
	return strings.Join(lines, "\n")
}
