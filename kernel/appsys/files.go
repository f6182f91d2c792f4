package appsys

import (
	"encoding/binary"
	"errors"
	"io"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"gosv/kernel"
	"gosv/kernel/appsys/sockets"
	"gosv/vfs"
)

// Linux open flags and *at() constants (include/uapi/asm-generic/fcntl.h).
const (
	oAccMode   = 0o3
	oRdonly    = 0o0
	oWronly    = 0o1
	oRdwr      = 0o2
	oCreat     = 0o100
	oExcl      = 0o200
	oTrunc     = 0o1000
	oAppend    = 0o2000
	oNonblock  = 0o4000
	oDirectory = 0o200000
	oNofollow  = 0o400000
	oCloexec   = 0o2000000
	oPath      = 0o10000000

	atFDCWD           = -100
	atSymlinkNofollow = 0x100
	atRemoveDir       = 0x200
	atEaccess         = 0x200 // faccessat2's, as unlinkat's atRemoveDir
	atEmptyPath       = 0x1000

	sysFaccessat2 = 439 // not in package syscall
)

// openFile is an open file description: what a handle names, shared by
// every fd dup'ed from the same open.
type openFile struct {
	mu   sync.Mutex
	node vfs.Node
	// at holds the node for *at() calls relative to it and fchdir (see
	// vfs.Dir: it follows the directory when it is renamed); path is
	// the path it was opened by, for /proc/self/fd.
	at    vfs.Dir
	path  string
	flags int
	off   int64
	// dir is a directory's listing, taken at the first getdents.
	dir []vfs.Dirent
	// pipe is set for pipe and FIFO ends; pipeRead and pipeWrite say
	// which ends this is (a FIFO opened O_RDWR is both).
	pipe                *pipe
	pipeRead, pipeWrite bool
	// fifo is set for a FIFO: pipe is s.fifos[node].
	fifo bool
	// sock is set for sockets (socket.go).
	sock *sockets.Socket
	// tfd is set for timerfds (timerfd.go).
	tfd *timerFD
	// handle is the server handle naming this open file.
	handle int32
}

// add registers f and gives the application an fd for it.
func (s *Server) add(f *openFile, cloexec bool) (int64, error) {
	s.mu.Lock()
	h := int32(-1)
	for i := int32(0); i < 4096; i++ {
		c := (s.next + i) % 4096
		if _, used := s.files[c]; !used {
			h = c
			break
		}
	}
	if h < 0 {
		s.mu.Unlock()
		if f.pipe != nil {
			s.closePipeEnds(f, -1)
		}
		return 0, syscall.ENFILE
	}
	s.files[h] = f
	s.next = h + 1
	f.handle = h
	s.mu.Unlock()
	if f.pipe != nil {
		f.pipe.attach(h, f.pipeRead, f.pipeWrite)
	} else if f.sock != nil {
		attachSocket(f.sock, h)
	} else if f.tfd != nil {
		f.tfd.attach(h)
	} else {
		// Files and devices never block: always ready for poll, and
		// not for epoll (EPERM, as on Linux).
		kernel.SetReady(h, kernel.ReadyIn|kernel.ReadyOut|kernel.ReadyAlways)
	}
	fd, err := kernel.NewAppFD(h, cloexec)
	if err != nil {
		s.release(h)
		return 0, err
	}
	return int64(fd), nil
}

// file returns the open file behind a request's fd argument.
func (s *Server) file(r *kernel.Request) (*openFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[r.Handle]
	if !ok || r.Handle < 0 {
		return nil, syscall.EBADF
	}
	return f, nil
}

func (s *Server) release(h int32) {
	s.mu.Lock()
	f := s.files[h]
	if f != nil && f.sock != nil && f.sock.HasRings() {
		// The core forgets the rings when the last fd closes, but not
		// when the handle never got an fd; h must not keep them.
		kernel.AttachRing(h, nil)
	}
	s.mu.Unlock()
	if f != nil && f.sock != nil {
		// Closed while h is still taken, so that no late readiness
		// report reaches a reused h; but not under s.mu, which the
		// serving loop takes for every socket call: a Close that
		// waits must not hold up every other call.
		f.sock.Close()
	}
	s.mu.Lock()
	delete(s.files, h)
	s.mu.Unlock()
	if f != nil && f.pipe != nil {
		s.closePipeEnds(f, h)
	}
	if f != nil && f.tfd != nil {
		f.tfd.close()
	}
}

