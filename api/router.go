package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// route is one method on one path. A path segment "{name}" matches one
// non-empty segment; a final "{name...}" matches the rest of the path.
type route struct {
	method string
	path   string
	handle handler
}

// handler serves one route. It returns the value to send as JSON, or an
// error: an *Error is sent as it is, any other error (the system's) as a
// 500.
type handler func(*request) (any, error)

// request is what a handler sees.
type request struct {
	*http.Request
	params map[string]string // path parameters, unescaped
	form   url.Values        // query and url-encoded body
	// after, when set, runs once the response has been sent.
	after func()
}

// queryParam returns a required query (or form) parameter.
func (r *request) queryParam(name string) (string, error) {
	v, ok := r.form[name]
	if !ok {
		return "", badRequest("missing mandatory parameter %q", name)
	}
	return v[0], nil
}

// Error is the JSON body of every failed request, as OSv sends it.
type Error struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
}

func (e *Error) Error() string { return e.Message }

func errorf(code int, format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...), Code: code}
}

func badRequest(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, format, args...)
}

func notFound(format string, args ...any) *Error {
	return errorf(http.StatusNotFound, format, args...)
}

// maxBodyBytes bounds a request body: the API takes only short form
// parameters, and it runs in a kernel with little memory.
const maxBodyBytes = 64 << 10

// router dispatches to routes and turns every outcome into JSON.
type router struct {
	routes []route
	later  func(func())
}

// segments splits an escaped URL path for matching: the leading slash
// and one trailing slash are dropped, so "/env" and "/env/" are the
// same resource. Each segment is unescaped on its own, so "%2F" stays
// inside its segment.
func segments(escaped string) ([]string, error) {
	if !strings.HasPrefix(escaped, "/") {
		return nil, notFound("no resource %q", escaped)
	}
	p := strings.TrimSuffix(escaped[1:], "/")
	if p == "" {
		return nil, nil
	}
	parts := strings.Split(p, "/")
	for i, s := range parts {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, badRequest("malformed path %q", escaped)
		}
		parts[i] = u
	}
	return parts, nil
}

// match reports whether path segments fit a route's pattern, and the
// path parameters if so.
func match(pattern string, segs []string) (map[string]string, bool) {
	pat, _ := segments(pattern)
	var params map[string]string
	for i, p := range pat {
		name, isParam := strings.CutPrefix(p, "{")
		if !isParam {
			if i >= len(segs) || segs[i] != p {
				return nil, false
			}
			continue
		}
		name = strings.TrimSuffix(name, "}")
		if params == nil {
			params = make(map[string]string)
		}
		if rest, ok := strings.CutSuffix(name, "..."); ok {
			if i >= len(segs) || slices.Contains(segs[i:], "") {
				return nil, false
			}
			params[rest] = strings.Join(segs[i:], "/")
			return params, true
		}
		if i >= len(segs) || segs[i] == "" {
			return nil, false
		}
		params[name] = segs[i]
	}
	return params, len(pat) == len(segs)
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &request{Request: r}
	v, err := rt.serve(w, req)
	if err != nil {
		writeError(w, err)
		return
	}
	if page, ok := v.(htmlPage); ok {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		w.Write(page)
		return
	}
	writeJSON(w, http.StatusOK, v)
	if req.after != nil {
		// Push the response out before the action, which may stop
		// the machine.
		http.NewResponseController(w).Flush()
		rt.later(req.after)
	}
}

// serve finds the route and runs it.
func (rt *router) serve(w http.ResponseWriter, req *request) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, errorf(http.StatusInternalServerError, "internal error: %v", p)
		}
	}()
	segs, err := segments(req.URL.EscapedPath())
	if err != nil {
		return nil, err
	}
	var allow []string
	for _, route := range rt.routes {
		params, ok := match(route.path, segs)
		if !ok {
			continue
		}
		if route.method != req.Method {
			allow = append(allow, route.method)
			continue
		}
		req.params = params
		if req.form, err = parseForm(w, req.Request); err != nil {
			return nil, err
		}
		return route.handle(req)
	}
	if allow != nil {
		slices.Sort(allow)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return nil, errorf(http.StatusMethodNotAllowed, "method %s not allowed on %s", req.Method, req.URL.Path)
	}
	return nil, notFound("no resource %q", req.URL.Path)
}

// parseForm reads the query and an url-encoded body, and refuses
// malformed or repeated parameters.
func parseForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			return nil, errorf(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", maxBodyBytes)
		}
		return nil, badRequest("malformed parameters: %v", err)
	}
	for name, vs := range r.Form {
		if len(vs) > 1 {
			return nil, badRequest("parameter %q given %d times", name, len(vs))
		}
	}
	return r.Form, nil
}

func writeError(w http.ResponseWriter, err error) {
	e, ok := errors.AsType[*Error](err)
	if !ok {
		e = errorf(http.StatusInternalServerError, "%v", err)
	}
	writeJSON(w, e.Code, e)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(errorf(code, "encoding the response: %v", err))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	// A length lets a client read the whole answer to /os/poweroff even
	// if the machine stops before the handler returns.
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}
