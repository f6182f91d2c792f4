package sockets

import (
	"syscall"
	"testing"
	"time"
)

// interrupter is a fake Interrupter: a channel the test closes.
type interrupter struct {
	ch    chan struct{}
	asked chan struct{} // closed when the call asked for ch (it waits)
}

func newInterrupter() *interrupter {
	return &interrupter{ch: make(chan struct{}), asked: make(chan struct{})}
}

func (i *interrupter) Interrupted() <-chan struct{} {
	close(i.asked)
	return i.ch
}

// TestInterruptedWait: a blocked read ends with ErrInterrupted when its
// Interrupter fires, or EINTR if the socket has SO_RCVTIMEO (Linux does
// not restart socket calls with timeouts); a read that finds data never
// asks its Interrupter.
func TestInterruptedWait(t *testing.T) {
	for _, c := range []struct {
		name    string
		timeout time.Duration
		want    error
	}{
		{"no timeout", 0, ErrInterrupted},
		{"SO_RCVTIMEO", time.Minute, syscall.EINTR},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b, err := Pair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			defer b.Close()
			if c.timeout > 0 {
				if err := b.SetSockOpt(syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, timevalOpt(c.timeout)); err != nil {
					t.Fatal(err)
				}
			}
			intr := newInterrupter()
			done := make(chan error, 1)
			go func() {
				_, err := b.Read(intr, [][]byte{make([]byte, 8)})
				done <- err
			}()
			select {
			case <-intr.asked:
			case err := <-done:
				t.Fatalf("read of an empty socket returned: %v", err)
			}
			close(intr.ch)
			select {
			case err := <-done:
				if err != c.want {
					t.Errorf("interrupted read: %v, want %v", err, c.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("interrupted read still waits")
			}
		})
	}
	t.Run("data ready", func(t *testing.T) {
		a, b, err := Pair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		defer b.Close()
		write(t, a, "hi")
		intr := newInterrupter()
		close(intr.ch)
		if n, err := b.Read(intr, [][]byte{make([]byte, 8)}); n != 2 || err != nil {
			t.Errorf("read = %d, %v; want 2, nil", n, err)
		}
		select {
		case <-intr.asked:
			t.Error("a read that did not wait asked its Interrupter")
		default:
		}
	})
}
