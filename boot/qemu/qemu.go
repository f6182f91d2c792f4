// Package qemu boots a gosv kernel image under QEMU and reports what the
// guest said on its serial console and which status it exited with.
//
// The guest reports a status by writing a value v to I/O port 0xf4, where an
// isa-debug-exit device makes QEMU exit with code (v<<1)|1. Only the low
// eight bits of an exit code survive, so statuses 0..127 are reliable.
package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// Binary is the QEMU executable, looked up in $PATH.
const Binary = "qemu-system-x86_64"

// EnvAccel names the environment variable consulted when Config.Accel is
// empty, so boot tests and `make run` can be forced to one accelerator.
const EnvAccel = "GOSV_ACCEL"

// DebugExitPort is the I/O port of the isa-debug-exit device.
const DebugExitPort = 0xf4

// ErrNoQEMU is returned when QEMU is not installed. Boot tests can skip on it.
var ErrNoQEMU = errors.New(Binary + " not found in $PATH (on Debian: apt-get install qemu-system-x86)")

// Config describes one boot. Zero fields take the documented defaults.
type Config struct {
	Kernel  string // ELF image with a PVH note; required unless Disk is given
	Initrd  string // optional, with Kernel
	Cmdline string // kernel command line, optional, with Kernel

	// Disk is a raw disk image attached as the first IDE disk (machines
	// pc and q35). Without a Kernel the machine boots from it through
	// its BIOS (SeaBIOS, also on q35), as with a boot loader such as GRUB.
	Disk string

	Machine  string        // "microvm" (default), "q35" or "pc"
	Accel    string        // "auto", "kvm" or "tcg"; empty means $GOSV_ACCEL, else "auto"
	MemoryMB int           // default 128
	CPUs     int           // default 1
	Timeout  time.Duration // default 60s; QEMU is killed when it expires

	// NICs are virtio-net devices, in order (the guest's eth0, eth1...).
	NICs []NIC
	// Wrapper is a command QEMU runs under, such as
	// {"ip", "netns", "exec", "ns1"} to reach a namespace's tap device.
	Wrapper []string

	ExtraArgs []string // appended last, so they can add devices or override

	// NoDebugExit leaves out the isa-debug-exit device, so the guest
	// must power off the way it would on a real machine (ACPI).
	NoDebugExit bool

	// Console, if set, receives the serial output as it arrives, for
	// example os.Stdout for an interactive run. Stderr likewise receives
	// QEMU's own messages, which matter most when the VM hangs (such as a
	// "KVM internal error"). Both are written from other goroutines.
	Console io.Writer
	Stderr  io.Writer

	// OnStart, if set, is called just before QEMU starts, so a caller can
	// say which accelerator was chosen and why before a long run.
	OnStart func(accel, reason string, args []string)
	// Started, if set, is called with QEMU's process id once it runs (under
	// a Wrapper that execs, such as ip netns exec, it is QEMU's own), so a
	// benchmark can read the process's CPU time.
	Started func(pid int)
}

// Result is what a boot produced.
type Result struct {
	Serial      string        // everything the guest wrote to COM1
	Stderr      string        // QEMU's own messages
	GuestStatus int           // the value written to the debug-exit port
	Exited      bool          // the guest exited through the debug-exit port
	ExitCode    int           // QEMU's raw exit code; -1 if it was killed
	Accel       string        // "kvm" or "tcg"
	AccelReason string        // why that accelerator was chosen
	Elapsed     time.Duration // QEMU's run time, excluding any KVM probe
	Args        []string      // the QEMU command line, program name first
}

// Error is returned by Run when QEMU ran but did not report a guest status:
// it timed out, was cancelled or failed. The output so far is kept because
// it is usually what explains the failure.
type Error struct {
	Msg    string // what happened to QEMU, such as "timed out after 2s"
	Err    error  // the underlying cause for errors.Is, or nil
	Serial string
	Stderr string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("qemu: " + e.Msg)
	if e.Stderr != "" {
		b.WriteString("\nqemu stderr:\n" + tail(e.Stderr))
	}
	if e.Serial == "" {
		b.WriteString("\n(no serial output)")
	} else {
		b.WriteString("\nserial output so far:\n" + tail(e.Serial))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Run boots cfg.Kernel, or from cfg.Disk, and waits until QEMU exits or
// the timeout expires. A guest that exits through the debug-exit port, or
// powers off, is a success whatever its status; the caller judges the
// status. When QEMU ran, the Result is returned even with an error,
// holding the output so far.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath(Binary); err != nil {
		return nil, ErrNoQEMU
	}
	accel, reason := ChooseAccel(cfg.Kernel, cfg.Accel)
	if cfg.OnStart != nil {
		cfg.OnStart(accel, reason, Args(cfg, accel))
	}
	res, err := run(ctx, cfg, accel)
	if res != nil {
		res.Accel, res.AccelReason = accel, reason
	}
	return res, err
}

