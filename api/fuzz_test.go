package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// FuzzHandler sends arbitrary requests: the handler must not panic, must
// answer 2xx or 4xx (the fake System never fails), and must answer JSON
// in the Error shape for every error, HTML only for the dashboard.
func FuzzHandler(f *testing.F) {
	for _, r := range register(newFake()) {
		f.Add(r.method, r.path, "", "")
	}
	seeds := [][4]string{
		{"GET", "/os/name", "", ""},
		{"POST", "/os/hostname", "name=web1", ""},
		{"POST", "/os/hostname", "", "name=x"},
		{"POST", "/os/hostname", "name=a&name=b", "name=%zz"},
		{"POST", "/env/A%3DB", "val=1", ""},
		{"POST", "/env/X", "val=%00", ""},
		{"DELETE", "/env/%2F", "", ""},
		{"GET", "/fs/df/%2F", "", ""},
		{"GET", "/fs/df/a//b", "", ""},
		{"GET", "/network/ifconfig/%zz", "", ""},
		{"PUT", "/", "a=%", ""},
		{"OPTIONS", "*", "", ""},
		{"GET", "//", ";;", ""},
		{"BREW", "/../os/../name", "", "\x00"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, method, path, query, body string) {
		// Build the request as a client would send it, and let
		// net/http's parser refuse what a server would refuse first.
		target := path
		if query != "" {
			target += "?" + query
		}
		raw := method + " " + target + " HTTP/1.1\r\nHost: gosv\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return
		}
		w := httptest.NewRecorder()
		testHandler(newFake()).ServeHTTP(w, r)

		if w.Code < 200 || w.Code >= 300 && w.Code < 400 || w.Code >= 500 {
			t.Fatalf("%s %q: status %d: %s", method, target, w.Code, w.Body)
		}
		ctype := w.Header().Get("Content-Type")
		if strings.HasPrefix(ctype, "text/html") {
			if w.Code != 200 || r.Method != "GET" {
				t.Fatalf("%s %q: HTML with status %d", method, target, w.Code)
			}
			return
		}
		if ctype != "application/json" || !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %q: not JSON (%q): %q", method, target, ctype, w.Body)
		}
		if w.Code >= 400 {
			var e Error
			d := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
			d.DisallowUnknownFields()
			if err := d.Decode(&e); err != nil || e.Code != w.Code || e.Message == "" {
				t.Fatalf("%s %q: error body %q is not {message, code: %d}", method, target, w.Body, w.Code)
			}
			if w.Code == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
				t.Fatalf("%s %q: 405 without Allow", method, target)
			}
		}
	})
}