// base returns the directory a relative path in an *at() call starts
// from: the cwd, or the directory fd dirfd names.
func (s *Server) base(r *kernel.Request, dirfd uint64) (vfs.Dir, error) {
	if int32(dirfd) == atFDCWD {
		return s.cwdDir(), nil
	}
	// The directory fd is one of the first three arguments.
	for k, a := range r.Args[:3] {
		if a == dirfd && r.ArgHandles[k] >= 0 {
			s.mu.Lock()
			f, ok := s.files[r.ArgHandles[k]]
			s.mu.Unlock()
			if ok {
				return f.at, nil
			}
		}
	}
	return vfs.Dir{}, syscall.EBADF
}

func (s *Server) cwdDir() vfs.Dir {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cwd
}

func (s *Server) cwdPath() string { return s.cwdDir().Path() }

// --- open, close ---

func (s *Server) open(r *kernel.Request) (int64, error) {
	p, err := pathAt(r.Args[0])
	if err != nil {
		return 0, err
	}
	return s.openPath(s.slot(r), s.cwdDir(), p, int(r.Args[1]), uint32(r.Args[2]))
}

func (s *Server) openat(r *kernel.Request) (int64, error) {
	base, p, err := s.atPath(r, r.Args[0], r.Args[1])
	if err != nil {
		return 0, err
	}
	return s.openPath(s.slot(r), base, p, int(r.Args[2]), uint32(r.Args[3]))
}

func (s *Server) openPath(sl *inflight, cwd vfs.Dir, p string, flags int, mode uint32) (int64, error) {
	var node vfs.Node
	var at vfs.Dir
	var err error
	if flags&(oCreat|oNofollow) == oCreat|oNofollow {
		if n, err := cwd.Resolve(p, false); err == nil {
			if st, err := n.Stat(); err == nil && st.IsSymlink() {
				return 0, syscall.ELOOP
			}
		}
	}
	if flags&oCreat != 0 {
		s.mu.Lock()
		perm := mode &^ s.umask & 0o7777
		s.mu.Unlock()
		if node, _, err = cwd.Create(p, perm, flags&oExcl != 0); err == nil {
			// The file's own Dir: found again (Create followed a
			// trailing link unless O_EXCL).
			_, at, err = cwd.Walk(p, flags&oExcl == 0)
		}
	} else {
		node, at, err = cwd.Walk(p, flags&oNofollow == 0)
	}
	if err != nil {
		return 0, err
	}
	st, err := node.Stat()
	if err != nil {
		return 0, err
	}
	if flags&oNofollow != 0 && st.IsSymlink() && flags&oPath == 0 {
		return 0, syscall.ELOOP
	}
	if flags&oDirectory != 0 && !st.IsDir() {
		return 0, syscall.ENOTDIR
	}
	if st.Mode&vfs.S_IFMT == vfs.S_IFIFO && flags&oPath == 0 {
		return s.openFIFO(sl, node, at, flags)
	}
	if st.Mode&vfs.S_IFMT == vfs.S_IFSOCK && flags&oPath == 0 {
		return 0, syscall.ENXIO // sockets are connected to, not opened
	}
	writing := flags&oAccMode != oRdonly
	if writing && st.IsDir() {
		return 0, syscall.EISDIR
	}
	if writing && flags&oPath == 0 {
		if _, ok := node.(vfs.Writer); !ok {
			return 0, syscall.EROFS
		}
	}
	if flags&oTrunc != 0 && writing && st.IsRegular() {
		t, ok := node.(vfs.Truncater)
		if !ok {
			return 0, syscall.EROFS
		}
		if err := t.Truncate(0); err != nil {
			return 0, err
		}
	}
	return s.add(&openFile{node: node, at: at, path: at.Path(), flags: flags &^ (oCreat | oExcl | oTrunc | oCloexec)}, flags&oCloexec != 0)
}

// close is only forwarded when the last fd of a handle went away.
func (s *Server) close(r *kernel.Request) (int64, error) {
	s.release(r.Handle)
	return 0, nil
}

// --- read, write ---

// transfer serves read, pread64, write and pwrite64: the buffer is
// args 1 and 2, the offset (positioned calls) arg 3.
func (s *Server) transfer(r *kernel.Request, positioned, write bool) (int64, error) {
	b, err := bytesAt(r.Args[1], r.Args[2])
	if err != nil {
		return 0, err
	}
	f, err := s.file(r)
	if err != nil {
		return 0, err
	}
	off := int64(-1)
	if positioned {
		if off = int64(r.Args[3]); off < 0 {
			return 0, syscall.EINVAL
		}
	}
	if write {
		return f.writeAt(s.slot(r), b, off)
	}
	return f.read(s.slot(r), b, off)
}

