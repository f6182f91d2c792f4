package memcopy

import (
	"bytes"
	"testing"
)

func TestCopy(t *testing.T) {
	src := make([]byte, 10000)
	for i := range src {
		src[i] = byte(i * 7)
	}
	for _, tc := range []struct{ dst, src, off int }{
		{0, 0, 0}, {10, 5, 0}, {5, 10, 0}, {2048, 2048, 0}, {2049, 3000, 3},
		{10000, 9999, 1}, {4096, 4096, 13},
	} {
		dst := make([]byte, tc.dst)
		n := Copy(dst, src[tc.off:tc.off+tc.src])
		want := min(tc.dst, tc.src)
		if n != want || !bytes.Equal(dst[:n], src[tc.off:tc.off+n]) {
			t.Errorf("Copy(%d bytes, %d bytes at %d) = %d, want %d and equal bytes", tc.dst, tc.src, tc.off, n, want)
		}
		if bytes.ContainsFunc(dst[n:], func(r rune) bool { return r != 0 }) {
			t.Errorf("Copy wrote past %d bytes", n)
		}
	}
}

func BenchmarkCopyUnaligned(b *testing.B) {
	src, dst := make([]byte, 64<<10+1), make([]byte, 64<<10)
	b.SetBytes(int64(len(dst)))
	for b.Loop() {
		Copy(dst, src[1:])
	}
}
