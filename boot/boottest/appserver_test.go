package boottest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gosv/boot/bench"
	"gosv/boot/qemu"
)

// serverVM boots an application image with guest port guestPort
// forwarded from the host over QEMU user networking.
func serverVM(t *testing.T, image, cmdline string, guestPort int) (*Running, string) {
	t.Helper()
	port, apiPort := FreePort(t), FreePort(t)
	r := Start(t, qemu.Config{
		Initrd: image, Cmdline: cmdline, CPUs: 2, MemoryMB: 256, Timeout: 5 * time.Minute,
		NICs: []qemu.NIC{{HostForward: []string{HostForward(port, guestPort), HostForward(apiPort, 8000)}}},
	})
	r.apiPort = apiPort
	return r, fmt.Sprintf("127.0.0.1:%d", port)
}

// TestGoHTTPServer runs an unmodified static Go net/http server in gosv
// and serves many concurrent clients from the host.
func TestGoHTTPServer(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "httpserver")
	wd, _ := os.Getwd()
	Build(t, filepath.Join(wd, "testdata", "httpserver"), []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}, "go", "build", "-o", bin, ".")
	r, addr := serverVM(t, AppImage(t, bin), "/bin/httpserver", 8080)
	if code, body := r.WaitHTTP("http://"+addr+"/", 2*time.Minute); code != 200 || body != "hello from "+addr+"\n" {
		t.Fatalf("GET / = %d %q", code, body)
	}
	const clients, requests = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients*requests)
	var dialMu sync.Mutex
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			// Each client keeps its own connection alive across
			// requests. Connections are opened one at a time: QEMU's
			// user networking accepts forwarded connections with a
			// listen backlog of 1, and a burst of connects overflows it
			// (the host completes handshakes QEMU never accepts).
			hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1,
				DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
					dialMu.Lock()
					defer dialMu.Unlock()
					c, err := (&net.Dialer{}).DialContext(ctx, network, a)
					time.Sleep(20 * time.Millisecond) // let QEMU accept it
					return c, err
				}}}
			for i := 0; i < requests; i++ {
				msg := fmt.Sprintf("client %d request %d", c, i)
				resp, err := hc.Post("http://"+addr+"/echo", "text/plain", bytes.NewBufferString(msg))
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != msg {
					errs <- fmt.Errorf("%s: got %q, %v", msg, b, err)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	r.logThreadsOnFailure(t)
	// Go's runtime reads clocks many times per request; through the
	// vDSO none of that is a system call, for the app or the kernel.
	var stats map[string]uint64
	getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/os/stats/", r.apiPort), &stats)
	for _, who := range []string{"app", "kernel"} {
		if n := stats["syscalls."+who+".clock_gettime"]; n > clients*requests/10 {
			t.Errorf("%s made %d clock_gettime system calls serving %d requests: the vDSO is not used", who, n, clients*requests)
		}
	}
	// Idle CPUs poll before halting (the default --idle-poll): some of
	// the wake-ups between the two CPUs find the other one polling and
	// need no IPI.
	if stats["idle_poll_wakes"] == 0 {
		t.Errorf("no wake-up found a polling idle CPU in %d requests (idle_poll_wakes 0, wakeup IPIs %d)", clients*requests, stats["wakeup_ipis_sent"])
	}
	// A response of many segments arrives whole.
	resp, err := http.Get("http://" + addr + "/size/4000000")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != 4000000 {
		t.Errorf("GET /size/4000000: %d bytes, %v", n, err)
	}
	http.Get("http://" + addr + "/quit")
	if res := r.Wait(); !res.Exited || res.GuestStatus != 0 {
		t.Errorf("after /quit: exited %v, status %d\n%s", res.Exited, res.GuestStatus, res.Serial)
	}
}

// TestCEchoServer runs a static musl C TCP echo server (a thread per
// connection) in gosv and echoes many concurrent connections.
func TestCEchoServer(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "echoserver")
	wd, _ := os.Getwd()
	Build(t, filepath.Join(wd, "testdata", "echoserver"), nil, "musl-gcc", "-static", "-O2", "-o", bin, "echo.c", "-lpthread")
	// Without idle polling: every wake-up of the other CPU is an IPI,
	// and a halted CPU must still be woken by it.
	r, addr := serverVM(t, AppImage(t, bin), "--idle-poll=0 /bin/echoserver 7777", 7777)
	var conn net.Conn
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			// QEMU accepts before the guest does: only an echo proves
			// the server is up.
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte("ping\n"))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err == nil && line == "ping\n" {
				conn = c
				break
			}
			c.Close()
		}
		if r.Exited() || time.Now().After(deadline) {
			t.Fatalf("echo server not reachable: %v\n%s", err, r.Serial())
		}
		time.Sleep(300 * time.Millisecond)
	}
	conn.Close()
	// Counted from here: before the command line is read, the CPUs
	// poll with the default.
	var before map[string]uint64
	getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/os/stats/", r.apiPort), &before)
	const clients, rounds = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	// Connections are opened one after another, each proven by an echo
	// before the next (QEMU's user networking accepts forwarded
	// connections with a listen backlog of 1: a burst of connects
	// overflows it); then all clients talk at once.
	conns := make([]net.Conn, clients)
	readers := make([]*bufio.Reader, clients)
	for c := range conns {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("client %d: %v", c, err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(90 * time.Second))
		msg := fmt.Sprintf("client %d hello\n", c)
		conn.Write([]byte(msg))
		rd := bufio.NewReader(conn)
		if got, err := rd.ReadString('\n'); err != nil || got != msg {
			t.Fatalf("client %d: first echo %q, %v", c, got, err)
		}
		conns[c], readers[c] = conn, rd
	}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			conn, rd := conns[c], readers[c]
			for i := 0; i < rounds; i++ {
				msg := fmt.Sprintf("client %d round %d %s\n", c, i, bytes.Repeat([]byte{'x'}, c*50))
				if _, err := conn.Write([]byte(msg)); err != nil {
					errs <- err
					return
				}
				got, err := rd.ReadString('\n')
				if err != nil || got != msg {
					errs <- fmt.Errorf("client %d round %d: got %q, %v", c, i, got, err)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	r.logThreadsOnFailure(t)
	if t.Failed() {
		t.Logf("serial so far:\n%s", r.Serial())
	}
	var after map[string]uint64
	getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/os/stats/", r.apiPort), &after)
	polls, ipis := after["idle_poll_wakes"]-before["idle_poll_wakes"], after["wakeup_ipis_sent"]-before["wakeup_ipis_sent"]
	if polls != 0 || ipis == 0 {
		t.Errorf("with --idle-poll=0, serving the clients: %d idle poll wake-ups (want 0), %d wake-up IPIs (want some)", polls, ipis)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Write([]byte("QUIT\n"))
		io.ReadAll(c)
		c.Close()
	}
	if res := r.Wait(); !res.Exited || res.GuestStatus != 0 {
		t.Errorf("after QUIT: exited %v, status %d\n%s", res.Exited, res.GuestStatus, res.Serial)
	}
}

// logThreadsOnFailure shows what the VM's threads are doing, through the
// REST API, if the test has failed so far.
func (r *Running) logThreadsOnFailure(t *testing.T) {
	if !t.Failed() || r.apiPort == 0 || r.Exited() {
		return
	}
	c := &http.Client{Timeout: 10 * time.Second}
	for _, p := range []string{"/os/threads", "/network/ifconfig/", "/network/stats/"} {
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", r.apiPort, p))
		if err != nil {
			t.Logf("%s: %v", p, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("%s: %s", p, b)
	}
}

// TestBulkTransfer runs tcpbench, a static Go program that streams
// 128 KiB writes, in gosv and moves data both ways for a second each: a
// bulk write goes past the socket's rings straight into the endpoint
// (kernel/stream.go, bypassRing), which must report room again once the
// peer reads, or the writer waits for ever.
func TestBulkTransfer(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tcpbench")
	wd, _ := os.Getwd()
	Build(t, filepath.Join(wd, "..", "bench", "testdata", "tcpbench"), []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}, "go", "build", "-o", bin, ".")
	r, addr := serverVM(t, AppImage(t, bin), "/bin/tcpbench -s :5201", 5201)
	run := func(dir string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, "-c", addr, "-dir", dir, "-d", "1s").CombinedOutput()
		return string(out), err
	}
	// QEMU accepts before the guest listens: the first transfer that
	// works says the server is up.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := run("send")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tcpbench send never worked: %v\n%s", err, out)
		}
		time.Sleep(time.Second)
	}
	for _, dir := range []string{"send", "recv"} {
		out, err := run(dir)
		if err != nil {
			t.Errorf("tcpbench %s: %v\n%s", dir, err, out)
			r.logThreadsOnFailure(t)
			t.FailNow()
		}
		res, err := bench.ParseTCPBench(out)
		if err != nil {
			t.Fatalf("tcpbench %s: %v\n%s", dir, err, out)
		}
		if res.Bytes < 1<<20 {
			t.Errorf("tcpbench %s moved %d bytes in a second, want at least 1 MiB", dir, res.Bytes)
		}
	}
}