func (s *Server) read(r *kernel.Request) (int64, error)   { return s.transfer(r, false, false) }
func (s *Server) pread(r *kernel.Request) (int64, error)  { return s.transfer(r, true, false) }
func (s *Server) write(r *kernel.Request) (int64, error)  { return s.transfer(r, false, true) }
func (s *Server) pwrite(r *kernel.Request) (int64, error) { return s.transfer(r, true, true) }

func (s *Server) readv(r *kernel.Request) (int64, error) {
	return s.vector(r, r.Args[1], r.Args[2], -1, false)
}

func (s *Server) preadv(r *kernel.Request) (int64, error) {
	return s.vector(r, r.Args[1], r.Args[2], int64(r.Args[3]), false)
}

func (s *Server) writev(r *kernel.Request) (int64, error) {
	return s.vector(r, r.Args[1], r.Args[2], -1, true)
}

func (s *Server) pwritev(r *kernel.Request) (int64, error) {
	return s.vector(r, r.Args[1], r.Args[2], int64(r.Args[3]), true)
}

// vector runs readv/writev and their positioned forms (off >= 0).
func (s *Server) vector(r *kernel.Request, iov, n uint64, off int64, write bool) (int64, error) {
	bufs, err := iovecs(iov, n)
	if err != nil {
		return 0, err
	}
	f, err := s.file(r)
	if err != nil {
		return 0, err
	}
	if f.sock != nil {
		return sockTransfer(f, s.slot(r), bufs, off, write)
	}
	var total int64
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		var n int64
		if write {
			n, err = f.writeAt(s.slot(r), b, off)
		} else {
			n, err = f.read(s.slot(r), b, off)
		}
		total += n
		if off >= 0 {
			off += n
		}
		if err != nil || n < int64(len(b)) {
			if total > 0 {
				return total, nil
			}
			return 0, err
		}
	}
	return total, nil
}

