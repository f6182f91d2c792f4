package kernel

import (
	"encoding/binary"
	"testing"
)

const (
	testFeatures = xfeatX87 | xfeatSSE | xfeatAVX
	testMXCSR    = 0xffff
)

// testImage is a complete image with every byte of the registers
// distinct, as completeFX leaves it.
func testImage() *[fpuStateSize]byte {
	var img [fpuStateSize]byte
	for i := range img {
		img[i] = byte(i*13 + 1)
	}
	binary.LittleEndian.PutUint32(img[fxMXCSROff:], 0x1f80|0x3f)
	binary.LittleEndian.PutUint32(img[fxMXCSRMaskOff:], testMXCSR)
	clear(img[416:fxLegacySize])
	setCanonicalHeader(&img, testFeatures)
	return &img
}

func TestEncodeSigFPU(t *testing.T) {
	img := testImage()
	var buf [sigFPUMax]byte
	flags := encodeSigFPU(&buf, img, testFeatures)
	le := binary.LittleEndian
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"uc_flags", flags, ucFPXState},
		{"magic1", uint64(le.Uint32(buf[464:])), fpXStateMagic1},
		{"extended_size", uint64(le.Uint32(buf[468:])), 836},
		{"xfeatures", le.Uint64(buf[472:]), 7},
		{"xstate_size", uint64(le.Uint32(buf[480:])), 832},
		{"magic2", uint64(le.Uint32(buf[832:])), fpXStateMagic2},
		{"XSTATE_BV", le.Uint64(buf[512:]), 7},
		{"sigFPUSize", uint64(sigFPUSize(testFeatures)), 836},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
	if string(buf[:464]) != string(img[:464]) || string(buf[512:832]) != string(img[512:]) {
		t.Errorf("the registers in the frame differ from the image")
	}

	// Without AVX: the FXSAVE image alone, no software bytes.
	var legacy [sigFPUMax]byte
	if flags := encodeSigFPU(&legacy, img, xfeatX87|xfeatSSE); flags != 0 {
		t.Errorf("legacy uc_flags = %#x, want 0", flags)
	}
	if string(legacy[:464]) != string(img[:464]) || string(legacy[464:]) != string(make([]byte, sigFPUMax-464)) {
		t.Errorf("legacy frame: registers differ or bytes past 464 written")
	}
	if n := sigFPUSize(xfeatX87 | xfeatSSE); n != 512 {
		t.Errorf("legacy sigFPUSize = %d, want 512", n)
	}
}

// TestSignalStackMin: frames fit MINSIGSTKSZ (2048), which programs
// size alternate stacks with.
func TestSignalStackMin(t *testing.T) {
	fpuFeatures = testFeatures
	defer func() { fpuFeatures = xfeatX87 | xfeatSSE }()
	if n := SignalStackMin(); n > 2048 || n < uint64(frameSize+sigFPUMax) {
		t.Errorf("SignalStackMin = %d, want within [%d, 2048]", n, frameSize+sigFPUMax)
	}
}

