package appsys

import (
	"slices"
	"sync"
	"syscall"

	"gosv/kernel"
	"gosv/vfs"
)

// pipeSize is Linux's default pipe capacity.
const pipeSize = 64 << 10

// pipe is an anonymous pipe or the pipe of an open FIFO. Blocking reads
// and writes park the serving goroutine, not a kernel thread: the
// application thread waits in the core for the result, as for any
// served call.
type pipe struct {
	mu   sync.Mutex
	cond *sync.Cond
	buf  []byte
	// readers and writers count the open file descriptions of each end;
	// ropens and wopens count every open ever made, so that a FIFO open
	// waiting for the other end sees one that came and went.
	readers, writers int
	ropens, wopens   int
	// The ends' server handles, whose readiness the core is told about
	// after every change.
	rhs, whs []int32
}

// newPipe returns an anonymous pipe with its two ends open.
func newPipe() *pipe {
	p := &pipe{readers: 1, writers: 1, ropens: 1, wopens: 1}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// attach records the handle of an open file of the pipe (its read end,
// write end or both) and reports its readiness.
func (p *pipe) attach(h int32, read, write bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if read {
		p.rhs = append(p.rhs, h)
	}
	if write {
		p.whs = append(p.whs, h)
	}
	p.publish()
}

// publish tells the core what each open end is ready for (p.mu held).
// A handle that is both ends (a FIFO opened O_RDWR) gets both sets.
func (p *pipe) publish() {
	var rev, wev uint32
	if len(p.buf) > 0 || p.writers == 0 {
		rev |= kernel.ReadyIn
	}
	if p.writers == 0 {
		rev |= kernel.ReadyHup
	}
	if len(p.buf) < pipeSize || p.readers == 0 {
		wev |= kernel.ReadyOut
	}
	for _, h := range p.rhs {
		ev := rev
		if slices.Contains(p.whs, h) {
			ev |= wev
		}
		kernel.SetReady(h, ev)
	}
	for _, h := range p.whs {
		if !slices.Contains(p.rhs, h) {
			kernel.SetReady(h, wev)
		}
	}
}

// read and write wait while the pipe is empty or full, unless nonblock,
// or until the call is interrupted (sl; nil: not interruptible).
func (p *pipe) read(sl *inflight, b []byte, nonblock bool) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 {
		if p.writers == 0 {
			return 0, nil // end of file
		}
		if nonblock {
			return 0, syscall.EAGAIN
		}
		if sl.waitCond(p.cond) {
			return 0, kernel.ErrRestart
		}
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	p.cond.Broadcast()
	p.publish()
	return int64(n), nil
}

func (p *pipe) write(sl *inflight, b []byte, nonblock bool) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	written := 0
	for written < len(b) {
		if p.readers == 0 {
			if written > 0 {
				return int64(written), nil
			}
			return 0, syscall.EPIPE
		}
		room := pipeSize - len(p.buf)
		if room == 0 {
			if nonblock {
				if written > 0 {
					return int64(written), nil
				}
				return 0, syscall.EAGAIN
			}
			if sl.waitCond(p.cond) {
				if written > 0 {
					return int64(written), nil
				}
				return 0, kernel.ErrRestart
			}
			continue
		}
		n := min(room, len(b)-written)
		p.buf = append(p.buf, b[written:written+n]...)
		written += n
		p.cond.Broadcast()
		p.publish()
	}
	return int64(written), nil
}

func (p *pipe) buffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buf)
}

// closeEnd closes the ends an open file of handle h (-1: not attached)
// held, and reports whether the pipe has no open ends left.
func (p *pipe) closeEnd(h int32, read, write bool) (unused bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if read {
		p.readers--
		p.rhs = slices.DeleteFunc(p.rhs, func(x int32) bool { return x == h })
	}
	if write {
		p.writers--
		p.whs = slices.DeleteFunc(p.whs, func(x int32) bool { return x == h })
	}
	p.cond.Broadcast()
	p.publish()
	return p.readers == 0 && p.writers == 0
}

// pipeNode gives pipe ends a stat: a FIFO.
type pipeNode struct{ ino uint64 }

func (n pipeNode) Stat() (vfs.Stat, error) {
	return vfs.Stat{Mode: vfs.S_IFIFO | 0o600, Ino: n.ino, Nlink: 1}, nil
}
func (pipeNode) ReadAt([]byte, int64) (int, error)  { return 0, syscall.ESPIPE }
func (pipeNode) Readdir() ([]vfs.Dirent, error)     { return nil, syscall.ENOTDIR }
func (pipeNode) Lookup(string) (vfs.Node, error)    { return nil, syscall.ENOTDIR }
func (pipeNode) Readlink() (string, error)          { return "", syscall.EINVAL }
func (pipeNode) WriteAt([]byte, int64) (int, error) { return 0, syscall.ESPIPE }

var pipeInodes struct {
	sync.Mutex
	next uint64
}

func (s *Server) pipe(r *kernel.Request) (int64, error) {
	return s.makePipe(r.Args[0], 0)
}

func (s *Server) pipe2(r *kernel.Request) (int64, error) {
	if r.Args[1]&^(oCloexec|oNonblock) != 0 {
		return 0, syscall.EINVAL
	}
	return s.makePipe(r.Args[0], int(r.Args[1]))
}

func (s *Server) makePipe(out uint64, flags int) (int64, error) {
	if _, err := bytesAt(out, 8); err != nil {
		return 0, err
	}
	pipeInodes.Lock()
	pipeInodes.next++
	node := pipeNode{ino: pipeInodes.next}
	pipeInodes.Unlock()
	p := newPipe()
	cloexec := flags&oCloexec != 0
	rfd, err := s.add(&openFile{node: node, pipe: p, pipeRead: true, path: "pipe:", flags: oRdonly | flags&oNonblock}, cloexec)
	if err != nil {
		return 0, err
	}
	wfd, err := s.add(&openFile{node: node, pipe: p, pipeWrite: true, path: "pipe:", flags: oWronly | flags&oNonblock}, cloexec)
	if err != nil {
		return 0, err // the read end stays open; rare enough (EMFILE)
	}
	put32(out, uint32(rfd))
	put32(out+4, uint32(wfd))
	return 0, nil
}
