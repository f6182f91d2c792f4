// Package ramfs is a writable in-memory file system (like Linux's tmpfs):
// regular files, directories, symbolic links, FIFOs and sockets (whose
// pipes and connections the syscall layer keeps), with creation, writes at any offset (holes cost
// no memory), truncation, unlink, rename within the file system, hard
// links, mkdir and rmdir, and changeable mode, owner and times. It is safe for concurrent
// use: one mutex per file system guards all its nodes.
package ramfs

import (
	"io"
	"slices"
	"sync"
	"syscall"
	"time"

	"gosv/vfs"
)

// pageSize is the unit of file storage; missing pages read as zeros.
const pageSize = 4096

// Options configure a file system.
type Options struct {
	// Now is the clock for file times (default time.Now).
	Now func() time.Time
	// MaxBytes limits the file data held (in whole pages); writes past it
	// fail with ENOSPC. 0 means no limit.
	MaxBytes int64
}

// New returns the root directory (mode 01777, like /tmp) of a new, empty
// file system.
func New() vfs.Node { return NewWith(Options{}) }

// NewWith is New with options.
func NewWith(o Options) vfs.Node {
	if o.Now == nil {
		o.Now = time.Now
	}
	f := &fsys{opt: o}
	root := f.newNode(vfs.S_IFDIR | 0o1777)
	root.parent = root
	root.nlink = 2
	return root
}

type fsys struct {
	mu    sync.Mutex
	opt   Options
	ino   uint64 // last inode number handed out
	pages int64  // pages held by all files
}

type page [pageSize]byte

// node is a file of any type; the fields used depend on the type.
type node struct {
	fs    *fsys
	ino   uint64
	mode  uint32
	nlink uint64
	uid   uint32
	gid   uint32
	atime time.Time
	mtime time.Time
	ctime time.Time

	// Regular files. An orphan (all names unlinked, maybe still open)
	// no longer counts against Options.MaxBytes.
	size   int64
	pages  map[int64]*page
	orphan bool

	// Directories.
	entries map[string]entry
	seq     int64 // last entry cookie handed out
	parent  *node

	// Symbolic links.
	target string
}

type entry struct {
	n   *node
	off int64
}

var (
	_ vfs.Node        = (*node)(nil)
	_ vfs.Writer      = (*node)(nil)
	_ vfs.Truncater   = (*node)(nil)
	_ vfs.DirWriter   = (*node)(nil)
	_ vfs.Linker      = (*node)(nil)
	_ vfs.AttrChanger = (*node)(nil)
	_ vfs.Mknoder     = (*node)(nil)
)

// newNode makes a node; f.mu is held (or f is not yet shared).
func (f *fsys) newNode(mode uint32) *node {
	f.ino++
	now := f.opt.Now()
	n := &node{fs: f, ino: f.ino, mode: mode, nlink: 1, atime: now, mtime: now, ctime: now}
	switch mode & vfs.S_IFMT {
	case vfs.S_IFDIR:
		n.entries = map[string]entry{}
		n.nlink = 2
	case vfs.S_IFREG:
		n.pages = map[int64]*page{}
	}
	return n
}

func (n *node) typ() uint32 { return n.mode & vfs.S_IFMT }
func (n *node) isDir() bool { return n.typ() == vfs.S_IFDIR }

// Stat implements vfs.Node.
func (n *node) Stat() (vfs.Stat, error) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	st := vfs.Stat{
		Mode: n.mode, Ino: n.ino, Nlink: n.nlink, UID: n.uid, GID: n.gid,
		Atime: n.atime, Mtime: n.mtime, Ctime: n.ctime,
	}
	switch n.typ() {
	case vfs.S_IFREG:
		st.Size = n.size
	case vfs.S_IFLNK:
		st.Size = int64(len(n.target))
	case vfs.S_IFDIR:
		st.Size = pageSize
	}
	return st, nil
}

// kindErr is the error for a file operation on a node of the wrong type.
func (n *node) kindErr() error {
	if n.isDir() {
		return syscall.EISDIR
	}
	return syscall.EINVAL
}

// ReadAt implements vfs.Node.
func (n *node) ReadAt(p []byte, off int64) (int, error) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if n.typ() != vfs.S_IFREG {
		return 0, n.kindErr()
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if off >= n.size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > n.size-off {
		p = p[:n.size-off]
	}
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		in := int(pos % pageSize)
		chunk := p[done:min(len(p), done+pageSize-in)]
		if pg := n.pages[pos/pageSize]; pg != nil {
			copy(chunk, pg[in:])
		} else {
			clear(chunk)
		}
		done += len(chunk)
	}
	if done < want {
		return done, io.EOF
	}
	return done, nil
}

