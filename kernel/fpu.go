package kernel

import "gosv/arch/amd64"

// FPU state across traps.
//
// Interrupts and exceptions save the whole x87/SSE state (FXSAVE). A
// system call saves only the SSE registers and MXCSR: Go code in the
// kernel uses SSE but never x87, so the x87 registers of the calling
// thread are still live in the CPU while the call runs. Such a Context
// is "partial" until completeFX copies the live x87 state into it, which
// must happen before the Context is stored in a thread or copied
// (switching threads, clone, signal delivery). When another thread's
// Context replaces the one on the stack, loadFX puts its x87 state into
// the CPU at once; the exit path reloads the SSE part from the Context.

// fxScratch receives FXSAVE images; one per CPU, 16-byte aligned.
var fxScratch [maxCPUs][512 + 16]byte

// completeFX turns a partial Context into a full image.
func completeFX(ctx *Context) {
	if ctx.partial == 0 {
		return
	}
	c := thisCPU()
	p := (uintptrOf(&fxScratch[c.id]) + 15) &^ 15
	amd64.FXSave(p)
	live := (*[512]byte)(ptrAt(p))
	// x87 control, status and tag words, opcode and pointers (0-23),
	// MXCSR_MASK (28-31) and the x87/MMX registers (32-159). MXCSR
	// (24-27) and the XMM registers were saved at entry.
	copy(ctx.FX[0:24], live[0:24])
	copy(ctx.FX[28:160], live[28:160])
	ctx.partial = 0
}

// x87State is the x87 part of an FXSAVE image, to tell whether two
// threads' x87 states differ (Go threads all share the initial one, so
// switching between them needs no FXRSTOR).
type x87Part struct {
	control [24]byte  // FCW, FSW, FTW, FOP, FIP, FDP
	regs    [128]byte // ST0-ST7
}

func x87State(fx *[512]byte) (p x87Part) {
	copy(p.control[:], fx[0:24])
	copy(p.regs[:], fx[32:160])
	return p
}

// loadFX makes ctx's x87 state live (its SSE part is loaded again on
// the way out of the trap).
func loadFX(ctx *Context) {
	amd64.FXRstor(uintptrOf(&ctx.FX))
}
