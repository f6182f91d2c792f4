package ramfs

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gosv/vfs"
	"gosv/vfs/vfstest"
)

// walk finds the node at p (slash-separated, relative to root).
func walk(root vfs.Node, p string) (vfs.Node, error) {
	n := root
	for _, c := range strings.Split(strings.Trim(p, "/"), "/") {
		if c == "" {
			continue
		}
		var err error
		if n, err = n.Lookup(c); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// parent returns the directory of p and its last component.
func parent(root vfs.Node, p string) (vfs.DirWriter, string, error) {
	d, err := walk(root, path.Dir(p))
	if err != nil {
		return nil, "", err
	}
	return d.(vfs.DirWriter), path.Base(p), nil
}

// run executes one step of a script: "op args...".
func run(root vfs.Node, step string) error {
	f := strings.Fields(step)
	arg := func(i int) string {
		if i < len(f) {
			return strings.ReplaceAll(f[i], "_", " ")
		}
		return ""
	}
	switch f[0] {
	case "mkdir", "create", "unlink", "rmdir", "symlink":
		d, name, err := parent(root, arg(1))
		if err != nil {
			return err
		}
		switch f[0] {
		case "mkdir":
			_, err = d.Mkdir(name, 0o755)
		case "create":
			_, err = d.Create(name, 0o644)
		case "unlink":
			err = d.Unlink(name)
		case "rmdir":
			err = d.Rmdir(name)
		case "symlink":
			_, err = d.Symlink(name, arg(2))
		}
		return err
	case "write", "trunc":
		n, err := walk(root, arg(1))
		if err != nil {
			return err
		}
		off, _ := strconv.ParseInt(arg(2), 10, 64)
		if f[0] == "trunc" {
			return n.(vfs.Truncater).Truncate(off)
		}
		k, err := n.(vfs.Writer).WriteAt([]byte(arg(3)), off)
		if err == nil && k != len(arg(3)) {
			err = fmt.Errorf("short write %d", k)
		}
		return err
	case "rename", "link":
		od, oname, err := parent(root, arg(1))
		if err != nil {
			return err
		}
		nd, err := walk(root, path.Dir(arg(2)))
		if err != nil {
			return err
		}
		if f[0] == "rename" {
			return od.Rename(oname, nd, path.Base(arg(2)))
		}
		target, err := walk(root, arg(1))
		if err != nil {
			return err
		}
		return nd.(vfs.Linker).Link(path.Base(arg(2)), target)
	}
	return fmt.Errorf("bad step %q", step)
}

// S is a script step and the errno it must give (0: success).
type S struct {
	step string
	want syscall.Errno
}

func TestScripts(t *testing.T) {
	tests := []struct {
		name  string
		steps []S
		want  []string
	}{
		{
			name: "create write mkdir symlink",
			steps: []S{
				{"mkdir /etc", 0}, {"create /etc/hosts", 0}, {"write /etc/hosts 0 127.0.0.1_localhost", 0},
				{"write /etc/hosts 10 _LOCAL", 0}, {"symlink /hosts etc/hosts", 0}, {"mkdir /etc/x", 0},
			},
			want: []string{
				"/ 041777 nlink=3",
				"/etc/ 040755 nlink=3",
				`/etc/hosts 0100644 nlink=1 size=19 "127.0.0.1  LOCALost"`,
				"/etc/x/ 040755 nlink=2",
				"/hosts 0120777 -> etc/hosts",
			},
		},
		{
			name: "name errors",
			steps: []S{
				{"mkdir /a", 0}, {"mkdir /a", syscall.EEXIST}, {"create /a", syscall.EEXIST},
				{"symlink /a x", syscall.EEXIST}, {"create /" + strings.Repeat("n", 256), syscall.ENAMETOOLONG},
				{"create /" + strings.Repeat("n", 255), 0}, {"mkdir /a/b/c", syscall.ENOENT},
				{"symlink /l", syscall.ENOENT}, {"create /" + strings.Repeat("n", 255) + "/x", syscall.ENOTDIR},
				{"unlink /..", syscall.ENOENT}, {"rmdir /a/.", syscall.ENOENT}, // "." and ".." are the FS layer's business
			},
			want: []string{
				"/ 041777 nlink=3",
				"/a/ 040755 nlink=2",
				"/" + strings.Repeat("n", 255) + ` 0100644 nlink=1 size=0 ""`,
			},
		},
		{
			name: "unlink and rmdir",
			steps: []S{
				{"mkdir /d", 0}, {"create /d/f", 0}, {"mkdir /d/e", 0},
				{"unlink /d", syscall.EISDIR}, {"rmdir /d", syscall.ENOTEMPTY}, {"rmdir /d/f", syscall.ENOTDIR},
				{"unlink /d/missing", syscall.ENOENT}, {"rmdir /d/missing", syscall.ENOENT},
				{"unlink /d/f", 0}, {"rmdir /d/e", 0}, {"rmdir /d", 0}, {"create /d/g", syscall.ENOENT},
				{"mkdir /k", 0}, {"create /k/f", 0},
			},
			want: []string{
				"/ 041777 nlink=3",
				"/k/ 040755 nlink=2",
				`/k/f 0100644 nlink=1 size=0 ""`,
			},
		},
		{
			name: "rename",
			steps: []S{
				{"mkdir /a", 0}, {"mkdir /b", 0}, {"create /a/f", 0}, {"write /a/f 0 F", 0},
				{"create /b/g", 0}, {"write /b/g 0 G", 0}, {"mkdir /a/sub", 0}, {"create /a/sub/x", 0},
				{"mkdir /empty", 0},
				{"rename /a/f /b/g", 0},                        // file over file
				{"rename /a/missing /b/x", syscall.ENOENT},     // no source
				{"rename /b/g /a", syscall.EISDIR},             // file over directory
				{"rename /a /b/g", syscall.ENOTDIR},            // directory over file
				{"rename /a /a/sub/deeper", syscall.EINVAL},    // into itself
				{"rename /a /a/sub", syscall.EINVAL},           // onto its child
				{"rename /empty /a", syscall.ENOTEMPTY},        // over a non-empty directory
				{"rename /a/sub /empty", 0},                    // directory over an empty directory
				{"rename /b/g /b/g", 0},                        // itself
				{"link /b/g /b/h", 0}, {"rename /b/g /b/h", 0}, // two names of one file: no-op
				{"rename /b /x/y", syscall.ENOENT}, // missing target directory
			},
			want: []string{
				"/ 041777 nlink=5",
				"/a/ 040755 nlink=2",
				"/b/ 040755 nlink=2",
				`/b/g 0100644 nlink=2 size=1 "F"`,
				`/b/h 0100644 nlink=2 size=1 "F"`,
				"/empty/ 040755 nlink=2",
				`/empty/x 0100644 nlink=1 size=0 ""`,
			},
		},
		{
			name: "hard links",
			steps: []S{
				{"create /f", 0}, {"write /f 0 data", 0}, {"link /f /g", 0}, {"link /f /g", syscall.EEXIST},
				{"mkdir /d", 0}, {"link /d /e", syscall.EPERM}, {"link /f /d/f", 0}, {"unlink /g", 0},
			},
			want: []string{
				"/ 041777 nlink=3",
				`/f 0100644 nlink=2 size=4 "data"`,
				"/d/ 040755 nlink=2",
				`/d/f 0100644 nlink=2 size=4 "data"`,
			},
		},
		{
			name: "writes, holes and truncation",
			steps: []S{
				{"create /f", 0}, {"write /f 3 abc", 0}, {"write /f -1 x", syscall.EINVAL},
				{"trunc /f 5", 0}, {"trunc /f 8", 0}, {"trunc /f -1", syscall.EINVAL},
				{"mkdir /d", 0}, {"write /d 0 x", syscall.EISDIR}, {"trunc /d 0", syscall.EISDIR},
				{"symlink /l f", 0}, {"write /l 0 x", syscall.EINVAL},
			},
			want: []string{
				"/ 041777 nlink=3",
				`/f 0100644 nlink=1 size=8 "\x00\x00\x00ab\x00\x00\x00"`,
				"/d/ 040755 nlink=2",
				"/l 0120777 -> f",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := New()
			for _, s := range tt.steps {
				err := run(root, s.step)
				if got := vfs.Errno(err); got != s.want {
					t.Errorf("%s: error %v (errno %d), want errno %d (%v)", s.step, err, got, s.want, s.want)
				}
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

func TestHoles(t *testing.T) {
	root := NewWith(Options{MaxBytes: 4 * pageSize})
	n, _ := root.(vfs.DirWriter).Create("f", 0o600)
	w := n.(vfs.Writer)
	// A write far away allocates one page, not the hole.
	if _, err := w.WriteAt([]byte("end"), 1<<40); err != nil {
		t.Fatalf("WriteAt(1<<40): %v", err)
	}
	// A write across a page boundary.
	if _, err := w.WriteAt([]byte("xyz"), pageSize-1); err != nil {
		t.Fatal(err)
	}
	st, _ := n.Stat()
	if st.Size != 1<<40+3 {
		t.Errorf("size %d, want %d", st.Size, 1<<40+3)
	}
	for _, c := range []struct {
		off  int64
		n    int
		want string
		err  error
	}{
		{0, 4, "\x00\x00\x00\x00", nil},
		{pageSize - 2, 5, "\x00xyz\x00", nil},
		{1<<40 - 1, 4, "\x00end", nil},
		{1<<40 + 1, 4, "nd", io.EOF},
		{1 << 41, 1, "", io.EOF},
	} {
		buf := make([]byte, c.n)
		k, err := n.ReadAt(buf, c.off)
		if string(buf[:k]) != c.want || err != c.err {
			t.Errorf("ReadAt(%d, %d) = %q, %v; want %q, %v", c.off, c.n, buf[:k], err, c.want, c.err)
		}
	}
	// 3 pages used of 4: a write needing 2 new pages stops after one.
	k, err := w.WriteAt(make([]byte, 2*pageSize), 10*pageSize)
	if k != pageSize || err != syscall.ENOSPC {
		t.Errorf("WriteAt past the limit = %d, %v; want %d, ENOSPC", k, err, pageSize)
	}
	// Truncation frees pages and zeroes the tail, so regrowth reads zeros.
	tr := n.(vfs.Truncater)
	if err := tr.Truncate(pageSize); err != nil {
		t.Fatal(err)
	}
	if err := tr.Truncate(pageSize + 2); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if k, _ := n.ReadAt(buf, pageSize-2); string(buf[:k]) != "\x00x\x00\x00" {
		t.Errorf("after truncate and regrow: %q", buf[:k])
	}
	if _, err := w.WriteAt(make([]byte, 3*pageSize), pageSize); err != nil {
		t.Errorf("after truncation the space is free again: %v", err)
	}
	// Unlinking the last name releases the space; the open file still works.
	if err := root.(vfs.DirWriter).Unlink("f"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte("still"), 0); err != nil {
		t.Errorf("write to an unlinked file: %v", err)
	}
	g, _ := root.(vfs.DirWriter).Create("g", 0o600)
	if _, err := g.(vfs.Writer).WriteAt(make([]byte, 4*pageSize), 0); err != nil {
		t.Errorf("space of an unlinked file not released: %v", err)
	}
	if err := root.(vfs.Linker).Link("f2", n); err != syscall.ENOENT {
		t.Errorf("Link to an unlinked file: %v, want ENOENT", err)
	}
}

func TestReaddirCookies(t *testing.T) {
	root := New()
	d := root.(vfs.DirWriter)
	for _, name := range []string{"c", "a", "b", "d"} {
		if _, err := d.Create(name, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list := func() []string {
		ents, err := root.Readdir()
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, e := range ents {
			s = append(s, fmt.Sprintf("%s@%d", e.Name, e.Off))
		}
		return s
	}
	if d := vfstest.Diff([]string{"c@1", "a@2", "b@3", "d@4"}, list()); d != "" {
		t.Errorf("Readdir (-want +got):\n%s", d)
	}
	// Removing and adding keeps the others' cookies: a reader that saw
	// "a@2" resumes after 2 and still finds b and d.
	_ = d.Unlink("c")
	_ = d.Unlink("a")
	_, _ = d.Mkdir("e", 0o755)
	if d := vfstest.Diff([]string{"b@3", "d@4", "e@5"}, list()); d != "" {
		t.Errorf("Readdir after changes (-want +got):\n%s", d)
	}
}

func TestTimes(t *testing.T) {
	now := time.Unix(1000, 0)
	root := NewWith(Options{Now: func() time.Time { return now }})
	d := root.(vfs.DirWriter)
	f, _ := d.Create("f", 0o644)
	check := func(what string, n vfs.Node, mtime, ctime int64) {
		t.Helper()
		st, _ := n.Stat()
		if st.Mtime.Unix() != mtime || st.Ctime.Unix() != ctime {
			t.Errorf("%s: mtime %d ctime %d, want %d %d", what, st.Mtime.Unix(), st.Ctime.Unix(), mtime, ctime)
		}
	}
	check("new file", f, 1000, 1000)
	check("dir after create", root, 1000, 1000)
	now = time.Unix(2000, 0)
	_, _ = f.(vfs.Writer).WriteAt([]byte("x"), 0)
	check("file after write", f, 2000, 2000)
	check("dir after file write", root, 1000, 1000)
	now = time.Unix(3000, 0)
	_ = root.(vfs.Linker).Link("g", f)
	check("file after link", f, 2000, 3000)
	check("dir after link", root, 3000, 3000)
	now = time.Unix(4000, 0)
	_ = f.(vfs.Truncater).Truncate(0)
	check("file after truncate", f, 4000, 4000)
}

func TestStat(t *testing.T) {
	root := New()
	d := root.(vfs.DirWriter)
	a, _ := d.Create("a", 0o4755|vfs.S_IFDIR) // type bits are ignored
	b, _ := d.Mkdir("b", 0o700)
	c, _ := d.Symlink("c", "target")
	var inos []uint64
	for _, c := range []struct {
		n    vfs.Node
		mode uint32
		size int64
	}{{root, 0o41777, pageSize}, {a, 0o104755, 0}, {b, 0o40700, pageSize}, {c, 0o120777, 6}} {
		st, err := c.n.Stat()
		if err != nil || st.Mode != c.mode || st.Size != c.size {
			t.Errorf("Stat = %+v, %v; want mode %#o size %d", st, err, c.mode, c.size)
		}
		inos = append(inos, st.Ino)
	}
	if fmt.Sprint(inos) != "[1 2 3 4]" {
		t.Errorf("inodes %v, want [1 2 3 4]", inos)
	}
	for _, c := range []struct {
		name string
		got  error
		want error
	}{
		{"ReadAt dir", second(root.ReadAt(make([]byte, 1), 0)), syscall.EISDIR},
		{"ReadAt link", second(c.ReadAt(make([]byte, 1), 0)), syscall.EINVAL},
		{"ReadAt negative", second(a.ReadAt(make([]byte, 1), -1)), syscall.EINVAL},
		{"Readdir file", second(a.Readdir()), syscall.ENOTDIR},
		{"Lookup file", second(a.Lookup("x")), syscall.ENOTDIR},
		{"Readlink file", second(a.Readlink()), syscall.EINVAL},
		{"Create in file", second(a.(vfs.DirWriter).Create("x", 0)), syscall.ENOTDIR},
		{"Rename to other fs", d.Rename("a", New(), "a"), syscall.EXDEV},
		{"Link from other fs", root.(vfs.Linker).Link("z", New()), syscall.EXDEV},
		{"Rename into file", d.Rename("b", a, "x"), syscall.ENOTDIR},
		{"Rename to bad name", d.Rename("a", root, ".."), syscall.EINVAL},
	} {
		if c.got != c.want {
			t.Errorf("%s: error %v, want %v", c.name, c.got, c.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestConcurrent hammers one file system from many goroutines; run with
// -race.
func TestConcurrent(t *testing.T) {
	root := New()
	d := root.(vfs.DirWriter)
	shared, _ := d.Create("shared", 0o644)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirName := fmt.Sprintf("d%d", g)
			sub, err := d.Mkdir(dirName, 0o755)
			if err != nil {
				t.Error(err)
				return
			}
			sd := sub.(vfs.DirWriter)
			for i := range 200 {
				name := fmt.Sprintf("f%d", i)
				f, err := sd.Create(name, 0o644)
				if err != nil {
					t.Error(err)
					return
				}
				msg := []byte(fmt.Sprintf("%d/%d", g, i))
				_, _ = f.(vfs.Writer).WriteAt(msg, 0)
				_, _ = shared.(vfs.Writer).WriteAt(msg, int64(g*16))
				buf := make([]byte, len(msg))
				if _, err := f.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, msg) {
					t.Errorf("read back %q, %v", buf, err)
				}
				_, _ = root.Readdir()
				if i%2 == 0 {
					_ = sd.Rename(name, root, fmt.Sprintf("moved-%d-%d", g, i))
				} else {
					_ = sd.Unlink(name)
				}
			}
			_ = d.Rmdir(dirName)
		}()
	}
	wg.Wait()
	ents, _ := root.Readdir()
	if len(ents) != 1+8*100 {
		t.Errorf("%d entries, want %d", len(ents), 1+8*100)
	}
	st, _ := root.Stat()
	if st.Nlink != 2 {
		t.Errorf("root nlink %d, want 2", st.Nlink)
	}
}

func TestChangeAttr(t *testing.T) {
	now := time.Unix(1000, 0)
	root := NewWith(Options{Now: func() time.Time { return now }})
	d := root.(vfs.DirWriter)
	f, _ := d.Create("f", 0o6755)
	dir, _ := d.Mkdir("d", 0o2755)
	link, _ := d.Symlink("l", "f")
	u32 := func(v uint32) *uint32 { return &v }
	at := func(sec int64) *time.Time { t := time.Unix(sec, 5); return &t }
	type want struct {
		mode, uid, gid      uint32
		atime, mtime, ctime int64
	}
	for _, c := range []struct {
		name   string
		n      vfs.Node
		change vfs.AttrChange
		want   want
	}{
		{"chmod keeps the type", f, vfs.AttrChange{Mode: u32(vfs.S_IFDIR | 0o4711)}, want{vfs.S_IFREG | 0o4711, 0, 0, 1000, 1000, 2000}},
		{"chown clears set-user-ID", f, vfs.AttrChange{UID: u32(7)}, want{vfs.S_IFREG | 0o711, 7, 0, 1000, 1000, 2000}},
		{"chown of group only", f, vfs.AttrChange{GID: u32(8)}, want{vfs.S_IFREG | 0o711, 7, 8, 1000, 1000, 2000}},
		{"times", f, vfs.AttrChange{Atime: at(10), Mtime: at(20)}, want{vfs.S_IFREG | 0o711, 7, 8, 10, 20, 2000}},
		{"mtime only", f, vfs.AttrChange{Mtime: at(30)}, want{vfs.S_IFREG | 0o711, 7, 8, 10, 30, 2000}},
		{"directory keeps set-group-ID", dir, vfs.AttrChange{UID: u32(1), GID: u32(2)}, want{vfs.S_IFDIR | 0o2755, 1, 2, 1000, 1000, 2000}},
		{"symbolic link", link, vfs.AttrChange{UID: u32(3)}, want{vfs.S_IFLNK | 0o777, 3, 0, 1000, 1000, 2000}},
	} {
		t.Run(c.name, func(t *testing.T) {
			now = time.Unix(2000, 0)
			if err := c.n.(vfs.AttrChanger).ChangeAttr(c.change); err != nil {
				t.Fatal(err)
			}
			st, _ := c.n.Stat()
			got := want{st.Mode, st.UID, st.GID, st.Atime.Unix(), st.Mtime.Unix(), st.Ctime.Unix()}
			if got != c.want {
				t.Errorf("(-want +got):\n- %+v\n+ %+v", c.want, got)
			}
		})
	}
	// Set-group-ID goes with chown only if the group may execute.
	g, _ := d.Create("g", 0o2745)
	_ = g.(vfs.AttrChanger).ChangeAttr(vfs.AttrChange{UID: u32(1)})
	if st, _ := g.Stat(); st.Mode != vfs.S_IFREG|0o2745 {
		t.Errorf("mode after chown %#o, want %#o", st.Mode, vfs.S_IFREG|0o2745)
	}
}

func TestMknod(t *testing.T) {
	root := New()
	d := root.(vfs.Mknoder)
	fifo, err := d.Mknod("p", vfs.S_IFIFO|0o640)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := fifo.Stat()
	if st.Mode != vfs.S_IFIFO|0o640 || st.Nlink != 1 {
		t.Errorf("FIFO stat %+v, want mode %#o nlink 1", st, vfs.S_IFIFO|0o640)
	}
	if ents, _ := root.Readdir(); len(ents) != 1 || ents[0].Type != vfs.DT_FIFO {
		t.Errorf("Readdir = %+v, want one DT_FIFO entry", ents)
	}
	for _, c := range []struct {
		name string
		got  error
		want error
	}{
		{"read a FIFO node", second(fifo.ReadAt(make([]byte, 1), 0)), syscall.EINVAL},
		{"existing name", second(d.Mknod("p", vfs.S_IFIFO)), syscall.EEXIST},
		{"device", second(d.Mknod("c", vfs.S_IFCHR)), syscall.EPERM},
		{"directory", second(d.Mknod("d", vfs.S_IFDIR)), syscall.EPERM},
		{"regular", second(d.Mknod("r", vfs.S_IFREG|0o600)), nil},
		{"socket", second(d.Mknod("s", vfs.S_IFSOCK|0o600)), nil},
		{"unlink FIFO", root.(vfs.DirWriter).Unlink("p"), nil},
	} {
		if c.got != c.want {
			t.Errorf("%s: error %v, want %v", c.name, c.got, c.want)
		}
	}
}
