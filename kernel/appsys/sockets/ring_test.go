package sockets

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"gosv/kernel"
)

// ringPair is an accepted non-blocking connection with rings (the
// server end) and its blocking client. The test plays the core: it
// writes into the send ring and reads from the receive ring directly,
// and kicks as the core would.
func ringPair(t *testing.T) (client, server *Socket, r *kernel.StreamRing, events chan uint32) {
	t.Helper()
	st := loopbackStack(t)
	l, addr := listener(t, st, 0)
	c := mustNew(t, st, syscall.AF_INET, syscall.SOCK_STREAM)
	if err := c.Connect(nil, addr); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	s, _, err := l.Accept(nil, SockNonblock, false)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if !s.Ringable() {
		t.Fatal("an accepted non-blocking TCP connection is not ringable")
	}
	r = s.Rings()
	events = make(chan uint32, 1024)
	s.SetNotify(func(ev uint32, _ bool) { events <- ev })
	return c, s, r, events
}

// coreWrite appends msg to the send ring as ringSend does.
func coreWrite(t *testing.T, s *Socket, r *kernel.StreamRing, msg string) {
	t.Helper()
	tail := r.TxTail.Load()
	if r.TxSize-(tail-r.TxHead.Load()) < uint32(len(msg)) {
		t.Fatal("send ring full")
	}
	for i := 0; i < len(msg); i++ {
		s.ring.tx[(tail+uint32(i))&(r.TxSize-1)] = msg[i]
	}
	r.TxTail.Store(tail + uint32(len(msg)))
	if r.TxIdle.CompareAndSwap(1, 0) {
		s.Kick()
	}
}

// coreRead takes everything in the receive ring, waiting up to 5 s for
// want bytes or the end.
func coreRead(t *testing.T, s *Socket, r *kernel.StreamRing, want int) (string, uint32) {
	t.Helper()
	var b strings.Builder
	deadline := time.Now().Add(5 * time.Second)
	for b.Len() < want && r.RxEnd.Load() == 0 || r.RxHead.Load() != r.RxTail.Load() {
		head, tail := r.RxHead.Load(), r.RxTail.Load()
		for i := head; i != tail; i++ {
			b.WriteByte(s.ring.rx[i&(r.RxSize-1)])
		}
		r.RxHead.Store(tail)
		if r.RxWant.CompareAndSwap(1, 0) {
			s.Kick()
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d bytes, want %d", b.Len(), want)
		}
		time.Sleep(time.Millisecond)
	}
	return b.String(), r.RxEnd.Load()
}

func TestRingsCarryBothWays(t *testing.T) {
	c, s, r, _ := ringPair(t)
	write(t, c, "request")
	if got, _ := coreRead(t, s, r, 7); got != "request" {
		t.Errorf("receive ring got %q", got)
	}
	coreWrite(t, s, r, "response")
	if got := read(t, c, 100); got != "response" {
		t.Errorf("client got %q", got)
	}
}

