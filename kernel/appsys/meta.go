package appsys

import (
	"syscall"
	"time"

	"gosv/kernel"
	"gosv/vfs"
)

// Metadata changes: chmod, chown and file times. Permissions are not
// enforced (one application, running as root), so every change the file
// system can store is allowed; read-only file systems answer EROFS.

const (
	// utimeNow and utimeOmit are the special tv_nsec values of utimensat.
	utimeNow  = 1<<30 - 1
	utimeOmit = 1<<30 - 2
	// noID is the uid or gid (-1) that chown leaves unchanged.
	noID = ^uint32(0)
)

// target finds the node a metadata call changes: p relative to the
// call's directory fd, or the fd itself when p is empty and AT_EMPTY_PATH
// is set (or the path pointer is NULL and nullIsFD, as for futimens).
func (s *Server) target(r *kernel.Request, dirfd, pathArg, flags uint64, nullIsFD bool) (vfs.Node, error) {
	if pathArg == 0 && nullIsFD {
		return s.fdNode(r)
	}
	p, err := stringAt(pathArg, 4096)
	if err != nil {
		return nil, err
	}
	if p == "" {
		if flags&atEmptyPath == 0 {
			return nil, syscall.ENOENT
		}
		if int32(dirfd) == atFDCWD {
			return s.cwdDir().Resolve(".", true)
		}
		return s.fdNode(r)
	}
	base, err := s.baseOf(r, dirfd, p)
	if err != nil {
		return nil, err
	}
	return base.Resolve(p, flags&atSymlinkNofollow == 0)
}

// fdNode returns the node of the call's fd (its first argument).
func (s *Server) fdNode(r *kernel.Request) (vfs.Node, error) {
	f, err := s.file(r)
	if err != nil {
		return nil, err
	}
	return f.node, nil
}

// pathTarget finds the node of a path-only call (chmod, chown, lchown,
// utimes).
func (s *Server) pathTarget(pathArg uint64, follow bool) (vfs.Node, error) {
	p, err := pathAt(pathArg)
	if err != nil {
		return nil, err
	}
	return s.cwdDir().Resolve(p, follow)
}

// --- chmod ---

func chmodNode(n vfs.Node, mode uint64) error {
	m := uint32(mode) & vfs.PermMask
	return vfs.ChangeAttr(n, vfs.AttrChange{Mode: &m})
}

func (s *Server) chmod(r *kernel.Request) (int64, error) {
	n, err := s.pathTarget(r.Args[0], true)
	if err != nil {
		return 0, err
	}
	return 0, chmodNode(n, r.Args[1])
}

func (s *Server) fchmod(r *kernel.Request) (int64, error) {
	f, err := s.file(r)
	if err != nil {
		return 0, err
	}
	if f.flags&oPath != 0 {
		return 0, syscall.EBADF
	}
	return 0, chmodNode(f.node, r.Args[1])
}

// fchmodat serves fchmodat (no flags) and fchmodat2.
func (s *Server) fchmodat(r *kernel.Request) (int64, error) {
	var flags uint64
	if r.Nr == 452 {
		flags = r.Args[3]
		if flags&^(atSymlinkNofollow|atEmptyPath) != 0 {
			return 0, syscall.EINVAL
		}
	}
	n, err := s.target(r, r.Args[0], r.Args[1], flags, false)
	if err != nil {
		return 0, err
	}
	if flags&atSymlinkNofollow != 0 {
		// Linux cannot change a symbolic link's mode.
		if st, err := n.Stat(); err == nil && st.IsSymlink() {
			return 0, syscall.EOPNOTSUPP
		}
	}
	return 0, chmodNode(n, r.Args[2])
}

// --- chown ---

func chownNode(n vfs.Node, uid, gid uint64) error {
	var c vfs.AttrChange
	if u := uint32(uid); u != noID {
		c.UID = &u
	}
	if g := uint32(gid); g != noID {
		c.GID = &g
	}
	return vfs.ChangeAttr(n, c)
}

func (s *Server) chown(r *kernel.Request) (int64, error) {
	n, err := s.pathTarget(r.Args[0], true)
	if err != nil {
		return 0, err
	}
	return 0, chownNode(n, r.Args[1], r.Args[2])
}

func (s *Server) lchown(r *kernel.Request) (int64, error) {
	n, err := s.pathTarget(r.Args[0], false)
	if err != nil {
		return 0, err
	}
	return 0, chownNode(n, r.Args[1], r.Args[2])
}

func (s *Server) fchown(r *kernel.Request) (int64, error) {
	f, err := s.file(r)
	if err != nil {
		return 0, err
	}
	if f.flags&oPath != 0 {
		return 0, syscall.EBADF
	}
	return 0, chownNode(f.node, r.Args[1], r.Args[2])
}