// Args returns the QEMU command line, program name first, for booting cfg
// with the given accelerator ("kvm" or "tcg"). It does not check cfg.
func Args(cfg Config, accel string) []string {
	cfg = cfg.withDefaults()
	a := []string{Binary}
	switch cfg.Machine {
	case "microvm":
		// No 8259: interrupts go through the I/O APIC. Keep the PIT and RTC
		// for timekeeping and COM1 for the console.
		a = append(a, "-M", "microvm,pit=on,pic=off,rtc=on,isa-serial=on")
	case "q35":
		// qboot boots in a fraction of SeaBIOS's time. QEMU finds it by
		// name in its firmware directory (/usr/share/qemu on Debian).
		// It only boots -kernel, so a disk boot keeps SeaBIOS.
		a = append(a, "-M", "q35")
		if cfg.Kernel != "" {
			a = append(a, "-bios", "qboot.rom")
		}
	default:
		a = append(a, "-M", cfg.Machine)
	}
	if accel == "kvm" {
		a = append(a, "-accel", "kvm", "-cpu", "host")
	} else {
		tcg := "tcg"
		if cfg.CPUs > 1 {
			tcg += ",thread=multi" // one host thread per vCPU
		}
		a = append(a, "-accel", tcg, "-cpu", "max")
	}
	a = append(a,
		"-m", fmt.Sprint(cfg.MemoryMB),
		"-smp", fmt.Sprint(cfg.CPUs),
		// Only the devices asked for; a reset (such as a triple fault)
		// ends the run instead of looping; no window.
		"-nodefaults", "-no-reboot", "-display", "none",
		"-serial", "stdio",
	)
	if !cfg.NoDebugExit {
		a = append(a, "-device", fmt.Sprintf("isa-debug-exit,iobase=%#x,iosize=4", DebugExitPort))
	}
	if cfg.Kernel != "" {
		a = append(a, "-kernel", cfg.Kernel)
	}
	if cfg.Initrd != "" {
		a = append(a, "-initrd", cfg.Initrd)
	}
	if cfg.Cmdline != "" {
		a = append(a, "-append", cfg.Cmdline)
	}
	if cfg.Disk != "" {
		a = append(a, "-drive", "file="+escapeOpt(cfg.Disk)+",format=raw,if=ide")
	}
	for i, n := range cfg.NICs {
		a = append(a, n.args(i, cfg.Machine)...)
	}
	return append(a, cfg.ExtraArgs...)
}

// NIC is a virtio-net device and its host side.
type NIC struct {
	// Tap is the host tap interface to attach; empty means QEMU user
	// networking (the guest at 10.0.2.15 behind QEMU's NAT, DHCP from
	// 10.0.2.2).
	Tap string
	// HostForward lists user-networking forwards, QEMU syntax, such as
	// "tcp:127.0.0.1:8000-:8000".
	HostForward []string
	// Transport: "" (virtio-mmio on microvm, PCI elsewhere), "pci"
	// (transitional: modern and legacy), "pci-modern", "pci-legacy",
	// "pci-intx" (no MSI-X, so the INTx line through the I/O APIC),
	// "mmio" (virtio-mmio version 1, QEMU's default) or "mmio-v2".
	Transport string
	// MAC, optional ("52:54:00:12:34:56").
	MAC string
}

func (n NIC) args(i int, machine string) []string {
	id := fmt.Sprintf("net%d", i)
	var backend string
	if n.Tap != "" {
		backend = "tap,id=" + id + ",ifname=" + escapeOpt(n.Tap) + ",script=no,downscript=no"
	} else {
		backend = "user,id=" + id
		for _, f := range n.HostForward {
			backend += ",hostfwd=" + escapeOpt(f)
		}
	}
	t := n.Transport
	if t == "" {
		t = "pci"
		if machine == "microvm" {
			t = "mmio"
		}
	}
	dev := "virtio-net-pci,netdev=" + id
	var extra []string
	switch t {
	case "pci-modern":
		dev += ",disable-legacy=on,disable-modern=off"
	case "pci-legacy":
		dev += ",disable-modern=on"
	case "pci-intx":
		dev += ",vectors=0" // no MSI-X: the legacy interrupt line
	case "mmio":
		dev = "virtio-net-device,netdev=" + id
	case "mmio-v2":
		dev = "virtio-net-device,netdev=" + id
		extra = []string{"-global", "virtio-mmio.force-legacy=false"}
	}
	if n.MAC != "" {
		dev += ",mac=" + n.MAC
	}
	return append([]string{"-netdev", backend, "-device", dev}, extra...)
}

