package bench

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
)

const gosvSerial = `gosv v0.1 on QEMU TCG, 1 CPU(s), 127 MiB memory (121 MiB free), booted via PVH
gosv: clock tsc (PIT-calibrated) (2115 MHz TSC)
gosv: command line: ""
gosv: boot time 50.04 ms (first instruction to Go main)
gosv: no application configured; powering off
`

const linuxSerial = `[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)
[    0.271992] PCI: Fatal: No config space access function found
LINUXINIT 1.18
[    1.125388] Run /init as init process
[    1.255008] reboot: Power down
`

func TestGosvBootTime(t *testing.T) {
	got, ok := GosvBootTime(gosvSerial)
	if !ok || got != 50040*time.Microsecond {
		t.Errorf("GosvBootTime = %v, %v; want 50.04ms", got, ok)
	}
	if got, ok := GosvBootTime("gosv: boot time 7 ms (first instruction to Go main)"); !ok || got != 7*time.Millisecond {
		t.Errorf("integer ms: %v, %v", got, ok)
	}
	if _, ok := GosvBootTime("gosv: boot time ms"); ok {
		t.Error("parsed a line without a number")
	}
	if !GosvBanner(gosvSerial) {
		t.Error("banner not found")
	}
	if GosvBanner("gosv: clock tsc\n") {
		t.Error("banner found in a line that is none")
	}
}

func TestLinuxTimes(t *testing.T) {
	got, ok := LinuxInitTime(linuxSerial)
	if !ok || got != 1125388*time.Microsecond {
		t.Errorf("LinuxInitTime = %v, %v; want 1.125388s", got, ok)
	}
	up, ok := LinuxUptime(linuxSerial)
	if !ok || up != 1180*time.Millisecond {
		t.Errorf("LinuxUptime = %v, %v; want 1.18s", up, ok)
	}
	// Without quiet the console's own copy comes first; either parses.
	if got, ok := LinuxInitTime("[   12.5] Run /init as init process\r\n"); !ok || got != 12500*time.Millisecond {
		t.Errorf("wide timestamp: %v, %v", got, ok)
	}
	for _, s := range []string{"", "Run /init as init process", "[    1.2] Run /sbin/init as init process"} {
		if _, ok := LinuxInitTime(s); ok {
			t.Errorf("LinuxInitTime(%q) parsed", s)
		}
	}
}

func TestSummarize(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	in := ms(5, 1, 4, 2, 3)
	s := Summarize(in)
	if s.N != 5 || s.Min != ms(1)[0] || s.Median != ms(3)[0] || s.Max != ms(5)[0] {
		t.Errorf("odd: %+v", s)
	}
	if !slices.Equal(s.Values, ms(5, 1, 4, 2, 3)) || !slices.Equal(in, ms(5, 1, 4, 2, 3)) {
		t.Errorf("order not kept: %v, input %v", s.Values, in)
	}
	if s := Summarize(ms(4, 1, 2, 10)); s.Median != 3*time.Millisecond {
		t.Errorf("even median = %v, want 3ms", s.Median)
	}
	if s := Summarize(nil); s.N != 0 || s.Median != 0 {
		t.Errorf("empty: %+v", s)
	}
	if r := Ratio(time.Second, 50*time.Millisecond); r != 20 {
		t.Errorf("Ratio = %v, want 20", r)
	}
	if r := Ratio(time.Second, 0); r != 0 {
		t.Errorf("Ratio by 0 = %v", r)
	}
}