func (s *Server) fchownat(r *kernel.Request) (int64, error) {
	flags := r.Args[4]
	if flags&^(atSymlinkNofollow|atEmptyPath) != 0 {
		return 0, syscall.EINVAL
	}
	n, err := s.target(r, r.Args[0], r.Args[1], flags, false)
	if err != nil {
		return 0, err
	}
	return 0, chownNode(n, r.Args[2], r.Args[3])
}

// --- file times ---

// setTimes sets a node's access and modification times (nil: leave).
// Leaving both changes nothing, not even ctime, as on Linux.
func setTimes(n vfs.Node, atime, mtime *time.Time) error {
	if atime == nil && mtime == nil {
		return nil
	}
	return vfs.ChangeAttr(n, vfs.AttrChange{Atime: atime, Mtime: mtime})
}

// timespecTimes reads utimensat's struct timespec[2] (NULL: both now).
func timespecTimes(addr uint64) (atime, mtime *time.Time, err error) {
	now := time.Now()
	if addr == 0 {
		return &now, &now, nil
	}
	if _, err := bytesAt(addr, 32); err != nil {
		return nil, nil, err
	}
	var ts [2]*time.Time
	for i := range ts {
		sec, nsec := int64(get64(addr+uint64(16*i))), int64(get64(addr+uint64(16*i)+8))
		switch {
		case nsec == utimeNow:
			ts[i] = &now
		case nsec == utimeOmit:
		case nsec < 0 || nsec >= 1e9:
			return nil, nil, syscall.EINVAL
		default:
			t := time.Unix(sec, nsec)
			ts[i] = &t
		}
	}
	return ts[0], ts[1], nil
}

// timevalTimes reads utimes' struct timeval[2] (NULL: both now).
func timevalTimes(addr uint64) (atime, mtime *time.Time, err error) {
	if addr == 0 {
		now := time.Now()
		return &now, &now, nil
	}
	if _, err := bytesAt(addr, 32); err != nil {
		return nil, nil, err
	}
	var ts [2]time.Time
	for i := range ts {
		sec, usec := int64(get64(addr+uint64(16*i))), int64(get64(addr+uint64(16*i)+8))
		if usec < 0 || usec >= 1e6 {
			return nil, nil, syscall.EINVAL
		}
		ts[i] = time.Unix(sec, usec*1000)
	}
	return &ts[0], &ts[1], nil
}

func (s *Server) utimensat(r *kernel.Request) (int64, error) {
	flags := r.Args[3]
	if flags&^(atSymlinkNofollow|atEmptyPath) != 0 {
		return 0, syscall.EINVAL
	}
	atime, mtime, err := timespecTimes(r.Args[2])
	if err != nil {
		return 0, err
	}
	n, err := s.target(r, r.Args[0], r.Args[1], flags, true)
	if err != nil {
		return 0, err
	}
	return 0, setTimes(n, atime, mtime)
}

func (s *Server) utimes(r *kernel.Request) (int64, error) {
	atime, mtime, err := timevalTimes(r.Args[1])
	if err != nil {
		return 0, err
	}
	n, err := s.pathTarget(r.Args[0], true)
	if err != nil {
		return 0, err
	}
	return 0, setTimes(n, atime, mtime)
}

func (s *Server) futimesat(r *kernel.Request) (int64, error) {
	atime, mtime, err := timevalTimes(r.Args[2])
	if err != nil {
		return 0, err
	}
	n, err := s.target(r, r.Args[0], r.Args[1], 0, true)
	if err != nil {
		return 0, err
	}
	return 0, setTimes(n, atime, mtime)
}

// utime reads struct utimbuf {actime, modtime} in seconds.
func (s *Server) utime(r *kernel.Request) (int64, error) {
	now := time.Now()
	atime, mtime := &now, &now
	if addr := r.Args[1]; addr != 0 {
		if _, err := bytesAt(addr, 16); err != nil {
			return 0, err
		}
		a, m := time.Unix(int64(get64(addr)), 0), time.Unix(int64(get64(addr+8)), 0)
		atime, mtime = &a, &m
	}
	n, err := s.pathTarget(r.Args[0], true)
	if err != nil {
		return 0, err
	}
	return 0, setTimes(n, atime, mtime)
}

// --- mknod ---

func (s *Server) mknodPath(base vfs.Dir, p string, mode uint64) (int64, error) {
	s.mu.Lock()
	m := uint32(mode) &^ (s.umask & 0o777)
	s.mu.Unlock()
	_, err := base.Mknod(p, m)
	return 0, err
}

func (s *Server) mknod(r *kernel.Request) (int64, error) {
	p, err := pathAt(r.Args[0])
	if err != nil {
		return 0, err
	}
	return s.mknodPath(s.cwdDir(), p, r.Args[1])
}

func (s *Server) mknodat(r *kernel.Request) (int64, error) {
	base, p, err := s.atPath(r, r.Args[0], r.Args[1])
	if err != nil {
		return 0, err
	}
	return s.mknodPath(base, p, r.Args[2])
}
