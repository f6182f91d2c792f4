package stack

import (
	"unsafe" // for go:linkname, and MonotonicTime below

	"gvisor.dev/gvisor/pkg/tcpip"
)

// monoClock is the stack's tcpip.Clock: gVisor's standard clock, except
// for NowMonotonic. The stack asks for the monotonic time a few dozen
// times per TCP request/response (segment timestamps, RTT samples, timer
// deadlines), and the standard clock derives it from time.Since and
// MonotonicTime.Add, both time.Time arithmetic: about 200 instructions a
// call, which counted for 4% of a served request's instructions in the
// benchmark's profile (gosvbench -insns). This reads the runtime's
// monotonic clock instead.
type monoClock struct {
	tcpip.Clock
	base int64 // nanotime at creation, so readings start near zero as the standard clock's do
}

func newMonoClock() *monoClock {
	return &monoClock{Clock: tcpip.NewStdClock(), base: nanotime()}
}

// NowMonotonic implements tcpip.Clock.
func (c *monoClock) NowMonotonic() tcpip.MonotonicTime {
	return monotonicFromNanos(nanotime() - c.base)
}

// nanotime is the runtime's monotonic clock (what time.Now's monotonic
// reading comes from). It is one of the runtime functions Go keeps
// reachable through linkname for packages outside the standard library.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// MonotonicTime holds only its nanoseconds, unexported, and has no
// constructor from them other than through time.Time arithmetic; these
// two declarations fail to compile if its size ever changes.
var (
	_ [unsafe.Sizeof(tcpip.MonotonicTime{}) - unsafe.Sizeof(int64(0))]byte
	_ [unsafe.Sizeof(int64(0)) - unsafe.Sizeof(tcpip.MonotonicTime{})]byte
)

func monotonicFromNanos(ns int64) tcpip.MonotonicTime {
	return *(*tcpip.MonotonicTime)(unsafe.Pointer(&ns))
}
