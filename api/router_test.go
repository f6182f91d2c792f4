package api

import (
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          map[string]string // nil: no match
	}{
		{"/os/name", "/os/name", map[string]string{}},
		{"/os/name", "/os/name/", map[string]string{}},
		{"/os/name", "/os/nam", nil},
		{"/os/name", "/os", nil},
		{"/os/name", "/os/name/x", nil},
		{"/", "/", map[string]string{}},
		{"/", "/os", nil},
		{"/env/", "/env", map[string]string{}},
		{"/env/{var}", "/env/", nil},
		{"/env/{var}", "/env/HOME", map[string]string{"var": "HOME"}},
		{"/env/{var}", "/env/A%2FB", map[string]string{"var": "A/B"}},
		{"/env/{var}", "/env/A/B", nil},
		{"/fs/df/{mount...}", "/fs/df/a/b", map[string]string{"mount": "a/b"}},
		{"/fs/df/{mount...}", "/fs/df/a", map[string]string{"mount": "a"}},
		{"/fs/df/{mount...}", "/fs/df/", nil},
		{"/fs/df/{mount...}", "/fs/df/a//b", nil},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.path, func(t *testing.T) {
			segs, err := segments(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := match(tt.pattern, segs)
			if ok != (tt.want != nil) {
				t.Fatalf("match = %v, want %v", ok, tt.want != nil)
			}
			if ok && len(got)+len(tt.want) > 0 && !maps.Equal(got, tt.want) {
				t.Errorf("params (-want +got)\n-%v\n+%v", tt.want, got)
			}
		})
	}
}

func TestSegmentsRefusesBadEscapes(t *testing.T) {
	if _, err := segments("/env/%zz"); err == nil {
		t.Fatal("segments accepted %zz")
	}
}

// TestPowerOffAnswersFirst: the response reaches the client even while
// the power-off action has not returned (as when it stops the machine).
func TestPowerOffAnswersFirst(t *testing.T) {
	f := newFake()
	acted := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewServer(NewHandler(f, Options{AfterResponse: func(action func()) {
		action()
		close(acted)
		<-release
	}}))
	defer srv.Close()
	defer close(release)
	resp, err := http.Post(srv.URL+"/os/poweroff", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != `""` {
		t.Fatalf("got %d %q %v, want 200 \"\"", resp.StatusCode, body, err)
	}
	select {
	case <-acted:
	case <-time.After(10 * time.Second):
		t.Fatal("power-off never ran")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	wantEqual(t, "power-offs", f.poweroffs, 1)
}

// TestDefaultAfterResponseWaits: without Options.AfterResponse the
// reboot comes PowerDelay after the answer, not before.
func TestDefaultAfterResponseWaits(t *testing.T) {
	f := newFake()
	srv := httptest.NewServer(NewHandler(f, Options{}))
	defer srv.Close()
	start := time.Now()
	resp, err := http.Post(srv.URL+"/os/reboot", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	reboots := func() int { f.mu.Lock(); defer f.mu.Unlock(); return f.reboots }
	for reboots() == 0 {
		if time.Since(start) > 10*time.Second {
			t.Fatal("never rebooted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := time.Since(start); d < PowerDelay {
		t.Errorf("rebooted after %v, want at least %v", d, PowerDelay)
	}
}

func TestDashboard(t *testing.T) {
	got := do(testHandler(newFake()), "GET", "/", "", "")
	if got.code != 200 || got.ctype != "text/html; charset=utf-8" {
		t.Fatalf("GET / = %d %q, want 200 text/html", got.code, got.ctype)
	}
	if strings.Contains(got.body, "http://") || strings.Contains(got.body, "https://") || strings.Contains(got.body, "src=") {
		t.Errorf("dashboard refers to outside assets")
	}
	// Every endpoint the page fetches is a GET route that answers.
	uses := regexp.MustCompile(`data-api="([^"]+)"`).FindAllStringSubmatch(got.body, -1)
	if len(uses) < 5 {
		t.Fatalf("dashboard fetches %d endpoints, want several", len(uses))
	}
	for _, u := range uses {
		if r := do(testHandler(newFake()), "GET", u[1], "", ""); r.code != 200 {
			t.Errorf("dashboard fetches %s: status %d", u[1], r.code)
		}
	}
}

func TestServe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, testHandler(newFake())) }()

	resp, err := http.Get("http://" + l.Addr().String() + "/os/name")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantEqual(t, "body", string(body), `"gosv"`)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Error("listener still accepting after Serve returned")
	}
}

func TestServeReturnsListenerErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := Serve(context.Background(), l, testHandler(newFake())); err == nil {
		t.Fatal("Serve on a closed listener returned nil")
	}
}
