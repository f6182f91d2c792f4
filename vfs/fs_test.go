package vfs_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"syscall"
	"testing"

	"gosv/vfs"
	"gosv/vfs/ramfs"
	"gosv/vfs/vfstest"
)

// setup builds a mount table:
//
//	/            ramfs: bin/sh, etc/hosts, usr/lib/libc.so, tmp/ (shadowed),
//	             symlinks below
//	/tmp         ramfs: x, mount point inner/ absent
//	/tmp/inner   ramfs: y
//	/proc        ramfs (no /proc in the root file system)
func setup(t *testing.T) *vfs.FS {
	t.Helper()
	root := ramfs.New()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mkdir := func(d vfs.Node, name string) vfs.Node {
		n, err := d.(vfs.DirWriter).Mkdir(name, 0o755)
		must(err)
		return n
	}
	create := func(d vfs.Node, name, data string) vfs.Node {
		n, err := d.(vfs.DirWriter).Create(name, 0o644)
		must(err)
		_, err = n.(vfs.Writer).WriteAt([]byte(data), 0)
		must(err)
		return n
	}
	symlink := func(d vfs.Node, name, target string) {
		_, err := d.(vfs.DirWriter).Symlink(name, target)
		must(err)
	}
	create(mkdir(root, "bin"), "sh", "sh")
	create(mkdir(root, "etc"), "hosts", "hosts")
	usr := mkdir(root, "usr")
	create(mkdir(usr, "lib"), "libc.so", "libc")
	create(mkdir(root, "tmp"), "shadowed", "")
	symlink(root, "lib", "usr/lib")
	symlink(root, "abs", "/etc")
	symlink(usr, "up", "../etc")
	symlink(root, "loop1", "loop2")
	symlink(root, "loop2", "loop1")
	symlink(root, "self", "self/x")
	symlink(root, "dangling", "nowhere")
	symlink(root, "filelink", "etc/hosts")
	symlink(root, "slashlink", "etc/hosts/")
	symlink(root, "dirslash", "usr/lib/")
	symlink(root, "tmplink", "/tmp/x")
	symlink(root, "dotdot", "..")
	// c0 -> c1 -> ... -> c40 (a file): 40 links; cm1 -> c0: 41.
	for i := range 40 {
		symlink(root, fmt.Sprintf("c%d", i), fmt.Sprintf("c%d", i+1))
	}
	create(root, "c40", "end")
	symlink(root, "cm1", "c0")

	tmp := ramfs.New()
	create(tmp, "x", "x")
	inner := ramfs.New()
	create(inner, "y", "y")
	var f vfs.FS
	must(f.Mount("/", root))
	must(f.Mount("/tmp", tmp))
	must(f.Mount("/tmp/inner/", inner))
	must(f.Mount("/proc", ramfs.New()))
	return &f
}

