package qemu

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestArgs(t *testing.T) {
	common := func(accel, cpu, mem, smp string) []string {
		return []string{"-accel", accel, "-cpu", cpu, "-m", mem, "-smp", smp,
			"-nodefaults", "-no-reboot", "-display", "none", "-serial", "stdio",
			"-device", "isa-debug-exit,iobase=0xf4,iosize=4"}
	}
	microvm := []string{Binary, "-M", "microvm,pit=on,pic=off,rtc=on,isa-serial=on"}
	q35 := []string{Binary, "-M", "q35", "-bios", "qboot.rom"}
	pc := []string{Binary, "-M", "pc"}
	join := func(parts ...[]string) []string {
		var all []string
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	kernel := []string{"-kernel", "k.elf"}
	disk := []string{"-drive", "file=d.img,format=raw,if=ide"}

	tests := []struct {
		name  string
		cfg   Config
		accel string
		want  []string
	}{
		{"microvm tcg defaults", Config{Kernel: "k.elf"}, "tcg",
			join(microvm, common("tcg", "max", "128", "1"), kernel)},
		{"microvm kvm", Config{Kernel: "k.elf", Machine: "microvm"}, "kvm",
			join(microvm, common("kvm", "host", "128", "1"), kernel)},
		{"q35 tcg smp", Config{Kernel: "k.elf", Machine: "q35", CPUs: 4, MemoryMB: 512}, "tcg",
			join(q35, common("tcg,thread=multi", "max", "512", "4"), kernel)},
		{"q35 kvm smp", Config{Kernel: "k.elf", Machine: "q35", CPUs: 2}, "kvm",
			join(q35, common("kvm", "host", "128", "2"), kernel)},
		{"pc tcg", Config{Kernel: "k.elf", Machine: "pc"}, "tcg",
			join(pc, common("tcg", "max", "128", "1"), kernel)},
		{"pc kvm everything", Config{Kernel: "k.elf", Machine: "pc", Initrd: "i.img",
			Cmdline: "--probe debug", ExtraArgs: []string{"-d", "int"}}, "kvm",
			join(pc, common("kvm", "host", "128", "1"), kernel,
				[]string{"-initrd", "i.img", "-append", "--probe debug", "-d", "int"})},
		{"pc disk boot", Config{Disk: "d.img", Machine: "pc"}, "tcg",
			join(pc, common("tcg", "max", "128", "1"), disk)},
		{"q35 disk boot keeps SeaBIOS", Config{Disk: "d.img", Machine: "q35"}, "tcg",
			join([]string{Binary, "-M", "q35"}, common("tcg", "max", "128", "1"), disk)},
		{"q35 kernel and disk", Config{Kernel: "k.elf", Disk: "d.img", Machine: "q35", Cmdline: "x"}, "tcg",
			join(q35, common("tcg", "max", "128", "1"), kernel, []string{"-append", "x"}, disk)},
		{"disk name with a comma", Config{Disk: "/tmp/a,b.img", Machine: "pc"}, "tcg",
			join(pc, common("tcg", "max", "128", "1"), []string{"-drive", "file=/tmp/a,,b.img,format=raw,if=ide"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Args(tt.cfg, tt.accel); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Args =\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}

func TestDecodeExit(t *testing.T) {
	tests := []struct {
		code    int
		stderr  string
		status  int
		exited  bool
		wantErr bool
	}{
		{code: 0},                            // powered off or reset
		{code: 1, status: 0, exited: true},   // guest wrote 0
		{code: 85, status: 42, exited: true}, // guest wrote 42
		{code: 181, status: ProbeStatus, exited: true},
		{code: 255, status: 127, exited: true},
		{code: 1, stderr: "qemu-system-x86_64: warning: foo\n", exited: true},
		{code: 1, stderr: "qemu: could not open kernel file 'x'\n", wantErr: true},
		{code: 2, wantErr: true},
		{code: -1, wantErr: true}, // killed by a signal
		{code: 0, stderr: "qemu-system-x86_64: terminating on signal 2\n", wantErr: true},
	}
	for _, tt := range tests {
		status, exited, err := decodeExit(tt.code, tt.stderr)
		if status != tt.status || exited != tt.exited || (err != nil) != tt.wantErr {
			t.Errorf("decodeExit(%d, %q) = %d, %v, %v; want %d, %v, error %v",
				tt.code, tt.stderr, status, exited, err, tt.status, tt.exited, tt.wantErr)
		}
	}
}

func TestChooseAccel(t *testing.T) {
	kvmMissing := func() error { return errors.New("no such file or directory") }
	kvmOK := func() error { return nil }
	probeOK := func(string) error { return nil }
	probeHangs := func(string) error { return errors.New("timed out after 5s (KVM internal error. Suberror: 1)") }
	probeMustNotRun := func(string) error { t.Error("probe ran"); return nil }

	tests := []struct {
		name      string
		openKVM   func() error
		probe     func(string) error
		forced    string
		want, why string
	}{
		{"forced kvm", kvmMissing, probeMustNotRun, "kvm", "kvm", "requested"},
		{"forced tcg", kvmOK, probeMustNotRun, "tcg", "tcg", "requested"},
		{"no /dev/kvm", kvmMissing, probeMustNotRun, "auto", "tcg", "/dev/kvm not usable: no such file or directory"},
		{"probe passes", kvmOK, probeOK, "auto", "kvm", "KVM probe passed"},
		{"empty is auto", kvmOK, probeOK, "", "kvm", "KVM probe passed"},
		{"probe fails", kvmOK, probeHangs, "auto", "tcg", "KVM probe failed: timed out after 5s (KVM internal error. Suberror: 1)"},
		{"disk boot", kvmOK, probeMustNotRun, "auto", "tcg", "no kernel to probe KVM with (disk boot); use accel kvm to force it"},
		{"disk boot forced kvm", kvmOK, probeMustNotRun, "kvm", "kvm", "requested"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &chooser{openKVM: tt.openKVM, probe: tt.probe}
			kernel := "gosv.elf"
			if strings.HasPrefix(tt.name, "disk boot") {
				kernel = ""
			}
			accel, reason := c.choose(kernel, tt.forced)
			if accel != tt.want || reason != tt.why {
				t.Errorf("choose = %q, %q; want %q, %q", accel, reason, tt.want, tt.why)
			}
		})
	}
}

func TestChooseAccelProbesOncePerKernel(t *testing.T) {
	var probes atomic.Int32
	c := &chooser{
		openKVM: func() error { return nil },
		probe: func(string) error {
			probes.Add(1)
			time.Sleep(10 * time.Millisecond) // let concurrent callers pile up
			return nil
		},
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { c.choose("a.elf", "auto") })
	}
	wg.Wait()
	c.choose("./a.elf", "") // same file, other spelling
	if n := probes.Load(); n != 1 {
		t.Fatalf("probed %d times for one kernel, want 1", n)
	}
	c.choose("b.elf", "auto")
	if n := probes.Load(); n != 2 {
		t.Fatalf("probed %d times for two kernels, want 2", n)
	}
}

func TestAccelFromEnv(t *testing.T) {
	t.Setenv(EnvAccel, "tcg")
	if got := (Config{}).withDefaults().Accel; got != "tcg" {
		t.Errorf("with %s=tcg, Accel = %q", EnvAccel, got)
	}
	if got := (Config{Accel: "kvm"}).withDefaults().Accel; got != "kvm" {
		t.Errorf("explicit Accel overridden by environment: %q", got)
	}
	t.Setenv(EnvAccel, "")
	if got := (Config{}).withDefaults().Accel; got != "auto" {
		t.Errorf("default Accel = %q, want auto", got)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	kernel := writeKernel(t, exitCode("", 0))
	disk := writeDisk(t, realModeExit("", 0))
	for _, cfg := range []Config{
		{},
		{Kernel: filepath.Join(t.TempDir(), "missing.elf")},
		{Kernel: kernel, Machine: "virt"},
		{Kernel: kernel, Accel: "hvf"},
		{Disk: filepath.Join(t.TempDir(), "missing.img"), Machine: "pc"},
		{Disk: disk},                 // microvm has no IDE
		{Kernel: kernel, Disk: disk}, // likewise
		{Disk: disk, Machine: "pc", Cmdline: "--probe"},
		{Disk: disk, Machine: "pc", Initrd: kernel},
	} {
		if _, err := Run(context.Background(), cfg); err == nil || errors.Is(err, ErrNoQEMU) {
			t.Errorf("Run(%+v) = %v, want a config error", cfg, err)
		}
	}
}

// The tests below boot tiny hand-made kernels under real QEMU with TCG.

func needQEMU(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	if _, err := exec.LookPath(Binary); err != nil {
		t.Skip(ErrNoQEMU)
	}
}

func TestBootExitStatus(t *testing.T) {
	needQEMU(t)
	kernel := writeKernel(t, exitCode("ok\n", 42))
	for _, machine := range []string{"microvm", "q35", "pc"} {
		t.Run(machine, func(t *testing.T) {
			t.Parallel()
			var console bytes.Buffer
			var started bool
			cfg := Config{
				Kernel: kernel, Machine: machine, Accel: "tcg", Timeout: 20 * time.Second,
				Console: &console,
				OnStart: func(accel, reason string, args []string) { started = true },
			}
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Exited || res.GuestStatus != 42 || res.ExitCode != 85 {
				t.Errorf("exited %v, status %d, exit code %d; want debug-exit with 42 (code 85)",
					res.Exited, res.GuestStatus, res.ExitCode)
			}
			if res.Serial != "ok\n" || console.String() != "ok\n" {
				t.Errorf("serial %q, console %q; want %q", res.Serial, console.String(), "ok\n")
			}
			if !started || res.Accel != "tcg" || res.AccelReason != "requested" {
				t.Errorf("OnStart called %v, accel %q (%s)", started, res.Accel, res.AccelReason)
			}
			t.Logf("%s: %v", machine, res.Elapsed)
		})
	}
}

// TestBootDisk boots a hand-made boot sector through SeaBIOS, on both
// machines that take a disk.
func TestBootDisk(t *testing.T) {
	needQEMU(t)
	for _, machine := range []string{"pc", "q35"} {
		t.Run(machine, func(t *testing.T) {
			t.Parallel()
			// One disk each: QEMU locks the image for writing.
			disk := writeDisk(t, realModeExit("ok\n", 42))
			res, err := Run(context.Background(), Config{Disk: disk, Machine: machine, Accel: "tcg", Timeout: 20 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Exited || res.GuestStatus != 42 || res.Serial != "ok\n" {
				t.Errorf("exited %v, status %d, serial %q; want debug-exit with 42 and %q",
					res.Exited, res.GuestStatus, res.Serial, "ok\n")
			}
			if slices.Contains(res.Args, "-kernel") || slices.Contains(res.Args, "qboot.rom") {
				t.Errorf("disk boot with %q", res.Args)
			}
			t.Logf("%s: %v", machine, res.Elapsed)
		})
	}
}

func TestBootTimeout(t *testing.T) {
	needQEMU(t)
	kernel := writeKernel(t, spin("looping\n"))
	start := time.Now()
	res, err := Run(context.Background(), Config{Kernel: kernel, Accel: "tcg", Timeout: 2 * time.Second})
	if time.Since(start) > 10*time.Second {
		t.Errorf("timeout took %v", time.Since(start))
	}
	var qe *Error
	if !errors.As(err, &qe) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a *Error wrapping context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "timed out") || !strings.Contains(err.Error(), "looping") {
		t.Errorf("error lacks the timeout or the serial output:\n%v", err)
	}
	if res == nil || res.Serial != "looping\n" || res.Exited {
		t.Errorf("result = %+v", res)
	}
}

func TestBootTripleFault(t *testing.T) {
	needQEMU(t)
	res, err := Run(context.Background(), Config{
		Kernel: writeKernel(t, tripleFault()), Accel: "tcg", Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// -no-reboot turns the reset into a shutdown, without a guest status.
	if res.Exited || res.ExitCode != 0 {
		t.Errorf("exited %v, exit code %d; want a plain shutdown", res.Exited, res.ExitCode)
	}
}

func TestProbe(t *testing.T) {
	needQEMU(t)
	// The real probe insists on KVM; the answer checking is the same.
	if err := probe(writeKernel(t, exitCode("", ProbeStatus)), "tcg"); err != nil {
		t.Errorf("probe of an answering kernel: %v", err)
	}
	err := probe(writeKernel(t, exitCode("", 42)), "tcg")
	if err == nil || !strings.Contains(err.Error(), "guest status 42") {
		t.Errorf("probe of a wrong answer = %v", err)
	}
}

// Guest code runs from the PVH entry: 32-bit protected mode, paging off.

const entry = 0x100000 // where the kernel's code is loaded and entered

// exitCode writes msg to COM1, then status to the debug-exit port.
func exitCode(msg string, status uint32) []byte {
	code := puts(msg)
	code = append(code, 0xb8) // mov $status,%eax
	code = binary.LittleEndian.AppendUint32(code, status)
	code = append(code, 0xe7, DebugExitPort)    // out %eax,$0xf4
	return append(code, 0xfa, 0xf4, 0xeb, 0xfd) // cli; 1: hlt; jmp 1b
}

// spin writes msg to COM1, then loops forever.
func spin(msg string) []byte {
	return append(puts(msg), 0xeb, 0xfe) // 1: jmp 1b
}

// tripleFault loads an empty IDT and raises #UD, which escalates to a
// triple fault and so a reset.
func tripleFault() []byte {
	code := []byte{0x0f, 0x01, 0x1d} // lidt idtr
	code = binary.LittleEndian.AppendUint32(code, entry+9)
	code = append(code, 0x0f, 0x0b)       // ud2
	return append(code, 0, 0, 0, 0, 0, 0) // idtr at entry+9: limit 0, base 0
}

func puts(msg string) []byte {
	code := []byte{0x66, 0xba, 0xf8, 0x03} // mov $0x3f8,%dx
	for _, c := range []byte(msg) {
		code = append(code, 0xb0, c, 0xee) // mov $c,%al; out %al,(%dx)
	}
	return code
}

// realModeExit is a boot sector's code (16-bit real mode, loaded at
// 0x7c00): it writes msg to COM1, then status to the debug-exit port.
func realModeExit(msg string, status byte) []byte {
	code := []byte{0xba, 0xf8, 0x03} // mov $0x3f8,%dx
	for _, c := range []byte(msg) {
		code = append(code, 0xb0, c, 0xee) // mov $c,%al; out %al,(%dx)
	}
	code = append(code, 0xb0, status, 0xe6, DebugExitPort) // mov $status,%al; out %al,$0xf4
	return append(code, 0xfa, 0xf4, 0xeb, 0xfd)            // cli; 1: hlt; jmp 1b
}

// writeDisk writes a 1 MiB raw disk whose boot sector holds code and
// returns its path.
func writeDisk(t *testing.T, code []byte) string {
	t.Helper()
	b := make([]byte, 1<<20)
	copy(b, code)
	b[510], b[511] = 0x55, 0xaa
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeKernel writes code as a minimal PVH kernel and returns its path.
func writeKernel(t *testing.T, code []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kernel.elf")
	if err := os.WriteFile(path, pvhELF(code), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// pvhELF builds an ELF64 executable holding code at physical address entry
// and a Xen PVH note naming entry as the 32-bit entry point, the note QEMU
// looks for to boot an ELF kernel directly.
func pvhELF(code []byte) []byte {
	const (
		ehdrSize = 64
		phdrSize = 56
		noteOff  = ehdrSize + 2*phdrSize
		noteSize = 12 + 4 + 8 // header, "Xen\0", 64-bit address as in Linux
		codeOff  = (noteOff + noteSize + 15) &^ 15
	)
	le := binary.LittleEndian
	b := make([]byte, codeOff+len(code))

	copy(b, "\x7fELF\x02\x01\x01") // 64-bit, little endian, version 1
	le.PutUint16(b[16:], 2)        // ET_EXEC
	le.PutUint16(b[18:], 62)       // EM_X86_64
	le.PutUint32(b[20:], 1)        // EV_CURRENT
	le.PutUint64(b[24:], entry)
	le.PutUint64(b[32:], ehdrSize) // program headers follow
	le.PutUint16(b[52:], ehdrSize)
	le.PutUint16(b[54:], phdrSize)
	le.PutUint16(b[56:], 2)

	phdr := func(i int, typ, flags uint32, off, addr, size, align uint64) {
		p := b[ehdrSize+i*phdrSize:]
		le.PutUint32(p[0:], typ)
		le.PutUint32(p[4:], flags)
		le.PutUint64(p[8:], off)
		le.PutUint64(p[16:], addr) // virtual
		le.PutUint64(p[24:], addr) // physical, used by QEMU
		le.PutUint64(p[32:], size) // in file
		le.PutUint64(p[40:], size) // in memory
		le.PutUint64(p[48:], align)
	}
	phdr(0, 1, 5, codeOff, entry, uint64(len(code)), 16) // PT_LOAD, R+X
	phdr(1, 4, 4, noteOff, 0, noteSize, 4)               // PT_NOTE, R

	n := b[noteOff:]
	le.PutUint32(n[0:], 4)  // name size
	le.PutUint32(n[4:], 8)  // descriptor size
	le.PutUint32(n[8:], 18) // XEN_ELFNOTE_PHYS32_ENTRY
	copy(n[12:], "Xen\x00")
	le.PutUint64(n[16:], entry)

	copy(b[codeOff:], code)
	return b
}

func ExampleArgs() {
	fmt.Println(strings.Join(Args(Config{Kernel: "gosv.elf"}, "tcg"), " "))
	// Output: qemu-system-x86_64 -M microvm,pit=on,pic=off,rtc=on,isa-serial=on -accel tcg -cpu max -m 128 -smp 1 -nodefaults -no-reboot -display none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel gosv.elf
}