// read reads at off, or at the file offset (advancing it) when off < 0.
func (f *openFile) read(sl *inflight, b []byte, off int64) (int64, error) {
	if f.flags&oAccMode == oWronly || f.flags&oPath != 0 {
		return 0, syscall.EBADF
	}
	if f.pipe != nil {
		if off >= 0 {
			return 0, syscall.ESPIPE
		}
		return f.pipe.read(sl, b, f.flags&oNonblock != 0)
	}
	if f.sock != nil {
		return sockTransfer(f, sl, [][]byte{b}, off, false)
	}
	if f.tfd != nil {
		if off >= 0 {
			return 0, syscall.ESPIPE
		}
		return f.tfd.read(sl, b, f.flags&oNonblock != 0)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pos := off
	if off < 0 {
		pos = f.off
	}
	n, err := f.node.ReadAt(b, pos)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if off < 0 {
		f.off += int64(n)
	}
	return int64(n), nil
}

// unread moves the file offset back by n bytes that a read took but
// the caller could not use (sendfile's short write).
func (f *openFile) unread(n int64) {
	f.mu.Lock()
	f.off -= n
	f.mu.Unlock()
}

// writeAt writes at off, or at the file offset (or the end, with
// O_APPEND) when off < 0.
func (f *openFile) writeAt(sl *inflight, b []byte, off int64) (int64, error) {
	if f.flags&oAccMode == oRdonly || f.flags&oPath != 0 {
		return 0, syscall.EBADF
	}
	if f.pipe != nil {
		if off >= 0 {
			return 0, syscall.ESPIPE
		}
		return f.pipe.write(sl, b, f.flags&oNonblock != 0)
	}
	if f.sock != nil {
		return sockTransfer(f, sl, [][]byte{b}, off, true)
	}
	w, ok := f.node.(vfs.Writer)
	if !ok {
		return 0, syscall.EINVAL
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pos := off
	if off < 0 {
		pos = f.off
		if f.flags&oAppend != 0 {
			st, err := f.node.Stat()
			if err != nil {
				return 0, err
			}
			pos = st.Size
		}
	}
	n, err := w.WriteAt(b, pos)
	if off < 0 {
		f.off = pos + int64(n)
	}
	if err != nil && n == 0 {
		return 0, err
	}
	return int64(n), nil
}

func (s *Server) lseek(r *kernel.Request) (int64, error) {
	f, err := s.file(r)
	if err != nil {
		return 0, err
	}
	if f.pipe != nil || f.sock != nil || f.tfd != nil {
		return 0, syscall.ESPIPE
	}
	off, whence := int64(r.Args[1]), int(r.Args[2])
	f.mu.Lock()
	defer f.mu.Unlock()
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = off
	case io.SeekCurrent:
		pos = f.off + off
	case io.SeekEnd:
		st, err := f.node.Stat()
		if err != nil {
			return 0, err
		}
		pos = st.Size + off
	default:
		return 0, syscall.EINVAL
	}
	if pos < 0 {
		return 0, syscall.EINVAL
	}
	f.off = pos
	if pos == 0 {
		f.dir = nil // rewinddir
	}
	return pos, nil
}

// --- metadata ---

// putStat writes Linux's struct stat (x86-64, 144 bytes).
func putStat(addr uint64, st vfs.Stat, dev uint64) error {
	b, err := bytesAt(addr, 144)
	if err != nil {
		return err
	}
	clear(b)
	put64(addr+0, dev)
	put64(addr+8, st.Ino)
	put64(addr+16, st.Nlink)
	put32(addr+24, st.Mode)
	put32(addr+28, st.UID)
	put32(addr+32, st.GID)
	put64(addr+40, st.Rdev)
	put64(addr+48, uint64(st.Size))
	put64(addr+56, 4096)
	put64(addr+64, uint64((st.Size+511)/512))
	putTime(addr+72, st.Atime)
	putTime(addr+88, st.Mtime)
	putTime(addr+104, st.Ctime)
	return nil
}

func putTime(addr uint64, t time.Time) {
	if t.IsZero() {
		return
	}
	put64(addr, uint64(t.Unix()))
	put64(addr+8, uint64(t.Nanosecond()))
}

// devOf numbers the file system a path is on (its mount point's place
// in the mount table, from 1), for st_dev: inode numbers are only
// unique within one file system, and programs that compare (dev, ino)
// pairs, like Go's os.SameFile, must see different mounts apart.
func (s *Server) devOf(p string) uint64 {
	best, dev := -1, uint64(1)
	for i, m := range s.fs.Mounts() {
		if (p == m || strings.HasPrefix(p, strings.TrimSuffix(m, "/")+"/")) && len(m) > best {
			best, dev = len(m), uint64(i+1)
		}
	}
	return dev
}

func (s *Server) statPath(cwd vfs.Dir, p string, follow bool, buf uint64) (int64, error) {
	n, at, err := cwd.Walk(p, follow)
	if err != nil {
		return 0, err
	}
	st, err := n.Stat()
	if err != nil {
		return 0, err
	}
	return 0, putStat(buf, st, s.devOf(at.Path()))
}

func (s *Server) stat(r *kernel.Request) (int64, error) {
	p, err := pathAt(r.Args[0])
	if err != nil {
		return 0, err
	}
	return s.statPath(s.cwdDir(), p, true, r.Args[1])
}

func (s *Server) lstat(r *kernel.Request) (int64, error) {
	p, err := pathAt(r.Args[0])
	if err != nil {
		return 0, err
	}
	return s.statPath(s.cwdDir(), p, false, r.Args[1])
}

func (s *Server) fstat(r *kernel.Request) (int64, error) {
	f, err := s.file(r)
	if err != nil {
		return 0, err
	}
	st, err := f.node.Stat()
	if err != nil {
		return 0, err
	}
	return 0, putStat(r.Args[1], st, s.devOf(f.at.Path()))
}

func (s *Server) newfstatat(r *kernel.Request) (int64, error) {
	flags := r.Args[3]
	p, err := stringAt(r.Args[1], 4096)
	if err != nil {
		return 0, err
	}
	if p == "" {
		if flags&atEmptyPath == 0 {
			return 0, syscall.ENOENT
		}
		return s.fstat(&kernel.Request{Handle: r.Handle, Args: [6]uint64{r.Args[0], r.Args[2]}})
	}
	base, err := s.baseOf(r, r.Args[0], p)
	if err != nil {
		return 0, err
	}
	return s.statPath(base, p, flags&atSymlinkNofollow == 0, r.Args[2])
}

// statx writes struct statx (256 bytes) with the basic fields.
func (s *Server) statx(r *kernel.Request) (int64, error) {
	flags := r.Args[2]
	p, err := stringAt(r.Args[1], 4096)
	if err != nil {
		return 0, err
	}
	var n vfs.Node
	var at vfs.Dir
	if p == "" && flags&atEmptyPath != 0 && int32(r.Args[0]) == atFDCWD {
		p = "." // the working directory itself
	}
	if p == "" && flags&atEmptyPath != 0 {
		f, err := s.file(r)
		if err != nil {
			return 0, err
		}
		n, at = f.node, f.at
	} else {
		base, err := s.baseOf(r, r.Args[0], p)
		if err != nil {
			return 0, err
		}
		if n, at, err = base.Walk(p, flags&atSymlinkNofollow == 0); err != nil {
			return 0, err
		}
	}
	st, err := n.Stat()
	if err != nil {
		return 0, err
	}
	buf := r.Args[4]
	b, err := bytesAt(buf, 256)
	if err != nil {
		return 0, err
	}
	clear(b)
	const basicStats = 0x7ff
	put32(buf+0, basicStats) // stx_mask
	put32(buf+4, 4096)       // stx_blksize
	put32(buf+16, uint32(st.Nlink))
	put32(buf+20, st.UID)
	put32(buf+24, st.GID)
	*(*uint16)(ptr(buf + 28)) = uint16(st.Mode)
	put64(buf+32, st.Ino)
	put64(buf+40, uint64(st.Size))
	put64(buf+48, uint64((st.Size+511)/512))
	putStatxTime(buf+64, st.Atime)
	putStatxTime(buf+96, st.Ctime)
	putStatxTime(buf+112, st.Mtime)
	put32(buf+128, uint32(st.Rdev>>8&0xfff))   // rdev major
	put32(buf+132, uint32(st.Rdev&0xff))       // rdev minor
	put32(buf+140, uint32(s.devOf(at.Path()))) // dev minor, as st_dev
	return 0, nil
}

func putStatxTime(addr uint64, t time.Time) {
	if t.IsZero() {
		return
	}
	put64(addr, uint64(t.Unix()))
	put32(addr+8, uint32(t.Nanosecond()))
}

// getdents64 lists a directory as struct linux_dirent64 records, "."
// and ".." first. The file offset is the cookie of the last entry read.
func (s *Server) getdents64(r *kernel.Request) (int64, error) {
	f, err := s.file(r)
	if err != nil {
		return 0, err
	}
	buf, size := r.Args[1], r.Args[2]
	out, err := bytesAt(buf, size)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dir == nil {
		st, err := f.node.Stat()
		if err != nil {
			return 0, err
		}
		if !st.IsDir() {
			return 0, syscall.ENOTDIR
		}
		list, err := f.node.Readdir()
		if err != nil {
			return 0, err
		}
		// "." and ".." take cookies 1 and 2; entries follow, shifted.
		f.dir = append([]vfs.Dirent{{Name: ".", Ino: st.Ino, Type: vfs.DT_DIR, Off: 1}, {Name: "..", Ino: st.Ino, Type: vfs.DT_DIR, Off: 2}}, list...)
		for i := range f.dir[2:] {
			f.dir[2+i].Off += 2
		}
	}
	n := 0
	for _, d := range f.dir {
		if d.Off <= f.off {
			continue
		}
		reclen := (19 + len(d.Name) + 1 + 7) &^ 7
		if n+reclen > len(out) {
			if n == 0 {
				return 0, syscall.EINVAL
			}
			break
		}
		rec := buf + uint64(n)
		put64(rec, d.Ino)
		put64(rec+8, uint64(d.Off))
		*(*uint16)(ptr(rec + 16)) = uint16(reclen)
		out[n+18] = d.Type
		copy(out[n+19:], d.Name)
		clear(out[n+19+len(d.Name) : n+reclen])
		n += reclen
		f.off = d.Off
	}
	return int64(n), nil
}

func (s *Server) readlinkPath(cwd vfs.Dir, p string, buf, size uint64) (int64, error) {
	if int64(size) <= 0 {
		return 0, syscall.EINVAL
	}
	n, err := cwd.Resolve(p, false)
	if err != nil {
		return 0, err
	}
	target, err := n.Readlink()
	if err != nil {
		return 0, err
	}
	b, err := bytesAt(buf, size)
	if err != nil {
		return 0, err
	}
	return int64(copy(b, target)), nil
}

func (s *Server) readlink(r *kernel.Request) (int64, error) {
	p, err := pathAt(r.Args[0])
	if err != nil {
		return 0, err
	}
	return s.readlinkPath(s.cwdDir(), p, r.Args[1], r.Args[2])
}

func (s *Server) readlinkat(r *kernel.Request) (int64, error) {
	p, err := pathAt(r.Args[1])
	if err != nil {
		return 0, err
	}
	base, err := s.baseOf(r, r.Args[0], p)
	if err != nil {
		return 0, err
	}
	return s.readlinkPath(base, p, r.Args[2], r.Args[3])
}

func (s *Server) access(r *kernel.Request) (int64, error) {
	if _, err := accessFlags(r.Nr, r.Args[1], 0); err != nil {
		return 0, err
	}
	p, err := pathAt(r.Args[0])
	if err != nil {
		return 0, err
	}
	_, err = s.cwdDir().Resolve(p, true)
	return 0, err
}

func (s *Server) faccessat(r *kernel.Request) (int64, error) {
	follow, err := accessFlags(r.Nr, r.Args[2], r.Args[3])
	if err != nil {
		return 0, err
	}
	p, err := pathAt(r.Args[1])
	if err != nil {
		return 0, err
	}
	base, err := s.baseOf(r, r.Args[0], p)
	if err != nil {
		return 0, err
	}
	_, err = base.Resolve(p, follow)
	return 0, err
}

// accessFlags checks the mode and flags of access (nr) and says whether
// the path's last symbolic link is followed. Only faccessat2 has flags:
// faccessat's fourth register is whatever the caller left there.
func accessFlags(nr, mode, flags uint64) (follow bool, err error) {
	const okModes = 7 // R_OK|W_OK|X_OK; F_OK is 0
	if nr != sysFaccessat2 {
		flags = 0
	}
	if mode&^okModes != 0 || flags&^(atEaccess|atSymlinkNofollow|atEmptyPath) != 0 {
		return false, syscall.EINVAL
	}
	return flags&atSymlinkNofollow == 0, nil
}

// --- the working directory ---

func (s *Server) getcwd(r *kernel.Request) (int64, error) {
	cwd := s.cwdPath()
	if uint64(len(cwd)+1) > r.Args[1] {
		return 0, syscall.ERANGE
	}
	b, err := bytesAt(r.Args[0], uint64(len(cwd)+1))
	if err != nil {
		return 0, err
	}
	copy(b, cwd)
	b[len(cwd)] = 0
	return int64(len(cwd) + 1), nil
}

func (s *Server) chdirTo(cwd vfs.Dir, p string) error {
	n, at, err := cwd.Walk(p, true)
	if err != nil {
		return err
	}
	return s.setCwd(n, at)
}

func (s *Server) setCwd(n vfs.Node, at vfs.Dir) error {
	st, err := n.Stat()
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return syscall.ENOTDIR
	}
	s.mu.Lock()
	s.cwd = at
	s.mu.Unlock()
	return nil
}

