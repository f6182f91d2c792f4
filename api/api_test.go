package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// testHandler serves sys and runs power actions at once, in the handler's
// goroutine, after the response is written.
func testHandler(sys System) http.Handler {
	return NewHandler(sys, Options{AfterResponse: func(action func()) { action() }})
}

type response struct {
	code  int
	allow string
	ctype string
	body  string
}

func do(h http.Handler, method, target, body, ctype string) response {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return response{w.Code, w.Header().Get("Allow"), w.Header().Get("Content-Type"), w.Body.String()}
}

// canonical re-encodes JSON so that spacing and key order do not matter.
func canonical(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v: %q", err, s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestEndpoints(t *testing.T) {
	tests := []struct {
		name          string
		method        string
		target        string
		body, ctype   string
		fail          string // fakeSystem call to fail
		wantCode      int
		wantBody      string // JSON
		wantAllow     string
		check         func(*testing.T, *fakeSystem)
		wantPoweroffs int
		wantReboots   int
	}{
		{name: "name", target: "/os/name", wantBody: `"gosv"`},
		{name: "version", target: "/os/version", wantBody: `"0.1.0"`},
		{name: "vendor", target: "/os/vendor", wantBody: `"gosv"`},
		{name: "uptime is whole seconds", target: "/os/uptime", wantBody: `90`},
		{name: "date in OSv's format", target: "/os/date", wantBody: `"Tue Mar 03 14:01:30 UTC 2026"`},
		{name: "memory total", target: "/os/memory/total", wantBody: `134217728`},
		{name: "memory free", target: "/os/memory/free", wantBody: `104857600`},
		{name: "dmesg", target: "/os/dmesg", wantBody: `"gosv v0.1\nbooted\n"`},
		{name: "hostname", target: "/os/hostname", wantBody: `"gosv"`},
		{name: "cmdline", target: "/os/cmdline", wantBody: `"--verbose app"`},
		{name: "threads", target: "/os/threads", wantBody: `{"time_ms":1772546490500,"list":[
			{"id":1,"name":"runtime","cpu":0,"status":"running","cpu_ms":1500,"switches":42,"migrations":0,"preemptions":0,"priority":0,"stack_size":0,"wait":""},
			{"id":7,"name":"app","cpu":1,"status":"waiting","cpu_ms":3,"switches":5,"migrations":1,"preemptions":0,"priority":0,"stack_size":0,"wait":"server:0"}]}`},
		{name: "stats", target: "/os/stats/", wantBody: `{"context_switches":9,"syscalls":120}`},
		{name: "set hostname", method: "POST", target: "/os/hostname?name=web-1.example", wantBody: `""`,
			check: func(t *testing.T, f *fakeSystem) { wantEqual(t, "hostname", f.hostname, "web-1.example") }},
		{name: "set hostname from a form body", method: "POST", target: "/os/hostname", body: "name=web2",
			ctype: "application/x-www-form-urlencoded", wantBody: `""`,
			check: func(t *testing.T, f *fakeSystem) { wantEqual(t, "hostname", f.hostname, "web2") }},
		{name: "set hostname without a name", method: "POST", target: "/os/hostname", wantCode: 400,
			wantBody: `{"message":"missing mandatory parameter \"name\"","code":400}`},
		{name: "set hostname with a bad character", method: "POST", target: "/os/hostname?name=a_b", wantCode: 400,
			check: func(t *testing.T, f *fakeSystem) { wantEqual(t, "hostname", f.hostname, "gosv") }},
		{name: "set hostname too long", method: "POST", target: "/os/hostname?name=" + strings.Repeat("a", 65), wantCode: 400},
		{name: "set hostname empty", method: "POST", target: "/os/hostname?name=", wantCode: 400},
		{name: "set hostname twice in one request", method: "POST", target: "/os/hostname?name=a&name=b", wantCode: 400},
		{name: "set hostname refused by the system", method: "POST", target: "/os/hostname?name=x", fail: "SetHostname",
			wantCode: 500, wantBody: `{"message":"fake failure","code":500}`},
		{name: "poweroff", method: "POST", target: "/os/poweroff", wantBody: `""`, wantPoweroffs: 1},
		{name: "shutdown", method: "POST", target: "/os/shutdown", wantBody: `""`, wantPoweroffs: 1},
		{name: "reboot", method: "POST", target: "/os/reboot", wantBody: `""`, wantReboots: 1},
		{name: "poweroff with GET", target: "/os/poweroff", wantCode: 405, wantAllow: "POST"},
		{name: "cmdline cannot be set", method: "POST", target: "/os/cmdline?cmdline=x", wantCode: 405, wantAllow: "GET"},

		{name: "processor count", target: "/hardware/processor/count", wantBody: `2`},
		{name: "processor flags", target: "/hardware/processor/flags", wantBody: `"fpu sse2 lm"`},
		{name: "hypervisor", target: "/hardware/hypervisor", wantBody: `"KVMKVMKVM"`},
		{name: "firmware vendor", target: "/hardware/firmware/vendor", wantBody: `"SeaBIOS"`},

		{name: "environment", target: "/env/", wantBody: `["HOME=/","PATH=/bin"]`},
		{name: "environment without the slash", target: "/env", wantBody: `["HOME=/","PATH=/bin"]`},
		{name: "getenv", target: "/env/PATH", wantBody: `"/bin"`},
		{name: "getenv unset", target: "/env/NOPE", wantCode: 400,
			wantBody: `{"message":"no environment variable \"NOPE\"","code":400}`},
		{name: "getenv with '=' in the name", target: "/env/A%3DB", wantCode: 400},
		{name: "setenv", method: "POST", target: "/env/GREETING?val=hello%20world", wantBody: `""`,
			check: func(t *testing.T, f *fakeSystem) { wantEqual(t, "GREETING", f.env["GREETING"], "hello world") }},
		{name: "setenv with a slash in the name", method: "POST", target: "/env/A%2FB?val=1", wantBody: `""`,
			check: func(t *testing.T, f *fakeSystem) { wantEqual(t, "A/B", f.env["A/B"], "1") }},
		{name: "setenv without val", method: "POST", target: "/env/X", wantCode: 400},
		{name: "setenv with NUL in the value", method: "POST", target: "/env/X?val=a%00b", wantCode: 400},
		{name: "setenv refused by the system", method: "POST", target: "/env/X?val=1", fail: "Setenv", wantCode: 500},
		{name: "unsetenv", method: "DELETE", target: "/env/HOME", wantBody: `""`,
			check: func(t *testing.T, f *fakeSystem) {
				if _, ok := f.env["HOME"]; ok {
					t.Errorf("HOME still set")
				}
			}},
		{name: "PUT on env", method: "PUT", target: "/env/HOME", wantCode: 405, wantAllow: "DELETE, GET, POST"},

		{name: "ifconfig", target: "/network/ifconfig/", wantBody: `[
			{"config":{"name":"lo","addr":"127.0.0.1","mask":"255.0.0.0","broadcast":"","flags":"<UP,LOOPBACK,RUNNING>","mtu":"65536","phys_addr":""},
			 "data":{"ifi_mtu":65536,"ifi_ipackets":0,"ifi_ierrors":0,"ifi_iqdrops":0,"ifi_opackets":0,"ifi_oerrors":0,"ifi_ibytes":0,"ifi_obytes":0},
			 "time":90500000},
			{"config":{"name":"eth0","addr":"10.0.2.15","mask":"255.255.255.0","broadcast":"10.0.2.255","flags":"<UP,BROADCAST,RUNNING>","mtu":"1500","phys_addr":"52:54:00:12:34:56"},
			 "data":{"ifi_mtu":1500,"ifi_ipackets":10,"ifi_ierrors":1,"ifi_iqdrops":2,"ifi_opackets":20,"ifi_oerrors":3,"ifi_ibytes":1000,"ifi_obytes":2000},
			 "time":90500000}]`},
		{name: "one interface", target: "/network/ifconfig/lo", wantBody: `
			{"config":{"name":"lo","addr":"127.0.0.1","mask":"255.0.0.0","broadcast":"","flags":"<UP,LOOPBACK,RUNNING>","mtu":"65536","phys_addr":""},
			 "data":{"ifi_mtu":65536,"ifi_ipackets":0,"ifi_ierrors":0,"ifi_iqdrops":0,"ifi_opackets":0,"ifi_oerrors":0,"ifi_ibytes":0,"ifi_obytes":0},
			 "time":90500000}`},
		{name: "unknown interface", target: "/network/ifconfig/wlan0", wantCode: 404,
			wantBody: `{"message":"interface \"wlan0\" not found","code":404}`},
		{name: "interfaces fail", target: "/network/ifconfig/", fail: "Interfaces", wantCode: 500,
			wantBody: `{"message":"fake failure","code":500}`},
		{name: "routes", target: "/network/route/", wantBody: `[
			{"destination":"0.0.0.0/0","gateway":"10.0.2.2","flags":"UG","netif":"eth0","ipv6":false},
			{"destination":"10.0.2.0/24","gateway":"","flags":"U","netif":"eth0","ipv6":false}]`},
		{name: "routes fail", target: "/network/route/", fail: "Routes", wantCode: 500},

		{name: "df", target: "/fs/df/", wantBody: `[
			{"filesystem":"initrd","mount":"/","btotal":100,"bfree":10,"ftotal":50,"ffree":5,"blocksize":4096},
			{"filesystem":"tmpfs","mount":"/tmp/data","btotal":200,"bfree":200,"ftotal":0,"ffree":0,"blocksize":4096}]`},
		{name: "df of a nested mount", target: "/fs/df/tmp/data", wantBody: `[
			{"filesystem":"tmpfs","mount":"/tmp/data","btotal":200,"bfree":200,"ftotal":0,"ffree":0,"blocksize":4096}]`},
		{name: "df of the root", target: "/fs/df/%2F", wantBody: `[
			{"filesystem":"initrd","mount":"/","btotal":100,"bfree":10,"ftotal":50,"ffree":5,"blocksize":4096}]`},
		{name: "df of no mount", target: "/fs/df/tmp", wantCode: 404,
			wantBody: `{"message":"no file system mounted on \"/tmp\"","code":404}`},
		{name: "df fails", target: "/fs/df/", fail: "Filesystems", wantCode: 500},

		{name: "unknown path", target: "/nope", wantCode: 404, wantBody: `{"message":"no resource \"/nope\"","code":404}`},
		{name: "extra segment", target: "/os/name/extra", wantCode: 404},
		{name: "empty segment", target: "//os/name", wantCode: 404},
		{name: "wrong method", method: "DELETE", target: "/os/name", wantCode: 405, wantAllow: "GET",
			wantBody: `{"message":"method DELETE not allowed on /os/name","code":405}`},
		{name: "two methods allowed", method: "PUT", target: "/os/hostname", wantCode: 405, wantAllow: "GET, POST"},
		{name: "malformed query", target: "/os/name?a=%zz", wantCode: 400},
		{name: "malformed form body", method: "POST", target: "/os/hostname", body: "name=%zz",
			ctype: "application/x-www-form-urlencoded", wantCode: 400},
		{name: "body too large", method: "POST", target: "/os/hostname", body: "name=" + strings.Repeat("a", maxBodyBytes),
			ctype: "application/x-www-form-urlencoded", wantCode: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			if tt.fail != "" {
				f.fail[tt.fail] = true
			}
			method := tt.method
			if method == "" {
				method = "GET"
			}
			got := do(testHandler(f), method, tt.target, tt.body, tt.ctype)
			wantCode := tt.wantCode
			if wantCode == 0 {
				wantCode = 200
			}
			if got.code != wantCode {
				t.Errorf("status = %d, want %d (body %s)", got.code, wantCode, got.body)
			}
			if got.ctype != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got.ctype)
			}
			body := canonical(t, got.body)
			if tt.wantBody != "" {
				if want := canonical(t, tt.wantBody); body != want {
					t.Errorf("body mismatch\n-want %s\n+got  %s", want, body)
				}
			}
			if got.code >= 400 {
				var e Error
				json.Unmarshal([]byte(got.body), &e)
				if e.Code != got.code || e.Message == "" {
					t.Errorf("error body %s: want a message and code %d", got.body, got.code)
				}
			}
			wantEqual(t, "Allow", got.allow, tt.wantAllow)
			if tt.check != nil {
				tt.check(t, f)
			}
			wantEqual(t, "power-offs", f.poweroffs, tt.wantPoweroffs)
			wantEqual(t, "reboots", f.reboots, tt.wantReboots)
		})
	}
}

func wantEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
