// Package appsys serves the application's system calls that need more
// than the kernel's core can do without a Go heap: files, directories,
// pipes and file mappings. It is the Go half of the system-call server
// (kernel/server.go): the core parks the calling thread and queues its
// call, Run fetches calls and serves each in its own goroutine, reading
// and writing the application's memory directly (one address space),
// then hands the result back with kernel.Complete.
//
// Errors are Go errors inside, turned into -errno at the boundary only
// (Server.serve).
package appsys

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"gosv/internal/kevent"
	"gosv/kernel"
	"gosv/vfs"
)

// Server is the state of the application's files: its open file
// descriptions (by handle), working directory and umask.
type Server struct {
	fs *vfs.FS
	// net serves AF_INET/AF_INET6 sockets; nil leaves only AF_UNIX.
	net *stack.Stack

	mu    sync.Mutex
	files map[int32]*openFile
	next  int32
	cwd   vfs.Dir
	umask uint32
	// fifos are the pipes of the FIFOs that are open, by node.
	fifos map[vfs.Node]*pipe
	// fds is the fd table files passed over sockets go through (nil:
	// the core's; rights.go).
	fds fdTable
	// calls are the calls in flight, for interrupts (interrupt.go).
	calls callSlots
	// timers are alarm's, setitimer's, timer_create's (timers.go).
	timers *timers
}

// New returns a server for an application whose files are fs.
func New(fs *vfs.FS, cwd string) *Server {
	if cwd == "" {
		cwd = "/"
	}
	return &Server{fs: fs, files: map[int32]*openFile{}, cwd: fs.At(cwd), umask: 0o022, fifos: map[vfs.Node]*pipe{},
		timers: newTimers(realClock{}, coreSignaller{}, kernel.SetReady)}
}

// Run serves requests forever. It waits for them through the
// netpoller, on an eventfd the core raises when it queues work
// (internal/kevent); if it cannot have one, it occupies an OS thread
// that blocks in the kernel waiting for requests.
func (s *Server) Run() {
	ev, err := kevent.New(kernel.BindServerEventfd)
	if err != nil {
		runtime.LockOSThread()
	}
	buf := make([]kernel.Request, 64)
	for {
		var n int
		var err error
		if ev != nil {
			if n, err = kernel.TakeRequests(buf); err == nil && n == 0 {
				if ev.Wait(context.Background()) != nil {
					// The poller failed us: wait in the kernel from now on.
					ev = nil
					runtime.LockOSThread()
				}
				continue
			}
		} else {
			n, err = kernel.ServeRequests(buf)
		}
		if err != nil {
			continue
		}
		for _, r := range buf[:n] {
			if r.Thread < 0 {
				if r.Nr == kernel.KickInterrupt {
					s.interrupt(int32(r.Args[0]), r.Seq)
				} else {
					s.kickRings(r.Handle)
				}
				continue
			}
			if s.cannotBlock(&r) {
				s.serve(r)
			} else {
				go s.serve(r)
			}
		}
	}
}

// cannotBlock reports whether r is served without waiting for anything,
// so the serving loop runs it itself: a goroutine per call costs more
// than such calls do (socket I/O of non-blocking sockets, as Go's
// runtime makes it, and socket options). Calls that may wait (blocking
// sockets, pipes, FIFOs) get goroutines of their own, so one waiting
// call never holds up the others.
func (s *Server) cannotBlock(r *kernel.Request) bool {
	switch r.Nr {
	case syscall.SYS_GETSOCKOPT, syscall.SYS_SETSOCKOPT, syscall.SYS_GETSOCKNAME, syscall.SYS_GETPEERNAME:
		return true
	case syscall.SYS_FCNTL, syscall.SYS_IOCTL,
		syscall.SYS_READ, syscall.SYS_WRITE, syscall.SYS_READV, syscall.SYS_WRITEV,
		syscall.SYS_RECVFROM, syscall.SYS_SENDTO, syscall.SYS_RECVMSG, syscall.SYS_SENDMSG,
		syscall.SYS_ACCEPT, syscall.SYS_ACCEPT4, syscall.SYS_CONNECT, syscall.SYS_SHUTDOWN:
	default:
		return false
	}
	f, err := s.file(r)
	if err != nil || f.sock == nil {
		return false
	}
	switch r.Nr {
	case syscall.SYS_FCNTL, syscall.SYS_IOCTL:
		// On a socket, F_GETFL/F_SETFL and FIONBIO/FIONREAD never wait
		// (they take only the open file's lock, which no socket call
		// holds while waiting). Serving them in order with the rest
		// matters: a call this loop runs itself because its socket is
		// non-blocking must still find it non-blocking, or it waits
		// here and every other call waits behind it. Served by a
		// goroutine, an F_SETFL (Go's (*TCPConn).File makes the socket
		// blocking) could land in between.
		return true
	case syscall.SYS_SHUTDOWN:
		// Shutting down a socket with rings first sends what they hold.
		return f.sock.Nonblock() && !f.sock.HasRings()
	}
	return f.sock.Nonblock()
}