func (s *Server) chdir(r *kernel.Request) (int64, error) {
	p, err := pathAt(r.Args[0])
	if err != nil {
		return 0, err
	}
	return 0, s.chdirTo(s.cwdDir(), p)
}

func (s *Server) fchdir(r *kernel.Request) (int64, error) {
	f, err := s.file(r)
	if err != nil {
		return 0, err
	}
	return 0, s.setCwd(f.node, f.at)
}

// --- changing the tree ---

// atPath reads the path of an *at() call and its base directory.
func (s *Server) atPath(r *kernel.Request, dirfd, p uint64) (vfs.Dir, string, error) {
	name, err := pathAt(p)
	if err != nil {
		return vfs.Dir{}, "", err
	}
	base, err := s.baseOf(r, dirfd, name)
	return base, name, err
}

// baseOf is base for the path p: an absolute path ignores dirfd.
func (s *Server) baseOf(r *kernel.Request, dirfd uint64, p string) (vfs.Dir, error) {
	if path.IsAbs(p) {
		return s.cwdDir(), nil
	}
	return s.base(r, dirfd)
}

func (s *Server) mkdir(r *kernel.Request) (int64, error) {
	p, err := pathAt(r.Args[0])
	if err != nil {
		return 0, err
	}
	_, err = s.cwdDir().Mkdir(p, uint32(r.Args[1])&0o7777)
	return 0, err
}

