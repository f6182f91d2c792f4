package qemu

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ProbeStatus is the guest status a kernel booted with the command line
// "--probe" writes at once, to show it runs under the accelerator.
const ProbeStatus = 0x5A

// probeTimeout bounds the KVM probe. A kernel that KVM cannot run does not
// fail cleanly: QEMU reports "KVM internal error" and the VM hangs.
const probeTimeout = 5 * time.Second

// ChooseAccel picks the accelerator for kernel. A forced "kvm" or "tcg" is
// taken as is; anything else means auto: KVM only if /dev/kvm opens
// read-write and a probe boot of this very kernel under KVM answers with
// ProbeStatus, because some hosts offer a /dev/kvm (nested "kvm_pvm") that
// cannot run it. The probe runs once per kernel path per process. With no
// kernel to probe (a disk boot), auto means TCG.
func ChooseAccel(kernel, forced string) (accel, reason string) {
	return defaultChooser.choose(kernel, forced)
}

var defaultChooser = &chooser{
	openKVM: openKVM,
	probe:   func(kernel string) error { return probe(kernel, "kvm") },
}

// chooser holds ChooseAccel's dependencies, so tests can replace them.
type chooser struct {
	openKVM func() error
	probe   func(kernel string) error

	mu     sync.Mutex
	probed map[string]*probeResult // by absolute kernel path
}

type probeResult struct {
	once          sync.Once
	accel, reason string
}

func (c *chooser) choose(kernel, forced string) (string, string) {
	if forced == "kvm" || forced == "tcg" {
		return forced, "requested"
	}
	if err := c.openKVM(); err != nil {
		return "tcg", "/dev/kvm not usable: " + err.Error()
	}
	if kernel == "" {
		return "tcg", "no kernel to probe KVM with (disk boot); use accel kvm to force it"
	}

	key, err := filepath.Abs(kernel)
	if err != nil {
		key = kernel
	}
	c.mu.Lock()
	if c.probed == nil {
		c.probed = make(map[string]*probeResult)
	}
	p := c.probed[key]
	if p == nil {
		p = new(probeResult)
		c.probed[key] = p
	}
	c.mu.Unlock()

	// Concurrent callers for one kernel wait for a single probe.
	p.once.Do(func() {
		if err := c.probe(kernel); err != nil {
			p.accel, p.reason = "tcg", "KVM probe failed: "+err.Error()
		} else {
			p.accel, p.reason = "kvm", "KVM probe passed"
		}
	})
	return p.accel, p.reason
}

// openKVM checks that /dev/kvm can be opened the way QEMU opens it.
func openKVM() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return pe.Err // the path is already in the reason
		}
		return err
	}
	return f.Close()
}

// probe boots kernel with "--probe" under accel and checks that it answers
// with ProbeStatus. The error is a single line, fit for a reason string.
func probe(kernel, accel string) error {
	cfg := Config{Kernel: kernel, Cmdline: "--probe", Timeout: probeTimeout}.withDefaults()
	res, err := run(context.Background(), cfg, accel)
	var qe *Error
	switch {
	case errors.As(err, &qe):
		if line := firstLine(qe.Stderr); line != "" {
			return fmt.Errorf("%s (%s)", qe.Msg, line)
		}
		return errors.New(qe.Msg)
	case err != nil:
		return err
	case !res.Exited:
		return errors.New("guest powered off without answering")
	case res.GuestStatus != ProbeStatus:
		return fmt.Errorf("guest status %d, want %d", res.GuestStatus, ProbeStatus)
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
