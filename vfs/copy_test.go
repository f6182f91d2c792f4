package vfs_test

import (
	"testing"

	"gosv/vfs"
	"gosv/vfs/ramfs"
)

func TestCopyTree(t *testing.T) {
	src := ramfs.New()
	sw := src.(vfs.DirWriter)
	sub, err := sw.Mkdir("gosv", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if err := vfs.WriteFile(sub.(vfs.DirWriter), "cmdline", 0o644, []byte("/bin/app -x")); err != nil {
		t.Fatal(err)
	}
	if err := vfs.WriteFile(sw, "hosts", 0o600, []byte("127.0.0.1 localhost\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Symlink("mtab", "/proc/mounts"); err != nil {
		t.Fatal(err)
	}
	dst := ramfs.New()
	if err := vfs.CopyTree(dst, src); err != nil {
		t.Fatalf("CopyTree: %v", err)
	}
	fs := &vfs.FS{}
	fs.Mount("/", dst)
	for _, tc := range []struct {
		path, want string
		perm       uint32
	}{
		{"/gosv/cmdline", "/bin/app -x", 0o644},
		{"/hosts", "127.0.0.1 localhost\n", 0o600},
	} {
		n, err := fs.Resolve("/", tc.path, true)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		st, _ := n.Stat()
		b := make([]byte, st.Size)
		n.ReadAt(b, 0)
		if string(b) != tc.want || st.Mode&0o777 != tc.perm {
			t.Errorf("%s = %q mode %o, want %q %o", tc.path, b, st.Mode&0o777, tc.want, tc.perm)
		}
	}
	l, err := fs.Resolve("/", "/mtab", false)
	if err != nil {
		t.Fatal(err)
	}
	if target, _ := l.Readlink(); target != "/proc/mounts" {
		t.Errorf("mtab -> %q", target)
	}
}