func (s *Server) mkdirat(r *kernel.Request) (int64, error) {
	base, p, err := s.atPath(r, r.Args[0], r.Args[1])
	if err != nil {
		return 0, err
	}
	_, err = base.Mkdir(p, uint32(r.Args[2])&0o7777)
	return 0, err
}

func (s *Server) rmdir(r *kernel.Request) (int64, error) {
	p, err := pathAt(r.Args[0])
	if err != nil {
		return 0, err
	}
	return 0, s.cwdDir().Rmdir(p)
}

func (s *Server) unlink(r *kernel.Request) (int64, error) {
	p, err := pathAt(r.Args[0])
	if err != nil {
		return 0, err
	}
	return 0, s.cwdDir().Unlink(p)
}

func (s *Server) unlinkat(r *kernel.Request) (int64, error) {
	base, p, err := s.atPath(r, r.Args[0], r.Args[1])
	if err != nil {
		return 0, err
	}
	if r.Args[2]&atRemoveDir != 0 {
		return 0, base.Rmdir(p)
	}
	return 0, base.Unlink(p)
}

// twoPaths reads the two path arguments of rename and link.
func twoPaths(r *kernel.Request) (from, to string, err error) {
	if from, err = pathAt(r.Args[0]); err != nil {
		return "", "", err
	}
	to, err = pathAt(r.Args[1])
	return from, to, err
}

