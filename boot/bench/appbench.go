package bench

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// AppSource is the C source of the application benchmark
// (testdata/appbench/appbench.c). cmd/gosvbench builds it static and runs
// the same binary as gosv's application and under the Linux baseline's
// init.
//
//go:embed testdata/appbench/appbench.c
var AppSource []byte

// AppName is the benchmark program's name: /bin/appbench in both guests.
const AppName = "appbench"

// AppMarker starts the benchmark program's first line, written at the
// start of its main: the host times its arrival on the serial console.
const AppMarker = "APPBENCH main_ns "

// LinuxAppMarker starts the line the baseline's /init prints with the
// benchmark program's exit status.
const LinuxAppMarker = "LINUXAPP status "

// AppResult is what one run of the benchmark program printed.
type AppResult struct {
	// Main is the program's CLOCK_MONOTONIC reading at the start of main:
	// the guest's own view of how long after its clock started the
	// program got to run.
	Main time.Duration
	// SyscallNs is the cost of one getppid() system call in ns.
	SyscallNs float64
	// ThreadUs is the cost of one pthread_create + pthread_join in µs.
	ThreadUs float64
	// FutexUs is the cost of one futex wake/wait round trip between two
	// threads in µs.
	FutexUs float64
}

var appLineRE = regexp.MustCompile(`(?m)^APPBENCH (\S+)(?: (.*?))?\r?$`)

// ParseApp reads the benchmark program's lines from serial output:
//
//	APPBENCH main_ns 211182357
//	APPBENCH syscall_ns 61.2
//	APPBENCH thread_us 12.34
//	APPBENCH futex_us 4.56
//	APPBENCH done
//
// Every measure must be there, each once, followed by "done"; an
// "APPBENCH error ..." line is returned as the error.
func ParseApp(serial string) (AppResult, error) {
	var r AppResult
	seen := map[string]bool{}
	done := false
	for _, m := range appLineRE.FindAllStringSubmatch(serial, -1) {
		name, val := m[1], strings.TrimSpace(m[2])
		switch name {
		case "error":
			return r, fmt.Errorf("appbench: the program failed: %s", val)
		case "done":
			done = true
			continue
		}
		if done {
			return r, fmt.Errorf("appbench: %s after done", name)
		}
		var dst *float64
		var mainNs float64
		switch name {
		case "main_ns":
			dst = &mainNs
		case "syscall_ns":
			dst = &r.SyscallNs
		case "thread_us":
			dst = &r.ThreadUs
		case "futex_us":
			dst = &r.FutexUs
		default:
			return r, fmt.Errorf("appbench: unknown measure %q", name)
		}
		if seen[name] {
			return r, fmt.Errorf("appbench: %s printed twice", name)
		}
		seen[name] = true
		v, err := strconv.ParseFloat(val, 64)
		if err != nil || !(v > 0) || v > 1e15 {
			return r, fmt.Errorf("appbench: bad value %q for %s", val, name)
		}
		*dst = v
		if name == "main_ns" {
			r.Main = time.Duration(mainNs)
		}
	}
	for _, name := range []string{"main_ns", "syscall_ns", "thread_us", "futex_us"} {
		if !seen[name] {
			return r, fmt.Errorf("appbench: no %s line", name)
		}
	}
	if !done {
		return r, errors.New("appbench: no done line")
	}
	return r, nil
}

// Rescale converts the figures of a run timed with a TSC clock that
// assumed fromKHz into the times at the true rate toKHz (see RescaleTSC).
func (r AppResult) Rescale(fromKHz, toKHz int) AppResult {
	if fromKHz <= 0 || toKHz <= 0 {
		return r
	}
	f := float64(fromKHz) / float64(toKHz)
	return AppResult{
		Main:      RescaleTSC(r.Main, fromKHz, toKHz),
		SyscallNs: r.SyscallNs * f,
		ThreadUs:  r.ThreadUs * f,
		FutexUs:   r.FutexUs * f,
	}
}

var linuxAppRE = regexp.MustCompile(`LINUXAPP status ([0-9]+)`)

// LinuxAppStatus returns the benchmark program's exit status, which the
// baseline's app /init prints after it.
func LinuxAppStatus(serial string) (int, bool) {
	m := linuxAppRE.FindStringSubmatch(serial)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

// AppRuns collects the application benchmark's runs in one guest.
type AppRuns struct {
	Marker  []time.Duration // host clock: QEMU's exec to the program's first line
	Main    []time.Duration // guest clock at main
	Syscall []float64       // ns per call
	Thread  []float64       // µs per create + join
	Futex   []float64       // µs per round trip
}

// Add appends one run.
func (a *AppRuns) Add(marker time.Duration, r AppResult) {
	a.Marker = append(a.Marker, marker)
	a.Main = append(a.Main, r.Main)
	a.Syscall = append(a.Syscall, r.SyscallNs)
	a.Thread = append(a.Thread, r.ThreadUs)
	a.Futex = append(a.Futex, r.FutexUs)
}

// AppStats is the spread of each application measure in one guest.
type AppStats struct {
	Marker, Main           Summary
	Syscall, Thread, Futex FloatSummary
}

// Stats summarizes the runs.
func (a *AppRuns) Stats() AppStats {
	return AppStats{
		Marker: Summarize(a.Marker), Main: Summarize(a.Main),
		Syscall: SummarizeFloats(a.Syscall), Thread: SummarizeFloats(a.Thread), Futex: SummarizeFloats(a.Futex),
	}
}
