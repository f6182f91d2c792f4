package boottest

import (
	"bufio"
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gosv/boot/appimage"
)

// TestDynamicExecutable builds dynamically linked C programs with glibc
// (interpreter /lib64/ld-linux-x86-64.so.2) and with musl
// (/lib/ld-musl-x86_64.so.1), packs each with its interpreter and shared
// libraries, and compares each run in gosv with the native run of the
// same binary. The loaders map the libraries from the boot file system
// (the kernel serves file mmaps as private copies).
//
// dynapp needs libc, libm and its own libdyn.so, found through DT_RUNPATH
// $ORIGIN/../lib/dynapp (expanded from /proc/self/exe), and dlopens
// libplug.so; capp is the static tests' program linked dynamically.
func TestDynamicExecutable(t *testing.T) {
	wd, _ := os.Getwd()
	src := filepath.Join(wd, "testdata")
	for _, c := range []struct{ name, cc string }{
		{"glibc", "gcc"},
		{"musl", "musl-gcc"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			libdir := filepath.Join(dir, "lib", "dynapp")
			for _, d := range []string{filepath.Join(dir, "bin"), libdir} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			Build(t, dir, nil, c.cc, "-shared", "-fPIC", "-O2", "-o", filepath.Join(libdir, "libdyn.so"), filepath.Join(src, "dynapp", "libdyn.c"))
			Build(t, dir, nil, c.cc, "-shared", "-fPIC", "-O2", "-o", filepath.Join(libdir, "libplug.so"), filepath.Join(src, "dynapp", "libplug.c"))
			dynapp := filepath.Join(dir, "bin", "dynapp")
			Build(t, dir, nil, c.cc, "-O2", "-o", dynapp, filepath.Join(src, "dynapp", "dynapp.c"),
				"-L"+libdir, "-ldyn", "-lm", "-ldl", "-lpthread", "-Wl,-rpath,$ORIGIN/../lib/dynapp")
			capp := filepath.Join(dir, "bin", "capp")
			Build(t, dir, nil, c.cc, "-O2", "-o", capp, filepath.Join(src, "capp", "capp.c"), "-lpthread")

			for _, p := range []struct {
				bin   string
				extra []appimage.Mapping // what ldd cannot see (dlopen)
				args  []string
			}{
				{dynapp, []appimage.Mapping{{Host: filepath.Join(libdir, "libplug.so"), Guest: "/lib/dynapp/libplug.so"}}, []string{"plain", "exit5"}},
				{capp, nil, []string{"exit7"}},
			} {
				name := filepath.Base(p.bin)
				img := AppImage(t, p.bin, append(sharedObjects(t, dir, p.bin), p.extra...)...)
				for _, arg := range p.args {
					want, wantCode := Native(t, dir, nil, p.bin, arg)
					res := BootApp(t, img, "/bin/"+name+" "+arg, 2)
					if got := appOutput(res.Serial); got != trimLines(want) {
						t.Errorf("%s %s: output differs\n--- native\n%s\n--- gosv serial\n%s", name, arg, want, res.Serial)
					}
					if res.GuestStatus != wantCode || !res.Exited {
						t.Errorf("%s %s: guest status %d, native %d", name, arg, res.GuestStatus, wantCode)
					}
					// glibc creates threads with clone3 and falls back to
					// clone only on ENOSYS: threads must not need that.
					if strings.Contains(res.Serial, "(clone3)") {
						t.Errorf("%s %s: clone3 unimplemented:\n%s", name, arg, res.Serial)
					}
				}
			}
		})
	}
}

// sharedObjects returns the image mappings for a dynamically linked
// program: its interpreter (PT_INTERP) and the libraries the interpreter
// resolves for it on the host. The list comes from the interpreter's
// --list mode, which is what ldd runs (glibc's ldd script, and musl's ldd
// is its dynamic linker under that name). Host symbolic links are resolved
// to the real files; each object keeps its absolute path in the guest,
// except objects under buildDir, which go to the same path relative to
// the guest's root (bin/../lib/dynapp stays $ORIGIN/../lib/dynapp).
func sharedObjects(t *testing.T, buildDir, prog string) []appimage.Mapping {
	t.Helper()
	f, err := elf.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				t.Fatal(err)
			}
			interp = string(bytes.TrimRight(b, "\x00"))
		}
	}
	f.Close()
	if interp == "" {
		t.Fatalf("%s has no PT_INTERP: not dynamically linked", prog)
	}
	out, err := exec.Command(interp, "--list", prog).Output()
	if err != nil {
		t.Fatalf("%s --list %s: %v", interp, prog, err)
	}
	guests := map[string]string{interp: interp} // guest path -> host path
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)",
		// "\t/lib64/ld-linux-x86-64.so.2 (0x...)", or a name without a
		// path such as "\tlinux-vdso.so.1 (0x...)".
		l := strings.TrimSpace(sc.Text())
		if _, after, ok := strings.Cut(l, "=>"); ok {
			l = strings.TrimSpace(after)
		}
		p, _, _ := strings.Cut(l, " (")
		if !filepath.IsAbs(p) {
			if strings.Contains(l, "not found") {
				t.Fatalf("%s: %s", prog, sc.Text())
			}
			continue // the vDSO
		}
		p = filepath.Clean(p)
		guest := p
		if rel, err := filepath.Rel(buildDir, p); err == nil && !strings.HasPrefix(rel, "..") {
			guest = "/" + filepath.ToSlash(rel)
		}
		guests[guest] = p
	}
	var maps []appimage.Mapping
	for guest, host := range guests {
		real, err := filepath.EvalSymlinks(host)
		if err != nil {
			t.Fatal(err)
		}
		maps = append(maps, appimage.Mapping{Host: real, Guest: guest})
	}
	sort.Slice(maps, func(i, j int) bool { return maps[i].Guest < maps[j].Guest })
	t.Logf("%s: %v", filepath.Base(prog), maps)
	return maps
}
