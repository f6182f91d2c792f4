package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		line string
		name string
		cpu  time.Duration
	}{
		// QEMU's vCPU thread names hold a space and a slash.
		{"1234 (CPU 0/TCG) S 1 1234 1234 0 -1 4194624 1 0 0 0 150 25 0 0 20 0 3 0 100 0 0",
			"CPU 0/TCG", 175 * clockTick},
		// A name with a ')' of its own: fields count from the last one.
		{"7 (a) b) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 5 0 0", "a) b", 7 * clockTick},
	} {
		name, cpu, err := parseStatCPU(tc.line)
		if err != nil || name != tc.name || cpu != tc.cpu {
			t.Errorf("parseStatCPU(%q) = %q, %v, %v; want %q, %v", tc.line, name, cpu, err, tc.name, tc.cpu)
		}
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 -5 4 0"} {
		if _, _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", bad)
		}
	}
}

func TestReadHostCPUSelf(t *testing.T) {
	// Burn some CPU so the reading cannot be zero.
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	c, err := readHostCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if c.total <= 0 || c.vcpus != 0 {
		t.Errorf("readHostCPU(self) = %+v, want a positive total and no vCPU threads", c)
	}
}

func TestParseVoluntarySwitches(t *testing.T) {
	status := "Name:\tCPU 0/TCG\nvoluntary_ctxt_switches:\t4711\nnonvoluntary_ctxt_switches:\t12\n"
	if got := parseVoluntarySwitches(status); got != 4711 {
		t.Errorf("parseVoluntarySwitches = %d, want 4711", got)
	}
	if got := parseVoluntarySwitches("Name:\tx\n"); got != 0 {
		t.Errorf("parseVoluntarySwitches without the line = %d, want 0", got)
	}
}
