package devfs_test

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"gosv/vfs"
	"gosv/vfs/devfs"
	"gosv/vfs/vfstest"
)

// emptyDir is a root directory with nothing in it, to mount on.
type emptyDir struct{}

func (emptyDir) Stat() (vfs.Stat, error) {
	return vfs.Stat{Mode: vfs.S_IFDIR | 0o755, Ino: 1, Nlink: 2}, nil
}
func (emptyDir) ReadAt(p []byte, off int64) (int, error) { return 0, syscall.EISDIR }
func (emptyDir) Readdir() ([]vfs.Dirent, error)          { return nil, nil }
func (emptyDir) Lookup(name string) (vfs.Node, error)    { return nil, syscall.ENOENT }
func (emptyDir) Readlink() (string, error)               { return "", syscall.EINVAL }

func mount(t *testing.T, o devfs.Options) *vfs.FS {
	t.Helper()
	fs := &vfs.FS{}
	if err := fs.Mount("/", emptyDir{}); err != nil {
		t.Fatal(err)
	}
	if err := fs.Mount("/dev", devfs.NewWith(o)); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestTree(t *testing.T) {
	got, err := vfstest.Dump(devfs.New())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/ 040755 nlink=3",
		"/console 020600 rdev=0x501",
		"/fd 0120777 -> /proc/self/fd",
		"/full 020666 rdev=0x107",
		"/null 020666 rdev=0x103",
		"/random 020666 rdev=0x108",
		"/shm/ 041777 nlink=2",
		"/stderr 0120777 -> /proc/self/fd/2",
		"/stdin 0120777 -> /proc/self/fd/0",
		"/stdout 0120777 -> /proc/self/fd/1",
		"/tty 020666 rdev=0x500",
		"/urandom 020666 rdev=0x109",
		"/zero 020666 rdev=0x105",
	}
	if d := vfstest.Diff(want, got); d != "" {
		t.Errorf("tree (-want +got):\n%s", d)
	}
}

func TestReaddir(t *testing.T) {
	ents, err := devfs.New().Readdir()
	if err != nil {
		t.Fatal(err)
	}
	inos := map[uint64]bool{1: true} // the root
	for i, e := range ents {
		if e.Off != int64(i+1) {
			t.Errorf("%s: Off %d, want %d", e.Name, e.Off, i+1)
		}
		if inos[e.Ino] {
			t.Errorf("%s: inode %d used twice", e.Name, e.Ino)
		}
		inos[e.Ino] = true
	}
	if st, _ := devfs.New().Stat(); st.Ino != 1 {
		t.Errorf("root inode %d, want 1", st.Ino)
	}
}

func TestDevices(t *testing.T) {
	var console bytes.Buffer
	fs := mount(t, devfs.Options{Console: &console})
	node := func(p string) vfs.Node {
		t.Helper()
		n, err := fs.Resolve("/", p, true)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	type result struct {
		n   int
		err error
	}
	read := func(p string, size int, off int64) ([]byte, result) {
		buf := bytes.Repeat([]byte{0xaa}, size)
		n, err := node(p).ReadAt(buf, off)
		return buf[:n], result{n, err}
	}
	write := func(p, data string, off int64) result {
		w, ok := node(p).(vfs.Writer)
		if !ok {
			t.Fatalf("%s is not a vfs.Writer", p)
		}
		n, err := w.WriteAt([]byte(data), off)
		return result{n, err}
	}
	zeros := make([]byte, 100)
	for _, tc := range []struct {
		path      string
		readData  []byte // nil: random
		read      result
		write     result
		toConsole string
	}{
		{"/dev/null", []byte{}, result{0, io.EOF}, result{5, nil}, ""},
		{"/dev/zero", zeros, result{100, nil}, result{5, nil}, ""},
		{"/dev/full", zeros, result{100, nil}, result{0, syscall.ENOSPC}, ""},
		{"/dev/random", nil, result{100, nil}, result{5, nil}, ""},
		{"/dev/urandom", nil, result{100, nil}, result{5, nil}, ""},
		{"/dev/tty", []byte{}, result{0, io.EOF}, result{5, nil}, "hello"},
		{"/dev/console", []byte{}, result{0, io.EOF}, result{5, nil}, "hello"},
	} {
		for _, off := range []int64{0, 12345, -1} { // offsets do not matter
			data, r := read(tc.path, 100, off)
			if r != tc.read {
				t.Errorf("%s: ReadAt(100 bytes, %d) = %v, want %v", tc.path, off, r, tc.read)
			}
			switch {
			case tc.readData == nil:
				if bytes.Equal(data, zeros) || bytes.Count(data, []byte{0xaa}) == len(data) {
					t.Errorf("%s: read %x, which does not look random", tc.path, data)
				}
			case !bytes.Equal(data, tc.readData):
				t.Errorf("%s: read %x, want %x", tc.path, data, tc.readData)
			}
			console.Reset()
			if r := write(tc.path, "hello", off); r != tc.write {
				t.Errorf("%s: WriteAt(hello, %d) = %v, want %v", tc.path, off, r, tc.write)
			}
			if console.String() != tc.toConsole {
				t.Errorf("%s: console got %q, want %q", tc.path, console.String(), tc.toConsole)
			}
		}
	}
	// Two random reads differ.
	a, _ := read("/dev/urandom", 32, 0)
	b, _ := read("/dev/urandom", 32, 0)
	if bytes.Equal(a, b) {
		t.Errorf("two reads of /dev/urandom gave the same %x", a)
	}
}

// A devfs without a console discards tty writes.
func TestNoConsole(t *testing.T) {
	n, err := devfs.New().Lookup("console")
	if err != nil {
		t.Fatal(err)
	}
	if k, err := n.(vfs.Writer).WriteAt([]byte("x"), 0); k != 1 || err != nil {
		t.Errorf("WriteAt = %d, %v; want 1, nil", k, err)
	}
}

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, syscall.EIO }

