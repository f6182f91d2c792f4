package api

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// Name and Vendor are what /os/name and /os/vendor report.
const (
	Name   = "gosv"
	Vendor = "gosv"
)

// PowerDelay is how long the default Options.AfterResponse waits before
// powering off or rebooting, so the response leaves the network stack
// first.
const PowerDelay = 250 * time.Millisecond

// Options adjust NewHandler.
type Options struct {
	// AfterResponse runs action (a power-off or reboot) once its HTTP
	// response has been flushed. It must not block the handler. Nil
	// means: in a new goroutine, after PowerDelay.
	AfterResponse func(action func())
}

// NewHandler returns the API's http.Handler serving sys.
func NewHandler(sys System, opt Options) http.Handler {
	later := opt.AfterResponse
	if later == nil {
		later = func(action func()) {
			go func() {
				time.Sleep(PowerDelay)
				action()
			}()
		}
	}
	return &router{routes: register(sys), later: later}
}

// register lists every route the API serves, one block per resource.
// The OpenAPI description (openapi.json) must list the same ones; a test
// checks.
func register(sys System) []route {
	return slices.Concat(
		osRoutes(sys),
		hardwareRoutes(sys),
		envRoutes(sys),
		networkRoutes(sys),
		fsRoutes(sys),
		docRoutes(),
	)
}

//go:embed openapi.json
var openAPI []byte

//go:embed dashboard.html
var dashboard []byte

// htmlPage is a handler result sent as HTML instead of JSON.
type htmlPage []byte

// docRoutes serve the API description and the dashboard.
func docRoutes() []route {
	return []route{
		{"GET", "/api-doc", func(*request) (any, error) { return json.RawMessage(openAPI), nil }},
		{"GET", "/", func(*request) (any, error) { return htmlPage(dashboard), nil }},
	}
}