// TestRingsBulk moves more than a ring holds each way, so the server
// waits for room (RxWant) and for data (TxIdle) many times.
func TestRingsBulk(t *testing.T) {
	c, s, r, _ := ringPair(t)
	big := strings.Repeat("0123456789abcdef", 3*RingSize/16+5)
	go func() {
		c.Write(nil, [][]byte{[]byte(big)})
	}()
	if got, _ := coreRead(t, s, r, len(big)); got != big {
		t.Fatalf("received %d bytes, want %d, equal %v", len(got), len(big), got == big)
	}
	done := make(chan string)
	go func() {
		var b strings.Builder
		buf := make([]byte, 8192)
		for b.Len() < len(big) {
			n, err := c.Read(nil, [][]byte{buf})
			if err != nil || n == 0 {
				break
			}
			b.Write(buf[:n])
		}
		done <- b.String()
	}()
	for sent := 0; sent < len(big); {
		room := int(r.TxSize - (r.TxTail.Load() - r.TxHead.Load()))
		if room == 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		n := min(room, len(big)-sent, 1000)
		coreWrite(t, s, r, big[sent:sent+n])
		sent += n
	}
	select {
	case got := <-done:
		if got != big {
			t.Errorf("client received %d bytes, want %d", len(got), len(big))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("client did not receive everything")
	}
}

// TestRingsEndAndClose: the peer's FIN ends the receive ring; bytes the
// application wrote just before closing still reach the peer.
func TestRingsEndAndClose(t *testing.T) {
	c, s, r, _ := ringPair(t)
	write(t, c, "last words")
	if err := c.Shutdown(syscall.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	got, end := coreRead(t, s, r, 10)
	if got != "last words" || end != kernel.RingEOF {
		t.Errorf("receive ring: %q, end %#x; want the bytes, then RingEOF", got, end)
	}
	coreWrite(t, s, r, "goodbye")
	s.Close()
	if got := read(t, c, 100); got != "goodbye" {
		t.Errorf("client got %q after the server closed, want goodbye", got)
	}
	if got := read(t, c, 100); got != "" {
		t.Errorf("client got %q, want the end of the stream", got)
	}
}

// TestRingsShutdownWrite: the core serves writes from the ring, so the
// ring must say that SHUT_WR ended them (Go's TestCloseWrite).
func TestRingsShutdownWrite(t *testing.T) {
	c, s, r, _ := ringPair(t)
	coreWrite(t, s, r, "before")
	if err := s.Shutdown(syscall.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	if e := r.TxErr.Load(); e != uint32(syscall.EPIPE) {
		t.Errorf("send ring error after SHUT_WR %d, want EPIPE", e)
	}
	if got := read(t, c, 100); got != "before" {
		t.Errorf("peer got %q, want what was written before SHUT_WR", got)
	}
	if got := read(t, c, 100); got != "" {
		t.Errorf("peer got %q, want the end of the stream", got)
	}
}

func TestRingsBuffered(t *testing.T) {
	c, s, r, _ := ringPair(t)
	write(t, c, "12345")
	deadline := time.Now().Add(5 * time.Second)
	for r.RxTail.Load()-r.RxHead.Load() < 5 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := s.Buffered(); n != 5 {
		t.Errorf("Buffered = %d, want 5 (in the ring)", n)
	}
}

func TestBlockingAcceptHasNoRings(t *testing.T) {
	st := loopbackStack(t)
	_, srv := connected(t, st)
	if srv.Ringable() {
		t.Error("a connection accepted blocking is ringable")
	}
}

// TestRingsReportRoomOnlyWhenWanted: sending what the application wrote
// reports nothing (a report wakes every epoll waiter) unless the core
// found the send ring full and asked (TxWant), as Linux wakes writers
// only after SOCK_NOSPACE; then exactly one report follows the room.
func TestRingsReportRoomOnlyWhenWanted(t *testing.T) {
	c, s, r, events := ringPair(t)
	drain := func() {
		for {
			select {
			case <-events:
			case <-time.After(50 * time.Millisecond):
				return
			}
		}
	}
	drain()
	coreWrite(t, s, r, "response")
	if got := read(t, c, 100); got != "response" {
		t.Fatalf("client got %q", got)
	}
	select {
	case ev := <-events:
		t.Errorf("report %#x after room nobody asked for", ev)
	case <-time.After(100 * time.Millisecond):
	}
	// Now as a write that found the ring full: the flag, then data.
	r.TxWant.Store(1)
	coreWrite(t, s, r, "more")
	if got := read(t, c, 100); got != "more" {
		t.Fatalf("client got %q", got)
	}
	select {
	case <-events:
	case <-time.After(5 * time.Second):
		t.Fatal("no report after room the core asked for")
	}
	if r.TxWant.Load() != 0 {
		t.Error("TxWant still set after the report")
	}
}

// TestRingsReportEndpointRoom: a bulk write the core passes past the
// rings (straight into the endpoint) fills the endpoint; when the peer
// makes room, the socket reports it even though its rings moved nothing:
// the core answers such writes EAGAIN from the readiness last reported,
// so a stale "not writable" would leave the writer waiting for ever.
func TestRingsReportEndpointRoom(t *testing.T) {
	c, s, _, events := ringPair(t)
	chunk := make([]byte, 64<<10)
	total := 0
	for {
		n, err := s.Write(nil, [][]byte{chunk})
		total += n
		if err == syscall.EAGAIN {
			break
		}
		if err != nil || total > 64<<20 {
			t.Fatalf("Write: %d, %v after %d bytes; want EAGAIN once the endpoint is full", n, err, total)
		}
	}
	for len(events) > 0 {
		<-events
	}
	if ev := s.impl.readiness(); ev&EventOut != 0 {
		t.Fatalf("readiness %#x with the endpoint full, want no EventOut", ev)
	}
	go func() {
		buf := make([]byte, 64<<10)
		for got := 0; got < total; {
			n, err := c.Read(nil, [][]byte{buf})
			if err != nil || n == 0 {
				return
			}
			got += n
		}
	}()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev&EventOut != 0 {
				return
			}
		case <-deadline:
			t.Fatal("no report of room in the endpoint after the peer read everything")
		}
	}
}