func (s *Server) rename(r *kernel.Request) (int64, error) {
	from, to, err := twoPaths(r)
	if err != nil {
		return 0, err
	}
	return 0, s.cwdDir().Rename(from, s.cwdDir(), to)
}

// renameat serves renameat and renameat2 (flags 0 only).
func (s *Server) renameat(r *kernel.Request) (int64, error) {
	if r.Nr == 316 && r.Args[4] != 0 {
		return 0, syscall.EINVAL
	}
	fromDir, from, toDir, to, err := s.pathPairAt(r)
	if err != nil {
		return 0, err
	}
	return 0, fromDir.Rename(from, toDir, to)
}

// pathPairAt reads the (olddirfd, oldpath, newdirfd, newpath) arguments
// of renameat and linkat.
func (s *Server) pathPairAt(r *kernel.Request) (fromDir vfs.Dir, from string, toDir vfs.Dir, to string, err error) {
	if fromDir, from, err = s.atPath(r, r.Args[0], r.Args[1]); err != nil {
		return
	}
	toDir, to, err = s.atPath(r, r.Args[2], r.Args[3])
	return
}

func (s *Server) symlink(r *kernel.Request) (int64, error) {
	target, err := stringAt(r.Args[0], 4096)
	if err != nil {
		return 0, err
	}
	p, err := pathAt(r.Args[1])
	if err != nil {
		return 0, err
	}
	_, err = s.cwdDir().Symlink(target, p)
	return 0, err
}

func (s *Server) link(r *kernel.Request) (int64, error) {
	from, to, err := twoPaths(r)
	if err != nil {
		return 0, err
	}
	return 0, s.cwdDir().Link(from, s.cwdDir(), to)
}

func (s *Server) linkat(r *kernel.Request) (int64, error) {
	const atSymlinkFollow = 0x400
	if r.Args[4]&^(atSymlinkFollow|atEmptyPath) != 0 {
		return 0, syscall.EINVAL
	}
	fromDir, from, toDir, to, err := s.pathPairAt(r)
	if err != nil {
		return 0, err
	}
	return 0, fromDir.Link(from, toDir, to)
}

func (s *Server) symlinkat(r *kernel.Request) (int64, error) {
	target, err := stringAt(r.Args[0], 4096)
	if err != nil {
		return 0, err
	}
	base, p, err := s.atPath(r, r.Args[1], r.Args[2])
	if err != nil {
		return 0, err
	}
	_, err = base.Symlink(target, p)
	return 0, err
}

func (s *Server) truncate(r *kernel.Request) (int64, error) {
	p, err := pathAt(r.Args[0])
	if err != nil {
		return 0, err
	}
	n, err := s.cwdDir().Resolve(p, true)
	if err != nil {
		return 0, err
	}
	return 0, truncateNode(n, int64(r.Args[1]))
}

func (s *Server) ftruncate(r *kernel.Request) (int64, error) {
	f, err := s.file(r)
	if err != nil {
		return 0, err
	}
	if f.flags&oAccMode == oRdonly {
		return 0, syscall.EINVAL
	}
	return 0, truncateNode(f.node, int64(r.Args[1]))
}

func truncateNode(n vfs.Node, size int64) error {
	if size < 0 {
		return syscall.EINVAL
	}
	t, ok := n.(vfs.Truncater)
	if !ok {
		return syscall.EROFS
	}
	return t.Truncate(size)
}

func (s *Server) umaskCall(r *kernel.Request) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.umask
	s.umask = uint32(r.Args[0]) & 0o777
	return int64(old), nil
}

func (s *Server) fsync(r *kernel.Request) (int64, error) {
	_, err := s.file(r)
	return 0, err
}

