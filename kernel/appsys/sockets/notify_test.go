package sockets

import (
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

type report struct {
	events uint32
	edge   bool
}

// TestNotifyEdges: reports caused by events on the socket (the first
// one, data arriving) are edges, which edge-triggered epoll must pass
// on even when the readiness bits did not change; reports that follow
// the application's own calls only update the level.
func TestNotifyEdges(t *testing.T) {
	a, b, err := Pair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	reports := make(chan report, 64)
	b.SetNotify(func(ev uint32, edge bool) { reports <- report{ev, edge} })
	if r := nextReport(t, reports); !r.edge {
		t.Errorf("first report %+v: want an edge", r)
	}
	write(t, a, "x")
	if r := waitReport(t, reports, func(r report) bool { return r.events&EventIn != 0 }); !r.edge {
		t.Errorf("report of arriving data %+v: want an edge", r)
	}
	write(t, a, "y") // more data while readable: still an edge
	if r := nextReport(t, reports); !r.edge || r.events&EventIn == 0 {
		t.Errorf("report of more data %+v: want a readable edge", r)
	}
	b.SetNonblock(true)
	if r := nextReport(t, reports); r.edge {
		t.Errorf("report after fcntl %+v: want a level update, not an edge", r)
	}
}

func nextReport(t *testing.T, ch chan report) report {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no readiness report")
	}
	return report{}
}

func waitReport(t *testing.T, ch chan report, ok func(report) bool) report {
	t.Helper()
	for {
		if r := nextReport(t, ch); ok(r) {
			return r
		}
	}
}

// TestNoReportAfterClose: once Close returns, the socket reports no
// more: its handle number goes to the next socket, whose readiness a
// late report would overwrite.
func TestNoReportAfterClose(t *testing.T) {
	for round := 0; round < 300; round++ {
		a, b, err := Pair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		var closed, late atomic.Bool
		a.SetNotify(func(uint32, bool) {
			time.Sleep(10 * time.Microsecond) // widen the window a report is in flight
			if closed.Load() {
				late.Store(true) // still reporting after Close returned
			}
		})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				a.SetNonblock(true) // a report after the call
			}
		}()
		time.Sleep(50 * time.Microsecond)
		a.Close()
		closed.Store(true)
		time.Sleep(50 * time.Microsecond)
		close(stop)
		wg.Wait()
		b.Close()
		if late.Load() {
			t.Fatalf("round %d: a report reached notify after Close returned", round)
		}
	}
}
