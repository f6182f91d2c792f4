package kernel

import (
	"unsafe"

	"gosv/arch/amd64"
)

// FPU state across traps.
//
// A Context's FPU image is an XSAVE area in the standard format: the
// 512-byte FXSAVE image (x87, MXCSR, XMM0-15), the 64-byte XSAVE header
// and the upper halves of YMM0-15 (AVX). Where the CPU has no AVX, or no
// XSAVE, only the FXSAVE part is used and applications see no AVX.
//
// Interrupts and exceptions save the FXSAVE part (FXSAVE64); a system
// call saves only the SSE registers and MXCSR. Neither saves the YMM
// upper halves: the kernel's Go code uses legacy-encoded SSE only
// (GODEBUG turns off the runtime's AVX paths, see buildInitialStack),
// which leaves bits 255:128 of the YMM registers alone, and it never
// touches x87. So the interrupted thread's YMM upper halves, and after
// a system call its x87 state, are still live in the CPU while the
// trap runs. Such a Context is "partial" until completeFX copies the
// live state into it, which must happen before the Context is stored in
// a thread or copied (switching threads, clone, signal delivery). When
// another thread's Context replaces the one on the stack, loadFX makes
// its x87 and AVX state live at once; the exit path reloads the
// FXSAVE part (interrupts) or the SSE part (system calls) from the
// Context.

// XSAVE state components (XCR0 bits) and the standard-format layout.
const (
	xfeatX87 = 1 << 0
	xfeatSSE = 1 << 1
	xfeatAVX = 1 << 2

	fxLegacySize   = 512 // the FXSAVE image
	xsaveHdrOff    = 512 // XSTATE_BV, XCOMP_BV, reserved
	xsaveHdrSize   = 64
	xsaveAVXOff    = 576 // YMM_Hi128: bits 255:128 of YMM0-15
	xsaveAVXSize   = 256
	fpuStateSize   = xsaveAVXOff + xsaveAVXSize
	fxMXCSROff     = 24
	fxMXCSRMaskOff = 28
)

// Context.partial bits: parts of the FPU image still live in the CPU.
const (
	partialX87 = 1 // the x87 state (system-call entry)
	partialAVX = 2 // the YMM upper halves (every entry)
)

// fpuFeatures is XCR0: the state components a Context's image holds
// (x87|SSE without XSAVE). fpuAVX says AVX is enabled, and with it
// XSAVE. Both are set on the boot CPU before any thread runs.
var (
	fpuFeatures uint64 = xfeatX87 | xfeatSSE
	fpuAVX      bool
	// mxcsrMask is the MXCSR bits the CPU accepts (FXSAVE's
	// MXCSR_MASK); loading others faults.
	mxcsrMask uint32 = 0xffbf
)

const cr4OSXSAVE = 1 << 18

// setupXSave decides on the boot CPU whether applications get AVX: the
// CPU must have XSAVE and AVX, and the AVX component must sit where the
// standard format puts it (the Context's image has that fixed layout).
// AVX-512 and other components stay off: their state would make every
// image kilobytes larger.
func setupXSave() {
	const (
		leaf1XSAVE = 1 << 26
		leaf1AVX   = 1 << 28
	)
	if cpu.leaf1ECX&leaf1XSAVE == 0 || cpu.leaf1ECX&leaf1AVX == 0 || cpu.maxLeaf < 0xd {
		return
	}
	supported, _, _, _ := amd64.CPUID(0xd, 0)
	size, off, _, _ := amd64.CPUID(0xd, 2)
	if supported&(xfeatX87|xfeatSSE|xfeatAVX) != xfeatX87|xfeatSSE|xfeatAVX ||
		off != xsaveAVXOff || size != xsaveAVXSize {
		return
	}
	fpuFeatures = xfeatX87 | xfeatSSE | xfeatAVX
	fpuAVX = true
	enableXSave()
	// CPUID.1:ECX.OSXSAVE now reads 1; /hardware/processor/flags shows it.
	_, _, cpu.leaf1ECX, _ = amd64.CPUID(1, 0)
}

// enableXSave turns on XSAVE and the chosen components on this CPU
// (every CPU, before its first thread runs).
func enableXSave() {
	if !fpuAVX {
		return
	}
	amd64.WriteCR4(amd64.ReadCR4() | cr4OSXSAVE)
	amd64.XSetBV(0, fpuFeatures)
}

// fpuScratch receives XSAVE/FXSAVE images and feeds XRSTOR; one per
// CPU, 64-byte aligned by hand.
var fpuScratch [maxCPUs][fpuStateSize + 64]byte

