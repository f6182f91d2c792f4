package appimage

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"

	"gosv/boot/cmdline"
	"gosv/vfs"
	"gosv/vfs/bootfs"
	"gosv/vfs/vfstest"
)

// defaults is the dump of an image's fixed part, without /bin and the
// command line.
var defaults = []string{
	"/dev/ 040755 nlink=2",
	"/etc/ 040755 nlink=3",
	"/etc/gosv/ 040755 nlink=2",
	"/etc/gosv/cmdline CMDLINE",
	`/etc/group 0100644 nlink=1 size=10 "root:x:0:\n"`,
	`/etc/hosts 0100644 nlink=1 size=34 "127.0.0.1 localhost\n::1 localhost\n"`,
	`/etc/nsswitch.conf 0100644 nlink=1 size=17 "hosts: files dns\n"`,
	`/etc/passwd 0100644 nlink=1 size=30 "root:x:0:0:root:/root:/bin/sh\n"`,
	`/etc/resolv.conf 0100644 nlink=1 size=2 "#\n"`,
	"/proc/ 040555 nlink=2",
	"/root/ 040700 nlink=2",
	"/sys/ 040555 nlink=2",
	"/tmp/ 041777 nlink=2",
}

// with returns defaults with the command line filled in and extra lines
// merged in sorted position (Dump lists bootfs directories by name).
func with(cmd string, extra ...string) []string {
	var out []string
	for _, l := range defaults {
		if strings.HasSuffix(l, "CMDLINE") {
			l = fmt.Sprintf("/etc/gosv/cmdline 0100644 nlink=1 size=%d %q", len(cmd)+1, cmd+"\n")
		}
		out = append(out, l)
	}
	out = append(out, extra...)
	key := func(l string) string { // path, with directories' trailing slash dropped
		p, _, _ := strings.Cut(l, " ")
		return strings.TrimSuffix(p, "/")
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && key(out[j]) < key(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func writeFile(t *testing.T, p, data string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask
		t.Fatal(err)
	}
	return p
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	prog := writeFile(t, filepath.Join(dir, "myapp"), "\x7fELF program", 0o700)
	hosts := writeFile(t, filepath.Join(dir, "hosts"), "10.0.0.1 db\n", 0o600)
	conf := writeFile(t, filepath.Join(dir, "app.json"), "{}", 0o640)
	tree := filepath.Join(dir, "tree")
	writeFile(t, filepath.Join(tree, "share", "a.txt"), "a", 0o644)
	writeFile(t, filepath.Join(tree, "bin", "tool"), "tool", 0o755)
	if err := os.Symlink("share/a.txt", filepath.Join(tree, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tree, 0o750); err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(dir, "etc")
	writeFile(t, filepath.Join(etc, "extra.conf"), "x=1", 0o644)
	writeFile(t, filepath.Join(etc, "passwd"), "app:x:1:1::/:/bin/app\n", 0o644)

	tests := []struct {
		name string
		o    Options
		want []string
	}{
		{
			name: "program only",
			o:    Options{Program: prog},
			want: with("/bin/myapp",
				"/bin/ 040755 nlink=2",
				`/bin/myapp 0100755 nlink=1 size=12 "\x7fELF program"`),
		},
		{
			name: "name and arguments",
			o:    Options{Program: prog, Name: "/usr/local/bin/server", Args: []string{"-v", "hello world", `say "hi"`, ""}},
			want: with(`/usr/local/bin/server -v "hello world" "say \"hi\"" ""`,
				"/usr/ 040755 nlink=3",
				"/usr/local/ 040755 nlink=3",
				"/usr/local/bin/ 040755 nlink=2",
				`/usr/local/bin/server 0100755 nlink=1 size=12 "\x7fELF program"`),
		},
		{
			name: "bare name goes to /bin",
			o:    Options{Program: prog, Name: "srv"},
			want: with("/bin/srv",
				"/bin/ 040755 nlink=2",
				`/bin/srv 0100755 nlink=1 size=12 "\x7fELF program"`),
		},
		{
			name: "files replace defaults and make parents",
			o: Options{Program: prog, Files: []Mapping{
				{hosts, "/etc/hosts"}, {conf, "/opt/app/etc/app.json"},
			}},
			want: func() []string {
				w := with("/bin/myapp",
					"/bin/ 040755 nlink=2",
					`/bin/myapp 0100755 nlink=1 size=12 "\x7fELF program"`,
					"/opt/ 040755 nlink=3",
					"/opt/app/ 040755 nlink=3",
					"/opt/app/etc/ 040755 nlink=2",
					`/opt/app/etc/app.json 0100640 nlink=1 size=2 "{}"`)
				for i, l := range w {
					if strings.HasPrefix(l, "/etc/hosts ") {
						w[i] = `/etc/hosts 0100600 nlink=1 size=12 "10.0.0.1 db\n"`
					}
				}
				return w
			}(),
		},
		{
			name: "directory trees, merged into /etc too",
			o:    Options{Program: prog, Dirs: []Mapping{{tree, "/opt/tree"}, {etc, "/etc"}}},
			want: func() []string {
				w := with("/bin/myapp",
					"/bin/ 040755 nlink=2",
					`/bin/myapp 0100755 nlink=1 size=12 "\x7fELF program"`,
					`/etc/extra.conf 0100644 nlink=1 size=3 "x=1"`,
					"/opt/ 040755 nlink=3",
					"/opt/tree/ 040750 nlink=4",
					"/opt/tree/bin/ 040755 nlink=2",
					`/opt/tree/bin/tool 0100755 nlink=1 size=4 "tool"`,
					"/opt/tree/link 0120777 -> share/a.txt",
					"/opt/tree/share/ 040755 nlink=2",
					`/opt/tree/share/a.txt 0100644 nlink=1 size=1 "a"`)
				for i, l := range w {
					if strings.HasPrefix(l, "/etc/passwd ") {
						w[i] = `/etc/passwd 0100644 nlink=1 size=22 "app:x:1:1::/:/bin/app\n"`
					}
				}
				return w
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive, err := Build(tt.o)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			root, err := bootfs.New(archive)
			if err != nil {
				t.Fatalf("bootfs.New: %v", err)
			}
			got, err := vfstest.Dump(root)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]string{"/ 040755 nlink=" + fmt.Sprint(2+countDirs(tt.want))}, tt.want...)
			if d := vfstest.Diff(want, got); d != "" {
				t.Errorf("image mismatch (-want +got):\n%s", d)
			}
			again, err := Build(tt.o)
			if err != nil || !bytes.Equal(again, archive) {
				t.Errorf("second Build differs (err %v): not deterministic", err)
			}
			checkRecords(t, archive)
		})
	}
}

// countDirs counts top-level directories in dump lines.
func countDirs(lines []string) int {
	n := 0
	for _, l := range lines {
		p, _, _ := strings.Cut(l, " ")
		if strings.HasSuffix(p, "/") && strings.Count(p, "/") == 2 {
			n++
		}
	}
	return n
}

// checkRecords reads the raw records: "." first, sorted names, parents
// before children, inodes 1, 2, ..., owner root.
func checkRecords(t *testing.T, archive []byte) {
	t.Helper()
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(archive)))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, r := range recs {
		if r.Ino != uint64(i+1) || r.UID != 0 || r.GID != 0 {
			t.Errorf("record %d %q: ino %d uid %d gid %d", i, r.Name, r.Ino, r.UID, r.GID)
		}
		if i == 0 {
			if r.Name != "." {
				t.Errorf("first record %q, want \".\"", r.Name)
			}
		} else {
			if i > 1 && recs[i-1].Name >= r.Name {
				t.Errorf("records out of order: %q then %q", recs[i-1].Name, r.Name)
			}
			if d := filepath.Dir(r.Name); d != "." && !seen[d] {
				t.Errorf("%q comes before its directory %q", r.Name, d)
			}
		}
		seen[r.Name] = true
	}
}

