package vfs

import (
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// FS is a mount table: file systems (their root directories) mounted at
// absolute paths, and Linux path resolution across them. The zero FS has
// nothing mounted; Mount a root at "/" first. FS is safe for concurrent
// use: resolution reads an immutable snapshot of the table, so mounting
// never blocks it.
//
// Paths are resolved one component at a time, following Linux: "." and
// ".." (which stays at "/" and crosses back out of a mount), repeated
// slashes, relative paths against a working directory, symbolic links
// (relative and absolute, at most MaxSymlinks per resolution: ELOOP),
// components longer than NameMax and paths of PathMax bytes or more
// (ENAMETOOLONG), a trailing slash (the last component must be a
// directory, and a symbolic link there is followed). A component whose
// canonical path is a mount point enters the mounted file system, even if
// the file system below has no such name.
type FS struct {
	mu    sync.Mutex // serializes writers of table
	table atomic.Pointer[mountTable]
}

type mountTable struct {
	mounts map[string]Node // canonical absolute path -> mounted root
}

// Mount attaches root, a directory, at the absolute path p. Mounting on
// a path already mounted fails with EBUSY.
func (f *FS) Mount(p string, root Node) error {
	if p == "" || p[0] != '/' {
		return &fs.PathError{Op: "mount", Path: p, Err: syscall.EINVAL}
	}
	p = path.Clean(p)
	st, err := root.Stat()
	if err != nil {
		return &fs.PathError{Op: "mount", Path: p, Err: err}
	}
	if !st.IsDir() {
		return &fs.PathError{Op: "mount", Path: p, Err: syscall.ENOTDIR}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.table.Load()
	t := &mountTable{mounts: map[string]Node{}}
	if old != nil {
		if _, ok := old.mounts[p]; ok {
			return &fs.PathError{Op: "mount", Path: p, Err: syscall.EBUSY}
		}
		for k, v := range old.mounts {
			t.mounts[k] = v
		}
	}
	t.mounts[p] = root
	f.table.Store(t)
	return nil
}

// Unmount detaches the file system mounted at p (EINVAL if none is).
func (f *FS) Unmount(p string) error {
	if p == "" || p[0] != '/' {
		return &fs.PathError{Op: "unmount", Path: p, Err: syscall.EINVAL}
	}
	p = path.Clean(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.table.Load()
	if old == nil || old.mounts[p] == nil {
		return &fs.PathError{Op: "unmount", Path: p, Err: syscall.EINVAL}
	}
	t := &mountTable{mounts: map[string]Node{}}
	for k, v := range old.mounts {
		if k != p {
			t.mounts[k] = v
		}
	}
	f.table.Store(t)
	return nil
}

// Mounts returns the mount points, sorted.
func (f *FS) Mounts() []string {
	t := f.table.Load()
	if t == nil {
		return nil
	}
	var ps []string
	for k := range t.mounts {
		ps = append(ps, k)
	}
	slices.Sort(ps)
	return ps
}

// Dir is where relative path names start: a working directory or an
// open directory (the dirfd of an *at() call). A Dir from At names a
// path, resolved afresh on every use; a Dir from Walk holds the resolved
// directory itself, so names relative to it keep resolving in that
// directory after it is renamed or moved, as they do relative to a Linux
// directory fd (its "..", mount point and reported path stay those it
// was resolved with).
type Dir struct {
	fs     *FS
	path   string
	frames []frame // the resolved stack; nil: resolve path
}

// At returns the Dir for cwd, an absolute canonical directory path such
// as Walk's Dir.Path returns.
func (f *FS) At(cwd string) Dir { return Dir{fs: f, path: cwd} }

// Path returns the canonical absolute path d was resolved by.
func (d Dir) Path() string { return d.path }

// Resolve returns the node path names, relative paths starting at cwd
// (an absolute, canonical directory path such as ResolvePath returns).
// If followLast is false and the last component is a symbolic link, the
// link itself is returned (lstat, O_NOFOLLOW).
func (f *FS) Resolve(cwd, p string, followLast bool) (Node, error) {
	return f.At(cwd).Resolve(p, followLast)
}

// ResolvePath is Resolve that also returns the node's canonical absolute
// path (symbolic links, "." and ".." gone): what chdir stores as the new
// working directory and getcwd reports.
func (f *FS) ResolvePath(cwd, p string, followLast bool) (Node, string, error) {
	n, at, err := f.At(cwd).Walk(p, followLast)
	return n, at.path, err
}

// Resolve is FS.Resolve relative to d.
func (d Dir) Resolve(p string, followLast bool) (Node, error) {
	n, _, err := d.Walk(p, followLast)
	return n, err
}

// Walk resolves p relative to d as Resolve does and returns the node
// with its Dir, which holds the node itself: relative paths resolved
// from it start in that node (ENOTDIR unless it is a directory) even
// after it has moved.
func (d Dir) Walk(p string, followLast bool) (Node, Dir, error) {
	w, err := d.start("resolve", p)
	if err != nil {
		return nil, Dir{}, err
	}
	if _, err := w.run(split(p), followLast, strings.HasSuffix(p, "/"), false); err != nil {
		return nil, Dir{}, &fs.PathError{Op: "resolve", Path: p, Err: err}
	}
	return w.top().node, Dir{fs: d.fs, path: w.path(), frames: slices.Clone(w.stack)}, nil
}

// Lookup resolves all but the last component of p and returns that
// directory and the last component, for calls that create or remove a
// name. The name is "." or ".." when p ends so (and "." for "/"); callers
// map those to their own errnos. If followLast is true and the last
// component names an existing symbolic link, the link is followed and the
// result is the parent and name of its target, as open(O_CREAT) without
// O_EXCL requires.
func (f *FS) Lookup(cwd, p string, followLast bool) (dir Node, name string, err error) {
	return f.At(cwd).Lookup(p, followLast)
}

// Lookup is FS.Lookup relative to d.
func (d Dir) Lookup(p string, followLast bool) (dir Node, name string, err error) {
	w, name, _, err := d.lookup("lookup", p, followLast)
	if err != nil {
		return nil, "", err
	}
	return w.top().node, name, nil
}

// lookup resolves the parent of p's last component. slash reports that
// the name had a trailing slash (its own, or a followed link's target's).
func (d Dir) lookup(op, p string, followLast bool) (w *walker, name string, slash bool, err error) {
	if w, err = d.start(op, p); err != nil {
		return nil, "", false, err
	}
	name, err = w.run(split(p), followLast, strings.HasSuffix(p, "/"), true)
	if err != nil {
		return nil, "", false, &fs.PathError{Op: op, Path: p, Err: err}
	}
	return w, name, w.slash, nil
}

// start checks p and positions a walker at "/" or at d.
func (d Dir) start(op, p string) (*walker, error) {
	switch {
	case p == "":
		return nil, &fs.PathError{Op: op, Path: p, Err: syscall.ENOENT}
	case len(p) >= PathMax:
		return nil, &fs.PathError{Op: op, Path: p[:64] + "...", Err: syscall.ENAMETOOLONG}
	}
	if d.fs == nil {
		// The zero Dir, as of a pipe's fd: no directory.
		return nil, &fs.PathError{Op: op, Path: p, Err: syscall.ENOTDIR}
	}
	t := d.fs.table.Load()
	if t == nil || t.mounts["/"] == nil {
		return nil, &fs.PathError{Op: op, Path: p, Err: syscall.ENOENT}
	}
	w := &walker{t: t, stack: []frame{{node: t.mounts["/"], dir: true, mnt: "/"}}}
	if p[0] != '/' {
		if d.frames != nil {
			w.stack = append(w.stack[:0], d.frames...)
		} else if _, err := w.run(split(d.path), true, true, false); err != nil {
			return nil, &fs.PathError{Op: op, Path: d.path, Err: err}
		}
	}
	return w, nil
}

// frame is one resolved component.
type frame struct {
	name string
	node Node
	dir  bool   // node is a directory
	mnt  string // mount point of the file system node belongs to
}

type walker struct {
	t     *mountTable
	stack []frame
	links int
	// slash is set by a parent lookup (wantParent) whose last name had a
	// trailing slash.
	slash bool
}

func (w *walker) top() *frame { return &w.stack[len(w.stack)-1] }

// path is the canonical path of the top of the stack.
func (w *walker) path() string { return w.pathWith("") }

// pathWith is the canonical path of name in the top directory.
func (w *walker) pathWith(name string) string {
	if len(w.stack) == 1 && name == "" {
		return "/"
	}
	var b strings.Builder
	for _, fr := range w.stack[1:] {
		b.WriteByte('/')
		b.WriteString(fr.name)
	}
	if name != "" {
		b.WriteByte('/')
		b.WriteString(name)
	}
	return b.String()
}

// child looks name up in the top directory, entering mounts. It returns
// the node, its Stat and its mount point.
func (w *walker) child(name string) (Node, Stat, string, error) {
	mnt := w.top().mnt
	var n Node
	if len(w.t.mounts) > 1 {
		p := w.pathWith(name)
		if m := w.t.mounts[p]; m != nil {
			n, mnt = m, p
		}
	}
	if n == nil {
		var err error
		if n, err = w.top().node.Lookup(name); err != nil {
			return nil, Stat{}, "", err
		}
	}
	st, err := n.Stat()
	if err != nil {
		return nil, Stat{}, "", err
	}
	return n, st, mnt, nil
}

// follow splices the target of the symbolic link n in front of rest.
func (w *walker) follow(n Node, rest []string) ([]string, bool, error) {
	w.links++
	if w.links > MaxSymlinks {
		return nil, false, syscall.ELOOP
	}
	target, err := n.Readlink()
	if err != nil {
		return nil, false, err
	}
	switch {
	case target == "":
		return nil, false, syscall.ENOENT
	case len(target) >= PathMax:
		return nil, false, syscall.ENAMETOOLONG
	}
	if target[0] == '/' {
		w.stack = w.stack[:1]
	}
	comps := split(target)
	// A trailing slash on a target followed as the last component makes
	// the result a directory.
	slash := len(rest) == 0 && strings.HasSuffix(target, "/")
	return append(comps, rest...), slash, nil
}

// run resolves rest from the top of the stack. mustDir says the path
// ended in a slash. With wantParent it stops before the last component
// and returns it ("." if there is none).
func (w *walker) run(rest []string, followLast, mustDir, wantParent bool) (string, error) {
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		last := len(rest) == 0
		if !w.top().dir {
			return "", syscall.ENOTDIR
		}
		if len(c) > NameMax {
			return "", syscall.ENAMETOOLONG
		}
		if last && wantParent {
			w.slash = mustDir
			if !followLast || c == "." || c == ".." {
				return c, nil
			}
			n, st, _, err := w.child(c)
			if err == syscall.ENOENT || err == nil && !st.IsSymlink() {
				return c, nil
			}
			if err != nil {
				return "", err
			}
			var slash bool
			if rest, slash, err = w.follow(n, rest); err != nil {
				return "", err
			}
			mustDir = mustDir || slash
			continue
		}
		switch c {
		case ".":
			continue
		case "..":
			if len(w.stack) > 1 {
				w.stack = w.stack[:len(w.stack)-1]
			}
			continue
		}
		n, st, mnt, err := w.child(c)
		if err != nil {
			return "", err
		}
		if st.IsSymlink() && (!last || followLast || mustDir) {
			var slash bool
			if rest, slash, err = w.follow(n, rest); err != nil {
				return "", err
			}
			mustDir = mustDir || slash
			continue
		}
		w.stack = append(w.stack, frame{name: c, node: n, dir: st.IsDir(), mnt: mnt})
	}
	if wantParent {
		return ".", nil
	}
	if mustDir && !w.top().dir {
		return "", syscall.ENOTDIR
	}
	return "", nil
}

// split breaks a path into its non-empty components.
func split(p string) []string {
	comps := make([]string, 0, strings.Count(p, "/")+1)
	for p != "" {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			comps = append(comps, p)
			break
		}
		if i > 0 {
			comps = append(comps, p[:i])
		}
		p = p[i+1:]
	}
	return comps
}

// The helpers below implement the name-changing system calls on top of
// Lookup, with Linux's errnos for the corner cases, and EROFS when the
// file system is not writable.

// isMount reports whether name in the walker's top directory is a mount
// point.
func (w *walker) isMount(name string) bool {
	if len(w.t.mounts) < 2 {
		return false
	}
	return w.t.mounts[w.pathWith(name)] != nil
}

// The FS methods below resolve relative paths from a working directory
// path; the Dir methods of the same names from a Dir.

// Mkdir makes a directory (mkdir(2)).
func (f *FS) Mkdir(cwd, p string, perm uint32) (Node, error) { return f.At(cwd).Mkdir(p, perm) }

// Create is Dir.Create from cwd.
func (f *FS) Create(cwd, p string, perm uint32, excl bool) (n Node, created bool, err error) {
	return f.At(cwd).Create(p, perm, excl)
}

// Symlink makes a symbolic link at p pointing to target (symlink(2)).
func (f *FS) Symlink(target, cwd, p string) (Node, error) { return f.At(cwd).Symlink(target, p) }

// Mknod is Dir.Mknod from cwd.
func (f *FS) Mknod(cwd, p string, mode uint32) (Node, error) { return f.At(cwd).Mknod(p, mode) }

// Unlink removes a non-directory (unlink(2)).
func (f *FS) Unlink(cwd, p string) error { return f.At(cwd).Unlink(p) }

// Rmdir removes an empty directory (rmdir(2)).
func (f *FS) Rmdir(cwd, p string) error { return f.At(cwd).Rmdir(p) }

// Rename moves oldPath to newPath (rename(2)), both relative to cwd.
func (f *FS) Rename(cwd, oldPath, newPath string) error {
	return f.At(cwd).Rename(oldPath, f.At(cwd), newPath)
}

// Link makes newPath another name of oldPath (link(2)), both relative
// to cwd.
func (f *FS) Link(cwd, oldPath, newPath string) error {
	return f.At(cwd).Link(oldPath, f.At(cwd), newPath)
}

// Mkdir makes a directory (mkdir(2)).
func (d Dir) Mkdir(p string, perm uint32) (Node, error) {
	w, name, _, err := d.lookup("mkdir", p, false)
	if err != nil {
		return nil, err
	}
	if name == "." || name == ".." || w.isMount(name) {
		return nil, &fs.PathError{Op: "mkdir", Path: p, Err: syscall.EEXIST}
	}
	dir := w.top().node
	dw, ok := dir.(DirWriter)
	if !ok {
		return nil, &fs.PathError{Op: "mkdir", Path: p, Err: existsOr(dir, name, syscall.EROFS)}
	}
	n, err := dw.Mkdir(name, perm)
	if err != nil {
		return nil, &fs.PathError{Op: "mkdir", Path: p, Err: err}
	}
	return n, nil
}

// existsOr returns EEXIST if name exists in dir, else err: Linux reports
// an existing name before a read-only file system.
func existsOr(dir Node, name string, err error) error {
	if _, e := dir.Lookup(name); e == nil {
		return syscall.EEXIST
	}
	return err
}

// Create opens or creates a regular file as open(2) with O_CREAT does:
// with excl (O_EXCL) an existing name fails with EEXIST and a trailing
// symbolic link is not followed; otherwise an existing file is returned
// (created false) and a dangling link's target is created. A trailing
// slash, in p or in a followed link's target, fails with EISDIR.
func (d Dir) Create(p string, perm uint32, excl bool) (n Node, created bool, err error) {
	w, name, slash, err := d.lookup("create", p, !excl)
	if err != nil {
		return nil, false, err
	}
	fail := func(e error) (Node, bool, error) { return nil, false, &fs.PathError{Op: "create", Path: p, Err: e} }
	if name == "." || name == ".." || slash {
		return fail(syscall.EISDIR)
	}
	for attempt := 0; ; attempt++ {
		n, st, _, err := w.child(name)
		switch {
		case err == nil && excl:
			return fail(syscall.EEXIST)
		case err == nil && st.IsDir():
			return fail(syscall.EISDIR)
		case err == nil:
			return n, false, nil
		case err != syscall.ENOENT:
			return fail(err)
		}
		dw, ok := w.top().node.(DirWriter)
		if !ok {
			return fail(syscall.EROFS)
		}
		n, err = dw.Create(name, perm)
		if err == syscall.EEXIST && !excl && attempt == 0 {
			continue // lost a race with another creator: open theirs
		}
		if err != nil {
			return fail(err)
		}
		return n, true, nil
	}
}

// newName finds the parent directory for a new non-directory at p, with
// Linux's errnos: EEXIST for "."/".."/mount points and existing names,
// EROFS, and ENOENT for a trailing slash (a directory was asked for).
func (d Dir) newName(op, p string) (*walker, DirWriter, string, error) {
	w, name, slash, err := d.lookup(op, p, false)
	if err != nil {
		return nil, nil, "", err
	}
	if name == "." || name == ".." || w.isMount(name) {
		return nil, nil, "", &fs.PathError{Op: op, Path: p, Err: syscall.EEXIST}
	}
	dir := w.top().node
	dw, ok := dir.(DirWriter)
	switch {
	case !ok:
		err = existsOr(dir, name, syscall.EROFS)
	case slash:
		err = existsOr(dir, name, syscall.ENOENT)
	}
	if err != nil {
		return nil, nil, "", &fs.PathError{Op: op, Path: p, Err: err}
	}
	return w, dw, name, nil
}

// Symlink makes a symbolic link at p pointing to target (symlink(2)).
func (d Dir) Symlink(target, p string) (Node, error) {
	fail := func(e error) (Node, error) { return nil, &fs.PathError{Op: "symlink", Path: p, Err: e} }
	switch {
	case target == "":
		return fail(syscall.ENOENT)
	case len(target) >= PathMax:
		return fail(syscall.ENAMETOOLONG)
	}
	_, dw, name, err := d.newName("symlink", p)
	if err != nil {
		return nil, err
	}
	n, err := dw.Symlink(name, target)
	if err != nil {
		return fail(err)
	}
	return n, nil
}

// Mknod makes a regular file, a FIFO or a socket's name (mknod(2), and
// bind(2) of a unix socket); mode is the type (0 for a regular file) and
// the permission bits. Devices fail with EPERM (the application may not
// make them), directories with EPERM and unknown types with EINVAL, as
// Linux's mknod does.
func (d Dir) Mknod(p string, mode uint32) (Node, error) {
	fail := func(e error) (Node, error) { return nil, &fs.PathError{Op: "mknod", Path: p, Err: e} }
	switch mode & S_IFMT {
	case 0:
		mode |= S_IFREG
	case S_IFREG, S_IFIFO, S_IFSOCK:
	case S_IFCHR, S_IFBLK, S_IFDIR:
		return fail(syscall.EPERM)
	default:
		return fail(syscall.EINVAL)
	}
	_, dw, name, err := d.newName("mknod", p)
	if err != nil {
		return nil, err
	}
	m, ok := dw.(Mknoder)
	if !ok {
		return fail(syscall.EPERM)
	}
	n, err := m.Mknod(name, mode&(S_IFMT|PermMask))
	if err != nil {
		return fail(err)
	}
	return n, nil
}

// Unlink removes a non-directory (unlink(2)).
func (d Dir) Unlink(p string) error {
	w, name, slash, err := d.lookup("unlink", p, false)
	if err != nil {
		return err
	}
	fail := func(e error) error { return &fs.PathError{Op: "unlink", Path: p, Err: e} }
	if name == "." || name == ".." {
		return fail(syscall.EISDIR)
	}
	_, st, _, err := w.child(name)
	switch {
	case err != nil:
		return fail(err)
	case st.IsDir():
		return fail(syscall.EISDIR)
	case slash:
		return fail(syscall.ENOTDIR)
	case w.isMount(name):
		return fail(syscall.EBUSY)
	}
	dw, ok := w.top().node.(DirWriter)
	if !ok {
		return fail(syscall.EROFS)
	}
	if err := dw.Unlink(name); err != nil {
		return fail(err)
	}
	return nil
}

// Rmdir removes an empty directory (rmdir(2)).
func (d Dir) Rmdir(p string) error {
	w, name, _, err := d.lookup("rmdir", p, false)
	if err != nil {
		return err
	}
	fail := func(e error) error { return &fs.PathError{Op: "rmdir", Path: p, Err: e} }
	switch {
	case name == "." && len(w.stack) == 1:
		return fail(syscall.EBUSY)
	case name == ".":
		return fail(syscall.EINVAL)
	case name == "..":
		return fail(syscall.ENOTEMPTY)
	}
	_, st, _, err := w.child(name)
	switch {
	case err != nil:
		return fail(err)
	case !st.IsDir():
		return fail(syscall.ENOTDIR)
	case w.isMount(name):
		return fail(syscall.EBUSY)
	}
	dw, ok := w.top().node.(DirWriter)
	if !ok {
		return fail(syscall.EROFS)
	}
	if err := dw.Rmdir(name); err != nil {
		return fail(err)
	}
	return nil
}

// Rename moves oldPath (relative to d) to newPath (relative to newDir),
// as rename(2) does: EXDEV across mounts, EBUSY for mount points and
// "."/"..", ENOTDIR for a trailing slash on a non-directory.
func (d Dir) Rename(oldPath string, newDir Dir, newPath string) error {
	ow, oname, oslash, err := d.lookup("rename", oldPath, false)
	if err != nil {
		return err
	}
	nw, nname, nslash, err := newDir.lookup("rename", newPath, false)
	if err != nil {
		return err
	}
	fail := func(e error) error {
		return &fs.PathError{Op: "rename", Path: oldPath + " -> " + newPath, Err: e}
	}
	if oname == "." || oname == ".." || nname == "." || nname == ".." {
		return fail(syscall.EBUSY)
	}
	_, st, _, err := ow.child(oname)
	if err != nil {
		return fail(err)
	}
	if !st.IsDir() && (oslash || nslash) {
		return fail(syscall.ENOTDIR)
	}
	if ow.isMount(oname) || nw.isMount(nname) {
		return fail(syscall.EBUSY)
	}
	if ow.top().mnt != nw.top().mnt {
		return fail(syscall.EXDEV)
	}
	dw, ok := ow.top().node.(DirWriter)
	if !ok {
		return fail(syscall.EROFS)
	}
	if err := dw.Rename(oname, nw.top().node, nname); err != nil {
		return fail(err)
	}
	return nil
}

// Link makes newPath (relative to newDir) another name of oldPath
// (relative to d), as link(2) does: a trailing symbolic link in oldPath
// is not followed unless oldPath ends in a slash, which asks for a
// directory (ENOTDIR, or EPERM for a directory).
func (d Dir) Link(oldPath string, newDir Dir, newPath string) error {
	fail := func(e error) error {
		return &fs.PathError{Op: "link", Path: oldPath + " -> " + newPath, Err: e}
	}
	ow, oname, oslash, err := d.lookup("link", oldPath, false)
	if err != nil {
		return err
	}
	if oname == "." || oname == ".." {
		return fail(syscall.EPERM)
	}
	if oslash {
		// Resolved as a directory: a link is followed, a file refused.
		if _, err := d.Resolve(oldPath, true); err != nil {
			return fail(Errno(err))
		}
		return fail(syscall.EPERM)
	}
	target, st, _, err := ow.child(oname)
	if err != nil {
		return fail(err)
	}
	if st.IsDir() {
		return fail(syscall.EPERM)
	}
	nw, ndw, nname, err := newDir.newName("link", newPath)
	if err != nil {
		return fail(Errno(err))
	}
	if ow.top().mnt != nw.top().mnt {
		return fail(syscall.EXDEV)
	}
	l, ok := ndw.(Linker)
	if !ok {
		return fail(syscall.EPERM)
	}
	if err := l.Link(nname, target); err != nil {
		return fail(err)
	}
	return nil
}
