// Package selftest is the in-kernel test suite that boot tests select
// with --test=all (or a comma list of names). Each test exercises the Go
// runtime on gosv's own system calls and checks a result that would be
// wrong if the kernel underneath were: scheduling, futexes, timers,
// memory returned to the kernel, signals for preemption and panics.
//
// Output, one line per test, then a summary, on the serial console:
//
//	selftest: goroutines: ok (12ms)
//	selftest: timers: FAIL: slept 2ms, want >= 10ms
//	selftest: 9 passed, 1 failed
package selftest

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Test is one self-test. Run returns nil on success.
type Test struct {
	Name string
	Run  func() error
	// Crash tests end the machine on purpose; "all" leaves them out.
	Crash bool
}

// Tests lists every self-test in the order they run.
var Tests = []Test{
	{Name: "goroutines", Run: testGoroutines},
	{Name: "channels", Run: testChannels},
	{Name: "timers", Run: testTimers},
	{Name: "monotonic", Run: testMonotonic},
	{Name: "maps", Run: testMaps},
	{Name: "recursion", Run: testRecursion},
	{Name: "panics", Run: testPanics},
	{Name: "nilpointer", Run: testNilPointer},
	{Name: "preemption", Run: testPreemption},
	{Name: "threads", Run: testThreads},
	{Name: "finalizers", Run: testFinalizers},
	{Name: "gc", Run: testGC},
	{Name: "smp", Run: testSMP},
	{Name: "enosys", Run: testENOSYS},
	{Name: "dmesg", Run: testDmesg},
	{Name: "entropy", Run: testEntropy},
	{Name: "irq", Run: testIRQ},
	{Name: "stress", Run: testStress},
	{Name: "crash-panic", Run: crashPanic, Crash: true},
	{Name: "crash-core", Run: crashCore, Crash: true},
	{Name: "crash-reboot", Run: crashReboot, Crash: true},
}

// Run runs the tests named in names ("all" for every one), printing to
// w, and returns the number of failures. Unknown names count as
// failures, with the list of valid ones.
func Run(w io.Writer, names []string) int {
	selected, unknown := choose(names)
	failed := len(unknown)
	for _, n := range unknown {
		fmt.Fprintf(w, "selftest: %s: FAIL: no such test (have: %s)\n", n, strings.Join(allNames(), ", "))
	}
	for _, t := range selected {
		start := time.Now()
		err := t.Run()
		d := time.Since(start).Round(time.Millisecond)
		if err != nil {
			failed++
			fmt.Fprintf(w, "selftest: %s: FAIL: %v (%v)\n", t.Name, err, d)
		} else {
			fmt.Fprintf(w, "selftest: %s: ok (%v)\n", t.Name, d)
		}
	}
	fmt.Fprintf(w, "selftest: %d passed, %d failed\n", len(selected)+len(unknown)-failed, failed)
	return failed
}

func choose(names []string) (selected []Test, unknown []string) {
	if slices.Contains(names, "all") {
		for _, t := range Tests {
			if !t.Crash {
				selected = append(selected, t)
			}
		}
		return selected, nil
	}
	for _, n := range names {
		i := slices.IndexFunc(Tests, func(t Test) bool { return t.Name == n })
		if i < 0 {
			unknown = append(unknown, n)
			continue
		}
		selected = append(selected, Tests[i])
	}
	return selected, unknown
}

func allNames() []string {
	var out []string
	for _, t := range Tests {
		out = append(out, t.Name)
	}
	return out
}
