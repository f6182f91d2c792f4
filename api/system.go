package api

import "time"

// System is everything the API reads or changes. The kernel implements it
// (package api/kernelsys); tests use a fake. It is split by resource so a
// handler file depends only on the part it serves.
type System interface {
	OS
	Hardware
	Environment
	Network
	Filesystems
}

// OS is the /os resource.
type OS interface {
	Version() string
	Uptime() time.Duration
	Now() time.Time
	// Memory reports usable and free RAM in bytes.
	Memory() (total, free uint64)
	// Dmesg is the kernel log.
	Dmesg() string
	Hostname() string
	// SetHostname is called with a name the API has already validated
	// (see validHostname); an error is the system's and becomes a 500.
	SetHostname(name string) error
	Cmdline() string
	Threads() []Thread
	// Counters are the kernel's event counts since boot by name
	// ("context_switches"), for /os/stats/.
	Counters() map[string]uint64
	// PowerOff and Reboot act at once and need not return. The API calls
	// them only after the HTTP response has been sent.
	PowerOff()
	Reboot()
}

// Thread is one thread for /os/threads. Counters a system does not keep
// stay zero.
type Thread struct {
	ID          int
	Name        string
	CPU         int
	Status      string // one of OSv's: "waiting", "running", "queued", ...
	CPUTime     time.Duration
	Switches    uint64
	Migrations  uint64
	Preemptions uint64
	Priority    float64
	StackSize   uint64
	Wait        string // what a waiting thread waits for (gosv's), or ""
}

// Hardware is the /hardware resource.
type Hardware interface {
	CPUCount() int
	// CPUFlags are the processor's feature names, as in /proc/cpuinfo.
	CPUFlags() []string
	Hypervisor() string
	FirmwareVendor() string
}

// Environment is the /env resource: the environment of the process the
// API runs in.
type Environment interface {
	// Environ lists the variables as "NAME=value".
	Environ() []string
	Getenv(name string) (value string, ok bool)
	Setenv(name, value string) error
	Unsetenv(name string) error
}

// Network is the /network resource. The network stack owns the data; an
// error becomes a 500.
type Network interface {
	Interfaces() ([]Interface, error)
	Routes() ([]Route, error)
	// Stats are the stack's protocol counters by name ("tcp.resets_sent"),
	// as netstat -s shows them.
	Stats() (map[string]uint64, error)
}

// Interface is one network interface for /network/ifconfig.
type Interface struct {
	Name      string
	Addr      string // IPv4 address, dotted; "" when none
	Mask      string
	Broadcast string
	MAC       string // "52:54:00:12:34:56"; "" when the link has none
	Flags     []string
	MTU       int
	Stats     InterfaceStats
}

// InterfaceStats are an interface's counters since it came up.
type InterfaceStats struct {
	RxPackets, RxBytes, RxErrors, RxDropped uint64
	TxPackets, TxBytes, TxErrors            uint64
}

// Route is one routing table entry for /network/route.
type Route struct {
	Destination string // "0.0.0.0/0", "10.0.2.0/24"
	Gateway     string
	Flags       string // BSD netstat letters: "UG", "U", "UH"
	Interface   string
	IPv6        bool
}

// Filesystems is the /fs resource.
type Filesystems interface {
	// Filesystems lists the mounted file systems; an error becomes a 500.
	Filesystems() ([]FS, error)
}

// FS is one mounted file system's usage for /fs/df.
type FS struct {
	Device     string // what was mounted: "initrd", "ramfs"
	Mount      string // mount point: "/"
	Type       string
	BlockSize  uint64
	Blocks     uint64
	BlocksFree uint64
	Files      uint64
	FilesFree  uint64
}