func (c Config) withDefaults() Config {
	if c.Machine == "" {
		c.Machine = "microvm"
	}
	if c.Accel == "" {
		c.Accel = os.Getenv(EnvAccel)
	}
	if c.Accel == "" {
		c.Accel = "auto"
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = 128
	}
	if c.CPUs == 0 {
		c.CPUs = 1
	}
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Kernel == "" && c.Disk == "":
		return errors.New("qemu: no kernel or disk given")
	case c.Kernel == "" && (c.Initrd != "" || c.Cmdline != ""):
		return errors.New("qemu: an initrd or command line needs a kernel (a disk's boot loader has its own)")
	case c.Disk != "" && c.Machine == "microvm":
		return errors.New("qemu: machine microvm has no IDE disk; boot a disk on pc or q35")
	case c.Machine != "microvm" && c.Machine != "q35" && c.Machine != "pc":
		return fmt.Errorf("qemu: unknown machine %q (want microvm, q35 or pc)", c.Machine)
	case c.Accel != "auto" && c.Accel != "kvm" && c.Accel != "tcg":
		return fmt.Errorf("qemu: unknown accelerator %q (want auto, kvm or tcg)", c.Accel)
	case c.MemoryMB < 0 || c.CPUs < 0 || c.Timeout < 0:
		return errors.New("qemu: memory, CPUs and timeout must not be negative")
	}
	// Checked here because a missing kernel would otherwise first show up
	// as a failed KVM probe.
	if c.Kernel != "" {
		if _, err := os.Stat(c.Kernel); err != nil {
			return fmt.Errorf("qemu: kernel: %w", err)
		}
	}
	if c.Disk != "" {
		if _, err := os.Stat(c.Disk); err != nil {
			return fmt.Errorf("qemu: disk: %w", err)
		}
	}
	return nil
}

// run boots cfg, already defaulted and checked, with the given accelerator.
func run(ctx context.Context, cfg Config, accel string) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	args := append(slices.Clone(cfg.Wrapper), Args(cfg, accel)...)
	var serial, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	// Stdin stays /dev/null: given a terminal, QEMU would switch it to raw mode.
	cmd.Stdout = teeTo(&serial, cfg.Console)
	cmd.Stderr = teeTo(&stderr, cfg.Stderr)
	cmd.WaitDelay = time.Second // don't hang on pipes if QEMU is killed

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	if cfg.Started != nil {
		cfg.Started(cmd.Process.Pid)
	}
	waitErr := cmd.Wait()
	res := &Result{
		Serial:   serial.String(),
		Stderr:   stderr.String(),
		ExitCode: cmd.ProcessState.ExitCode(),
		Elapsed:  time.Since(start),
		Args:     args,
	}
	fail := func(msg string, err error) (*Result, error) {
		return res, &Error{Msg: msg, Err: err, Serial: res.Serial, Stderr: res.Stderr}
	}

	status, exited, err := decodeExit(res.ExitCode, res.Stderr)
	switch {
	case exited:
		// The guest's answer stands even if the context ended meanwhile.
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fail(fmt.Sprintf("timed out after %v", res.Elapsed.Round(time.Millisecond)), ctx.Err())
	case ctx.Err() != nil:
		return fail("cancelled", ctx.Err())
	case err != nil:
		return fail(err.Error(), waitErr)
	}
	res.GuestStatus, res.Exited = status, exited
	return res, nil
}

// decodeExit interprets QEMU's exit code. An odd code (v<<1)|1 comes from
// the debug-exit port. But QEMU also exits with 1 on its own errors, so 1
// means guest status 0 only when QEMU printed nothing but warnings. Code 0
// is a shutdown without debug-exit: the guest powered off, or it reset
// (such as a triple fault), which -no-reboot turns into a shutdown; unless
// QEMU says a signal, such as a Ctrl-C in the terminal, stopped it.
func decodeExit(code int, stderr string) (status int, exited bool, err error) {
	switch {
	case code < 0 || code == 0 && strings.Contains(stderr, "terminating on signal"):
		return 0, false, errors.New("terminated by a signal")
	case code == 1 && hasError(stderr):
		return 0, false, errors.New("failed with exit code 1")
	case code&1 == 1:
		return code >> 1, true, nil
	case code == 0:
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("failed with exit code %d", code)
}

// hasError reports whether QEMU's stderr holds anything but warnings.
func hasError(stderr string) bool {
	for _, line := range strings.Split(stderr, "\n") {
		if strings.TrimSpace(line) != "" && !strings.Contains(line, "warning:") {
			return true
		}
	}
	return false
}

// teeTo returns buf, also copying to w when w is set. Copies to w are best
// effort: a broken console must not stop the serial capture.
func teeTo(buf *bytes.Buffer, w io.Writer) io.Writer {
	if w == nil {
		return buf
	}
	return &tee{buf, w}
}

type tee struct {
	buf *bytes.Buffer
	w   io.Writer
}

func (t *tee) Write(p []byte) (int, error) {
	_, _ = t.w.Write(p) // best effort, see teeTo
	return t.buf.Write(p)
}

// escapeOpt escapes s for a QEMU option value, where a comma is doubled.
func escapeOpt(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// tail keeps the last few KiB of s, so an error stays readable even after
// a chatty boot; the full text is in the Result.
func tail(s string) string {
	const max = 8 << 10
	if len(s) <= max {
		return s
	}
	s = s[len(s)-max:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "...\n" + s
}

// ConsoleBuffer collects a guest's serial output for Config.Console,
// which QEMU's output goroutine writes while others read it.
type ConsoleBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (c *ConsoleBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.Write(p)
}

// String is everything written so far.
func (c *ConsoleBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}
