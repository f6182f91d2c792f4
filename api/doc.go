// Package api is gosv's REST management API: an http.Handler that the
// kernel serves on port 8000 over its network stack, and Serve to run it
// on a listener.
//
// Paths and JSON shapes follow OSv's httpserver-api (its
// api-doc/listings/*.json), so OSv's tools work against gosv: many
// endpoints answer a bare JSON value ("gosv", 42), and every error is
// {"message": "...", "code": N} with N the HTTP status. Unknown paths
// answer 404, a known path with another method 405 with an Allow header,
// malformed or missing parameters 400. A 500 means the System reported
// an error. GET /api-doc describes every endpoint (OpenAPI 3.0, kept in
// openapi.json), and GET / is a small dashboard page.
//
// Everything the API reads or changes goes through System, which the
// kernel implements (package kernelsys); register lists the routes, one
// handler file per resource.
//
// Departures from OSv:
//   - /api-doc is one OpenAPI 3.0 document, not Swagger 1.2 listings.
//   - POST /os/cmdline is not served (405): gosv has nowhere to keep a
//     command line for the next boot.
//   - POST /os/hostname accepts only 1 to 64 letters, digits, '-' and
//     '.'; OSv passes anything to sethostname.
//   - /hardware/processor/flags has no trailing space.
//   - /network/ifconfig: config.flags is "<UP,RUNNING>" without OSv's
//     leading octal flag word; data holds only the if_data counters a
//     gVisor NIC keeps (ifi_mtu, packets, bytes, errors, input drops).
//   - /os/threads: migrations, preemptions, priority and stack_size are 0
//     where the kernel does not count them.
//   - Parameters may also come in an application/x-www-form-urlencoded
//     body; a parameter given twice is a 400.
//   - A trailing slash is optional everywhere: /env and /env/ are one
//     resource.
//   - /os/poweroff, /os/shutdown and /os/reboot answer first and act
//     PowerDelay later, so the client sees the response.
//   - /os/memory/balloon, /file, /trace, /app and /api/batch are not
//     served, and neither is HEAD (405).
//   - A request body is limited to 64 KiB (413 beyond).
package api