func TestDecodeSigFPU(t *testing.T) {
	le := binary.LittleEndian
	img := testImage()
	// wantFrom builds the image decode should give: img with the
	// components in init (x87, SSE, AVX bits) at their initial values.
	wantFrom := func(init uint64, mxcsr uint32) *[fpuStateSize]byte {
		w := *img
		if init&xfeatX87 != 0 {
			initX87(&w)
		}
		if init&xfeatSSE != 0 {
			clear(w[160:416])
		}
		if init&xfeatAVX != 0 {
			clear(w[xsaveAVXOff:])
		}
		le.PutUint32(w[fxMXCSROff:], mxcsr)
		le.PutUint32(w[fxMXCSRMaskOff:], testMXCSR)
		return &w
	}
	mxcsr := le.Uint32(img[fxMXCSROff:])
	for _, c := range []struct {
		name   string
		edit   func(b *[sigFPUMax]byte)
		n      uintptr
		want   *[fpuStateSize]byte // nil: refused
		wantOK bool
	}{
		{"round trip", func(b *[sigFPUMax]byte) {}, sigFPUMax, wantFrom(0, mxcsr), true},
		{"no magic1: FXSAVE only, AVX cleared", func(b *[sigFPUMax]byte) { le.PutUint32(b[464:], 0) }, sigFPUMax, wantFrom(xfeatAVX, mxcsr), true},
		{"no magic2: FXSAVE only", func(b *[sigFPUMax]byte) { le.PutUint32(b[832:], 0) }, sigFPUMax, wantFrom(xfeatAVX, mxcsr), true},
		{"xstate_size too small: FXSAVE only", func(b *[sigFPUMax]byte) { le.PutUint32(b[480:], 500) }, sigFPUMax, wantFrom(xfeatAVX, mxcsr), true},
		{"xstate_size over extended_size: FXSAVE only", func(b *[sigFPUMax]byte) { le.PutUint32(b[468:], 600) }, sigFPUMax, wantFrom(xfeatAVX, mxcsr), true},
		{"only 512 bytes readable with magic1", func(b *[sigFPUMax]byte) {}, 512, nil, false},
		{"fewer than 512 bytes", func(b *[sigFPUMax]byte) {}, 511, nil, false},
		{"XSTATE_BV without AVX: AVX initial", func(b *[sigFPUMax]byte) { le.PutUint64(b[512:], 3) }, sigFPUMax, wantFrom(xfeatAVX, mxcsr), true},
		{"XSTATE_BV without x87 and SSE", func(b *[sigFPUMax]byte) { le.PutUint64(b[512:], 4) }, sigFPUMax, wantFrom(xfeatX87|xfeatSSE, mxcsr), true},
		{"xfeatures only x87: MXCSR initial", func(b *[sigFPUMax]byte) { le.PutUint64(b[472:], 1) }, sigFPUMax, wantFrom(xfeatSSE|xfeatAVX, mxcsrInit), true},
		{"XSTATE_BV beyond XCR0", func(b *[sigFPUMax]byte) { le.PutUint64(b[512:], 0xe7) }, sigFPUMax, nil, false},
		{"XCOMP_BV set", func(b *[sigFPUMax]byte) { le.PutUint64(b[520:], 1<<63|7) }, sigFPUMax, nil, false},
		{"reserved header byte", func(b *[sigFPUMax]byte) { b[575] = 1 }, sigFPUMax, nil, false},
		{"MXCSR reserved bits", func(b *[sigFPUMax]byte) { le.PutUint32(b[24:], 0x10000) }, sigFPUMax, nil, false},
		{"MXCSR reserved bits, FXSAVE frame", func(b *[sigFPUMax]byte) { le.PutUint32(b[464:], 0); le.PutUint32(b[24:], 0x10000) }, sigFPUMax, nil, false},
		{"a handler's change to YMM3's upper half", func(b *[sigFPUMax]byte) { b[xsaveAVXOff+3*16] ^= 0xff }, sigFPUMax, func() *[fpuStateSize]byte {
			w := wantFrom(0, mxcsr)
			w[xsaveAVXOff+3*16] ^= 0xff
			return w
		}(), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var frame [sigFPUMax]byte
			encodeSigFPU(&frame, img, testFeatures)
			c.edit(&frame)
			var got [fpuStateSize]byte
			ok := decodeSigFPU(&got, &frame, c.n, testFeatures, testMXCSR)
			if ok != c.wantOK {
				t.Fatalf("decodeSigFPU ok = %v, want %v", ok, c.wantOK)
			}
			if !ok {
				return
			}
			if got != *c.want {
				for i := range got {
					if got[i] != c.want[i] {
						t.Fatalf("image byte %d = %#x, want %#x (-want +got)", i, c.want[i], got[i])
					}
				}
			}
		})
	}
}

// checkLoadable fails if XRSTOR (or FXRSTOR) could fault on img: a
// header other than the canonical one, or MXCSR bits the CPU rejects.
func checkLoadable(t *testing.T, img *[fpuStateSize]byte, features uint64, mask uint32) {
	t.Helper()
	le := binary.LittleEndian
	if bv := le.Uint64(img[xsaveHdrOff:]); bv != features {
		t.Errorf("XSTATE_BV = %#x, want %#x", bv, features)
	}
	for i := xsaveHdrOff + 8; i < xsaveHdrOff+xsaveHdrSize; i++ {
		if img[i] != 0 {
			t.Fatalf("header byte %d = %#x, want 0", i-xsaveHdrOff, img[i])
		}
	}
	if m := le.Uint32(img[fxMXCSROff:]); m&^mask != 0 {
		t.Errorf("MXCSR %#x has bits outside the mask %#x", m, mask)
	}
	for i := swBytesOff; i < fxLegacySize; i++ {
		if img[i] != 0 {
			t.Fatalf("software byte %d = %#x, want 0 (Contexts keep them clear)", i, img[i])
		}
	}
}

// FuzzDecodeSigFPU: whatever a handler leaves in its frame, an image
// decodeSigFPU accepts is one the kernel can load without faulting.
func FuzzDecodeSigFPU(f *testing.F) {
	var frame [sigFPUMax]byte
	encodeSigFPU(&frame, testImage(), testFeatures)
	f.Add(frame[:], uint16(sigFPUMax), true)
	f.Add(frame[:], uint16(512), true)
	f.Add(frame[:512], uint16(512), false)
	f.Add(make([]byte, sigFPUMax), uint16(sigFPUMax), true)
	f.Fuzz(func(t *testing.T, data []byte, n uint16, avx bool) {
		var src [sigFPUMax]byte
		copy(src[:], data)
		features := uint64(xfeatX87 | xfeatSSE)
		if avx {
			features |= xfeatAVX
		}
		var img [fpuStateSize]byte
		if decodeSigFPU(&img, &src, uintptr(n)%(sigFPUMax+1), features, 0xffbf) {
			checkLoadable(t, &img, features, 0xffbf)
		}
	})
}
