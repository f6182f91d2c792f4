package appsys

import (
	"reflect"
	"sync"
	"syscall"

	"gosv/kernel"
	"gosv/kernel/appsys/sockets"
	"gosv/vfs"
)

// Files passed over AF_UNIX sockets (SCM_RIGHTS). The core owns the fd
// table, the server the open files behind server handles: a passed file
// is a handle reference the core counts (kernel.RefFD), so the file
// stays open while the message is queued even if the sender closes its
// fd, and the receiver gets new fds for the same handles. Fds the core
// serves itself (console, eventfd, epoll) are not server handles and
// cannot be passed: EOPNOTSUPP.

// fdTable is the core's fd table as passing files needs it: the kernel
// calls, faked in tests.
type fdTable interface {
	RefFD(fd int32) (int32, error)
	UnrefHandle(h int32) (last bool, err error)
	NewAppFD(h int32, cloexec bool) (int, error)
}

type coreFDs struct{}

func (coreFDs) RefFD(fd int32) (int32, error)               { return kernel.RefFD(fd) }
func (coreFDs) UnrefHandle(h int32) (bool, error)           { return kernel.UnrefHandle(h) }
func (coreFDs) NewAppFD(h int32, cloexec bool) (int, error) { return kernel.NewAppFD(h, cloexec) }

func (s *Server) fdt() fdTable {
	if s.fds == nil {
		return coreFDs{}
	}
	return s.fds
}

// fileRights are the handles of one SCM_RIGHTS message in flight.
type fileRights struct {
	s       *Server
	handles []int32
	once    sync.Once
}

var _ sockets.Rights = (*fileRights)(nil)

// Release drops the message's references: files nobody else holds are
// closed.
func (r *fileRights) Release() {
	r.once.Do(func() {
		for _, h := range r.handles {
			r.s.unrefHandle(h)
		}
	})
}

func (s *Server) unrefHandle(h int32) {
	if last, err := s.fdt().UnrefHandle(h); err == nil && last {
		s.release(h)
	}
}

// takeRights references the files behind the sender's fds.
func (s *Server) takeRights(fds []int32) (*fileRights, error) {
	r := &fileRights{s: s}
	for _, fd := range fds {
		h, err := s.fdt().RefFD(fd)
		if err != nil {
			r.Release()
			return nil, err
		}
		r.handles = append(r.handles, h)
	}
	return r, nil
}

// installRights gives the application new fds (lowest free, as Linux)
// for at most max of the passed files; the rest are dropped, and
// truncated says so (MSG_CTRUNC), as when the fd table is full.
func (s *Server) installRights(r *fileRights, max int, cloexec bool) (fds []int32, truncated bool) {
	r.once.Do(func() {
		for i, h := range r.handles {
			if i < max && !truncated {
				fd, err := s.fdt().NewAppFD(h, cloexec)
				if err == nil {
					fds = append(fds, int32(fd))
				} else {
					truncated = true
				}
			} else {
				truncated = true
			}
			s.unrefHandle(h) // the new fd, if any, holds the file now
		}
	})
	return fds, truncated
}

// unixNamer keeps the application's AF_UNIX path names as socket files
// in its file system (sockets.UnixNamer); relative paths start at the
// working directory.
type unixNamer struct{ s *Server }

func (n unixNamer) MakeSocketFile(p string) (any, error) {
	s := n.s
	s.mu.Lock()
	mode := vfs.S_IFSOCK | 0o777&^s.umask
	s.mu.Unlock()
	node, err := s.cwdDir().Mknod(p, mode)
	if e := vfs.Errno(err); e == syscall.EEXIST {
		return nil, syscall.EADDRINUSE // anything at the path, "//" too
	} else if e != 0 {
		return nil, e
	}
	if !usableKey(node) {
		return nil, syscall.EOPNOTSUPP
	}
	return node, nil
}

func (n unixNamer) FindSocketFile(p string) (any, error) {
	node, err := n.s.cwdDir().Resolve(p, true)
	if err != nil {
		return nil, vfs.Errno(err)
	}
	st, err := node.Stat()
	if err != nil {
		return nil, vfs.Errno(err)
	}
	if st.Mode&vfs.S_IFMT != vfs.S_IFSOCK || !usableKey(node) {
		return nil, syscall.ECONNREFUSED
	}
	return node, nil
}

// usableKey says whether a node can key a map: file systems whose nodes
// are not comparable cannot hold socket names.
func usableKey(n vfs.Node) bool { return reflect.TypeOf(n).Comparable() }
