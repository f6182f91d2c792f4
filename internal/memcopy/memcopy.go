// Package memcopy copies bytes in pieces that stay fast under QEMU's TCG.
//
// Go's memmove copies a block over 2 KiB whose source or destination is
// not 8-byte aligned with REP MOVSB, one byte per iteration, unless AVX
// is usable; gosv's kernel runtime runs with AVX off (applications'
// YMM registers stay live in the CPU while kernel code runs: see
// kernel/fpu.go). Under TCG
// every iteration of a REP instruction is a trip through the translated
// block, so such a copy costs a block per byte: packet data, which sits
// after 14-, 20- and 32-byte headers, is rarely aligned, and copying it
// was most of the cost of receiving (gosvbench -insns: 3 million blocks
// per MB received). Up to 2 KiB memmove uses SSE moves, 256 bytes per
// loop, whatever the alignment.
package memcopy

// piece is the most handed to memmove at once.
const piece = 2048

// Copy copies min(len(dst), len(src)) bytes from src to dst, as the
// built-in copy does, and returns the count. dst and src must not
// overlap (it copies forwards, piece by piece).
func Copy(dst, src []byte) int {
	n := min(len(dst), len(src))
	for off := 0; off < n; off += piece {
		end := min(off+piece, n)
		copy(dst[off:end], src[off:end])
	}
	return n
}
