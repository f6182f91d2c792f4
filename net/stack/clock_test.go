package stack

import (
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
)

func TestMonotonicFromNanos(t *testing.T) {
	for _, ns := range []int64{0, 1, 1234567, 1 << 40} {
		if got := monotonicFromNanos(ns).Sub(tcpip.MonotonicTime{}); got != time.Duration(ns) {
			t.Errorf("monotonicFromNanos(%d) is %v after zero, want %v", ns, got, time.Duration(ns))
		}
	}
}

func TestMonoClockTracksStdClock(t *testing.T) {
	c, std := newMonoClock(), tcpip.NewStdClock()
	a, sa := c.NowMonotonic(), std.NowMonotonic()
	time.Sleep(20 * time.Millisecond)
	b, sb := c.NowMonotonic(), std.NowMonotonic()
	if a.Sub(tcpip.MonotonicTime{}) < 0 || a.Sub(tcpip.MonotonicTime{}) > time.Second {
		t.Errorf("first reading %v after the origin, want a small non-negative time", a.Sub(tcpip.MonotonicTime{}))
	}
	got, want := b.Sub(a), sb.Sub(sa)
	if got < 20*time.Millisecond || got-want > 5*time.Millisecond || want-got > 5*time.Millisecond {
		t.Errorf("20ms sleep measured as %v by monoClock and %v by the standard clock", got, want)
	}
}
