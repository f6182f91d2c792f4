package qprof

import (
	"os"
	"strings"
	"testing"
)

// An excerpt of QEMU 10's `info registers -a` for two vCPUs.
const registers = `
CPU#0
RAX=0000000000000000 RBX=0000000000000001 RCX=0000000000000000 RDX=0000000000000000
RSI=0000000000000000 RDI=0000000000000000 RBP=000000c000051f48 RSP=000000c000051f00
RIP=0000004000123456 RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=0
CPU#1
RAX=0000000000000000 RBX=0000000000000001 RCX=0000000000000000 RDX=0000000000000000
RSI=0000000000000000 RDI=0000000000000000 RBP=0000000000000000 RSP=0000004000ff0000
RIP=0000004000001000 RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1
`

func TestParseRegisters(t *testing.T) {
	got := ParseRegisters(registers)
	want := []CPUState{
		{RIP: 0x4000123456, RSP: 0xc000051f00, RBP: 0xc000051f48},
		{RIP: 0x4000001000, RSP: 0x4000ff0000, Halted: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d CPUs, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("CPU %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestSymbols names this test binary's own functions.
func TestSymbols(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSymbols(exe)
	if err != nil {
		t.Skipf("no symbols: %v", err)
	}
	var addr uint64
	for i, n := range s.names {
		if strings.HasSuffix(n, "qprof.TestSymbols") {
			addr = s.addrs[i]
		}
	}
	if addr == 0 {
		t.Skip("test binary has no symbol for TestSymbols")
	}
	if got := s.Name(addr + 1); !strings.HasSuffix(got, "qprof.TestSymbols") {
		t.Errorf("Name(TestSymbols+1) = %q", got)
	}
	if got := s.Name(1); got != "" {
		t.Errorf("Name(1) = %q, want none", got)
	}
}

func TestReport(t *testing.T) {
	p := Profile{Samples: 4, Leaf: map[string]int{"a": 3, "b": 1}, Stacks: map[string]int{"a < main": 3, "b": 1}}
	var out strings.Builder
	p.Report(&out, 1)
	if s := out.String(); !strings.Contains(s, "3  75.0%  a\n") || strings.Contains(s, "25.0%  b\n") {
		t.Errorf("report with top 1:\n%s", s)
	}
}
