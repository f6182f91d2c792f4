package appsys

import (
	"sync"
	"syscall"

	"gosv/kernel"
	"gosv/vfs"
)

// Named pipes. A FIFO is a node of a writable file system (vfs.Mknoder);
// its pipe lives here, in s.fifos, from the first open to the last close,
// and its data goes when the pipe does, as on Linux.

// openFIFO opens the FIFO n as open(2) does: without O_NONBLOCK an open
// for reading waits for a writer and one for writing waits for a reader;
// with it, a read open returns at once and a write open with no reader
// fails with ENXIO. O_RDWR opens both ends and never waits. A signal
// interrupts the wait (sl, see interrupt.go), which undoes the open.
func (s *Server) openFIFO(sl *inflight, n vfs.Node, at vfs.Dir, flags int) (int64, error) {
	read := flags&oAccMode != oWronly
	write := flags&oAccMode != oRdonly
	p, err := s.joinFIFO(sl, n, read, write, flags&oNonblock != 0)
	if err != nil {
		return 0, err
	}
	f := &openFile{node: n, at: at, path: at.Path(), pipe: p, pipeRead: read, pipeWrite: write, fifo: true,
		flags: flags &^ (oCreat | oExcl | oTrunc | oCloexec)}
	return s.add(f, flags&oCloexec != 0)
}

// joinFIFO opens the read end, the write end or both of n's pipe
// (making the pipe if n has none), waiting for the other end as
// openFIFO says.
func (s *Server) joinFIFO(sl *inflight, n vfs.Node, read, write, nonblock bool) (*pipe, error) {
	s.mu.Lock()
	p := s.fifos[n]
	if p == nil {
		p = &pipe{}
		p.cond = sync.NewCond(&p.mu)
		s.fifos[n] = p
	}
	p.mu.Lock()
	if write && !read && nonblock && p.readers == 0 {
		unused := p.writers == 0
		p.mu.Unlock()
		if unused {
			delete(s.fifos, n)
		}
		s.mu.Unlock()
		return nil, syscall.ENXIO
	}
	ropens, wopens := p.ropens, p.wopens
	if read {
		p.readers++
		p.ropens++
	}
	if write {
		p.writers++
		p.wopens++
	}
	p.cond.Broadcast()
	p.publish()
	p.mu.Unlock()
	s.mu.Unlock()

	if nonblock || read == write {
		return p, nil
	}
	p.mu.Lock()
	interrupted := false
	for !interrupted && (read && p.writers == 0 && p.wopens == wopens || write && p.readers == 0 && p.ropens == ropens) {
		interrupted = sl.waitCond(p.cond)
	}
	p.mu.Unlock()
	if interrupted {
		// The end this open made goes again; the other side may
		// already have seen it come (ropens, wopens), as on Linux.
		s.mu.Lock()
		if p.closeEnd(-1, read, write) && s.fifos[n] == p {
			delete(s.fifos, n)
		}
		s.mu.Unlock()
		return nil, kernel.ErrRestart
	}
	return p, nil
}

// closePipeEnds closes the pipe ends of f, whose handle is h (-1 if it
// never got one), and forgets a FIFO's pipe once nothing has it open.
func (s *Server) closePipeEnds(f *openFile, h int32) {
	if !f.fifo {
		f.pipe.closeEnd(h, f.pipeRead, f.pipeWrite)
		return
	}
	// s.mu first, so that no open finds the pipe between its last close
	// and its removal.
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.pipe.closeEnd(h, f.pipeRead, f.pipeWrite) && s.fifos[f.node] == f.pipe {
		delete(s.fifos, f.node)
	}
}