func TestConsoleError(t *testing.T) {
	n, _ := devfs.NewWith(devfs.Options{Console: failWriter{}}).Lookup("tty")
	if k, err := n.(vfs.Writer).WriteAt([]byte("x"), 0); k != 0 || err != syscall.EIO {
		t.Errorf("WriteAt = %d, %v; want 0, EIO", k, err)
	}
}

func TestOptionsNow(t *testing.T) {
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	root := devfs.NewWith(devfs.Options{Now: func() time.Time { return when }})
	n, _ := root.Lookup("null")
	for _, x := range []vfs.Node{root, n} {
		st, _ := x.Stat()
		if !st.Mtime.Equal(when) || !st.Atime.Equal(when) || !st.Ctime.Equal(when) {
			t.Errorf("times %v %v %v, want %v", st.Atime, st.Mtime, st.Ctime, when)
		}
	}
}

// Only devices are writable.
func TestWriters(t *testing.T) {
	root := devfs.New()
	ents, _ := root.Readdir()
	if _, ok := root.(vfs.Writer); ok {
		t.Error("the root is a vfs.Writer")
	}
	if _, ok := root.(vfs.DirWriter); ok {
		t.Error("the root is a vfs.DirWriter")
	}
	for _, e := range ents {
		n, _ := root.Lookup(e.Name)
		_, ok := n.(vfs.Writer)
		if want := e.Type == vfs.DT_CHR; ok != want {
			t.Errorf("%s: vfs.Writer %v, want %v", e.Name, ok, want)
		}
		if _, ok := n.(vfs.Truncater); ok {
			t.Errorf("%s is a vfs.Truncater", e.Name)
		}
	}
}

func TestErrors(t *testing.T) {
	fs := mount(t, devfs.Options{})
	root, err := fs.Resolve("/", "/dev", true)
	if err != nil {
		t.Fatal(err)
	}
	null, _ := root.Lookup("null")
	fd, _ := root.Lookup("fd")
	shm, _ := root.Lookup("shm")
	check := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", what, err, want)
		}
	}
	_, err = root.Lookup("nope")
	check("Lookup(nope)", err, syscall.ENOENT)
	_, err = shm.Lookup("x")
	check("shm Lookup(x)", err, syscall.ENOENT)
	_, err = null.Lookup("x")
	check("null Lookup", err, syscall.ENOTDIR)
	_, err = fd.Lookup("x")
	check("fd Lookup", err, syscall.ENOTDIR)
	_, err = null.Readdir()
	check("null Readdir", err, syscall.ENOTDIR)
	_, err = fd.Readdir()
	check("fd Readdir", err, syscall.ENOTDIR)
	_, err = root.ReadAt(make([]byte, 1), 0)
	check("root ReadAt", err, syscall.EISDIR)
	_, err = shm.ReadAt(make([]byte, 1), 0)
	check("shm ReadAt", err, syscall.EISDIR)
	_, err = fd.ReadAt(make([]byte, 1), 0)
	check("fd ReadAt", err, syscall.EINVAL)
	_, err = null.Readlink()
	check("null Readlink", err, syscall.EINVAL)
	_, err = root.Readlink()
	check("root Readlink", err, syscall.EINVAL)

	// Through the mount table.
	_, err = fs.Resolve("/", "/dev/missing", true)
	check("resolve /dev/missing", err, syscall.ENOENT)
	_, err = fs.Resolve("/", "/dev/null/x", true)
	check("resolve /dev/null/x", err, syscall.ENOTDIR)
	_, err = fs.Resolve("/", "/dev/zero/", true)
	check("resolve /dev/zero/", err, syscall.ENOTDIR)
	_, err = fs.Resolve("/", "/dev/fd/0", true) // no /proc mounted
	check("resolve /dev/fd/0", err, syscall.ENOENT)
	_, _, err = fs.Create("/", "/dev/newfile", 0o644, true)
	check("create /dev/newfile", err, syscall.EROFS)
	_, _, err = fs.Create("/", "/dev/null", 0o644, true)
	check("create /dev/null O_EXCL", err, syscall.EEXIST)
	n, created, err := fs.Create("/", "/dev/null", 0o644, false)
	if err != nil || created || n != null {
		t.Errorf("create /dev/null = %v, %v, %v; want the device", n, created, err)
	}
	_, err = fs.Mkdir("/", "/dev/shm/x", 0o755)
	check("mkdir /dev/shm/x", err, syscall.EROFS)
	check("unlink /dev/null", fs.Unlink("/", "/dev/null"), syscall.EROFS)
}

// A ramfs-like file system mounted on /dev/shm hides the empty directory.
func TestShmMount(t *testing.T) {
	fs := mount(t, devfs.Options{})
	if err := fs.Mount("/dev/shm", devfs.New()); err != nil {
		t.Fatal(err)
	}
	n, err := fs.Resolve("/", "/dev/shm/null", true)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := n.Stat(); st.Rdev != vfs.Mkdev(1, 3) {
		t.Errorf("/dev/shm/null rdev %#x", st.Rdev)
	}
}
