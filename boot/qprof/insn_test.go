package qprof

import (
	"strings"
	"testing"
)

func TestParseCounts(t *testing.T) {
	c, err := ParseCounts(strings.NewReader("400000 3 10\nffffffff81000000 1 7 0 1 0 0 0 0 0 0\n400000 3 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{{Addr: 0x400000, Insns: 3}: 12, {Addr: 0xffffffff81000000, Insns: 1, Special: Special{0, 1}}: 7}
	if len(c) != len(want) {
		t.Fatalf("ParseCounts = %v, want %v", c, want)
	}
	for b, n := range want {
		if c[b] != n {
			t.Errorf("block %+v: %d executions, want %d", b, c[b], n)
		}
	}
	for _, bad := range []string{"400000 3\n", "xyz 3 1\n", "400000 0 1\n", "400000 3 -1\n",
		"400000 3 1 0 0\n", "400000 3 1 4 0 0 0 0 0 0 0\n"} {
		if _, err := ParseCounts(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseCounts(%q) succeeded", bad)
		}
	}
}

func TestSinceAndAttribute(t *testing.T) {
	before := Counts{{Addr: 0x10, Insns: 4}: 5, {Addr: 0x20, Insns: 2}: 1}
	after := Counts{{Addr: 0x10, Insns: 4}: 8, {Addr: 0x20, Insns: 2}: 1, {Addr: 0x30, Insns: 1, Special: Special{1}}: 6}
	d := after.Since(before)
	if len(d) != 2 || d[Block{Addr: 0x10, Insns: 4}] != 3 || d[Block{Addr: 0x30, Insns: 1, Special: Special{1}}] != 6 {
		t.Fatalf("Since = %v, want 3 runs of 0x10 and 6 of 0x30", d)
	}
	name := func(pc uint64) string {
		if pc < 0x30 {
			return "f"
		}
		return "g"
	}
	got := d.Attribute(name)
	want := []FuncCost{{Name: "f", Insns: 12, Blocks: 3}, {Name: "g", Insns: 6, Blocks: 6, Special: [8]uint64{6}}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Attribute = %+v, want %+v", got, want)
	}
}

func TestGroup(t *testing.T) {
	for fn, want := range map[string]string{
		"app:main.main":                      "application",
		"runtime.mallocgc":                   "Go runtime",
		"gvisor.dev/gvisor/pkg/tcpip.Foo":    "gVisor",
		"gosv/kernel.trap":                   "gosv core",
		"gosv/kernel.idleLoop":               "idle polling",
		"gosv/drivers/virtio.(*Net).enqueue": "gosv/drivers/virtio",
		"gosv/kernel/appsys/sockets.recv":    "gosv/kernel/appsys/sockets",
		"time.Time.Add":                      "std:time",
		"net/http.(*conn).serve":             "std:net/http",
		"0x1234":                             "unknown",
	} {
		if got := Group(fn); got != want {
			t.Errorf("Group(%q) = %q, want %q", fn, got, want)
		}
	}
}

func FuzzParseCounts(f *testing.F) {
	f.Add("400000 3 10\n")
	f.Add("1 1 1\n2 2 2")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCounts(strings.NewReader(s))
		if err == nil {
			for b := range c {
				if b.Insns == 0 {
					t.Fatalf("block %+v of no instructions accepted", b)
				}
			}
		}
	})
}
