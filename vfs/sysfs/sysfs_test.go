package sysfs_test

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"gosv/vfs"
	"gosv/vfs/sysfs"
	"gosv/vfs/vfstest"
)

type emptyDir struct{}

func (emptyDir) Stat() (vfs.Stat, error) {
	return vfs.Stat{Mode: vfs.S_IFDIR | 0o755, Ino: 1, Nlink: 2}, nil
}
func (emptyDir) ReadAt(p []byte, off int64) (int, error) { return 0, syscall.EISDIR }
func (emptyDir) Readdir() ([]vfs.Dirent, error)          { return nil, nil }
func (emptyDir) Lookup(name string) (vfs.Node, error)    { return nil, syscall.ENOENT }
func (emptyDir) Readlink() (string, error)               { return "", syscall.EINVAL }

func mount(t *testing.T, src sysfs.SysSource) *vfs.FS {
	t.Helper()
	fs := &vfs.FS{}
	if err := fs.Mount("/", emptyDir{}); err != nil {
		t.Fatal(err)
	}
	if err := fs.Mount("/sys", sysfs.New(src)); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestTree(t *testing.T) {
	got, err := vfstest.Dump(sysfs.New(sysfs.SysSource{CPUs: 3}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/ 040755 nlink=6",
		"/class/ 040755 nlink=3",
		"/class/net/ 040755 nlink=2",
		"/devices/ 040755 nlink=3",
		"/devices/system/ 040755 nlink=3",
		"/devices/system/cpu/ 040755 nlink=5",
		"/devices/system/cpu/cpu0/ 040755 nlink=2",
		"/devices/system/cpu/cpu1/ 040755 nlink=2",
		"/devices/system/cpu/cpu2/ 040755 nlink=2",
		`/devices/system/cpu/online 0100444 nlink=1 size=4 "0-2\n"`,
		`/devices/system/cpu/possible 0100444 nlink=1 size=4 "0-2\n"`,
		`/devices/system/cpu/present 0100444 nlink=1 size=4 "0-2\n"`,
		"/fs/ 040755 nlink=3",
		"/fs/cgroup/ 040755 nlink=2",
		"/kernel/ 040755 nlink=3",
		"/kernel/mm/ 040755 nlink=3",
		"/kernel/mm/transparent_hugepage/ 040755 nlink=2",
		`/kernel/mm/transparent_hugepage/defrag 0100644 nlink=1 size=43 "always defer defer+madvise [madvise] never\n"`,
		`/kernel/mm/transparent_hugepage/enabled 0100644 nlink=1 size=23 "always [madvise] never\n"`,
		`/kernel/mm/transparent_hugepage/hpage_pmd_size 0100444 nlink=1 size=8 "2097152\n"`,
	}
	if d := vfstest.Diff(want, got); d != "" {
		t.Errorf("tree (-want +got):\n%s", d)
	}
}

func read(t *testing.T, fs *vfs.FS, p string) string {
	t.Helper()
	n, err := fs.Resolve("/", p, true)
	if err != nil {
		t.Fatal(err)
	}
	// Read in small pieces, as a program with a small buffer does.
	var out []byte
	buf := make([]byte, 3)
	for off := int64(0); ; {
		k, err := n.ReadAt(buf, off)
		out = append(out, buf[:k]...)
		off += int64(k)
		if err == io.EOF {
			return string(out)
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
}

func TestCPUs(t *testing.T) {
	for _, tc := range []struct {
		cpus int
		want string
		dirs int
	}{
		{0, "0\n", 1},
		{1, "0\n", 1},
		{2, "0-1\n", 2},
		{64, "0-63\n", 64},
	} {
		fs := mount(t, sysfs.SysSource{CPUs: tc.cpus})
		for _, f := range []string{"online", "possible", "present"} {
			if got := read(t, fs, "/sys/devices/system/cpu/"+f); got != tc.want {
				t.Errorf("%d CPUs: %s = %q, want %q", tc.cpus, f, got, tc.want)
			}
		}
		dir, err := fs.Resolve("/", "/sys/devices/system/cpu", true)
		if err != nil {
			t.Fatal(err)
		}
		ents, _ := dir.Readdir()
		n := 0
		for _, e := range ents {
			if e.Type == vfs.DT_DIR {
				if e.Name != fmt.Sprintf("cpu%d", n) && tc.cpus <= 10 {
					t.Errorf("%d CPUs: entry %q", tc.cpus, e.Name)
				}
				n++
			}
		}
		if n != tc.dirs {
			t.Errorf("%d CPUs: %d cpuN directories, want %d", tc.cpus, n, tc.dirs)
		}
		if _, err := fs.Resolve("/", fmt.Sprintf("/sys/devices/system/cpu/cpu%d", tc.dirs-1), true); err != nil {
			t.Error(err)
		}
		if _, err := fs.Resolve("/", fmt.Sprintf("/sys/devices/system/cpu/cpu%d", tc.dirs), true); !errors.Is(err, syscall.ENOENT) {
			t.Errorf("cpu%d: %v, want ENOENT", tc.dirs, err)
		}
	}
}

func TestReadAt(t *testing.T) {
	fs := mount(t, sysfs.SysSource{CPUs: 1})
	n, _ := fs.Resolve("/", "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", true)
	buf := make([]byte, 16)
	for _, tc := range []struct {
		off  int64
		size int
		want string
		err  error
	}{
		{0, 16, "2097152\n", io.EOF},
		{0, 8, "2097152\n", nil},
		{0, 3, "209", nil},
		{5, 16, "52\n", io.EOF},
		{8, 16, "", io.EOF},
		{100, 16, "", io.EOF},
		{-1, 16, "", syscall.EINVAL},
	} {
		k, err := n.ReadAt(buf[:tc.size], tc.off)
		if string(buf[:k]) != tc.want || err != tc.err {
			t.Errorf("ReadAt(%d bytes, %d) = %q, %v; want %q, %v", tc.size, tc.off, buf[:k], err, tc.want, tc.err)
		}
	}
}

func TestReaddirOffsets(t *testing.T) {
	root := sysfs.New(sysfs.SysSource{CPUs: 12})
	inos := map[uint64]string{}
	var walk func(p string, n vfs.Node)
	walk = func(p string, n vfs.Node) {
		st, _ := n.Stat()
		if q, ok := inos[st.Ino]; ok {
			t.Errorf("%s and %s share inode %d", p, q, st.Ino)
		}
		inos[st.Ino] = p
		if !st.IsDir() {
			return
		}
		ents, err := n.Readdir()
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range ents {
			if e.Off != int64(i+1) {
				t.Errorf("%s/%s: Off %d, want %d", p, e.Name, e.Off, i+1)
			}
			if i > 0 && ents[i-1].Name >= e.Name {
				t.Errorf("%s: %q listed after %q", p, e.Name, ents[i-1].Name)
			}
			c, err := n.Lookup(e.Name)
			if err != nil {
				t.Fatal(err)
			}
			walk(p+"/"+e.Name, c)
		}
	}
	walk("", root)
	if len(inos) != 29 {
		t.Errorf("%d nodes, want 29", len(inos))
	}
}

func TestErrors(t *testing.T) {
	fs := mount(t, sysfs.SysSource{CPUs: 2})
	online, _ := fs.Resolve("/", "/sys/devices/system/cpu/online", true)
	cgroup, _ := fs.Resolve("/", "/sys/fs/cgroup", true)
	check := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", what, err, want)
		}
	}
	_, err := online.Lookup("x")
	check("file Lookup", err, syscall.ENOTDIR)
	_, err = online.Readdir()
	check("file Readdir", err, syscall.ENOTDIR)
	_, err = online.Readlink()
	check("file Readlink", err, syscall.EINVAL)
	_, err = cgroup.Lookup("cpu.max")
	check("cgroup Lookup", err, syscall.ENOENT)
	_, err = cgroup.ReadAt(make([]byte, 4), 0)
	check("dir ReadAt", err, syscall.EISDIR)
	_, err = cgroup.Readlink()
	check("dir Readlink", err, syscall.EINVAL)
	if ents, err := cgroup.Readdir(); len(ents) != 0 || err != nil {
		t.Errorf("cgroup Readdir = %v, %v", ents, err)
	}
	_, err = fs.Resolve("/", "/sys/class/net/eth0", true)
	check("resolve eth0", err, syscall.ENOENT)
	_, err = fs.Resolve("/", "/sys/devices/system/cpu/online/x", true)
	check("resolve online/x", err, syscall.ENOTDIR)
	_, _, err = fs.Create("/", "/sys/fs/cgroup/x", 0o644, false)
	check("create", err, syscall.EROFS)
	if _, ok := online.(vfs.Writer); ok {
		t.Error("sysfs files are vfs.Writers")
	}
}

func TestNow(t *testing.T) {
	when := time.Date(2020, 2, 2, 0, 0, 0, 0, time.UTC)
	root := sysfs.New(sysfs.SysSource{Now: func() time.Time { return when }})
	if st, _ := root.Stat(); !st.Mtime.Equal(when) {
		t.Errorf("mtime %v, want %v", st.Mtime, when)
	}
}