// TestModTimes: files from the host keep their modification times (a
// web server's Last-Modified), capped by SourceDateEpoch; what the
// builder makes itself has mtime 0.
func TestModTimes(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	extra := filepath.Join(dir, "extra.txt")
	tree := filepath.Join(dir, "tree")
	for _, p := range []string{prog, extra, filepath.Join(tree, "a.html")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	times := map[string]int64{prog: 1_000_000_000, extra: 1_100_000_000, filepath.Join(tree, "a.html"): 1_200_000_000, tree: 1_300_000_000}
	for p, sec := range times {
		if err := os.Chtimes(p, time.Unix(sec, 0), time.Unix(sec, 0)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		epoch int64
		want  map[string]uint64
	}{
		{0, map[string]uint64{"bin/prog": 1_000_000_000, "srv/extra.txt": 1_100_000_000, "www/a.html": 1_200_000_000, "www": 1_300_000_000, "etc/hosts": 0, "etc/gosv/cmdline": 0}},
		{1_150_000_000, map[string]uint64{"bin/prog": 1_000_000_000, "srv/extra.txt": 1_100_000_000, "www/a.html": 1_150_000_000, "www": 1_150_000_000, "etc/hosts": 0}},
	} {
		archive, err := Build(Options{Program: prog, Files: []Mapping{{extra, "/srv/extra.txt"}}, Dirs: []Mapping{{tree, "/www"}}, SourceDateEpoch: tc.epoch})
		if err != nil {
			t.Fatal(err)
		}
		recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(archive)))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]uint64{}
		for _, r := range recs {
			if _, ok := tc.want[r.Name]; ok {
				got[r.Name] = r.MTime
			}
		}
		if diff := cmpMaps(tc.want, got); diff != "" {
			t.Errorf("SourceDateEpoch %d: mtimes (-want +got):\n%s", tc.epoch, diff)
		}
	}
}

func cmpMaps(want, got map[string]uint64) string {
	var b strings.Builder
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			fmt.Fprintf(&b, "-%s %d\n+%s %d (present %v)\n", k, w, k, g, ok)
		}
	}
	return b.String()
}