// WriteAt implements vfs.Writer. A write that runs out of space (see
// Options.MaxBytes) returns the bytes written with ENOSPC.
func (n *node) WriteAt(p []byte, off int64) (int, error) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if n.typ() != vfs.S_IFREG {
		return 0, n.kindErr()
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if off+int64(len(p)) < off {
		return 0, syscall.EFBIG
	}
	done := 0
	var err error
	for done < len(p) {
		pos := off + int64(done)
		in := int(pos % pageSize)
		pg := n.pages[pos/pageSize]
		if pg == nil {
			if !n.orphan && !n.fs.reserve(1) {
				err = syscall.ENOSPC
				break
			}
			pg = new(page)
			n.pages[pos/pageSize] = pg
		}
		done += copy(pg[in:], p[done:])
	}
	if end := off + int64(done); end > n.size {
		n.size = end
	}
	if done > 0 {
		n.mtime = n.fs.opt.Now()
		n.ctime = n.mtime
	}
	return done, err
}

// reserve accounts for k more pages; f.mu is held.
func (f *fsys) reserve(k int64) bool {
	if f.opt.MaxBytes > 0 && (f.pages+k)*pageSize > f.opt.MaxBytes {
		return false
	}
	f.pages += k
	return true
}

// Truncate implements vfs.Truncater.
func (n *node) Truncate(size int64) error {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if n.typ() != vfs.S_IFREG {
		return n.kindErr()
	}
	if size < 0 {
		return syscall.EINVAL
	}
	n.truncate(size)
	n.mtime = n.fs.opt.Now()
	n.ctime = n.mtime
	return nil
}

// truncate sets the size, dropping pages past it and zeroing the tail of
// the last one so that a later extension reads zeros; f.mu is held.
func (n *node) truncate(size int64) {
	if size < n.size {
		last := (size + pageSize - 1) / pageSize // first page to drop
		for i := range n.pages {
			if i >= last {
				delete(n.pages, i)
				if !n.orphan {
					n.fs.pages--
				}
			}
		}
		if pg := n.pages[size/pageSize]; pg != nil && size%pageSize != 0 {
			clear(pg[size%pageSize:])
		}
	}
	n.size = size
}

// Readdir implements vfs.Node: entries in creation order.
func (n *node) Readdir() ([]vfs.Dirent, error) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if !n.isDir() {
		return nil, syscall.ENOTDIR
	}
	ents := make([]vfs.Dirent, 0, len(n.entries))
	for name, e := range n.entries {
		ents = append(ents, vfs.Dirent{Name: name, Ino: e.n.ino, Type: vfs.DirentType(e.n.mode), Off: e.off})
	}
	slices.SortFunc(ents, func(a, b vfs.Dirent) int { return int(a.Off - b.Off) })
	return ents, nil
}

// Lookup implements vfs.Node.
func (n *node) Lookup(name string) (vfs.Node, error) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if !n.isDir() {
		return nil, syscall.ENOTDIR
	}
	e, ok := n.entries[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	return e.n, nil
}

// Readlink implements vfs.Node.
func (n *node) Readlink() (string, error) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if n.typ() != vfs.S_IFLNK {
		return "", syscall.EINVAL
	}
	return n.target, nil
}

// checkNew validates that name can be added to directory n; f.mu is held.
func (n *node) checkNew(name string) error {
	if !n.isDir() {
		return syscall.ENOTDIR
	}
	if err := vfs.CheckName(name); err != nil {
		return err
	}
	if n.nlink == 0 {
		return syscall.ENOENT // removed directory
	}
	if _, ok := n.entries[name]; ok {
		return syscall.EEXIST
	}
	return nil
}

// add enters child under name; f.mu is held.
func (n *node) add(name string, child *node) {
	n.seq++
	n.entries[name] = entry{n: child, off: n.seq}
	if child.isDir() {
		child.parent = n
		n.nlink++
	}
	n.mtime = n.fs.opt.Now()
	n.ctime = n.mtime
}

// remove drops the entry name (which exists) and unlinks its node; f.mu
// is held.
func (n *node) remove(name string) {
	child := n.entries[name].n
	delete(n.entries, name)
	if child.isDir() {
		n.nlink--
		child.nlink = 0
		child.parent = nil
	} else {
		child.nlink--
		if child.nlink == 0 && child.typ() == vfs.S_IFREG {
			// The data stays readable through open files (the garbage
			// collector frees it after the last close); it no longer
			// counts against the file system's limit.
			n.fs.pages -= int64(len(child.pages))
			child.orphan = true
		}
	}
	now := n.fs.opt.Now()
	n.mtime, n.ctime, child.ctime = now, now, now
}

func (n *node) create(name string, mode uint32) (*node, error) {
	if err := n.checkNew(name); err != nil {
		return nil, err
	}
	child := n.fs.newNode(mode)
	n.add(name, child)
	return child, nil
}

// Create implements vfs.DirWriter.
func (n *node) Create(name string, perm uint32) (vfs.Node, error) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	return n.create(name, vfs.S_IFREG|perm&vfs.PermMask)
}