func scratchImage(cpu int) (uintptr, *[fpuStateSize]byte) {
	p := (uintptrOf(&fpuScratch[cpu]) + 63) &^ 63
	return p, (*[fpuStateSize]byte)(ptrAt(p))
}

// completeFX turns a partial Context into a full image.
func completeFX(ctx *Context) {
	if ctx.partial == 0 {
		return
	}
	p, live := scratchImage(thisCPU().id)
	if !fpuAVX {
		if ctx.partial&partialX87 != 0 {
			amd64.FXSave(p)
			copyX87(&ctx.FPU, live)
		}
		ctx.partial = 0
		return
	}
	mask := uint64(xfeatAVX)
	if ctx.partial&partialX87 != 0 {
		mask |= xfeatX87
	}
	amd64.XSave(p, mask)
	inUse := *(*uint64)(unsafe.Pointer(&live[xsaveHdrOff]))
	if mask&xfeatX87 != 0 {
		if inUse&xfeatX87 != 0 {
			copyX87(&ctx.FPU, live)
		} else {
			initX87(&ctx.FPU)
		}
	}
	if inUse&xfeatAVX != 0 {
		copy(ctx.FPU[xsaveAVXOff:], live[xsaveAVXOff:])
	} else {
		clear(ctx.FPU[xsaveAVXOff:])
	}
	setCanonicalHeader(&ctx.FPU, fpuFeatures)
	ctx.partial = 0
}

// copyX87 copies the x87 part of an FXSAVE image: control, status and
// tag words, opcode and pointers (0-23) and the x87/MMX registers
// (32-159). MXCSR and the XMM registers were saved at entry.
func copyX87(dst, src *[fpuStateSize]byte) {
	copy(dst[0:24], src[0:24])
	*(*uint32)(unsafe.Pointer(&dst[fxMXCSRMaskOff])) = mxcsrMask
	copy(dst[32:160], src[32:160])
}

// initX87 writes the x87 part of the initial configuration: FCW 0x37f,
// everything else zero (the abridged tag word 0 means all empty).
func initX87(img *[fpuStateSize]byte) {
	clear(img[0:24])
	clear(img[32:160])
	img[0], img[1] = 0x7f, 0x03
	*(*uint32)(unsafe.Pointer(&img[fxMXCSRMaskOff])) = mxcsrMask
}

// setCanonicalHeader makes img's XSAVE header say that every enabled
// component is in the image, with the rest of the header zero: the form
// every stored Context has, which XRSTOR loads without faulting.
func setCanonicalHeader(img *[fpuStateSize]byte, features uint64) {
	clear(img[xsaveHdrOff : xsaveHdrOff+xsaveHdrSize])
	*(*uint64)(unsafe.Pointer(&img[xsaveHdrOff])) = features
}

// fpuLiveDiffers says whether two complete images differ in the part
// loadFX puts into the CPU: x87 control words and registers, and the
// YMM upper halves. Kernel threads all share the initial state, so
// switching between them needs no XRSTOR.
func fpuLiveDiffers(a, b *[fpuStateSize]byte) bool {
	if string(a[0:24]) != string(b[0:24]) || string(a[32:160]) != string(b[32:160]) {
		return true
	}
	return fpuAVX && string(a[xsaveAVXOff:]) != string(b[xsaveAVXOff:])
}

// loadFX makes ctx's x87 and AVX state live (its SSE part is loaded
// again on the way out of the trap). ctx must be complete.
func loadFX(ctx *Context) {
	p, img := scratchImage(thisCPU().id)
	if !fpuAVX {
		copy(img[:fxLegacySize], ctx.FPU[:fxLegacySize])
		amd64.FXRstor(p)
		return
	}
	*img = ctx.FPU
	amd64.XRstor(p, xfeatX87|xfeatAVX)
}

// defaultFX is the FPU state new threads start with (set on the boot
// CPU after FNINIT, before the other CPUs start).
var defaultFX [fpuStateSize]byte

func initDefaultFX() {
	amd64.FNINIT()
	p, img := scratchImage(0)
	amd64.FXSave(p)
	if m := *(*uint32)(unsafe.Pointer(&img[fxMXCSRMaskOff])); m != 0 {
		mxcsrMask = m
	}
	copy(defaultFX[:fxLegacySize], img[:fxLegacySize])
	clear(defaultFX[fxLegacySize:])
	setCanonicalHeader(&defaultFX, fpuFeatures)
}
