package boottest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"gosv/boot/qemu"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// for a QEMU host forward.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Running is a VM booted in the background.
type Running struct {
	t      testing.TB
	done   chan struct{}
	res    *qemu.Result
	err    error
	serial *qemu.ConsoleBuffer
	// apiPort is the host port forwarded to the REST API, if any.
	apiPort int
}

// Start boots cfg in the background; Wait collects the result. The VM is
// killed when the test ends, whatever happens.
func Start(t testing.TB, cfg qemu.Config) *Running {
	t.Helper()
	if cfg.Kernel == "" {
		cfg.Kernel = Kernel(t)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Minute
	}
	r := &Running{t: t, done: make(chan struct{}), serial: &qemu.ConsoleBuffer{}}
	cfg.Console = r.serial
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(r.done)
		r.res, r.err = qemu.Run(ctx, cfg)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// Serial returns the console output so far.
func (r *Running) Serial() string { return r.serial.String() }

// Exited reports whether the VM has stopped.
func (r *Running) Exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// Wait waits for the VM to stop and returns its result, failing the
// test on QEMU errors.
func (r *Running) Wait() *qemu.Result {
	r.t.Helper()
	<-r.done
	if r.err == qemu.ErrNoQEMU {
		r.t.Skip("qemu-system-x86_64 not installed (make test installs it)")
	}
	if r.err != nil {
		r.t.Fatalf("QEMU: %v\nserial output:\n%s", r.err, r.Serial())
	}
	return r.res
}

// WaitHTTP polls url until it answers with any HTTP status, the VM
// stops, or timeout passes; it returns the status and body, failing the
// test (with the console output) otherwise.
func (r *Running) WaitHTTP(url string, timeout time.Duration) (int, string) {
	r.t.Helper()
	return r.WaitHTTPClient(&http.Client{Timeout: 5 * time.Second}, url, timeout)
}

// WaitHTTPClient is WaitHTTP with the given client (one that dials into
// a network namespace, say).
func (r *Running) WaitHTTPClient(client *http.Client, url string, timeout time.Duration) (int, string) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if r.Exited() {
			r.t.Fatalf("VM stopped before %s answered (last error %v); serial output:\n%s", url, last, r.Serial())
		}
		resp, err := client.Get(url)
		if err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				return resp.StatusCode, string(b)
			}
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	r.t.Fatalf("%s did not answer within %v (last error %v); serial output:\n%s", url, timeout, last, r.Serial())
	return 0, ""
}

// HostForward returns a QEMU user-networking forward of host port to
// guest port, on loopback.
func HostForward(host, guest int) string {
	return fmt.Sprintf("tcp:127.0.0.1:%d-:%d", host, guest)
}