// putStatfs writes struct statfs (120 bytes) for an in-memory file system.
func putStatfs(addr uint64) error {
	b, err := bytesAt(addr, 120)
	if err != nil {
		return err
	}
	clear(b)
	total, free := kernel.MemoryStats()
	put64(addr, 0x01021994) // f_type: TMPFS_MAGIC
	put64(addr+8, 4096)     // f_bsize
	put64(addr+16, total/4096)
	put64(addr+24, free/4096)
	put64(addr+32, free/4096)
	put64(addr+40, 1<<20) // f_files
	put64(addr+48, 1<<20) // f_ffree
	put64(addr+64, 255)   // f_namelen
	put64(addr+72, 4096)  // f_frsize
	return nil
}

func (s *Server) statfs(r *kernel.Request) (int64, error) {
	p, err := pathAt(r.Args[0])
	if err != nil {
		return 0, err
	}
	if _, err := s.cwdDir().Resolve(p, true); err != nil {
		return 0, err
	}
	return 0, putStatfs(r.Args[1])
}

func (s *Server) fstatfs(r *kernel.Request) (int64, error) {
	if _, err := s.file(r); err != nil {
		return 0, err
	}
	return 0, putStatfs(r.Args[1])
}

// --- control ---

const (
	tcgets     = 0x5401
	tiocgwinsz = 0x5413
	fionread   = 0x541b
	fionbio    = 0x5421
	fGetFL     = 3
	fSetFL     = 4
	fGetLk     = 5
	fSetLk     = 6
	fSetLkw    = 7
)

func (s *Server) ioctl(r *kernel.Request) (int64, error) {
	f, err := s.file(r)
	if err != nil {
		return 0, err
	}
	switch r.Args[1] {
	case fionread:
		if f.sock != nil {
			put32(r.Args[2], uint32(f.sock.Buffered()))
			return 0, nil
		}
		if f.pipe == nil {
			return 0, syscall.ENOTTY
		}
		put32(r.Args[2], uint32(f.pipe.buffered()))
		return 0, nil
	case fionbio:
		on := *(*int32)(ptr(r.Args[2])) != 0
		f.mu.Lock()
		if on {
			f.flags |= oNonblock
		} else {
			f.flags &^= oNonblock
		}
		if f.sock != nil {
			f.sock.SetNonblock(on)
		}
		f.mu.Unlock()
		return 0, nil
	}
	return 0, syscall.ENOTTY // no terminals among server files
}

func (s *Server) fcntl(r *kernel.Request) (int64, error) {
	f, err := s.file(r)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Args[1] {
	case fGetFL:
		return int64(f.flags), nil
	case fSetFL:
		const changeable = oAppend | oNonblock
		f.flags = f.flags&^changeable | int(r.Args[2])&changeable
		if f.sock != nil {
			f.sock.SetNonblock(f.flags&oNonblock != 0)
		}
		return 0, nil
	case fGetLk, fSetLk, fSetLkw:
		lk, err := bytesAt(r.Args[2], flockSize)
		if err != nil {
			return 0, err
		}
		return 0, recordLock(f.flags, r.Args[1], (*[flockSize]byte)(lk))
	}
	return 0, syscall.EINVAL
}

// struct flock on x86-64: l_type and l_whence (int16), l_start and
// l_len (int64), l_pid (int32).
const (
	flockSize   = 32
	flockWhence = 2
	flockStart  = 8
	flockLen    = 16
)

// recordLock serves the POSIX record-lock commands of fcntl on a file
// opened with flags. The application is the only process, and a
// process's own record locks never conflict with one another: every
// lock is granted at once and F_GETLK finds nothing in the way. What
// remains are Linux's checks of the request.
func recordLock(flags int, cmd uint64, lk *[flockSize]byte) error {
	typ := int16(binary.LittleEndian.Uint16(lk[0:]))
	whence := int16(binary.LittleEndian.Uint16(lk[flockWhence:]))
	start := int64(binary.LittleEndian.Uint64(lk[flockStart:]))
	length := int64(binary.LittleEndian.Uint64(lk[flockLen:]))
	switch typ {
	case syscall.F_RDLCK, syscall.F_WRLCK:
	case syscall.F_UNLCK:
		if cmd == fGetLk {
			return syscall.EINVAL
		}
	default:
		return syscall.EINVAL
	}
	switch {
	case whence < 0 || whence > 2:
		return syscall.EINVAL
	case whence == 0 && start < 0, length < 0 && start+length < 0:
		return syscall.EINVAL // the range starts before the file
	}
	if cmd == fGetLk {
		binary.LittleEndian.PutUint16(lk[0:], syscall.F_UNLCK)
		return nil
	}
	acc := flags & oAccMode
	if typ == syscall.F_RDLCK && acc == oWronly || typ == syscall.F_WRLCK && acc == oRdonly || flags&oPath != 0 {
		return syscall.EBADF
	}
	return nil
}