func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	prog := writeFile(t, filepath.Join(dir, "app"), "app", 0o755)
	file := writeFile(t, filepath.Join(dir, "f"), "f", 0o644)
	tree := filepath.Join(dir, "tree")
	writeFile(t, filepath.Join(tree, "x"), "x", 0o644)
	fifoTree := filepath.Join(dir, "fifotree")
	if err := os.MkdirAll(fifoTree, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(fifoTree, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no program", Options{}, "no program"},
		{"missing program", Options{Program: filepath.Join(dir, "nope")}, "no such file"},
		{"program is a directory", Options{Program: dir}, "not a regular file"},
		{"relative name", Options{Program: prog, Name: "bin/app"}, "must be an absolute guest path"},
		{"file over the program", Options{Program: prog, Files: []Mapping{{file, "/bin/app"}}}, "/bin/app is already in the image (from program"},
		{"same file twice", Options{Program: prog, Files: []Mapping{{file, "/a"}, {file, "/a"}}}, "/a is already in the image"},
		{"file over a directory", Options{Program: prog, Files: []Mapping{{file, "/tmp"}}}, "/tmp conflicts with a directory"},
		{"file under a file", Options{Program: prog, Files: []Mapping{{file, "/etc/hosts/x"}}}, "needs directory /etc/hosts, which is a file"},
		{"tree over a file", Options{Program: prog, Dirs: []Mapping{{tree, "/etc/hosts"}}}, "/etc/hosts conflicts with a file"},
		{"command line file", Options{Program: prog, Files: []Mapping{{file, CmdlinePath}}}, "/etc/gosv/cmdline is already in the image"},
		{"file is a directory", Options{Program: prog, Files: []Mapping{{dir, "/x"}}}, "not a regular file"},
		{"tree is a file", Options{Program: prog, Dirs: []Mapping{{file, "/x"}}}, "not a directory"},
		{"missing tree", Options{Program: prog, Dirs: []Mapping{{filepath.Join(dir, "nope"), "/x"}}}, "no such file"},
		{"fifo in a tree", Options{Program: prog, Dirs: []Mapping{{fifoTree, "/x"}}}, "unsupported file type"},
		{"root as a file", Options{Program: prog, Files: []Mapping{{file, "/"}}}, "cannot replace the root directory"},
		{"relative guest", Options{Program: prog, Files: []Mapping{{file, "x"}}}, `guest path "x" must be absolute`},
		{"long component", Options{Program: prog, Files: []Mapping{{file, "/" + strings.Repeat("n", 256)}}}, "longer than 255"},
		{"control character", Options{Program: prog, Args: []string{"a\nb"}}, "control character 0xa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		words []string
		want  string
	}{
		{nil, ""},
		{[]string{"/bin/app"}, "/bin/app"},
		{[]string{"/bin/app", "-port=80", "--x"}, "/bin/app -port=80 --x"},
		{[]string{"a b", ""}, `"a b" ""`},
		{[]string{`q"t`, `back\slash`, `both\"`}, `"q\"t" "back\\slash" "both\\\""`},
		{[]string{"tab\there", "ünï"}, "\"tab\there\" ünï"},
		{[]string{"'single'"}, "'single'"},
	}
	for _, tt := range tests {
		got, err := Quote(tt.words)
		if err != nil || got != tt.want {
			t.Errorf("Quote(%q) = %q, %v; want %q", tt.words, got, err, tt.want)
			continue
		}
		back, err := cmdline.Split(got)
		if err != nil || strings.Join(back, "\x00") != strings.Join(tt.words, "\x00") || len(back) != len(tt.words) {
			t.Errorf("Split(Quote(%q)) = %q, %v", tt.words, back, err)
		}
	}
}

func TestParseMapping(t *testing.T) {
	tests := []struct {
		in   string
		want Mapping
		err  string
	}{
		{"a:/b", Mapping{"a", "/b"}, ""},
		{"c:/x/y:/z", Mapping{"c:/x/y", "/z"}, ""},
		{"nocolon", Mapping{}, "want HOSTPATH:GUESTPATH"},
		{":/x", Mapping{}, "want HOSTPATH:GUESTPATH"},
		{"a:", Mapping{}, "want HOSTPATH:GUESTPATH"},
		{"a:b", Mapping{}, "must be absolute"},
	}
	for _, tt := range tests {
		got, err := ParseMapping(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseMapping(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMapping(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

// TestMounted reads an image through the mount table, as the kernel will.
func TestMounted(t *testing.T) {
	prog := writeFile(t, filepath.Join(t.TempDir(), "app"), "app", 0o755)
	archive, err := Build(Options{Program: prog, Args: []string{"x y"}})
	if err != nil {
		t.Fatal(err)
	}
	root, err := bootfs.New(archive)
	if err != nil {
		t.Fatal(err)
	}
	var f vfs.FS
	if err := f.Mount("/", root); err != nil {
		t.Fatal(err)
	}
	n, err := f.Resolve("/etc", "gosv/../gosv/cmdline", true)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	k, _ := n.ReadAt(buf, 0)
	words, err := cmdline.Split(string(buf[:k]))
	if err != nil || fmt.Sprintf("%q", words) != `["/bin/app" "x y"]` {
		t.Errorf("command line %q -> %q, %v", buf[:k], words, err)
	}
}