// Mkdir implements vfs.DirWriter.
func (n *node) Mkdir(name string, perm uint32) (vfs.Node, error) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	return n.create(name, vfs.S_IFDIR|perm&vfs.PermMask)
}

// Mknod implements vfs.Mknoder: regular files, FIFOs and sockets.
func (n *node) Mknod(name string, mode uint32) (vfs.Node, error) {
	switch mode & vfs.S_IFMT {
	case vfs.S_IFREG, vfs.S_IFIFO, vfs.S_IFSOCK:
	default:
		return nil, syscall.EPERM
	}
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	return n.create(name, mode&(vfs.S_IFMT|vfs.PermMask))
}

// ChangeAttr implements vfs.AttrChanger.
func (n *node) ChangeAttr(c vfs.AttrChange) error {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if c.Mode != nil {
		n.mode = n.mode&vfs.S_IFMT | *c.Mode&vfs.PermMask
	}
	if c.UID != nil || c.GID != nil {
		if c.UID != nil {
			n.uid = *c.UID
		}
		if c.GID != nil {
			n.gid = *c.GID
		}
		if !n.isDir() {
			n.mode &^= vfs.S_ISUID
			if n.mode&0o010 != 0 {
				n.mode &^= vfs.S_ISGID
			}
		}
	}
	if c.Atime != nil {
		n.atime = *c.Atime
	}
	if c.Mtime != nil {
		n.mtime = *c.Mtime
	}
	n.ctime = n.fs.opt.Now()
	return nil
}

// Symlink implements vfs.DirWriter.
func (n *node) Symlink(name, target string) (vfs.Node, error) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	switch {
	case target == "":
		return nil, syscall.ENOENT
	case len(target) >= vfs.PathMax:
		return nil, syscall.ENAMETOOLONG
	}
	child, err := n.create(name, vfs.S_IFLNK|0o777)
	if err != nil {
		return nil, err
	}
	child.target = target
	return child, nil
}

// existing finds name in directory n for removal; f.mu is held.
func (n *node) existing(name string) (*node, error) {
	if !n.isDir() {
		return nil, syscall.ENOTDIR
	}
	if err := vfs.CheckName(name); err != nil {
		if err == syscall.ENAMETOOLONG {
			return nil, err
		}
		return nil, syscall.ENOENT
	}
	e, ok := n.entries[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	return e.n, nil
}

// Unlink implements vfs.DirWriter.
func (n *node) Unlink(name string) error {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	child, err := n.existing(name)
	if err != nil {
		return err
	}
	if child.isDir() {
		return syscall.EISDIR
	}
	n.remove(name)
	return nil
}

// Rmdir implements vfs.DirWriter.
func (n *node) Rmdir(name string) error {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	child, err := n.existing(name)
	if err != nil {
		return err
	}
	if !child.isDir() {
		return syscall.ENOTDIR
	}
	if len(child.entries) > 0 {
		return syscall.ENOTEMPTY
	}
	n.remove(name)
	return nil
}

// Rename implements vfs.DirWriter.
func (n *node) Rename(oldName string, newDir vfs.Node, newName string) error {
	nd, ok := newDir.(*node)
	if !ok || nd.fs != n.fs {
		return syscall.EXDEV
	}
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	src, err := n.existing(oldName)
	if err != nil {
		return err
	}
	if !nd.isDir() {
		return syscall.ENOTDIR
	}
	if err := vfs.CheckName(newName); err != nil {
		return err
	}
	if nd.nlink == 0 {
		return syscall.ENOENT
	}
	if src.isDir() {
		// A directory cannot move below itself.
		for d := nd; ; d = d.parent {
			if d == src {
				return syscall.EINVAL
			}
			if d.parent == d || d.parent == nil {
				break
			}
		}
	}
	if e, ok := nd.entries[newName]; ok {
		dst := e.n
		switch {
		case dst == src:
			return nil // two names of one file (or the same name): nothing to do
		case src.isDir() && !dst.isDir():
			return syscall.ENOTDIR
		case !src.isDir() && dst.isDir():
			return syscall.EISDIR
		case dst.isDir() && len(dst.entries) > 0:
			return syscall.ENOTEMPTY
		}
		nd.remove(newName)
	}
	delete(n.entries, oldName)
	if src.isDir() {
		n.nlink--
	}
	now := n.fs.opt.Now()
	n.mtime, n.ctime, src.ctime = now, now, now
	nd.add(newName, src)
	return nil
}

// Link implements vfs.Linker.
func (n *node) Link(name string, target vfs.Node) error {
	t, ok := target.(*node)
	if !ok || t.fs != n.fs {
		return syscall.EXDEV
	}
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if t.isDir() {
		return syscall.EPERM
	}
	if t.nlink == 0 {
		return syscall.ENOENT
	}
	if err := n.checkNew(name); err != nil {
		return err
	}
	t.nlink++
	t.ctime = n.fs.opt.Now()
	n.add(name, t)
	return nil
}