func TestResolve(t *testing.T) {
	f := setup(t)
	long := func(n int) string { // a path of n bytes naming /etc/hosts
		return "/etc" + strings.Repeat("/", n-len("/etc/hosts")+1) + "hosts"
	}
	tests := []struct {
		cwd, path string
		follow    bool
		want      string        // canonical path, if no error
		err       syscall.Errno // expected errno
	}{
		{"/", "/", true, "/", 0},
		{"/", "", true, "", syscall.ENOENT},
		{"/", ".", true, "/", 0},
		{"/", "..", true, "/", 0},
		{"/", "/../..//etc///hosts", true, "/etc/hosts", 0},
		{"/", "//etc/./hosts", false, "/etc/hosts", 0},
		{"/usr", "lib/libc.so", true, "/usr/lib/libc.so", 0},
		{"/usr/lib", "../../etc/./hosts", true, "/etc/hosts", 0},
		{"/usr/lib/", ".", true, "/usr/lib", 0},
		{"/", "lib/libc.so", true, "/usr/lib/libc.so", 0},
		{"/", "lib", false, "/lib", 0},
		{"/", "lib", true, "/usr/lib", 0},
		{"/", "lib/", false, "/usr/lib", 0},
		{"/", "lib/.", false, "/usr/lib", 0},
		{"/", "lib/..", false, "/usr", 0},
		{"/", "abs/hosts", false, "/etc/hosts", 0},
		{"/", "abs", true, "/etc", 0},
		{"/", "usr/up/hosts", true, "/etc/hosts", 0},
		{"/usr", "up", true, "/etc", 0},
		{"/", "dotdot/etc", true, "/etc", 0},
		{"/", "loop1", true, "", syscall.ELOOP},
		{"/", "loop1", false, "/loop1", 0},
		{"/", "loop1/", false, "", syscall.ELOOP},
		{"/", "loop1/x", false, "", syscall.ELOOP},
		{"/", "self", true, "", syscall.ELOOP},
		{"/", "c0", true, "/c40", 0},
		{"/", "c0", false, "/c0", 0},
		{"/", "cm1", true, "", syscall.ELOOP},
		{"/", "dangling", true, "", syscall.ENOENT},
		{"/", "dangling", false, "/dangling", 0},
		{"/", "missing", true, "", syscall.ENOENT},
		{"/", "missing/x", true, "", syscall.ENOENT},
		{"/", "etc/hosts/", true, "", syscall.ENOTDIR},
		{"/", "etc/hosts/.", true, "", syscall.ENOTDIR},
		{"/", "etc/hosts/..", true, "", syscall.ENOTDIR},
		{"/", "etc/hosts/x", true, "", syscall.ENOTDIR},
		{"/", "filelink", true, "/etc/hosts", 0},
		{"/", "filelink/", true, "", syscall.ENOTDIR},
		{"/", "slashlink", true, "", syscall.ENOTDIR},
		{"/", "dirslash", true, "/usr/lib", 0},
		{"/", "/" + strings.Repeat("n", 255), true, "", syscall.ENOENT},
		{"/", "/" + strings.Repeat("n", 256), true, "", syscall.ENAMETOOLONG},
		{"/", "/" + strings.Repeat("n", 256) + "/..", true, "", syscall.ENAMETOOLONG},
		{"/", long(4095), true, "/etc/hosts", 0},
		{"/", long(4096), true, "", syscall.ENAMETOOLONG},
		// Mounts.
		{"/", "/tmp/x", true, "/tmp/x", 0},
		{"/", "/tmp/shadowed", true, "", syscall.ENOENT},
		{"/tmp", "x", true, "/tmp/x", 0},
		{"/tmp", "..", true, "/", 0},
		{"/tmp", "../etc/hosts", true, "/etc/hosts", 0},
		{"/", "/tmplink", true, "/tmp/x", 0},
		{"/", "/proc", true, "/proc", 0},
		{"/", "/proc/../etc", true, "/etc", 0},
		{"/", "/tmp/inner/y", true, "/tmp/inner/y", 0},
		{"/tmp/inner", "../x", true, "/tmp/x", 0},
		{"/tmp/inner", "../../bin/sh", true, "/bin/sh", 0},
		// Working directories.
		{"/etc/hosts", "x", true, "", syscall.ENOTDIR},
		{"/missing", "x", true, "", syscall.ENOENT},
		{"/missing", "/etc", true, "/etc", 0},
		{"/lib", "libc.so", true, "/usr/lib/libc.so", 0},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s|%s|%v", tt.cwd, tt.path, tt.follow)
		if len(name) > 80 {
			name = name[:80]
		}
		t.Run(name, func(t *testing.T) {
			n, p, err := f.ResolvePath(tt.cwd, tt.path, tt.follow)
			if got := vfs.Errno(err); got != tt.err {
				t.Fatalf("ResolvePath error %v (errno %d), want errno %d (%v)", err, got, tt.err, tt.err)
			}
			if err != nil {
				var pe *fs.PathError
				if !errors.As(err, &pe) {
					t.Errorf("error %T is not a *fs.PathError", err)
				}
				return
			}
			if p != tt.want {
				t.Errorf("path %q, want %q", p, tt.want)
			}
			// The canonical path resolves to the same node.
			n2, err := f.Resolve("/", p, false)
			if err != nil || n2 != n {
				t.Errorf("Resolve(%q) = %v, %v; not the same node", p, n2, err)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	f := setup(t)
	tests := []struct {
		cwd, path string
		follow    bool
		dir, name string // dir is a canonical path
		err       syscall.Errno
	}{
		{"/", "/etc/new", false, "/etc", "new", 0},
		{"/", "/etc/hosts", false, "/etc", "hosts", 0},
		{"/", "/etc/hosts", true, "/etc", "hosts", 0},
		{"/", "/etc//new/", false, "/etc", "new", 0},
		{"/", "/", false, "/", ".", 0},
		{"/", "/usr/..", false, "/usr", "..", 0},
		{"/", "/usr/.", false, "/usr", ".", 0},
		{"/", "/lib", false, "/", "lib", 0},
		{"/", "/lib", true, "/usr", "lib", 0},
		{"/", "/dangling", true, "/", "nowhere", 0},
		{"/", "/dangling", false, "/", "dangling", 0},
		{"/", "/lib/new", false, "/usr/lib", "new", 0},
		{"/usr", "lib/new", false, "/usr/lib", "new", 0},
		{"/", "new", false, "/", "new", 0},
		{"/", "/tmp/new", false, "/tmp", "new", 0},
		{"/", "/tmp", false, "/", "tmp", 0},
		{"/", "/etc/hosts/x", false, "", "", syscall.ENOTDIR},
		{"/", "/missing/x", false, "", "", syscall.ENOENT},
		{"/", "/loop1", true, "", "", syscall.ELOOP},
		{"/", "/loop1", false, "/", "loop1", 0},
		{"/", "/" + strings.Repeat("n", 256), false, "", "", syscall.ENAMETOOLONG},
		{"/", "", false, "", "", syscall.ENOENT},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s|%s|%v", tt.cwd, tt.path, tt.follow), func(t *testing.T) {
			dir, name, err := f.Lookup(tt.cwd, tt.path, tt.follow)
			if got := vfs.Errno(err); got != tt.err {
				t.Fatalf("Lookup error %v, want errno %d (%v)", err, tt.err, tt.err)
			}
			if err != nil {
				return
			}
			want, err := f.Resolve("/", tt.dir, true)
			if err != nil {
				t.Fatal(err)
			}
			if dir != want || name != tt.name {
				t.Errorf("Lookup = %v, %q; want %s, %q", dir, name, tt.dir, tt.name)
			}
		})
	}
}

// TestHelpers runs a script of name-changing calls through the mount
// table, then compares the trees.
func TestHelpers(t *testing.T) {
	f := setup(t)
	type step struct {
		call string
		err  syscall.Errno
	}
	do := func(call string) error {
		w := strings.Fields(call)
		switch w[0] {
		case "mkdir":
			_, err := f.Mkdir("/", w[1], 0o700)
			return err
		case "create", "excl":
			n, created, err := f.Create("/", w[1], 0o600, w[0] == "excl")
			if err == nil && len(w) > 2 && fmt.Sprint(created) != w[2] {
				return fmt.Errorf("created = %v", created)
			}
			if err == nil {
				if _, ok := n.(vfs.Writer); !ok {
					return fmt.Errorf("created node is not writable")
				}
			}
			return err
		case "symlink":
			target := ""
			if len(w) > 2 {
				target = w[2]
			}
			_, err := f.Symlink(target, "/", w[1])
			return err
		case "unlink":
			return f.Unlink("/", w[1])
		case "rmdir":
			return f.Rmdir("/", w[1])
		case "rename":
			return f.Rename("/", w[1], w[2])
		case "link":
			return f.Link("/", w[1], w[2])
		case "mknod":
			types := map[string]uint32{"reg": vfs.S_IFREG, "none": 0, "fifo": vfs.S_IFIFO, "chr": vfs.S_IFCHR,
				"blk": vfs.S_IFBLK, "dir": vfs.S_IFDIR, "sock": vfs.S_IFSOCK, "bad": vfs.S_IFMT}
			_, err := f.Mknod("/", w[1], types[w[2]]|0o640)
			return err
		}
		return fmt.Errorf("bad call %q", call)
	}
	for _, s := range []step{
		{"mkdir /etc", syscall.EEXIST},
		{"mkdir /new", 0},
		{"mkdir /new/", syscall.EEXIST},
		{"mkdir /newer/", 0},
		{"mkdir /.", syscall.EEXIST},
		{"mkdir /etc/..", syscall.EEXIST},
		{"mkdir /proc", syscall.EEXIST}, // a mount point
		{"mkdir /missing/x", syscall.ENOENT},
		{"mkdir /etc/hosts/x", syscall.ENOTDIR},
		{"mkdir /lib", syscall.EEXIST}, // a symbolic link is not followed

		{"excl /etc/hosts", syscall.EEXIST},
		{"create /etc/hosts false", 0},
		{"create /etc", syscall.EISDIR},
		{"create /etc/", syscall.EISDIR},
		{"create /new/f/", syscall.EISDIR},
		{"create /.", syscall.EISDIR},
		{"excl /dangling", syscall.EEXIST},
		{"create /dangling true", 0}, // creates /nowhere
		{"create /dangling false", 0},
		{"create /tmp/f true", 0},
		{"create /loop1", syscall.ELOOP},
		{"create /slashlink", syscall.EISDIR}, // the target ends in a slash
		{"excl /slashlink", syscall.EEXIST},

		{"symlink /new/l /etc/hosts", 0},
		{"symlink /new/l /x", syscall.EEXIST},
		{"symlink /new/m", syscall.ENOENT},
		{"symlink /new/m/ x", syscall.ENOENT},
		{"symlink /proc x", syscall.EEXIST},

		{"unlink /etc", syscall.EISDIR},
		{"unlink /etc/hosts/", syscall.ENOTDIR},
		{"unlink /.", syscall.EISDIR},
		{"unlink /missing", syscall.ENOENT},
		{"unlink /lib", 0}, // the link, not /usr/lib
		{"unlink /proc", syscall.EISDIR},

		{"rmdir /", syscall.EBUSY},
		{"rmdir /tmp", syscall.EBUSY},
		{"rmdir /tmp/inner", syscall.EBUSY},
		{"rmdir /etc", syscall.ENOTEMPTY},
		{"rmdir /etc/hosts", syscall.ENOTDIR},
		{"rmdir /newer/.", syscall.EINVAL},
		{"rmdir /newer/..", syscall.ENOTEMPTY},
		{"rmdir /newer/", 0},

		{"rename /etc/hosts /tmp/hosts", syscall.EXDEV},
		{"rename /tmp /x", syscall.EBUSY},
		{"rename /etc /tmp", syscall.EBUSY},
		{"rename /etc/. /x", syscall.EBUSY},
		{"rename /etc/hosts /etc/hosts2", 0},
		{"rename /etc/hosts2/ /x", syscall.ENOTDIR},
		{"rename /etc/hosts2 /x/", syscall.ENOTDIR},
		{"rename /new /new/sub", syscall.EINVAL},
		{"rename /tmp/f /tmp/g", 0},
		{"rename /missing /x", syscall.ENOENT},

		{"link /etc/hosts2 /tmp/h", syscall.EXDEV},
		{"link /etc /e2", syscall.EPERM},
		{"link /etc/hosts2 /h", 0},
		{"link /etc/hosts2 /h", syscall.EEXIST},
		{"link /dangling /dl", 0}, // the link itself
		{"link /etc/hosts2/ /x", syscall.ENOTDIR},
		{"link /dirslash/ /x", syscall.EPERM}, // followed: a directory
		{"link /tmplink/ /x", syscall.ENOTDIR},
		{"link /missing/ /x", syscall.ENOENT},
		{"link /etc/hosts2 /nl/", syscall.ENOENT},
		{"link /etc/hosts2 /h/", syscall.EEXIST},

		{"mknod /fifo fifo", 0},
		{"mknod /fifo fifo", syscall.EEXIST},
		{"mknod /reg reg", 0},
		{"mknod /plain none", 0},
		{"mknod /c chr", syscall.EPERM},
		{"mknod /b blk", syscall.EPERM},
		{"mknod /d dir", syscall.EPERM},
		{"mknod /s sock", 0},
		{"mknod /x bad", syscall.EINVAL},
		{"mknod /f2/ fifo", syscall.ENOENT},
		{"mknod /fifo/ fifo", syscall.EEXIST},
		{"mknod /. fifo", syscall.EEXIST},
		{"mknod /missing/f fifo", syscall.ENOENT},
	} {
		err := do(s.call)
		if got := vfs.Errno(err); got != s.err {
			t.Errorf("%s: error %v (errno %d), want errno %d (%v)", s.call, err, got, s.err, s.err)
		}
	}
	root, _ := f.Resolve("/", "/", true)
	got, err := vfstest.Dump(root)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range got {
		if !strings.HasPrefix(l, "/c") { // the c0..c40 chain
			keep = append(keep, l)
		}
	}
	want := []string{ // in Readdir (creation) order
		"/ 041777 nlink=7",
		"/bin/ 040755 nlink=2",
		`/bin/sh 0100644 nlink=1 size=2 "sh"`,
		"/etc/ 040755 nlink=2",
		`/etc/hosts2 0100644 nlink=2 size=5 "hosts"`,
		"/usr/ 040755 nlink=3",
		"/usr/lib/ 040755 nlink=2",
		`/usr/lib/libc.so 0100644 nlink=1 size=4 "libc"`,
		"/usr/up 0120777 -> ../etc",
		"/tmp/ 040755 nlink=2",
		`/tmp/shadowed 0100644 nlink=1 size=0 ""`,
		"/abs 0120777 -> /etc",
		"/loop1 0120777 -> loop2",
		"/loop2 0120777 -> loop1",
		"/self 0120777 -> self/x",
		"/dangling 0120777 -> nowhere",
		"/filelink 0120777 -> etc/hosts",
		"/slashlink 0120777 -> etc/hosts/",
		"/dirslash 0120777 -> usr/lib/",
		"/tmplink 0120777 -> /tmp/x",
		"/dotdot 0120777 -> ..",
		"/new/ 040700 nlink=2",
		"/new/l 0120777 -> /etc/hosts",
		`/nowhere 0100600 nlink=1 size=0 ""`,
		`/h 0100644 nlink=2 size=5 "hosts"`,
		"/dl 0120777 -> nowhere",
		"/fifo 010640 rdev=0x0",
		`/reg 0100640 nlink=1 size=0 ""`,
		`/plain 0100640 nlink=1 size=0 ""`,
		"/s 0140640 rdev=0x0",
	}
	if d := vfstest.Diff(want, keep); d != "" {
		t.Errorf("root tree (-want +got):\n%s", d)
	}
	tmp, _ := f.Resolve("/", "/tmp", true)
	got, _ = vfstest.Dump(tmp)
	want = []string{
		"/ 041777 nlink=2",
		`/x 0100644 nlink=1 size=1 "x"`,
		`/g 0100600 nlink=1 size=0 ""`,
	}
	if d := vfstest.Diff(want, got); d != "" {
		t.Errorf("/tmp tree (-want +got):\n%s", d)
	}
}

func TestMount(t *testing.T) {
	var f vfs.FS
	if _, err := f.Resolve("/", "/", true); vfs.Errno(err) != syscall.ENOENT {
		t.Errorf("Resolve with nothing mounted: %v, want ENOENT", err)
	}
	root := ramfs.New()
	file, _ := root.(vfs.DirWriter).Create("f", 0o644)
	for _, c := range []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"relative", f.Mount("tmp", root), syscall.EINVAL},
		{"empty", f.Mount("", root), syscall.EINVAL},
		{"file", f.Mount("/", file), syscall.ENOTDIR},
		{"root", f.Mount("/", root), 0},
		{"again", f.Mount("//", ramfs.New()), syscall.EBUSY},
		{"unclean", f.Mount("/a/../b/", ramfs.New()), 0},
		{"unmount missing", f.Unmount("/c"), syscall.EINVAL},
		{"unmount relative", f.Unmount("b"), syscall.EINVAL},
	} {
		if got := vfs.Errno(c.err); got != c.want {
			t.Errorf("%s: %v, want errno %d", c.name, c.err, c.want)
		}
	}
	if got := fmt.Sprint(f.Mounts()); got != "[/ /b]" {
		t.Errorf("Mounts = %s, want [/ /b]", got)
	}
	if _, err := f.Resolve("/", "/b", true); err != nil {
		t.Errorf("Resolve(/b): %v", err)
	}
	if err := f.Unmount("/b/"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Resolve("/", "/b", true); vfs.Errno(err) != syscall.ENOENT {
		t.Errorf("Resolve(/b) after unmount: %v, want ENOENT", err)
	}
}

// TestConcurrentMount resolves while mounting; run with -race.
func TestConcurrentMount(t *testing.T) {
	var f vfs.FS
	if err := f.Mount("/", ramfs.New()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 200 {
			_ = f.Mount(fmt.Sprintf("/m%d", i), ramfs.New())
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 200 {
			_, _ = f.Resolve("/", fmt.Sprintf("/m%d/../m%d", i, i/2), true)
		}
	}()
	wg.Wait()
	if n := len(f.Mounts()); n != 201 {
		t.Errorf("%d mounts, want 201", n)
	}
}

func TestErrno(t *testing.T) {
	for _, c := range []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{syscall.ENOENT, syscall.ENOENT},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EEXIST}, syscall.EEXIST},
		{fmt.Errorf("wrapped: %w", syscall.ELOOP), syscall.ELOOP},
		{fs.ErrNotExist, syscall.ENOENT},
		{fmt.Errorf("x: %w", fs.ErrExist), syscall.EEXIST},
		{fs.ErrPermission, syscall.EACCES},
		{fs.ErrInvalid, syscall.EINVAL},
		{fs.ErrClosed, syscall.EBADF},
		{errors.New("something"), syscall.EIO},
		{io.EOF, syscall.EIO},
	} {
		if got := vfs.Errno(c.err); got != c.want {
			t.Errorf("Errno(%v) = %d (%v), want %d (%v)", c.err, got, got, c.want, c.want)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, c := range []struct {
		name string
		want error
	}{
		{"a", nil},
		{strings.Repeat("a", 255), nil},
		{strings.Repeat("a", 256), syscall.ENAMETOOLONG},
		{"", syscall.EINVAL},
		{".", syscall.EINVAL},
		{"..", syscall.EINVAL},
		{"...", nil},
		{"a/b", syscall.EINVAL},
		{"a\x00", syscall.EINVAL},
	} {
		if got := vfs.CheckName(c.name); got != c.want {
			t.Errorf("CheckName(%.10q) = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestMkdevAndTypes(t *testing.T) {
	for _, c := range []struct {
		major, minor uint32
		want         uint64
	}{
		{1, 3, 0x103},
		{8, 0, 0x800},
		{0x1234, 0x56789, 0x100056723489},
	} {
		if got := vfs.Mkdev(c.major, c.minor); got != c.want {
			t.Errorf("Mkdev(%#x, %#x) = %#x, want %#x", c.major, c.minor, got, c.want)
		}
	}
	for _, c := range []struct {
		mode uint32
		want uint8
	}{
		{vfs.S_IFREG | 0o644, vfs.DT_REG}, {vfs.S_IFDIR, vfs.DT_DIR}, {vfs.S_IFLNK, vfs.DT_LNK},
		{vfs.S_IFCHR, vfs.DT_CHR}, {vfs.S_IFBLK, vfs.DT_BLK}, {vfs.S_IFIFO, vfs.DT_FIFO},
		{vfs.S_IFSOCK, vfs.DT_SOCK}, {0o644, vfs.DT_UNKNOWN},
	} {
		if got := vfs.DirentType(c.mode); got != c.want {
			t.Errorf("DirentType(%#o) = %d, want %d", c.mode, got, c.want)
		}
	}
}

// TestDirHoldsDirectory checks that a Dir from Walk keeps naming the
// directory it resolved after that is renamed, as a directory fd does,
// while a Dir from At names a path.
func TestDirHoldsDirectory(t *testing.T) {
	f := setup(t)
	_, lib, err := f.At("/").Walk("lib", true) // through the link to /usr/lib
	if err != nil {
		t.Fatal(err)
	}
	if lib.Path() != "/usr/lib" {
		t.Errorf("Path() = %q, want /usr/lib", lib.Path())
	}
	_, hosts, err := f.At("/").Walk("/etc/hosts", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Rename("/", "/usr/lib", "/moved"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"resolve in moved dir", second(lib.Resolve("libc.so", true)), 0},
		{"resolve by old path", second(f.At("/usr/lib").Resolve("libc.so", true)), syscall.ENOENT},
		{"create in moved dir", second(lib.Mkdir("sub", 0o755)), 0},
		{"found by new path", second(f.Resolve("/", "/moved/sub", true)), 0},
		{"absolute path ignores dir", second(lib.Resolve("/etc/hosts", true)), 0},
		{"rename dot", lib.Rename(".", f.At("/"), "x"), syscall.EBUSY},
		{"rename to dot", f.At("/").Rename("/bin/sh", lib, "."), syscall.EBUSY},
		{"rename dotdot", lib.Rename("..", f.At("/"), "x"), syscall.EBUSY},
		{"rename between dirs", lib.Rename("libc.so", f.At("/etc"), "libc"), 0},
		{"moved file found", second(f.Resolve("/", "/etc/libc", true)), 0},
		{"link into moved dir", f.At("/etc").Link("libc", lib, "again"), 0},
		{"unlink dot", lib.Unlink("."), syscall.EISDIR},
		{"rmdir dot", lib.Rmdir("."), syscall.EINVAL},
		{"file as dir", second(hosts.Resolve("x", true)), syscall.ENOTDIR},
		{"file itself", second(hosts.Resolve(".", true)), syscall.ENOTDIR},
		{"zero Dir", second(vfs.Dir{}.Resolve("x", true)), syscall.ENOTDIR},
	} {
		if got := vfs.Errno(c.err); got != c.want {
			t.Errorf("%s: error %v, want errno %d (%v)", c.name, c.err, c.want, c.want)
		}
	}
	// A removed directory takes no new names.
	_, sub, err := lib.Walk("sub", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := lib.Rmdir("sub"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sub.Create("f", 0o644, false); vfs.Errno(err) != syscall.ENOENT {
		t.Errorf("create in removed dir: %v, want ENOENT", err)
	}
}

func second[T any](_ T, err error) error { return err }

// readOnly is a node of a file system without AttrChanger.
type readOnly struct{ vfs.Node }

func TestChangeAttrReadOnly(t *testing.T) {
	mode := uint32(0o600)
	if err := vfs.ChangeAttr(readOnly{ramfs.New()}, vfs.AttrChange{Mode: &mode}); err != syscall.EROFS {
		t.Errorf("ChangeAttr on a read-only node: %v, want EROFS", err)
	}
	n := ramfs.New()
	if err := vfs.ChangeAttr(n, vfs.AttrChange{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if st, _ := n.Stat(); st.Mode != vfs.S_IFDIR|0o600 {
		t.Errorf("mode %#o, want %#o", st.Mode, vfs.S_IFDIR|0o600)
	}
}