func TestMinPassing(t *testing.T) {
	for _, need := range []int{2, 3, 9, 16, 17, 100, 127, 128} {
		calls := 0
		got, probes, err := MinPassing(2, 128, func(m int) (bool, error) {
			calls++
			return m >= need, nil
		})
		if err != nil || got != need {
			t.Errorf("need %d: got %d, %v", need, got, err)
		}
		if calls > 9 || len(probes) != calls || probes[0] != (Probe{128, true}) {
			t.Errorf("need %d: %d calls, probes %v", need, calls, probes)
		}
	}
	if _, _, err := MinPassing(2, 128, func(int) (bool, error) { return false, nil }); err == nil {
		t.Error("no size boots, but no error")
	}
	boom := errors.New("boom")
	if _, _, err := MinPassing(2, 128, func(m int) (bool, error) {
		if m < 100 {
			return false, boom
		}
		return true, nil
	}); !errors.Is(err, boom) {
		t.Errorf("error not passed on: %v", err)
	}
	if _, _, err := MinPassing(10, 2, nil); err == nil {
		t.Error("bad range accepted")
	}
}

// tinyELF builds an ELF64 header with the given program headers.
func tinyELF(t *testing.T, progs []elf.Prog64) []byte {
	t.Helper()
	var b bytes.Buffer
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: 1,
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: uint16(len(progs)),
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	if err := binary.Write(&b, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	if err := binary.Write(&b, binary.LittleEndian, progs); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestELFSize(t *testing.T) {
	img := tinyELF(t, []elf.Prog64{
		{Type: uint32(elf.PT_LOAD), Filesz: 0x1000, Memsz: 0x1000},
		{Type: uint32(elf.PT_NOTE), Filesz: 0x40, Memsz: 0x40},
		{Type: uint32(elf.PT_LOAD), Filesz: 0x200, Memsz: 0x5000},
	})
	s, err := ELFSize(bytes.NewReader(img), 12345)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ImageSize{File: 12345, LoadFile: 0x1200, LoadMem: 0x6000}); s != want {
		t.Errorf("ELFSize = %+v, want %+v", s, want)
	}
	if _, err := ELFSize(bytes.NewReader(tinyELF(t, nil)), 1); err == nil {
		t.Error("no PT_LOAD, but no error")
	}
	if _, err := ELFSize(strings.NewReader("not an ELF file at all, really not"), 1); err == nil {
		t.Error("garbage accepted")
	}
}

func TestLinuxImagePackage(t *testing.T) {
	out := "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n"
	if p, err := LinuxImagePackage(out); err != nil || p != "linux-image-6.1.0-56-cloud-amd64" {
		t.Errorf("got %q, %v", p, err)
	}
	out = "linux-image-cloud-amd64\n  Depends: <linux-image-x>\n  Recommends: linux-image-6.1.0-1-cloud-amd64\n"
	if p, err := LinuxImagePackage(out); err == nil {
		t.Errorf("got %q from no Depends line", p)
	}
	if _, err := LinuxImagePackage(""); err == nil {
		t.Error("empty output accepted")
	}
}

func TestHostInfo(t *testing.T) {
	if m := CPUModel("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nmodel name\t: other\n"); m != "AMD EPYC" {
		t.Errorf("CPUModel = %q", m)
	}
	if m := CPUModel(""); m != "unknown" {
		t.Errorf("CPUModel(\"\") = %q", m)
	}
	v := QEMUVersion("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022\n")
	if v != "7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)" {
		t.Errorf("QEMUVersion = %q", v)
	}
}

func TestRescaleTSC(t *testing.T) {
	// 100 ms at a believed 4000 MHz is 400M ticks: 200 ms at 2000 MHz.
	if d := RescaleTSC(100*time.Millisecond, 4000000, 2000000); d != 200*time.Millisecond {
		t.Errorf("RescaleTSC = %v", d)
	}
	if d := RescaleTSC(time.Second, 0, 2000000); d != time.Second {
		t.Errorf("unknown rate changed the time: %v", d)
	}
}

func TestMarkerClock(t *testing.T) {
	tick := time.Unix(0, 0)
	m := &MarkerClock{Marker: "LINUXINIT ", Now: func() time.Time { tick = tick.Add(time.Second); return tick }}
	for _, chunk := range []string{"[ 0.1] boot\nLINUX", "IN", "IT 1.18\n", "LINUXINIT again\n"} {
		if n, err := io.WriteString(m, chunk); n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if _, ok := m.Seen(); ok != (chunk == "IT 1.18\n" || chunk == "LINUXINIT again\n") {
			t.Fatalf("after %q: seen %v", chunk, ok)
		}
	}
	if at, _ := m.Seen(); !at.Equal(time.Unix(1, 0)) {
		t.Errorf("seen at %v, want the first sighting", at)
	}
	n := &MarkerClock{Marker: "gosv: boot time "}
	io.WriteString(n, "gosv: boot tim")
	io.WriteString(n, "x gosv: boot time")
	if _, ok := n.Seen(); ok {
		t.Error("marker seen in a near miss")
	}
}

func TestInitramfs(t *testing.T) {
	bb := []byte("\x7fELF pretend busybox")
	var a, b bytes.Buffer
	if err := WriteInitramfs(&a, bb); err != nil {
		t.Fatal(err)
	}
	if err := WriteInitramfs(&b, bb); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("initramfs not reproducible")
	}
	if !bytes.HasPrefix(a.Bytes(), []byte("070701")) || a.Len()%4 != 0 {
		t.Errorf("not a newc archive: % x", a.Bytes()[:8])
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(a.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]cpio.Record{}
	for _, r := range recs {
		byName[r.Name] = r
	}
	read := func(name string) string {
		r, ok := byName[name]
		if !ok {
			t.Fatalf("no %s in %v", name, recs)
		}
		data, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if got := read("bin/busybox"); got != string(bb) {
		t.Errorf("busybox = %q", got)
	}
	if got := read("init"); got != InitScript || !strings.HasPrefix(got, "#!/bin/busybox sh\n") {
		t.Errorf("init = %q", got)
	}
	if r := byName["init"]; r.Mode != cpio.S_IFREG|0o755 {
		t.Errorf("init mode %o", r.Mode)
	}
	if r, ok := byName["dev/console"]; !ok || r.Mode&cpio.S_IFMT != cpio.S_IFCHR || r.Rmajor != 5 || r.Rminor != 1 {
		t.Errorf("dev/console = %+v", r.Info)
	}
	for _, d := range []string{"bin", "dev", "proc"} {
		if r, ok := byName[d]; !ok || r.Mode&cpio.S_IFMT != cpio.S_IFDIR {
			t.Errorf("directory %s missing", d)
		}
	}
	if !strings.Contains(InitScript, `echo "LINUXINIT $up"`) || !strings.Contains(InitScript, "poweroff -f") {
		t.Error("init script lost its marker or power-off")
	}
}

func TestReport(t *testing.T) {
	ms := func(v ...float64) Summary {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x * float64(time.Millisecond))
		}
		return Summarize(d)
	}
	r := &Report{
		Date: "2026-01-02", HostCPU: "AMD EPYC", HostCPUs: 2, LoadAvg: "0.1 0.2 0.3", LoadAvgEnd: "0.4 0.5 0.6",
		QEMUVersion: "7.2.22", Accel: "tcg", AccelReason: "requested",
		Machine: "microvm", MemoryMiB: 128, CPUs: 1, Runs: 3,
		GosvArgs:  []string{"qemu-system-x86_64", "-kernel", "build/gosv.elf"},
		LinuxArgs: []string{"qemu-system-x86_64", "-append", "console=ttyS0 quiet"},
		LinuxPkg:  "`linux-image-6.1.0-56-cloud-amd64` 6.1.192-2", Busybox: "`busybox-static` 1:1.35",
		GosvWall: ms(170, 160, 180), LinuxWall: ms(2270, 2200, 2300),
		GosvGuest: ms(50, 45, 55), LinuxGuest: ms(1125, 1100, 1150),
		GosvMarker: ms(120, 110, 130), LinuxMarker: ms(1900, 1800, 2000),
		MinMemoryMiB: 9, MemLo: 2, MemHi: 128, MemProbes: []Probe{{128, true}, {65, true}, {33, false}},
		GosvImage:   ImageSize{File: 6451304, LoadFile: 6000000, LoadMem: 7000000},
		LinuxKernel: 14186432, LinuxInit: 1983392,
	}
	md0 := r.Markdown()
	if strings.Contains(md0, "rescaled") || strings.Contains(md0, "as printed") {
		t.Error("rescaling described without a host TSC rate")
	}
	r.HostTSCkHz, r.GosvTSCkHz = 2000000, []int{2000000, 2100000, 1900000}
	r.GosvGuestPrinted = []time.Duration{50 * time.Millisecond, 45 * time.Millisecond, 55 * time.Millisecond}
	ts := r.Targets()
	if len(ts) != 3 || !ts[0].Met || !ts[1].Met || !ts[2].Met {
		t.Errorf("targets: %+v", ts)
	}
	md := r.Markdown()
	for _, want := range []string{
		"# Benchmarks", "make bench", "AMD EPYC", "0.4 0.5 0.6 at the end", "7.2.22", "TCG", "22.5×",
		"| QEMU process, exec to exit | 170.0 ms (160.0 – 180.0 ms) | 2270.0 ms (2200.0 – 2300.0 ms) | 13.4×; 13.8× |",
		"boots with 9 MiB", "22.5× on medians", "24.4× on minimums",
		"rescaled to the host's TSC rate (2000000 kHz", "off by -5.0% to +5.0%",
		"calibrated TSC rate: 2000, 2100, 1900 MHz (host 2000.000 MHz)", "6451304 bytes", "All 3 targets are met",
		"'console=ttyS0 quiet'", "33 MiB fails", "50.0, 45.0, 55.0 ms",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}

	r.MinMemoryMiB, r.LinuxGuest = 24, ms(900, 900, 900)
	md = r.Markdown()
	if ts := r.Targets(); ts[0].Met || ts[1].Met || !ts[2].Met {
		t.Errorf("targets: %+v", ts)
	}
	if !strings.Contains(md, "**Not met**") || !strings.Contains(md, "| **no** |") {
		t.Errorf("missed targets not stated:\n%s", md)
	}
}

