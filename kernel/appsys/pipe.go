package appsys

import (
	"sync"
	"syscall"

	"gosv/kernel"
	"gosv/vfs"
)

// pipeSize is Linux's default pipe capacity.
const pipeSize = 64 << 10

// pipe is an anonymous pipe. Blocking reads and writes park the serving
// goroutine, not a kernel thread: the application thread waits in the
// core for the result, as for any served call.
type pipe struct {
	mu      sync.Mutex
	cond    *sync.Cond
	buf     []byte
	readers int
	writers int
	// The ends' server handles (-1 until attached), whose readiness the
	// core is told about after every change.
	rh, wh int32
}

func newPipe() *pipe {
	p := &pipe{readers: 1, writers: 1, rh: -1, wh: -1}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// attach records an end's handle and reports its readiness.
func (p *pipe) attach(h int32, write bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if write {
		p.wh = h
	} else {
		p.rh = h
	}
	p.publish()
}

// publish tells the core what each open end is ready for (p.mu held).
func (p *pipe) publish() {
	if p.rh >= 0 && p.readers > 0 {
		var ev uint32
		if len(p.buf) > 0 || p.writers == 0 {
			ev |= kernel.ReadyIn
		}
		if p.writers == 0 {
			ev |= kernel.ReadyHup
		}
		kernel.SetReady(p.rh, ev)
	}
	if p.wh >= 0 && p.writers > 0 {
		var ev uint32
		if len(p.buf) < pipeSize || p.readers == 0 {
			ev |= kernel.ReadyOut
		}
		kernel.SetReady(p.wh, ev)
	}
}

func (p *pipe) read(b []byte, nonblock bool) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 {
		if p.writers == 0 {
			return 0, nil // end of file
		}
		if nonblock {
			return 0, syscall.EAGAIN
		}
		p.cond.Wait()
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	p.cond.Broadcast()
	p.publish()
	return int64(n), nil
}

func (p *pipe) write(b []byte, nonblock bool) (int64, error) {
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
			p.cond.Wait()
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

func (p *pipe) closeEnd(write bool) {
	p.mu.Lock()
	if write {
		p.writers--
	} else {
		p.readers--
	}
	p.cond.Broadcast()
	p.publish()
	p.mu.Unlock()
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
	rfd, err := s.add(&openFile{node: node, pipe: p, path: "pipe:", flags: oRdonly | flags&oNonblock}, cloexec)
	if err != nil {
		return 0, err
	}
	wfd, err := s.add(&openFile{node: node, pipe: p, write: true, path: "pipe:", flags: oWronly | flags&oNonblock}, cloexec)
	if err != nil {
		return 0, err // the read end stays open; rare enough (EMFILE)
	}
	put32(out, uint32(rfd))
	put32(out+4, uint32(wfd))
	return 0, nil
}
