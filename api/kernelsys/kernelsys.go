// Package kernelsys implements api.System with the running gosv kernel:
// package kernel for the machine, the kernel process's environment for
// /env, and functions the boot sequence passes in for what other
// subsystems own (the network stack, mounted file systems).
//
// It works only inside the VM (package kernel's accessors disable
// interrupts); on a host only its pure helpers run.
package kernelsys

import (
	"fmt"
	"os"
	"time"

	"gosv/api"
	"gosv/kernel"
)

// Config carries what the kernel alone does not know. Nil functions
// report nothing (an empty list).
type Config struct {
	Interfaces  func() ([]api.Interface, error)
	Routes      func() ([]api.Route, error)
	Filesystems func() ([]api.FS, error)
	// NetStats returns the network stack's counters.
	NetStats func() map[string]uint64
	// FirmwareVendor names the firmware; "" reports "unknown" (gosv
	// does not read SMBIOS).
	FirmwareVendor string
}

// System is the kernel's api.System.
type System struct {
	cfg Config
}

var _ api.System = (*System)(nil)

// New returns the kernel's System.
func New(cfg Config) *System { return &System{cfg: cfg} }

func (s *System) Version() string       { return kernel.Version }
func (s *System) Uptime() time.Duration { return kernel.Uptime() }
func (s *System) Now() time.Time        { return time.Now() }

// Memory reports the machine's RAM (as OSv does: all of it, the kernel
// image included) and what is free.
func (s *System) Memory() (total, free uint64) {
	_, free = kernel.MemoryStats()
	return kernel.MemorySize(), free
}
func (s *System) Dmesg() string      { return string(kernel.Dmesg()) }
func (s *System) Hostname() string   { return kernel.Hostname() }
func (s *System) Cmdline() string    { return kernel.Cmdline() }
func (s *System) CPUCount() int      { return kernel.CPUCount() }
func (s *System) CPUFlags() []string { return kernel.DescribeCPU().Flags }
func (s *System) Hypervisor() string { return kernel.Hypervisor() }

// maxHostname is the kernel's host name buffer (uname's nodename).
const maxHostname = 64

// SetHostname refuses names the kernel would silently cut short.
func (s *System) SetHostname(name string) error {
	if len(name) > maxHostname {
		return fmt.Errorf("host name of %d bytes: the kernel keeps at most %d", len(name), maxHostname)
	}
	kernel.SetHostname(name)
	return nil
}

func (s *System) FirmwareVendor() string {
	if s.cfg.FirmwareVendor == "" {
		return "unknown"
	}
	return s.cfg.FirmwareVendor
}

// PowerOff exits with status 0, which the boot tests and gosvrun read as
// a clean stop.
func (s *System) PowerOff() { kernel.PowerOff(0) }
func (s *System) Reboot()   { kernel.Reboot() }

func (s *System) Threads() []api.Thread {
	kt := kernel.Threads()
	out := make([]api.Thread, 0, len(kt))
	for _, t := range kt {
		out = append(out, thread(t))
	}
	return out
}

// thread converts the kernel's description to the API's; the kernel does
// not count migrations or preemptions, so those stay zero.
func thread(t kernel.ThreadInfo) api.Thread {
	name := "runtime"
	if t.App {
		name = "app"
	}
	return api.Thread{ID: t.TID, Name: name, CPU: t.CPU, Status: osvStatus(t.State),
		CPUTime: t.CPUTime, Switches: t.Switches, Wait: t.Wait}
}

// osvStatus maps the kernel's thread states onto OSv's names.
func osvStatus(state string) string {
	switch state {
	case "runnable":
		return "queued" // ready, waiting for a CPU
	case "exiting":
		return "terminating"
	case "running", "waiting":
		return state
	}
	return "invalid"
}

// The environment is the kernel process's own.
func (s *System) Environ() []string                 { return os.Environ() }
func (s *System) Getenv(name string) (string, bool) { return os.LookupEnv(name) }
func (s *System) Setenv(name, value string) error   { return os.Setenv(name, value) }
func (s *System) Unsetenv(name string) error        { return os.Unsetenv(name) }

func (s *System) Interfaces() ([]api.Interface, error) { return call(s.cfg.Interfaces) }
func (s *System) Routes() ([]api.Route, error)         { return call(s.cfg.Routes) }
func (s *System) Filesystems() ([]api.FS, error)       { return call(s.cfg.Filesystems) }

func (s *System) Counters() map[string]uint64 { return kernel.CoreCounters() }

func (s *System) Stats() (map[string]uint64, error) {
	if s.cfg.NetStats == nil {
		return nil, nil
	}
	return s.cfg.NetStats(), nil
}

func call[T any](f func() ([]T, error)) ([]T, error) {
	if f == nil {
		return nil, nil
	}
	return f()
}
