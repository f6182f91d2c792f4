package procfs

import "time"

// Source is what procfs reads its files from: the kernel implements it.
// Methods are called while a file is generated (at the first read of an
// opened file, see the package comment), from any goroutine, so they must
// be safe for concurrent use. Slices they return are not modified.
type Source interface {
	// ExePath is the target of /proc/self/exe ("" if unknown: ENOENT).
	ExePath() string
	// Cmdline is the argument vector.
	Cmdline() []string
	// Environ is the environment, "KEY=value" strings.
	Environ() []string
	// Cwd is the working directory (the /proc/self/cwd target).
	Cwd() string
	// PID is the application's process ID (1). It must not change.
	PID() int
	// Threads lists the application's threads; the one whose TID is
	// PID is the main thread.
	Threads() []Thread
	// Maps lists the application's memory mappings, sorted by address.
	Maps() []Mapping
	// MemInfo describes the machine's memory.
	MemInfo() MemInfo
	// CPUs describes the CPUs, in processor number order.
	CPUs() []CPU
	// Uptime is the time since boot and the idle time summed over CPUs.
	Uptime() (up, idle time.Duration)
	// Mounts lists the mounted file systems, parents before children.
	Mounts() []Mount
	// Hostname is the host name.
	Hostname() string
	// LoadAvg is the 1, 5 and 15 minute load averages.
	LoadAvg() [3]float64
	// FDs lists the open file descriptors.
	FDs() []FD
	// StartTime is when the process started, in clock ticks (USER_HZ,
	// 100 per second) since boot.
	StartTime() uint64
}

// Uname is optionally implemented by a Source to give the kernel
// release and version that uname(2) reports, for /proc/version and
// /proc/sys/kernel/{osrelease,version}. Without it procfs uses
// DefaultRelease and DefaultVersion.
type Uname interface {
	Uname() (release, version string)
}

// Defaults for a Source without Uname (what gosv's uname reports).
const (
	DefaultRelease = "5.15.0-gosv"
	DefaultVersion = "#1 SMP gosv"
)

// UserHZ is the clock tick rate of every tick count procfs shows.
const UserHZ = 100

// Thread is one thread of the application.
type Thread struct {
	TID int
	// Name is the thread's comm (prctl PR_SET_NAME); "" for the main
	// thread means the executable's base name. It is cut to 15 bytes.
	Name string
	// State is Linux's state letter: 'R' running, 'S' sleeping, 'D'
	// disk sleep, 'T' stopped, 'Z' zombie... (0 means 'R').
	State byte
	// UserTicks and SysTicks are the CPU time used, in clock ticks.
	UserTicks, SysTicks uint64
	// CPU is the processor the thread last ran on.
	CPU int
}

// Mapping is one line of /proc/self/maps.
type Mapping struct {
	Start, End uint64
	// Perms is "rwxp"-style: read, write, execute, then 'p' private or
	// 's' shared.
	Perms  string
	Offset uint64
	// Dev is "major:minor" in hex ("" means "00:00").
	Dev   string
	Inode uint64
	// Path is the file name, or "[heap]", "[stack]", "[vdso]"..., or ""
	// for anonymous memory.
	Path string
}

// MemInfo is the machine's memory in KiB.
type MemInfo struct {
	TotalKiB, FreeKiB, AvailableKiB uint64
}

// CPU describes one processor for /proc/cpuinfo (and its ticks for
// /proc/stat). Zero values print as zero unless noted.
type CPU struct {
	Vendor    string // vendor_id, "GenuineIntel" ("" prints "unknown")
	Family    int    // cpu family
	Model     int    // model (the number)
	ModelName string // model name ("" prints "unknown")
	Stepping  int
	Microcode uint32  // 0 omits the line, as Linux does
	MHz       float64 // cpu MHz
	CacheKiB  int     // cache size; 0 omits the line, as Linux does
	// Topology. Siblings and Cores 0 mean the number of CPUs.
	PhysicalID, Siblings, CoreID, Cores, APICID int
	CPUIDLevel                                  int // maximum basic CPUID leaf
	Flags                                       []string
	Bugs                                        []string
	BogoMIPS                                    float64 // 0 means 2*MHz
	CLFlushSize, CacheAlignment                 int     // 0 means 64
	PhysBits, VirtBits                          int     // address sizes; 0 means 40 and 48
	// UserTicks, SysTicks and IdleTicks are this CPU's times in clock
	// ticks for /proc/stat. If they are zero for every CPU, /proc/stat
	// derives the totals from Threads and Uptime and splits them
	// evenly across CPUs.
	UserTicks, SysTicks, IdleTicks uint64
}

// Mount is one mounted file system.
type Mount struct {
	Device, Path, Type string
	// Options is Linux's comma-separated list, "rw,nosuid,relatime" ("" means "rw").
	Options string
}

// FD is one open file descriptor: /proc/self/fd/Num links to Target
// ("/dev/console", "pipe:[12]", "socket:[34]", "anon_inode:[eventfd]"...).
type FD struct {
	Num    int
	Target string
}
