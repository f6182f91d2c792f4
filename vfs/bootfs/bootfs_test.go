package bootfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/u-root/u-root/pkg/cpio"

	"gosv/vfs"
	"gosv/vfs/vfstest"
)

// R is one raw newc record for tests.
type R struct {
	Name   string
	Mode   uint32
	Data   string
	Ino    uint32
	NLink  uint32
	MTime  uint32
	RMajor uint32
	RMinor uint32
}

// raw encodes records as newc without a trailer. Unlike u-root's writer
// it keeps duplicate names.
func raw(rs ...R) []byte {
	var b bytes.Buffer
	for i, r := range rs {
		ino := r.Ino
		if ino == 0 {
			ino = uint32(i + 100)
		}
		nlink := r.NLink
		if nlink == 0 {
			nlink = 1
		}
		fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			ino, r.Mode, 0, 0, nlink, r.MTime, len(r.Data), 0, 0, r.RMajor, r.RMinor, len(r.Name)+1, 0)
		b.WriteString(r.Name)
		b.WriteByte(0)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.WriteString(r.Data)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	return b.Bytes()
}

// newc encodes records and a trailer.
func newc(rs ...R) []byte {
	return raw(append(rs, R{Name: cpio.Trailer})...)
}

func file(name, data string) R { return R{Name: name, Mode: 0o100644, Data: data} }
func dir(name string) R        { return R{Name: name, Mode: 0o40755} }
func link(name, target string) R {
	return R{Name: name, Mode: 0o120777, Data: target}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		archive []byte
		want    []string
	}{
		{
			name:    "empty archive is an empty root",
			archive: newc(),
			want:    []string{"/ 040755 nlink=2"},
		},
		{
			name: "files dirs links devices",
			archive: newc(
				R{Name: ".", Mode: 0o40700},
				dir("bin"),
				R{Name: "bin/app", Mode: 0o100755, Data: "\x7fELF"},
				dir("etc"),
				file("etc/hosts", "127.0.0.1 localhost\n"),
				link("etc/localtime", "/usr/share/zoneinfo/UTC"),
				dir("dev"),
				R{Name: "dev/null", Mode: 0o20666, RMajor: 1, RMinor: 3},
				R{Name: "dev/fifo", Mode: 0o10600},
				file("empty", ""),
			),
			want: []string{
				"/ 040700 nlink=5",
				"/bin/ 040755 nlink=2",
				`/bin/app 0100755 nlink=1 size=4 "\x7fELF"`,
				"/dev/ 040755 nlink=2",
				"/dev/fifo 010600 rdev=0x0",
				"/dev/null 020666 rdev=0x103",
				`/empty 0100644 nlink=1 size=0 ""`,
				"/etc/ 040755 nlink=2",
				`/etc/hosts 0100644 nlink=1 size=20 "127.0.0.1 localhost\n"`,
				"/etc/localtime 0120777 -> /usr/share/zoneinfo/UTC",
			},
		},
		{
			name:    "implicit parents",
			archive: newc(file("a/b/c/d", "x"), file("a/e", "y")),
			want: []string{
				"/ 040755 nlink=3",
				"/a/ 040755 nlink=3",
				"/a/b/ 040755 nlink=3",
				"/a/b/c/ 040755 nlink=2",
				`/a/b/c/d 0100644 nlink=1 size=1 "x"`,
				`/a/e 0100644 nlink=1 size=1 "y"`,
			},
		},
		{
			name:    "name forms: ./a, /a, a//b, a/./c",
			archive: newc(file("./x", "1"), file("/y", "2"), file("a//b", "3"), file("a/./c", "4"), file("a/../z", "5")),
			want: []string{
				"/ 040755 nlink=3",
				"/a/ 040755 nlink=2",
				`/a/b 0100644 nlink=1 size=1 "3"`,
				`/a/c 0100644 nlink=1 size=1 "4"`,
				`/x 0100644 nlink=1 size=1 "1"`,
				`/y 0100644 nlink=1 size=1 "2"`,
				`/z 0100644 nlink=1 size=1 "5"`,
			},
		},
		{
			name: "duplicates: last wins, a directory over a directory keeps children",
			archive: newc(
				file("f", "first"), file("f", "second"),
				dir("d"), file("d/x", "x"), R{Name: "d", Mode: 0o40711},
				dir("g"), file("g/y", "y"), file("g", "file over dir"),
				file("h", "file"), dir("h"),
				link("l", "a"), link("l", "b"),
			),
			want: []string{
				"/ 040755 nlink=4",
				"/d/ 040711 nlink=2",
				`/d/x 0100644 nlink=1 size=1 "x"`,
				`/f 0100644 nlink=1 size=6 "second"`,
				`/g 0100644 nlink=1 size=13 "file over dir"`,
				"/h/ 040755 nlink=2",
				"/l 0120777 -> b",
			},
		},
		{
			name: "hard links, GNU cpio convention (data on the last link)",
			archive: newc(
				R{Name: "a", Mode: 0o100644, Ino: 7, NLink: 3},
				R{Name: "b", Mode: 0o100644, Ino: 7, NLink: 3},
				R{Name: "c", Mode: 0o100644, Ino: 7, NLink: 3, Data: "shared"},
				R{Name: "d", Mode: 0o100644, Ino: 7, NLink: 1, Data: "not a link: nlink 1"},
			),
			want: []string{
				"/ 040755 nlink=2",
				`/a 0100644 nlink=3 size=6 "shared"`,
				`/b 0100644 nlink=3 size=6 "shared"`,
				`/c 0100644 nlink=3 size=6 "shared"`,
				`/d 0100644 nlink=1 size=19 "not a link: nlink 1"`,
			},
		},
		{
			name: "hard links, u-root convention (data on the first link); a replaced name stops counting",
			archive: newc(
				R{Name: "a", Mode: 0o100644, Ino: 7, NLink: 3, Data: "shared"},
				R{Name: "b", Mode: 0o100644, Ino: 7, NLink: 3},
				R{Name: "c", Mode: 0o100644, Ino: 7, NLink: 3},
				file("c", "replaced"),
			),
			want: []string{
				"/ 040755 nlink=2",
				`/a 0100644 nlink=2 size=6 "shared"`,
				`/b 0100644 nlink=2 size=6 "shared"`,
				`/c 0100644 nlink=1 size=8 "replaced"`,
			},
		},
		{
			name:    "the trailer ends the archive",
			archive: append(newc(file("a", "a")), "garbage after the trailer"...),
			want:    []string{"/ 040755 nlink=2", `/a 0100644 nlink=1 size=1 "a"`},
		},
		{
			name:    "zero padding after the trailer",
			archive: append(newc(file("a", "a")), make([]byte, 512)...),
			want:    []string{"/ 040755 nlink=2", `/a 0100644 nlink=1 size=1 "a"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, err := New(tt.archive)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			got, err := vfstest.Dump(root)
			if err != nil {
				t.Fatalf("Dump: %v", err)
			}
			if d := vfstest.Diff(tt.want, got); d != "" {
				t.Errorf("tree mismatch (-want +got):\n%s", d)
			}
		})
	}
}

// TestUrootWriter reads an archive written by u-root's own writer.
func TestUrootWriter(t *testing.T) {
	var b bytes.Buffer
	w := cpio.Newc.Writer(&b)
	recs := []cpio.Record{
		cpio.Directory("etc", 0o755),
		cpio.StaticFile("etc/motd", "hi\n", 0o644),
		cpio.Symlink("motd", "etc/motd"),
		cpio.CharDev("null", 0o666, 1, 3),
	}
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		t.Fatal(err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatal(err)
	}
	root, err := New(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got, err := vfstest.Dump(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/ 040777 nlink=3",
		"/etc/ 040755 nlink=2",
		`/etc/motd 0100644 nlink=1 size=3 "hi\n"`,
		"/motd 0120777 -> etc/motd",
		"/null 020666 rdev=0x103",
	}
	if d := vfstest.Diff(want, got); d != "" {
		t.Errorf("tree mismatch (-want +got):\n%s", d)
	}
}

func TestErrors(t *testing.T) {
	good := newc(file("a", "abc"))
	tests := []struct {
		name    string
		archive []byte
		want    string // substring of the error
	}{
		{"nil", nil, "ends without a TRAILER!!! record"},
		{"no trailer", raw(file("a", "abc")), "offset 116: archive ends without a TRAILER!!! record"},
		{"truncated header", good[:len(good)-120], "offset 116: truncated header (4 of 110 bytes)"},
		{"truncated trailer name", good[:len(good)-10], "offset 116: name runs past the end"},
		{"truncated data", raw(file("a", "abc"))[:113], "data of 3 bytes runs past the end"},
		{"bad magic", append([]byte("070707"), good[6:]...), `bad magic "070707"`},
		{"crc format", append([]byte("070702"), good[6:]...), "070702) is not supported"},
		{"gzip", []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + strings.Repeat("\x00", 120)), "bad magic"},
		{"not hex", patch(good, 6+11*8, "0000000G"), "not hexadecimal"},
		{"not hex elsewhere", patch(good, 6, "ZZZZZZZZ"), "decoding hex"},
		{"name size zero", patch(good, 6+11*8, "00000000"), "empty name"},
		{"name too long", patch(good, 6+11*8, "00001001"), "name of 4097 bytes"},
		{"name past end", patch(good, 6+11*8, "00000FFF"), "name runs past the end"},
		{"name size huge", patch(good, 6+11*8, "FFFFFFFF"), "name of 4294967295 bytes"},
		{"file size huge", patch(good, 6+6*8, "FFFFFFFF"), "data of 4294967295 bytes runs past the end"},
		{"name not terminated", patch(good, 6+11*8, "00000001"), "not NUL-terminated"},
		{"NUL in name", newc(file("a\x00b", "")), "contains a NUL byte"},
		{"escapes root", newc(file("../etc/passwd", "x")), "leaves the archive root"},
		{"escapes root 2", newc(file("..", "x")), "leaves the archive root"},
		{"parent is a file", newc(file("a", "x"), file("a/b", "y")), `parent "a" is not a directory`},
		{"empty symlink", newc(link("l", "")), "empty target"},
		{"NUL in symlink", newc(link("l", "a\x00")), "target contains a NUL"},
		{"unknown type", newc(R{Name: "x", Mode: 0o644}), "unknown file type"},
		{"whiteout type", newc(R{Name: "x", Mode: 0o160644}), "unknown file type"},
		{"dir with data", newc(R{Name: "d", Mode: 0o40755, Data: "x"}), "has 1 bytes of data"},
		{"root not a dir", newc(file(".", "x")), "root must be a directory"},
		{"long component", newc(file(strings.Repeat("n", 256), "")), "longer than 255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, err := New(tt.archive)
			if err == nil {
				d, _ := vfstest.Dump(root)
				t.Fatalf("New succeeded, want error %q; tree:\n%s", tt.want, strings.Join(d, "\n"))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %q, want it to contain %q", err, tt.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FormatError", err)
			}
			if got := vfs.Errno(err); got != syscall.EINVAL {
				t.Errorf("Errno = %v, want EINVAL", got)
			}
		})
	}
}

// patch returns a copy of b with s written at off.
func patch(b []byte, off int, s string) []byte {
	c := bytes.Clone(b)
	copy(c[off:], s)
	return c
}

func TestZeroCopyAndReadAt(t *testing.T) {
	archive := newc(dir("d"), file("d/f", "hello, world"), link("l", "d/f"))
	root, err := New(archive)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := root.Lookup("d")
	f, err := d.Lookup("f")
	if err != nil {
		t.Fatal(err)
	}
	data := f.(interface{ Bytes() []byte }).Bytes()
	if string(data) != "hello, world" {
		t.Fatalf("Bytes = %q", data)
	}
	start := uintptr(unsafe.Pointer(&archive[0]))
	p := uintptr(unsafe.Pointer(&data[0]))
	if p < start || p+uintptr(len(data)) > start+uintptr(len(archive)) {
		t.Errorf("file data is not a slice of the archive")
	}
	if cap(data) != len(data) {
		t.Errorf("cap(Bytes()) = %d, want %d (appends must not write into the archive)", cap(data), len(data))
	}

	type read struct {
		n    int
		off  int64
		want string
		err  error
	}
	for _, r := range []read{
		{5, 0, "hello", nil},
		{5, 7, "world", nil},
		{10, 7, "world", io.EOF},
		{1, 12, "", io.EOF},
		{1, 100, "", io.EOF},
		{1, -1, "", syscall.EINVAL},
		{0, 3, "", nil},
	} {
		buf := make([]byte, r.n)
		k, err := f.ReadAt(buf, r.off)
		if string(buf[:k]) != r.want || err != r.err {
			t.Errorf("ReadAt(%d bytes, %d) = %q, %v; want %q, %v", r.n, r.off, buf[:k], err, r.want, r.err)
		}
	}

	l, _ := root.Lookup("l")
	for _, c := range []struct {
		name string
		got  error
		want error
	}{
		{"ReadAt dir", second(d.ReadAt(make([]byte, 1), 0)), syscall.EISDIR},
		{"ReadAt link", second(l.ReadAt(make([]byte, 1), 0)), syscall.EINVAL},
		{"Readdir file", second(f.Readdir()), syscall.ENOTDIR},
		{"Lookup file", second(f.Lookup("x")), syscall.ENOTDIR},
		{"Lookup missing", second(d.Lookup("x")), syscall.ENOENT},
		{"Readlink file", second(f.Readlink()), syscall.EINVAL},
		{"Readlink dir", second(d.Readlink()), syscall.EINVAL},
		{"Readlink link", second(l.Readlink()), nil},
	} {
		if c.got != c.want {
			t.Errorf("%s: error %v, want %v", c.name, c.got, c.want)
		}
	}
	if _, ok := f.(vfs.Writer); ok {
		t.Errorf("bootfs file implements vfs.Writer")
	}
	if _, ok := root.(vfs.DirWriter); ok {
		t.Errorf("bootfs directory implements vfs.DirWriter")
	}
}

func second[T any](_ T, err error) error { return err }

func TestStatAndReaddir(t *testing.T) {
	archive := newc(
		R{Name: "c", Mode: 0o100600, Data: "cc", MTime: 1700000000},
		R{Name: "a", Mode: 0o40750, MTime: 1600000000},
		link("b", "c"),
		R{Name: "a/z", Mode: 0o100644},
	)
	root, err := New(archive)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := root.Readdir()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, fmt.Sprintf("%s ino=%d type=%d off=%d", e.Name, e.Ino, e.Type, e.Off))
	}
	// Inodes in archive order: root 1, c 2, a 3, b 4, a/z 5.
	want := []string{
		"a ino=3 type=4 off=1",
		"b ino=4 type=10 off=2",
		"c ino=2 type=8 off=3",
	}
	if d := vfstest.Diff(want, got); d != "" {
		t.Errorf("Readdir mismatch (-want +got):\n%s", d)
	}

	// Stable: the same archive gives the same inode numbers.
	root2, _ := New(archive)
	ents2, _ := root2.Readdir()
	for i := range ents {
		if ents[i] != ents2[i] {
			t.Errorf("second read: entry %d = %+v, want %+v", i, ents2[i], ents[i])
		}
	}

	c, _ := root.Lookup("c")
	st, _ := c.Stat()
	if st.Mode != 0o100600 || st.Size != 2 || st.Ino != 2 || st.Nlink != 1 || st.Mtime.Unix() != 1700000000 {
		t.Errorf("Stat(c) = %+v", st)
	}
	b, _ := root.Lookup("b")
	st, _ = b.Stat()
	if st.Mode != 0o120777 || st.Size != 1 {
		t.Errorf("Stat(b) = %+v", st)
	}
	st, _ = root.Stat()
	if st.Ino != 1 || st.Nlink != 3 || !st.IsDir() {
		t.Errorf("Stat(/) = %+v", st)
	}
}

// TestMountedResolve uses bootfs under vfs.FS.
func TestMountedResolve(t *testing.T) {
	root, err := New(newc(file("usr/lib/libc.so.6", "libc"), link("lib", "usr/lib"), link("usr/lib/libc.so", "libc.so.6")))
	if err != nil {
		t.Fatal(err)
	}
	var fsys vfs.FS
	if err := fsys.Mount("/", root); err != nil {
		t.Fatal(err)
	}
	n, p, err := fsys.ResolvePath("/", "/lib/libc.so", true)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := n.ReadAt(buf, 0); err != nil || string(buf) != "libc" || p != "/usr/lib/libc.so.6" {
		t.Errorf("read %q at %q, %v", buf, p, err)
	}
	if _, err := fsys.Mkdir("/", "/new", 0o755); vfs.Errno(err) != syscall.EROFS {
		t.Errorf("Mkdir on bootfs: %v, want EROFS", err)
	}
	if _, err := fsys.Mkdir("/", "/usr", 0o755); vfs.Errno(err) != syscall.EEXIST {
		t.Errorf("Mkdir of an existing name on bootfs: %v, want EEXIST", err)
	}
	if err := fsys.Unlink("/", "/lib"); vfs.Errno(err) != syscall.EROFS {
		t.Errorf("Unlink on bootfs: %v, want EROFS", err)
	}
}