func TestTSCkHz(t *testing.T) {
	dmesg := "[    0.000000] [Firmware Bug]: TSC doesn't count with P0 frequency!\n" +
		"[    0.000266] tsc: Detected 2096.041 MHz processor\n"
	if k, ok := HostTSCkHz(dmesg); !ok || k != 2096041 {
		t.Errorf("HostTSCkHz = %d, %v", k, ok)
	}
	dmesg += "[    1.5] tsc: Refined TSC clocksource calibration: 2095.998 MHz\n"
	if k, ok := HostTSCkHz(dmesg); !ok || k != 2095998 {
		t.Errorf("HostTSCkHz with refinement = %d, %v", k, ok)
	}
	if _, ok := HostTSCkHz("tsc: Marking TSC unstable"); ok {
		t.Error("HostTSCkHz parsed a log without a rate")
	}
	if k, ok := GosvTSCkHz(gosvSerial); !ok || k != 2115000 {
		t.Errorf("GosvTSCkHz = %d, %v", k, ok)
	}
	if _, ok := GosvTSCkHz("gosv: clock hpet\n"); ok {
		t.Error("GosvTSCkHz parsed a line without a TSC rate")
	}
}

func TestParseSpeedup(t *testing.T) {
	v, ok := ParseSpeedup("x\nselftest: smp: 2 CPUs, at most 2 busy at once, speedup 1.93x\nselftest: smp: ok (600ms)\n")
	if !ok || v != 1.93 {
		t.Errorf("ParseSpeedup = %v, %v; want 1.93, true", v, ok)
	}
	if _, ok := ParseSpeedup("selftest: smp: ok"); ok {
		t.Errorf("ParseSpeedup found a speed-up in output without one")
	}
}
