// Package devfs is the /dev an application sees: the character devices
// every Linux program may open (null, zero, full, random, urandom, tty,
// console), the /dev/fd and /dev/std{in,out,err} links into /proc, and an
// empty /dev/shm directory for the caller to mount a ramfs on.
//
// The tree is fixed: it has no DirWriter, so creating or removing names
// fails with EROFS (and EEXIST for names that exist). Device nodes
// implement vfs.Writer; directories and links do not. A character device
// reads the same at any offset, so ReadAt and WriteAt ignore off.
//
//	device   rdev  mode  read            write
//	null     1,3   0666  EOF             discarded
//	zero     1,5   0666  zeros           discarded
//	full     1,7   0666  zeros           ENOSPC
//	random   1,8   0666  getrandom       discarded
//	urandom  1,9   0666  getrandom       discarded
//	tty      5,0   0666  EOF             Options.Console
//	console  5,1   0600  EOF             Options.Console
//
// Random bytes come from getrandom (internal/entropy), not crypto/rand,
// which would link a 32 MiB buffer into the kernel.
package devfs

import (
	"gosv/internal/entropy"
	"io"
	"sync"
	"syscall"
	"time"

	"gosv/vfs"
)

// Options configure a devfs.
type Options struct {
	// Console receives what is written to /dev/tty and /dev/console
	// (nil: discarded). Devfs serializes its own writes to it; other
	// writers (the kernel's log) must synchronize themselves.
	Console io.Writer
	// Now gives the file times (default time.Now, read once by New).
	Now func() time.Time
}

// Device kinds.
type kind int

const (
	devNull kind = iota
	devZero
	devFull
	devRandom
	devConsole // tty and console
)

// New returns the root of a devfs without a console (tty and console
// writes are discarded).
func New() vfs.Node { return NewWith(Options{}) }

// NewWith returns the root of a devfs.
func NewWith(o Options) vfs.Node {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	f := &fsys{console: o.Console, time: now()}
	dev := func(k kind, major, minor, perm uint32) vfs.Node {
		return &device{meta: f.meta(vfs.S_IFCHR | perm), kind: k, rdev: vfs.Mkdev(major, minor)}
	}
	link := func(target string) vfs.Node {
		return &symlink{meta: f.meta(vfs.S_IFLNK | 0o777), target: target}
	}
	// Inode numbers follow this order: the root is 1.
	root := &dir{meta: f.meta(vfs.S_IFDIR | 0o755)}
	root.add("console", dev(devConsole, 5, 1, 0o600))
	root.add("fd", link("/proc/self/fd"))
	root.add("full", dev(devFull, 1, 7, 0o666))
	root.add("null", dev(devNull, 1, 3, 0o666))
	root.add("random", dev(devRandom, 1, 8, 0o666))
	root.add("shm", &dir{meta: f.meta(vfs.S_IFDIR | 0o1777)})
	root.add("stderr", link("/proc/self/fd/2"))
	root.add("stdin", link("/proc/self/fd/0"))
	root.add("stdout", link("/proc/self/fd/1"))
	root.add("tty", dev(devConsole, 5, 0, 0o666))
	root.add("urandom", dev(devRandom, 1, 9, 0o666))
	root.add("zero", dev(devZero, 1, 5, 0o666))
	return root
}

type fsys struct {
	ino     uint64
	time    time.Time
	mu      sync.Mutex // serializes console writes
	console io.Writer
}

// meta is what every node has.
type meta struct {
	fs   *fsys
	ino  uint64
	mode uint32
}

func (f *fsys) meta(mode uint32) meta {
	f.ino++
	return meta{fs: f, ino: f.ino, mode: mode}
}

func (m *meta) stat(nlink uint64, size int64) vfs.Stat {
	t := m.fs.time
	return vfs.Stat{Mode: m.mode, Ino: m.ino, Nlink: nlink, Size: size, Atime: t, Mtime: t, Ctime: t}
}

// dir is a directory with a fixed list of entries, sorted by name.
type dir struct {
	meta
	names []string
	nodes []vfs.Node
	nsub  uint64 // subdirectories
}

