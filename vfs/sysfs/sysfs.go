// Package sysfs is the part of /sys that Linux programs and runtimes
// read to size themselves:
//
//	/sys/devices/system/cpu/{online,possible,present}  "0-N\n" ("0\n" for one CPU)
//	/sys/devices/system/cpu/cpu0 ... cpuN/             (glibc counts these)
//	/sys/kernel/mm/transparent_hugepage/enabled        "always [madvise] never\n"
//	/sys/kernel/mm/transparent_hugepage/defrag         "always defer defer+madvise [madvise] never\n"
//	/sys/kernel/mm/transparent_hugepage/hpage_pmd_size "2097152\n" (the Go runtime reads it)
//	/sys/fs/cgroup/                                    empty: no cgroups
//	/sys/class/net/                                    empty for now
//
// The tree is fixed and read-only (no node implements vfs.Writer or
// vfs.DirWriter). Files report their real length as Size (Linux's sysfs
// says 4096 for every attribute).
package sysfs

import (
	"fmt"
	"io"
	"sort"
	"syscall"
	"time"

	"gosv/vfs"
)

// SysSource is what the tree is built from.
type SysSource struct {
	// CPUs is the number of CPUs, all online (0 counts as 1).
	CPUs int
	// Now gives the file times (default time.Now, read once by New).
	Now func() time.Time
}

// New returns the root of a sysfs.
func New(src SysSource) vfs.Node {
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	b := &builder{time: now()}
	ncpu := max(src.CPUs, 1)
	cpuRange := "0\n"
	if ncpu > 1 {
		cpuRange = fmt.Sprintf("0-%d\n", ncpu-1)
	}
	cpu := map[string]*node{
		"online":   b.file(0o444, cpuRange),
		"possible": b.file(0o444, cpuRange),
		"present":  b.file(0o444, cpuRange),
	}
	for i := range ncpu {
		cpu[fmt.Sprintf("cpu%d", i)] = b.dir(nil)
	}
	return b.dir(map[string]*node{
		"class": b.dir(map[string]*node{
			"net": b.dir(nil),
		}),
		"devices": b.dir(map[string]*node{
			"system": b.dir(map[string]*node{
				"cpu": b.dir(cpu),
			}),
		}),
		"fs": b.dir(map[string]*node{
			"cgroup": b.dir(nil),
		}),
		"kernel": b.dir(map[string]*node{
			"mm": b.dir(map[string]*node{
				"transparent_hugepage": b.dir(map[string]*node{
					"defrag":         b.file(0o644, "always defer defer+madvise [madvise] never\n"),
					"enabled":        b.file(0o644, "always [madvise] never\n"),
					"hpage_pmd_size": b.file(0o444, "2097152\n"),
				}),
			}),
		}),
	})
}

type builder struct {
	ino  uint64
	time time.Time
}

func (b *builder) node(mode uint32) *node {
	b.ino++
	return &node{ino: b.ino, mode: mode, time: b.time}
}

func (b *builder) file(perm uint32, data string) *node {
	n := b.node(vfs.S_IFREG | perm)
	n.data = data
	return n
}

// dir makes a directory. Children are made before their parent, so inode
// numbers are unique but the root's is not 1.
func (b *builder) dir(children map[string]*node) *node {
	n := b.node(vfs.S_IFDIR | 0o755)
	n.nlink = 2
	for name, c := range children {
		n.entries = append(n.entries, entry{name, c})
		if c.isDir() {
			n.nlink++
		}
	}
	sort.Slice(n.entries, func(i, j int) bool { return n.entries[i].name < n.entries[j].name })
	return n
}

// node is a directory or a regular file.
type node struct {
	ino     uint64
	mode    uint32
	nlink   uint64
	time    time.Time
	data    string  // regular file
	entries []entry // directory, sorted by name
}

type entry struct {
	name string
	n    *node
}

var _ vfs.Node = (*node)(nil)

func (n *node) isDir() bool { return n.mode&vfs.S_IFMT == vfs.S_IFDIR }

// Stat implements vfs.Node.
func (n *node) Stat() (vfs.Stat, error) {
	st := vfs.Stat{Mode: n.mode, Ino: n.ino, Nlink: 1, Atime: n.time, Mtime: n.time, Ctime: n.time}
	if n.isDir() {
		st.Nlink = n.nlink
	} else {
		st.Size = int64(len(n.data))
	}
	return st, nil
}

// ReadAt implements vfs.Node.
func (n *node) ReadAt(p []byte, off int64) (int, error) {
	switch {
	case n.isDir():
		return 0, syscall.EISDIR
	case off < 0:
		return 0, syscall.EINVAL
	case off >= int64(len(n.data)):
		return 0, io.EOF
	}
	k := copy(p, n.data[off:])
	if k < len(p) {
		return k, io.EOF
	}
	return k, nil
}

// Readdir implements vfs.Node: entries sorted by name, Off from 1.
func (n *node) Readdir() ([]vfs.Dirent, error) {
	if !n.isDir() {
		return nil, syscall.ENOTDIR
	}
	ents := make([]vfs.Dirent, len(n.entries))
	for i, e := range n.entries {
		ents[i] = vfs.Dirent{Name: e.name, Ino: e.n.ino, Type: vfs.DirentType(e.n.mode), Off: int64(i + 1)}
	}
	return ents, nil
}

// Lookup implements vfs.Node.
func (n *node) Lookup(name string) (vfs.Node, error) {
	if !n.isDir() {
		return nil, syscall.ENOTDIR
	}
	i := sort.Search(len(n.entries), func(i int) bool { return n.entries[i].name >= name })
	if i < len(n.entries) && n.entries[i].name == name {
		return n.entries[i].n, nil
	}
	return nil, syscall.ENOENT
}

// Readlink implements vfs.Node: EINVAL.
func (n *node) Readlink() (string, error) { return "", syscall.EINVAL }