// kickRings passes the core's kick (kernel/stream.go) to the socket.
func (s *Server) kickRings(h int32) {
	s.mu.Lock()
	f := s.files[h]
	s.mu.Unlock()
	if f != nil && f.sock != nil {
		f.sock.Kick()
	}
}

// serve runs one call and completes it.
func (s *Server) serve(r kernel.Request) {
	result := s.run(&r)
	kernel.Complete(&r, result)
}

// call runs the handler for r, turning a fault on a bad application
// pointer into EFAULT.
func (s *Server) call(r *kernel.Request) (result int64) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if e := recover(); e != nil {
			if _, ok := e.(runtime.Error); !ok {
				panic(e)
			}
			result = -int64(syscall.EFAULT)
		}
	}()
	h, ok := handlers[r.Nr]
	if !ok {
		return -int64(syscall.ENOSYS)
	}
	v, err := h(s, r)
	if err != nil {
		return -int64(vfs.Errno(err))
	}
	return v
}

type handler func(s *Server, r *kernel.Request) (int64, error)

// handlers maps Linux x86-64 system call numbers to their servers.
var handlers map[uint64]handler

func init() {
	handlers = map[uint64]handler{
		syscall.SYS_READ:       (*Server).read,
		syscall.SYS_WRITE:      (*Server).write,
		syscall.SYS_OPEN:       (*Server).open,
		syscall.SYS_CLOSE:      (*Server).close,
		syscall.SYS_STAT:       (*Server).stat,
		syscall.SYS_FSTAT:      (*Server).fstat,
		syscall.SYS_LSTAT:      (*Server).lstat,
		syscall.SYS_LSEEK:      (*Server).lseek,
		syscall.SYS_MMAP:       (*Server).mmap,
		syscall.SYS_IOCTL:      (*Server).ioctl,
		syscall.SYS_PREAD64:    (*Server).pread,
		syscall.SYS_PWRITE64:   (*Server).pwrite,
		syscall.SYS_READV:      (*Server).readv,
		syscall.SYS_WRITEV:     (*Server).writev,
		syscall.SYS_ACCESS:     (*Server).access,
		syscall.SYS_PIPE:       (*Server).pipe,
		syscall.SYS_FCNTL:      (*Server).fcntl,
		syscall.SYS_FSYNC:      (*Server).fsync,
		syscall.SYS_FDATASYNC:  (*Server).fsync,
		syscall.SYS_TRUNCATE:   (*Server).truncate,
		syscall.SYS_FTRUNCATE:  (*Server).ftruncate,
		syscall.SYS_GETCWD:     (*Server).getcwd,
		syscall.SYS_CHDIR:      (*Server).chdir,
		syscall.SYS_FCHDIR:     (*Server).fchdir,
		syscall.SYS_RENAME:     (*Server).rename,
		syscall.SYS_MKDIR:      (*Server).mkdir,
		syscall.SYS_RMDIR:      (*Server).rmdir,
		syscall.SYS_UNLINK:     (*Server).unlink,
		syscall.SYS_SYMLINK:    (*Server).symlink,
		syscall.SYS_LINK:       (*Server).link,
		syscall.SYS_LINKAT:     (*Server).linkat,
		syscall.SYS_READLINK:   (*Server).readlink,
		syscall.SYS_CHMOD:      (*Server).chmod,
		syscall.SYS_FCHMOD:     (*Server).fchmod,
		syscall.SYS_CHOWN:      (*Server).chown,
		syscall.SYS_FCHOWN:     (*Server).fchown,
		syscall.SYS_LCHOWN:     (*Server).lchown,
		syscall.SYS_UTIME:      (*Server).utime,
		syscall.SYS_UTIMES:     (*Server).utimes,
		syscall.SYS_FUTIMESAT:  (*Server).futimesat,
		syscall.SYS_MKNOD:      (*Server).mknod,
		syscall.SYS_MKNODAT:    (*Server).mknodat,
		syscall.SYS_FCHOWNAT:   (*Server).fchownat,
		syscall.SYS_UMASK:      (*Server).umaskCall,
		syscall.SYS_STATFS:     (*Server).statfs,
		syscall.SYS_FSTATFS:    (*Server).fstatfs,
		syscall.SYS_GETDENTS64: (*Server).getdents64,
		syscall.SYS_OPENAT:     (*Server).openat,
		syscall.SYS_MKDIRAT:    (*Server).mkdirat,
		syscall.SYS_NEWFSTATAT: (*Server).newfstatat,
		syscall.SYS_UNLINKAT:   (*Server).unlinkat,
		syscall.SYS_RENAMEAT:   (*Server).renameat,
		316:                    (*Server).renameat, // renameat2 (flags must be 0)
		syscall.SYS_SYMLINKAT:  (*Server).symlinkat,
		syscall.SYS_READLINKAT: (*Server).readlinkat,
		syscall.SYS_FCHMODAT:   (*Server).fchmodat,
		452:                    (*Server).fchmodat, // fchmodat2
		syscall.SYS_FACCESSAT:  (*Server).faccessat,
		sysFaccessat2:          (*Server).faccessat,
		syscall.SYS_UTIMENSAT:  (*Server).utimensat,
		syscall.SYS_PIPE2:      (*Server).pipe2,
		syscall.SYS_PREADV:     (*Server).preadv,
		syscall.SYS_PWRITEV:    (*Server).pwritev,
		332:                    (*Server).statx,

		syscall.SYS_SENDFILE:    (*Server).sendfile,
		syscall.SYS_SOCKET:      (*Server).socket,
		syscall.SYS_CONNECT:     (*Server).connect,
		syscall.SYS_ACCEPT:      (*Server).accept,
		syscall.SYS_SENDTO:      (*Server).sendto,
		syscall.SYS_RECVFROM:    (*Server).recvfrom,
		syscall.SYS_SENDMSG:     (*Server).sendmsg,
		syscall.SYS_RECVMSG:     (*Server).recvmsg,
		syscall.SYS_SHUTDOWN:    (*Server).shutdown,
		syscall.SYS_BIND:        (*Server).bind,
		syscall.SYS_LISTEN:      (*Server).listen,
		syscall.SYS_GETSOCKNAME: (*Server).getsockname,
		syscall.SYS_GETPEERNAME: (*Server).getpeername,
		syscall.SYS_SOCKETPAIR:  (*Server).socketpair,
		syscall.SYS_SETSOCKOPT:  (*Server).setsockopt,
		syscall.SYS_GETSOCKOPT:  (*Server).getsockopt,
		syscall.SYS_ACCEPT4:     (*Server).accept,
		syscall.SYS_RECVMMSG:    (*Server).recvmmsg,
		307:                     (*Server).sendmmsg, // sendmmsg

		syscall.SYS_ALARM:            (*Server).alarm,
		syscall.SYS_SETITIMER:        (*Server).setitimer,
		syscall.SYS_GETITIMER:        (*Server).getitimer,
		syscall.SYS_TIMER_CREATE:     (*Server).timerCreate,
		syscall.SYS_TIMER_SETTIME:    (*Server).timerSettime,
		syscall.SYS_TIMER_GETTIME:    (*Server).timerGettime,
		syscall.SYS_TIMER_GETOVERRUN: (*Server).timerGetoverrun,
		syscall.SYS_TIMER_DELETE:     (*Server).timerDelete,
		syscall.SYS_TIMERFD_CREATE:   (*Server).timerfdCreate,
		syscall.SYS_TIMERFD_SETTIME:  (*Server).timerfdSettime,
		syscall.SYS_TIMERFD_GETTIME:  (*Server).timerfdGettime,
	}
}

// HandlePath returns the path an open handle was opened by ("" if none),
// for /proc/self/fd.
func (s *Server) HandlePath(h int32) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.files[h]; ok {
		return f.path
	}
	return ""
}

// Cwd returns the application's working directory.
func (s *Server) Cwd() string { return s.cwdPath() }