// add appends an entry; names are added in sorted order.
func (d *dir) add(name string, n vfs.Node) {
	d.names = append(d.names, name)
	d.nodes = append(d.nodes, n)
	if _, ok := n.(*dir); ok {
		d.nsub++
	}
}

var _ vfs.Node = (*dir)(nil)

// Stat implements vfs.Node.
func (d *dir) Stat() (vfs.Stat, error) { return d.stat(2+d.nsub, 0), nil }

// ReadAt implements vfs.Node: EISDIR.
func (d *dir) ReadAt(p []byte, off int64) (int, error) { return 0, syscall.EISDIR }

// Readdir implements vfs.Node: entries sorted by name, Off from 1.
func (d *dir) Readdir() ([]vfs.Dirent, error) {
	ents := make([]vfs.Dirent, len(d.names))
	for i, name := range d.names {
		st, _ := d.nodes[i].Stat()
		ents[i] = vfs.Dirent{Name: name, Ino: st.Ino, Type: vfs.DirentType(st.Mode), Off: int64(i + 1)}
	}
	return ents, nil
}

// Lookup implements vfs.Node.
func (d *dir) Lookup(name string) (vfs.Node, error) {
	for i, n := range d.names {
		if n == name {
			return d.nodes[i], nil
		}
	}
	return nil, syscall.ENOENT
}

// Readlink implements vfs.Node: EINVAL.
func (d *dir) Readlink() (string, error) { return "", syscall.EINVAL }

// symlink is a symbolic link.
type symlink struct {
	meta
	target string
}

var _ vfs.Node = (*symlink)(nil)

// Stat implements vfs.Node.
func (l *symlink) Stat() (vfs.Stat, error) { return l.stat(1, int64(len(l.target))), nil }

// ReadAt implements vfs.Node: EINVAL.
func (l *symlink) ReadAt(p []byte, off int64) (int, error) { return 0, syscall.EINVAL }

// Readdir implements vfs.Node: ENOTDIR.
func (l *symlink) Readdir() ([]vfs.Dirent, error) { return nil, syscall.ENOTDIR }

// Lookup implements vfs.Node: ENOTDIR.
func (l *symlink) Lookup(name string) (vfs.Node, error) { return nil, syscall.ENOTDIR }

// Readlink implements vfs.Node.
func (l *symlink) Readlink() (string, error) { return l.target, nil }

// device is a character device.
type device struct {
	meta
	kind kind
	rdev uint64
}

var (
	_ vfs.Node   = (*device)(nil)
	_ vfs.Writer = (*device)(nil)
)

// Stat implements vfs.Node.
func (d *device) Stat() (vfs.Stat, error) {
	st := d.stat(1, 0)
	st.Rdev = d.rdev
	return st, nil
}

// ReadAt implements vfs.Node; off is ignored.
func (d *device) ReadAt(p []byte, off int64) (int, error) {
	switch d.kind {
	case devZero, devFull:
		clear(p)
		return len(p), nil
	case devRandom:
		entropy.Read(p)
		return len(p), nil
	}
	return 0, io.EOF
}

// WriteAt implements vfs.Writer; off is ignored.
func (d *device) WriteAt(p []byte, off int64) (int, error) {
	switch d.kind {
	case devFull:
		return 0, syscall.ENOSPC
	case devConsole:
		if d.fs.console == nil || len(p) == 0 {
			return len(p), nil
		}
		d.fs.mu.Lock()
		defer d.fs.mu.Unlock()
		return d.fs.console.Write(p)
	}
	return len(p), nil
}

// Readdir implements vfs.Node: ENOTDIR.
func (d *device) Readdir() ([]vfs.Dirent, error) { return nil, syscall.ENOTDIR }

// Lookup implements vfs.Node: ENOTDIR.
func (d *device) Lookup(name string) (vfs.Node, error) { return nil, syscall.ENOTDIR }

// Readlink implements vfs.Node: EINVAL.
func (d *device) Readlink() (string, error) { return "", syscall.EINVAL }
