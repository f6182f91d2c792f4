package kernel

import "unsafe"

// The FPU state in a signal frame, in Linux's format
// (arch/x86/include/uapi/asm/sigcontext.h): the fpstate the sigcontext
// points at is an FXSAVE image or, with XSAVE enabled, an XSAVE area
// whose FXSAVE part carries struct _fpx_sw_bytes in its software
// bytes (464-511) and which is followed by FP_XSTATE_MAGIC2. uc_flags
// then has UC_FP_XSTATE. Handlers may read and change the registers
// there; rt_sigreturn loads them.
const (
	fpXStateMagic1 = 0x46505853 // "FPXS": _fpx_sw_bytes.magic1
	fpXStateMagic2 = 0x46505845 // "FPXE": after the XSAVE area
	ucFPXState     = 0x1        // uc_flags: the fpstate is an XSAVE area

	// struct _fpx_sw_bytes in the FXSAVE image.
	swBytesOff        = 464
	swMagic1Off       = swBytesOff      // u32
	swExtendedSizeOff = swBytesOff + 4  // u32: xstate_size + 4
	swXFeaturesOff    = swBytesOff + 8  // u64: the components in the area
	swXStateSizeOff   = swBytesOff + 16 // u32: the XSAVE area's size

	// sigFPUMax is the most a frame's fpstate takes: the XSAVE area
	// and MAGIC2.
	sigFPUMax = fpuStateSize + 4

	mxcsrInit = 0x1f80
)

// sigFPUSize is the size of the fpstate in a signal frame.
func sigFPUSize(features uint64) uintptr {
	if features&xfeatAVX != 0 {
		return sigFPUMax
	}
	return fxLegacySize
}

func le32(b []byte) uint32     { return *(*uint32)(unsafe.Pointer(&b[0])) }
func le64(b []byte) uint64     { return *(*uint64)(unsafe.Pointer(&b[0])) }
func put32(b []byte, v uint32) { *(*uint32)(unsafe.Pointer(&b[0])) = v }
func put64(b []byte, v uint64) { *(*uint64)(unsafe.Pointer(&b[0])) = v }

// encodeSigFPU writes the complete image img as a frame's fpstate into
// dst, sigFPUSize(features) bytes, and returns the uc_flags that go
// with it.
func encodeSigFPU(dst *[sigFPUMax]byte, img *[fpuStateSize]byte, features uint64) (ucFlags uint64) {
	if features&xfeatAVX == 0 {
		copy(dst[:fxLegacySize], img[:fxLegacySize])
		clear(dst[swBytesOff:fxLegacySize])
		return 0
	}
	copy(dst[:fpuStateSize], img[:])
	sw := dst[swBytesOff:fxLegacySize]
	clear(sw)
	put32(sw[swMagic1Off-swBytesOff:], fpXStateMagic1)
	put32(sw[swExtendedSizeOff-swBytesOff:], sigFPUMax)
	put64(sw[swXFeaturesOff-swBytesOff:], features)
	put32(sw[swXStateSizeOff-swBytesOff:], fpuStateSize)
	put32(dst[fpuStateSize:], fpXStateMagic2)
	return ucFPXState
}

// sigFPUExtended says whether the fpstate's software bytes announce an
// XSAVE area Linux would restore, and how many bytes it and MAGIC2
// take; the caller then reads that many (legacy holds at least the
// FXSAVE part).
func sigFPUExtended(src *[sigFPUMax]byte, features uint64) (need uintptr, ok bool) {
	if features&xfeatAVX == 0 || le32(src[swMagic1Off:]) != fpXStateMagic1 {
		return 0, false
	}
	size := le32(src[swXStateSizeOff:])
	if size < xsaveAVXOff || size > fpuStateSize || size > le32(src[swExtendedSizeOff:]) {
		return 0, false
	}
	return uintptr(size) + 4, true
}

// decodeSigFPU turns the fpstate a handler returns into a complete
// image for a Context, the way Linux's rt_sigreturn reads it. n is how
// many bytes of src were readable: at least the FXSAVE part, and
// sigFPUExtended's need for the XSAVE form to count. It reports false
// for a frame Linux refuses (rt_sigreturn then fails with SIGSEGV): a
// bad XSAVE header or MXCSR bits the CPU does not accept. Whatever src
// holds, an accepted dst has the canonical header and a valid MXCSR,
// so loading it cannot fault.
func decodeSigFPU(dst *[fpuStateSize]byte, src *[sigFPUMax]byte, n uintptr, features uint64, mxcsrMask uint32) bool {
	if n < fxLegacySize {
		return false
	}
	// Components loaded from src; the others get their initial values.
	fromSrc := uint64(xfeatX87 | xfeatSSE)
	mxcsrFromSrc := true
	need, xsave := sigFPUExtended(src, features)
	if xsave {
		if n < need || le32(src[need-4:]) != fpXStateMagic2 {
			// Linux reads MAGIC2 where xstate_size says; a
			// missing MAGIC2 means an FXSAVE-only frame.
			if n < need {
				return false
			}
			xsave = false
		}
	}
	if xsave {
		hdr := src[xsaveHdrOff : xsaveHdrOff+xsaveHdrSize]
		bv := le64(hdr[0:])
		if bv&^features != 0 || le64(hdr[8:]) != 0 {
			return false
		}
		for _, b := range hdr[16:] {
			if b != 0 {
				return false
			}
		}
		rfbm := le64(src[swXFeaturesOff:]) & features
		if need-4 < fpuStateSize {
			rfbm &^= xfeatAVX // the area ends before the AVX part
		}
		fromSrc = rfbm & bv
		mxcsrFromSrc = rfbm&(xfeatSSE|xfeatAVX) != 0
	}

	if fromSrc&xfeatX87 != 0 {
		copy(dst[0:24], src[0:24])
		copy(dst[32:160], src[32:160])
	} else {
		initX87(dst)
	}
	put32(dst[fxMXCSRMaskOff:], mxcsrMask)
	if mxcsrFromSrc {
		put32(dst[fxMXCSROff:], le32(src[fxMXCSROff:]))
	} else {
		put32(dst[fxMXCSROff:], mxcsrInit)
	}
	if fromSrc&xfeatSSE != 0 {
		copy(dst[160:416], src[160:416])
	} else {
		clear(dst[160:416])
	}
	clear(dst[416:fxLegacySize])
	if fromSrc&xfeatAVX != 0 {
		copy(dst[xsaveAVXOff:], src[xsaveAVXOff:fpuStateSize])
	} else {
		clear(dst[xsaveAVXOff:])
	}
	setCanonicalHeader(dst, features)
	// Checked on dst, the copy: another thread may change src.
	return le32(dst[fxMXCSROff:])&^mxcsrMask == 0
}
