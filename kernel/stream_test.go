package kernel

import (
	"bytes"
	"testing"
	"unsafe"
)

func newTestRing(size uint32) (*StreamRing, []byte, []byte) {
	rx, tx := make([]byte, size), make([]byte, size)
	r := &StreamRing{RxBuf: uintptr(unsafe.Pointer(&rx[0])), TxBuf: uintptr(unsafe.Pointer(&tx[0])), RxSize: size, TxSize: size}
	return r, rx, tx
}

func oneIOV(b []byte) *iovList {
	return &iovList{one: iovec{uintptr(unsafe.Pointer(&b[0])), uintptr(len(b))}}
}

func takeKicks() []int32 {
	var out []int32
	for kicks.size > 0 {
		out = append(out, kicks.ring[kicks.head])
		kicks.head = (kicks.head + 1) % len(kicks.ring)
		kicks.size--
	}
	return out
}

func TestRingSendWrapsAndKicksOnce(t *testing.T) {
	const h = 5
	r, _, tx := newTestRing(16)
	r.TxIdle.Store(1)
	r.TxHead.Store(10)
	r.TxTail.Store(10)
	takeKicks()
	msg := []byte("0123456789abcdefXYZ") // more than fits
	if got := ringSend(r, h, oneIOV(msg)); got != 16 {
		t.Fatalf("ringSend = %d, want 16 (the ring's room)", got)
	}
	// Bytes 10..15 of the buffer, then 0..9.
	if want := []byte("6789abcdef012345"); !bytes.Equal(tx, want) {
		t.Errorf("send ring holds %q, want %q", tx, want)
	}
	if k := takeKicks(); len(k) != 1 || k[0] != h<<2|KickTx {
		t.Errorf("kicks %v, want one KickTx for handle %d", k, h)
	}
	if got := ringSend(r, h, oneIOV(msg)); got != errnoResult(EAGAIN) {
		t.Errorf("ringSend into a full ring = %d, want EAGAIN", got)
	}
	r.TxHead.Store(r.TxTail.Load()) // the server sent it all, still busy
	if got := ringSend(r, h, oneIOV(msg[:3])); got != 3 {
		t.Errorf("ringSend = %d, want 3", got)
	}
	if k := takeKicks(); len(k) != 0 {
		t.Errorf("kicked %v while the server's sender was busy", k)
	}
	r.TxErr.Store(32)
	if got := ringSend(r, h, oneIOV(msg)); got != -32 {
		t.Errorf("ringSend after a send error = %d, want EPIPE", got)
	}
}

func TestRingRecv(t *testing.T) {
	const h = 9
	r, rx, _ := newTestRing(8)
	copy(rx, "EFGHABCD") // 8 bytes starting at index 4: ABCDEFGH
	r.RxHead.Store(4)
	r.RxTail.Store(12)
	takeKicks()
	buf := make([]byte, 5)
	if got := ringRecv(r, h, oneIOV(buf), true); got != 5 || string(buf) != "ABCDE" {
		t.Fatalf("peek = %d %q", got, buf)
	}
	if r.RxHead.Load() != 4 {
		t.Error("peek consumed")
	}
	r.RxWant.Store(1) // the server waits for room
	if got := ringRecv(r, h, oneIOV(buf), false); got != 5 || string(buf) != "ABCDE" {
		t.Fatalf("recv = %d %q", got, buf)
	}
	if k := takeKicks(); len(k) != 1 || k[0] != h<<2|KickRx {
		t.Errorf("kicks %v, want one KickRx", k)
	}
	if got := ringRecv(r, h, oneIOV(buf), false); got != 3 || string(buf[:3]) != "FGH" {
		t.Fatalf("recv = %d %q, want the 3 left", got, buf[:3])
	}
	if got := ringRecv(r, h, oneIOV(buf), false); got != errnoResult(EAGAIN) {
		t.Errorf("recv from an empty ring = %d, want EAGAIN", got)
	}
	if got := ringRecv(r, h, &iovList{}, false); got != 0 {
		t.Errorf("zero-length recv from an empty ring = %d, want 0", got)
	}
	if ringReadiness(r)&epollIn != 0 {
		t.Error("empty ring is readable")
	}
	r.RxEnd.Store(RingEOF)
	if got := ringRecv(r, h, oneIOV(buf), false); got != 0 {
		t.Errorf("recv at the end = %d, want 0", got)
	}
	if ringReadiness(r)&epollIn == 0 {
		t.Error("ended ring is not readable")
	}
	r.RxEnd.Store(104)
	if got := ringRecv(r, h, oneIOV(buf), false); got != -104 {
		t.Errorf("recv after a reset = %d, want ECONNRESET", got)
	}
}

func TestAttachRingChecks(t *testing.T) {
	r, _, _ := newTestRing(16)
	bad, _, _ := newTestRing(16)
	bad.RxSize = 12
	for _, tc := range []struct {
		h    int32
		ring uintptr
		ok   bool
	}{
		{3, uintptr(unsafe.Pointer(r)), true},
		{3, 0, true},
		{-1, uintptr(unsafe.Pointer(r)), false},
		{maxHandles, uintptr(unsafe.Pointer(r)), false},
		{3, uintptr(unsafe.Pointer(bad)), false},
		{3, uintptr(unsafe.Pointer(r)) + 1, false},
	} {
		if got := attachRing(tc.h, tc.ring) == 0; got != tc.ok {
			t.Errorf("attachRing(%d, %#x) ok = %v, want %v", tc.h, tc.ring, got, tc.ok)
		}
	}
	handleRings[3].Store(0)
}

func TestBypassRing(t *testing.T) {
	r, _, _ := newTestRing(16)
	r.TxIdle.Store(1)
	big, small := make([]byte, 9), make([]byte, 8)
	if !bypassRing(r, oneIOV(big)) {
		t.Error("a bulk write to an empty, idle ring does not bypass it")
	}
	if bypassRing(r, oneIOV(small)) {
		t.Error("a small write bypasses the ring")
	}
	r.TxTail.Store(1) // one byte waiting: a bypass would overtake it
	if bypassRing(r, oneIOV(big)) {
		t.Error("a bulk write bypasses bytes still in the ring")
	}
	r.TxHead.Store(1)
	r.TxIdle.Store(0) // the sender is still at work
	if bypassRing(r, oneIOV(big)) {
		t.Error("a bulk write bypasses a busy sender")
	}
}
