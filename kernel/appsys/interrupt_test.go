package appsys

import (
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"gosv/kernel"
	"gosv/vfs"
)

// pipeServer returns a server with one pipe whose read end is handle
// 1 and write end handle 2.
func pipeServer() (*Server, *pipe) {
	var fs vfs.FS
	s := New(&fs, "/")
	p := newPipe()
	s.files[1] = &openFile{node: pipeNode{}, pipe: p, pipeRead: true, flags: oRdonly}
	s.files[2] = &openFile{node: pipeNode{}, pipe: p, pipeWrite: true, flags: oWronly}
	return s, p
}

// transferRequest is thread's request seq: a read or write of buf on
// handle h.
func transferRequest(thread int32, seq uint32, nr uint64, h int32, buf []byte) kernel.Request {
	return kernel.Request{Thread: thread, Seq: seq, Nr: nr, Handle: h,
		Args: [6]uint64{uint64(h), uint64(uintptr(unsafe.Pointer(&buf[0]))), uint64(len(buf))}}
}

// runAsync serves r in a goroutine, as the serving loop does, and
// returns its result channel.
func runAsync(s *Server, r kernel.Request, keep []byte) chan int64 {
	done := make(chan int64, 1)
	go func() {
		done <- s.run(&r)
		runtime.KeepAlive(keep)
	}()
	return done
}

// resultWithin waits for a result; ok is false if none came.
func resultWithin(done chan int64, d time.Duration) (int64, bool) {
	select {
	case v := <-done:
		return v, true
	case <-time.After(d):
		return 0, false
	}
}

const restart = -int64(kernel.ErrRestart)

// TestInterruptPipeRead: an interrupt for the read a thread waits in
// ends it with the restart result; one for an older request (already
// completed) leaves it waiting; one that comes before the request is
// served still ends its wait; a read that finds data never waits, so
// a pending interrupt does not change it.
func TestInterruptPipeRead(t *testing.T) {
	const thread = 3
	for _, c := range []struct {
		name       string
		before     uint32 // interrupt sent before the call (0: none)
		during     uint32 // interrupt sent while it waits (0: none)
		data       string // in the pipe before the call
		want       int64
		stillWaits bool // until the test writes "late"
	}{
		{name: "interrupted while waiting", during: 7, want: restart},
		{name: "stale interrupt ignored", during: 6, stillWaits: true, want: 4},
		{name: "interrupt before the call is served", before: 7, want: restart},
		{name: "stale interrupt before the call", before: 5, stillWaits: true, want: 4},
		{name: "data already there", before: 7, data: "ab", want: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, p := pipeServer()
			if c.data != "" {
				if _, err := p.write(nil, []byte(c.data), false); err != nil {
					t.Fatal(err)
				}
			}
			if c.before != 0 {
				s.interrupt(thread, c.before)
			}
			buf := make([]byte, 16)
			done := runAsync(s, transferRequest(thread, 7, syscall.SYS_READ, 1, buf), buf)
			if c.during != 0 {
				if v, ok := resultWithin(done, 50*time.Millisecond); ok {
					t.Fatalf("read returned %d with an empty pipe", v)
				}
				s.interrupt(thread, c.during)
			}
			wait := time.Second
			if c.stillWaits {
				wait = 100 * time.Millisecond
			}
			got, ok := resultWithin(done, wait)
			if c.stillWaits {
				if ok {
					t.Fatalf("read returned %d after an interrupt for another request", got)
				}
				if _, err := p.write(nil, []byte("late"), false); err != nil {
					t.Fatal(err)
				}
				got, ok = resultWithin(done, time.Second)
			}
			if !ok {
				t.Fatal("read still waits")
			}
			if got != c.want {
				t.Errorf("read = %d, want %d", got, c.want)
			}
		})
	}
}

// TestInterruptPipeWrite: an interrupted write that moved some bytes
// returns their count; one that moved none returns the restart result.
func TestInterruptPipeWrite(t *testing.T) {
	const thread = 4
	for _, c := range []struct {
		name    string
		prefill int
		size    int
		want    int64
	}{
		{"partial", 0, pipeSize + 100, pipeSize},
		{"nothing written", pipeSize, 10, restart},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, p := pipeServer()
			if c.prefill > 0 {
				if _, err := p.write(nil, make([]byte, c.prefill), false); err != nil {
					t.Fatal(err)
				}
			}
			buf := make([]byte, c.size)
			done := runAsync(s, transferRequest(thread, 1, syscall.SYS_WRITE, 2, buf), buf)
			if v, ok := resultWithin(done, 50*time.Millisecond); ok {
				t.Fatalf("write returned %d into a full pipe", v)
			}
			s.interrupt(thread, 1)
			got, ok := resultWithin(done, time.Second)
			if !ok || got != c.want {
				t.Errorf("write = %d (returned %v), want %d", got, ok, c.want)
			}
		})
	}
}

// TestInterruptFIFOOpen: an interrupted FIFO open returns the restart
// result and takes back its end, so the FIFO's pipe goes.
func TestInterruptFIFOOpen(t *testing.T) {
	s, n := newFIFO(t)
	sl := &s.calls[5]
	sl.seq.Store(9)
	done := make(chan error, 1)
	go func() {
		_, err := s.joinFIFO(sl, n, true, false, false)
		done <- err
	}()
	if !blocked(done) {
		t.Fatal("read open returned with no writer")
	}
	s.interrupt(5, 9)
	select {
	case err := <-done:
		if err != kernel.ErrRestart {
			t.Errorf("interrupted open: %v, want ErrRestart", err)
		}
	case <-time.After(time.Second):
		t.Fatal("interrupted open still waits")
	}
	s.mu.Lock()
	left := len(s.fifos)
	s.mu.Unlock()
	if left != 0 {
		t.Errorf("the interrupted open left its pipe behind")
	}
}

// TestInterruptedChannel: the channel a socket call waits on is closed
// by an interrupt for the current request only, and a later request
// gets an open one.
func TestInterruptedChannel(t *testing.T) {
	var fs vfs.FS
	s := New(&fs, "/")
	sl := &s.calls[2]
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	sl.seq.Store(10)
	ch := sl.Interrupted()
	s.interrupt(2, 9)
	if closed(ch) {
		t.Fatal("a stale interrupt closed the channel")
	}
	s.interrupt(2, 10)
	if !closed(ch) {
		t.Fatal("the interrupt left the channel open")
	}
	sl.seq.Store(11)
	if closed(sl.Interrupted()) {
		t.Error("the next request's channel is closed")
	}
	s.interrupt(2, 12) // before request 12 is served
	sl.seq.Store(12)
	if !closed(sl.Interrupted()) {
		t.Error("an interrupt that came before its request was lost")
	}
}
