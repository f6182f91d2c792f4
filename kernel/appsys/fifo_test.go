package appsys

import (
	"syscall"
	"testing"
	"time"

	"gosv/vfs"
	"gosv/vfs/ramfs"
)

// The readiness reports (kernel.SetReady) are gosv system calls, which a
// Linux host answers with ENOSYS: harmless here.

func newFIFO(t *testing.T) (*Server, vfs.Node) {
	t.Helper()
	var fs vfs.FS
	if err := fs.Mount("/", ramfs.New()); err != nil {
		t.Fatal(err)
	}
	n, err := fs.Mknod("/", "/p", vfs.S_IFIFO|0o600)
	if err != nil {
		t.Fatal(err)
	}
	return New(&fs, "/"), n
}

// join opens an end in a goroutine and returns its result channel.
func join(s *Server, n vfs.Node, read, write, nonblock bool) chan error {
	done := make(chan error, 1)
	go func() {
		_, err := s.joinFIFO(nil, n, read, write, nonblock)
		done <- err
	}()
	return done
}

// blocked reports whether done has no result after a moment.
func blocked(done chan error) bool {
	select {
	case <-done:
		return false
	case <-time.After(50 * time.Millisecond):
		return true
	}
}

func TestFIFOOpenWaitsForTheOtherEnd(t *testing.T) {
	for _, c := range []struct {
		name        string
		first, then bool // read ends?
	}{
		{"reader waits for a writer", true, false},
		{"writer waits for a reader", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, n := newFIFO(t)
			first := join(s, n, c.first, !c.first, false)
			if !blocked(first) {
				t.Fatal("the first open returned with no other end")
			}
			if err := <-join(s, n, c.then, !c.then, false); err != nil {
				t.Fatalf("second open: %v", err)
			}
			if err := <-first; err != nil {
				t.Fatalf("first open: %v", err)
			}
		})
	}
}

func TestFIFOOpenFlags(t *testing.T) {
	s, n := newFIFO(t)
	if _, err := s.joinFIFO(nil, n, false, true, true); err != syscall.ENXIO {
		t.Errorf("non-blocking write open without a reader: %v, want ENXIO", err)
	}
	if len(s.fifos) != 0 {
		t.Errorf("a failed open left a pipe behind: %v", s.fifos)
	}
	if blocked(join(s, n, true, false, true)) {
		t.Error("non-blocking read open waited")
	}
	if blocked(join(s, n, false, true, true)) {
		t.Error("non-blocking write open with a reader waited")
	}
	s2, n2 := newFIFO(t)
	if blocked(join(s2, n2, true, true, false)) {
		t.Error("O_RDWR open waited")
	}
}

// TestFIFOWriterThatLeft checks that a reader waiting in open is
// released by a writer that opened and closed before it looked.
func TestFIFOWriterThatLeft(t *testing.T) {
	s, n := newFIFO(t)
	reader := join(s, n, true, false, false)
	if !blocked(reader) {
		t.Fatal("read open returned with no writer")
	}
	p, err := s.joinFIFO(nil, n, false, true, false)
	if err != nil {
		t.Fatal(err)
	}
	s.closePipeEnds(&openFile{node: n, pipe: p, pipeWrite: true, fifo: true}, -1)
	if err := <-reader; err != nil {
		t.Fatal(err)
	}
}

func TestFIFODataAndLastClose(t *testing.T) {
	s, n := newFIFO(t)
	rp, err := s.joinFIFO(nil, n, true, false, true)
	if err != nil {
		t.Fatal(err)
	}
	wp, err := s.joinFIFO(nil, n, false, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if rp != wp {
		t.Fatal("two opens of one FIFO got different pipes")
	}
	if _, err := wp.write(nil, []byte("hello"), false); err != nil {
		t.Fatal(err)
	}
	s.closePipeEnds(&openFile{node: n, pipe: wp, pipeWrite: true, fifo: true}, -1)
	b := make([]byte, 16)
	if k, err := rp.read(nil, b, true); err != nil || string(b[:k]) != "hello" {
		t.Errorf("read = %q, %v; want hello", b[:k], err)
	}
	if k, err := rp.read(nil, b, true); k != 0 || err != nil {
		t.Errorf("read after the writer closed = %d, %v; want end of file", k, err)
	}
	if len(s.fifos) != 1 {
		t.Errorf("the pipe went while its read end was open")
	}
	s.closePipeEnds(&openFile{node: n, pipe: rp, pipeRead: true, fifo: true}, -1)
	if len(s.fifos) != 0 {
		t.Errorf("the pipe stayed after the last close")
	}
	// A new open starts a new, empty pipe.
	p, _ := s.joinFIFO(nil, n, true, true, true)
	if p == rp || p.buffered() != 0 {
		t.Errorf("reopened FIFO kept the old pipe")
	}
}
