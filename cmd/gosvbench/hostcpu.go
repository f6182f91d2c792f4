package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat; it
// is 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// hostCPU is the CPU time (user + system) a QEMU process has used: all of
// it, and that of its vCPU threads. QEMU started with -name
// ...,debug-threads=on names those "CPU n/TCG" (or /KVM), which tells the
// guest's own work from QEMU's device emulation and I/O.
//
// vcpuSleeps counts the vCPU threads' voluntary context switches: each is
// a vCPU blocking on the host (a halt, a wait for QEMU's big lock), and
// each costs a wake-up on some other host thread too. Threads that have
// exited are not counted.
type hostCPU struct {
	total, vcpus time.Duration
	vcpuSleeps   int64
}

// readHostCPU reads process pid's hostCPU. The process total comes from
// /proc/PID/stat, which keeps the time of threads that have exited.
func readHostCPU(pid int) (hostCPU, error) {
	var c hostCPU
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return c, err
	}
	if _, c.total, err = parseStatCPU(string(b)); err != nil {
		return c, err
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread has gone
		}
		name, d, err := parseStatCPU(string(b))
		if err != nil {
			return c, fmt.Errorf("%s: %w", t, err)
		}
		if strings.HasPrefix(name, "CPU ") {
			c.vcpus += d
			if st, err := os.ReadFile(strings.TrimSuffix(t, "stat") + "status"); err == nil {
				c.vcpuSleeps += parseVoluntarySwitches(string(st))
			}
		}
	}
	return c, nil
}

// parseStatCPU reads a thread's name and utime+stime from a
// /proc/PID/task/TID/stat line. The name is in parentheses and may hold
// spaces and parentheses itself, so fields are counted from the last ')'.
func parseStatCPU(line string) (name string, cpu time.Duration, err error) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return "", 0, fmt.Errorf("malformed stat line %q", line)
	}
	// After ") ": state(3) ppid ... utime is field 14, stime 15 (1-based).
	f := strings.Fields(line[end+1:])
	if len(f) < 13 {
		return "", 0, fmt.Errorf("stat line has %d fields after the name", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return "", 0, fmt.Errorf("bad CPU time %q", s)
		}
		ticks += n
	}
	return line[open+1 : end], time.Duration(ticks) * clockTick, nil
}

// parseVoluntarySwitches reads voluntary_ctxt_switches from a
// /proc/PID/task/TID/status file (0 if it is missing).
func parseVoluntarySwitches(status string) int64 {
	for line := range strings.Lines(status) {
		if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// sleepsPer returns the vCPU threads' host sleeps from c to after per
// unit.
func (c hostCPU) sleepsPer(after hostCPU, units float64) float64 {
	return float64(after.vcpuSleeps-c.vcpuSleeps) / units
}

// per returns the CPU time used from c to after per unit (a request, a
// MB): all of it, and the vCPU threads'.
func (c hostCPU) per(after hostCPU, units float64) (total, vcpus time.Duration) {
	div := func(d time.Duration) time.Duration { return time.Duration(float64(d) / units) }
	return div(after.total - c.total), div(after.vcpus - c.vcpus)
}
