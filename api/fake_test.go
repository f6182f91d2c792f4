package api

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"time"
)

// fakeSystem is a System held in memory. It records power actions and
// fails the calls named in fail.
type fakeSystem struct {
	mu        sync.Mutex
	hostname  string
	env       map[string]string
	poweroffs int
	reboots   int
	fail      map[string]bool // "SetHostname", "Interfaces", "Routes", "Filesystems", "Setenv"
}

var errFake = errors.New("fake failure")

func newFake() *fakeSystem {
	return &fakeSystem{hostname: "gosv", env: map[string]string{"HOME": "/", "PATH": "/bin"}, fail: map[string]bool{}}
}

var fakeBoot = time.Date(2026, time.March, 3, 14, 0, 0, 0, time.UTC)

func (f *fakeSystem) Version() string              { return "0.1.0" }
func (f *fakeSystem) Uptime() time.Duration        { return 90*time.Second + 500*time.Millisecond }
func (f *fakeSystem) Now() time.Time               { return fakeBoot.Add(f.Uptime()) }
func (f *fakeSystem) Memory() (total, free uint64) { return 128 << 20, 100 << 20 }
func (f *fakeSystem) Dmesg() string                { return "gosv v0.1\nbooted\n" }
func (f *fakeSystem) Cmdline() string              { return "--verbose app" }
func (f *fakeSystem) CPUCount() int                { return 2 }
func (f *fakeSystem) CPUFlags() []string           { return []string{"fpu", "sse2", "lm"} }
func (f *fakeSystem) Hypervisor() string           { return "KVMKVMKVM" }
func (f *fakeSystem) FirmwareVendor() string       { return "SeaBIOS" }
func (f *fakeSystem) Threads() []Thread            { return fakeThreads }
func (f *fakeSystem) Counters() map[string]uint64 {
	return map[string]uint64{"context_switches": 9, "syscalls": 120}
}
func (f *fakeSystem) Interfaces() ([]Interface, error) {
	return fakeInterfaces, f.failure("Interfaces")
}
func (f *fakeSystem) Routes() ([]Route, error) { return fakeRoutes, f.failure("Routes") }
func (f *fakeSystem) Stats() (map[string]uint64, error) {
	return map[string]uint64{"tcp.resets_sent": 3}, f.failure("Stats")
}
func (f *fakeSystem) Filesystems() ([]FS, error) { return fakeFS, f.failure("Filesystems") }
func (f *fakeSystem) Getenv(name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.env[name]
	return v, ok
}

func (f *fakeSystem) failure(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[call] {
		return errFake
	}
	return nil
}

func (f *fakeSystem) Hostname() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hostname
}

func (f *fakeSystem) SetHostname(name string) error {
	if err := f.failure("SetHostname"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hostname = name
	return nil
}

func (f *fakeSystem) Environ() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, k := range slices.Sorted(maps.Keys(f.env)) {
		out = append(out, k+"="+f.env[k])
	}
	return out
}

func (f *fakeSystem) Setenv(name, value string) error {
	if err := f.failure("Setenv"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.env[name] = value
	return nil
}

func (f *fakeSystem) Unsetenv(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.env, name)
	return nil
}

func (f *fakeSystem) PowerOff() { f.mu.Lock(); f.poweroffs++; f.mu.Unlock() }
func (f *fakeSystem) Reboot()   { f.mu.Lock(); f.reboots++; f.mu.Unlock() }

var fakeThreads = []Thread{
	{ID: 1, Name: "runtime", CPU: 0, Status: "running", CPUTime: 1500 * time.Millisecond, Switches: 42},
	{ID: 7, Name: "app", CPU: 1, Status: "waiting", CPUTime: 3 * time.Millisecond, Switches: 5, Migrations: 1, Wait: "server:0"},
}

var fakeInterfaces = []Interface{
	{Name: "lo", Addr: "127.0.0.1", Mask: "255.0.0.0", Flags: []string{"UP", "LOOPBACK", "RUNNING"}, MTU: 65536},
	{Name: "eth0", Addr: "10.0.2.15", Mask: "255.255.255.0", Broadcast: "10.0.2.255", MAC: "52:54:00:12:34:56",
		Flags: []string{"UP", "BROADCAST", "RUNNING"}, MTU: 1500,
		Stats: InterfaceStats{RxPackets: 10, RxBytes: 1000, RxErrors: 1, RxDropped: 2, TxPackets: 20, TxBytes: 2000, TxErrors: 3}},
}

var fakeRoutes = []Route{
	{Destination: "0.0.0.0/0", Gateway: "10.0.2.2", Flags: "UG", Interface: "eth0"},
	{Destination: "10.0.2.0/24", Flags: "U", Interface: "eth0"},
}

var fakeFS = []FS{
	{Device: "initrd", Mount: "/", Type: "ramfs", BlockSize: 4096, Blocks: 100, BlocksFree: 10, Files: 50, FilesFree: 5},
	{Device: "tmpfs", Mount: "/tmp/data", Type: "tmpfs", BlockSize: 4096, Blocks: 200, BlocksFree: 200, Files: 0, FilesFree: 0},
}
