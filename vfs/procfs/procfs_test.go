package procfs_test

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gosv/vfs"
	"gosv/vfs/devfs"
	"gosv/vfs/procfs"
	"gosv/vfs/sysfs"
	"gosv/vfs/vfstest"
)

const exe = "/usr/bin/my-very-long-application-name"

// fake is a Source whose answers tests may change.
type fake struct {
	mu      sync.Mutex
	threads []procfs.Thread
	fds     []procfs.FD
	maps    []procfs.Mapping
	host    string
	up      time.Duration
}

func newFake() *fake {
	return &fake{
		threads: []procfs.Thread{
			{TID: 1, State: 'S', UserTicks: 150, SysTicks: 30, CPU: 0},
			{TID: 7, Name: "wor\\ker\tthread-name-long", State: 'R', UserTicks: 20, SysTicks: 5, CPU: 1},
			{TID: 3, Name: "gc", State: 'S', UserTicks: 1, SysTicks: 2, CPU: 1},
		},
		fds: []procfs.FD{
			{Num: 0, Target: "/dev/console"},
			{Num: 1, Target: "/dev/console"},
			{Num: 2, Target: "/dev/console"},
			{Num: 10, Target: "pipe:[5]"},
			{Num: 3, Target: "/etc/hosts"},
		},
		maps: []procfs.Mapping{
			{Start: 0x400000, End: 0x401000, Perms: "r--p", Offset: 0, Dev: "fd:01", Inode: 1234, Path: exe},
			{Start: 0x401000, End: 0x405000, Perms: "r-xp", Offset: 0x1000, Dev: "fd:01", Inode: 1234, Path: exe},
			{Start: 0x405000, End: 0x406000, Perms: "rw-p", Offset: 0x5000, Dev: "fd:01", Inode: 1234, Path: exe},
			{Start: 0x406000, End: 0x427000, Perms: "rw-p", Path: "[heap]"},
			{Start: 0x7f0000000000, End: 0x7f0004000000, Perms: "rw-p"},
			{Start: 0x7f0004000000, End: 0x7f0004001000, Perms: "r--s", Offset: 0x123000, Dev: "00:05", Inode: 99, Path: "/tmp/odd\nname"},
			{Start: 0x7ffc00000000, End: 0x7ffc00021000, Perms: "rw-p", Path: "[stack]"},
			{Start: 0x7ffc000fe000, End: 0x7ffc00100000, Perms: "r-xp", Path: "[vdso]"},
		},
		host: "testhost",
		up:   12345678 * time.Millisecond,
	}
}

func (f *fake) ExePath() string   { return exe }
func (f *fake) Cmdline() []string { return []string{exe, "-v", "", "arg two"} }
func (f *fake) Environ() []string { return []string{"HOME=/", "PATH=/bin"} }
func (f *fake) Cwd() string       { return "/work" }
func (f *fake) PID() int          { return 1 }
func (f *fake) Threads() []procfs.Thread {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.threads
}
func (f *fake) Maps() []procfs.Mapping {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maps
}
func (f *fake) MemInfo() procfs.MemInfo {
	return procfs.MemInfo{TotalKiB: 131072, FreeKiB: 100000, AvailableKiB: 110000}
}
func (f *fake) CPUs() []procfs.CPU {
	c := procfs.CPU{
		Vendor: "GenuineIntel", Family: 6, Model: 85, ModelName: "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz",
		Stepping: 4, Microcode: 0x1, MHz: 2399.9996, CacheKiB: 16384, CPUIDLevel: 13,
		Flags: []string{"fpu", "vme", "de", "pse", "tsc"}, Bugs: []string{"spectre_v1"},
		PhysBits: 46, VirtBits: 48,
	}
	c1 := c
	c1.CoreID, c1.APICID, c1.Microcode, c1.CacheKiB, c1.Bugs, c1.BogoMIPS = 1, 1, 0, 0, nil, 4800.123
	return []procfs.CPU{c, c1}
}
func (f *fake) Uptime() (time.Duration, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.up, 23456789 * time.Millisecond
}
func (f *fake) Mounts() []procfs.Mount {
	return []procfs.Mount{
		{Device: "rootfs", Path: "/", Type: "rootfs", Options: "rw"},
		{Device: "proc", Path: "/proc", Type: "proc", Options: "rw,nosuid,nodev,noexec,relatime"},
		{Device: "devtmpfs", Path: "/dev", Type: "devtmpfs", Options: "rw,nosuid,size=4k,mode=755"},
		{Device: "tmpfs", Path: "/dev/shm", Type: "tmpfs", Options: "nosuid,nodev"},
		{Device: "", Path: "/tmp/with space", Type: "ramfs", Options: ""},
		{Device: "sysfs", Path: "/sys", Type: "sysfs", Options: "ro"},
		{Device: "x", Path: "/devx", Type: "weirdfs", Options: "rw"},
	}
}
func (f *fake) Hostname() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.host
}
func (f *fake) LoadAvg() [3]float64 { return [3]float64{0.5, 0.25, 0.125} }
func (f *fake) FDs() []procfs.FD {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fds
}
func (f *fake) StartTime() uint64 { return 42 }

type emptyDir struct{}

func (emptyDir) Stat() (vfs.Stat, error) {
	return vfs.Stat{Mode: vfs.S_IFDIR | 0o755, Ino: 1, Nlink: 2}, nil
}
func (emptyDir) ReadAt(p []byte, off int64) (int, error) { return 0, syscall.EISDIR }
func (emptyDir) Readdir() ([]vfs.Dirent, error)          { return nil, nil }
func (emptyDir) Lookup(name string) (vfs.Node, error)    { return nil, syscall.ENOENT }
func (emptyDir) Readlink() (string, error)               { return "", syscall.EINVAL }

// setup mounts the synthetic file systems as the kernel does.
func setup(t *testing.T, src procfs.Source) *vfs.FS {
	t.Helper()
	fs := &vfs.FS{}
	for _, m := range []struct {
		p string
		n vfs.Node
	}{
		{"/", emptyDir{}},
		{"/proc", procfs.New(src)},
		{"/dev", devfs.New()},
		{"/sys", sysfs.New(sysfs.SysSource{CPUs: 2})},
	} {
		if err := fs.Mount(m.p, m.n); err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

func resolve(t *testing.T, fs *vfs.FS, p string) vfs.Node {
	t.Helper()
	n, err := fs.Resolve("/", p, true)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// readAll reads n in pieces of size bytes, as a program with a small
// buffer does.
func readAll(n vfs.Node, size int) (string, error) {
	var out []byte
	buf := make([]byte, size)
	for off := int64(0); ; {
		k, err := n.ReadAt(buf, off)
		out = append(out, buf[:k]...)
		off += int64(k)
		if err == io.EOF {
			return string(out), nil
		}
		if err != nil {
			return string(out), err
		}
	}
}

func read(t *testing.T, fs *vfs.FS, p string) string {
	t.Helper()
	s, err := readAll(resolve(t, fs, p), 7)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return s
}

func TestTree(t *testing.T) {
	got, err := vfstest.Dump(procfs.New(newFake()))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/ 040555 nlink=4",
		"/1/ 040555 nlink=4",
		`/1/cmdline 0100444 nlink=1 size=0 ""`,
		`/1/comm 0100644 nlink=1 size=0 ""`,
		"/1/cwd 0120777 -> /work",
		`/1/environ 0100400 nlink=1 size=0 ""`,
		"/1/exe 0120777 -> " + exe,
		"/1/fd/ 040500 nlink=2",
		"/1/fd/0 0120700 -> /dev/console",
		"/1/fd/1 0120700 -> /dev/console",
		"/1/fd/2 0120700 -> /dev/console",
		"/1/fd/3 0120700 -> /etc/hosts",
		"/1/fd/10 0120700 -> pipe:[5]",
		`/1/maps 0100444 nlink=1 size=0 ""`,
		`/1/mountinfo 0100444 nlink=1 size=0 ""`,
		`/1/mounts 0100444 nlink=1 size=0 ""`,
		"/1/root 0120777 -> /",
		`/1/stat 0100444 nlink=1 size=0 ""`,
		`/1/statm 0100444 nlink=1 size=0 ""`,
		`/1/status 0100444 nlink=1 size=0 ""`,
		"/1/task/ 040555 nlink=5",
		"/1/task/1/ 040555 nlink=2",
		`/1/task/1/comm 0100644 nlink=1 size=0 ""`,
		`/1/task/1/stat 0100444 nlink=1 size=0 ""`,
		`/1/task/1/status 0100444 nlink=1 size=0 ""`,
		"/1/task/3/ 040555 nlink=2",
		`/1/task/3/comm 0100644 nlink=1 size=0 ""`,
		`/1/task/3/stat 0100444 nlink=1 size=0 ""`,
		`/1/task/3/status 0100444 nlink=1 size=0 ""`,
		"/1/task/7/ 040555 nlink=2",
		`/1/task/7/comm 0100644 nlink=1 size=0 ""`,
		`/1/task/7/stat 0100444 nlink=1 size=0 ""`,
		`/1/task/7/status 0100444 nlink=1 size=0 ""`,
		`/cpuinfo 0100444 nlink=1 size=0 ""`,
		`/filesystems 0100444 nlink=1 size=0 ""`,
		`/loadavg 0100444 nlink=1 size=0 ""`,
		`/meminfo 0100444 nlink=1 size=0 ""`,
		"/mounts 0120777 -> self/mounts",
		"/self 0120777 -> 1",
		`/stat 0100444 nlink=1 size=0 ""`,
		"/sys/ 040555 nlink=5",
		"/sys/kernel/ 040555 nlink=3",
		`/sys/kernel/domainname 0100644 nlink=1 size=0 ""`,
		`/sys/kernel/hostname 0100644 nlink=1 size=0 ""`,
		`/sys/kernel/osrelease 0100444 nlink=1 size=0 ""`,
		`/sys/kernel/ostype 0100444 nlink=1 size=0 ""`,
		`/sys/kernel/pid_max 0100644 nlink=1 size=0 ""`,
		"/sys/kernel/random/ 040555 nlink=2",
		`/sys/kernel/random/boot_id 0100444 nlink=1 size=0 ""`,
		`/sys/kernel/random/entropy_avail 0100444 nlink=1 size=0 ""`,
		`/sys/kernel/random/uuid 0100444 nlink=1 size=0 ""`,
		`/sys/kernel/version 0100444 nlink=1 size=0 ""`,
		"/sys/net/ 040555 nlink=3",
		"/sys/net/core/ 040555 nlink=2",
		`/sys/net/core/somaxconn 0100644 nlink=1 size=0 ""`,
		"/sys/vm/ 040555 nlink=2",
		`/sys/vm/max_map_count 0100644 nlink=1 size=0 ""`,
		`/sys/vm/overcommit_memory 0100644 nlink=1 size=0 ""`,
		`/uptime 0100444 nlink=1 size=0 ""`,
		`/version 0100444 nlink=1 size=0 ""`,
	}
	if d := vfstest.Diff(want, got); d != "" {
		t.Errorf("tree (-want +got):\n%s", d)
	}
}

// Every node has its own inode number, the same every time, and listings
// are sorted with increasing Off cookies.
func TestInodesAndOffsets(t *testing.T) {
	root := procfs.New(newFake())
	walk := func() map[string]uint64 {
		inos := map[string]uint64{}
		seen := map[uint64]string{}
		var walk func(p string, n vfs.Node)
		walk = func(p string, n vfs.Node) {
			st, err := n.Stat()
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if q, ok := seen[st.Ino]; ok {
				t.Errorf("%s and %s share inode %d", p, q, st.Ino)
			}
			seen[st.Ino] = p
			inos[p] = st.Ino
			if !st.IsDir() {
				return
			}
			ents, err := n.Readdir()
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range ents {
				if e.Off < 1 || i > 0 && e.Off <= ents[i-1].Off {
					t.Errorf("%s/%s: Off %d after %v", p, e.Name, e.Off, ents[:i])
				}
				c, err := n.Lookup(e.Name)
				if err != nil {
					t.Fatal(err)
				}
				walk(p+"/"+e.Name, c)
			}
		}
		walk("", root)
		return inos
	}
	a, b := walk(), walk()
	if len(a) != 60 {
		t.Errorf("%d nodes, want 60", len(a))
	}
	for p, ino := range a {
		if b[p] != ino {
			t.Errorf("%s: inode %d, then %d", p, ino, b[p])
		}
	}
	if a[""] != 1 {
		t.Errorf("root inode %d, want 1", a[""])
	}
	for p, want := range map[string]uint64{
		"/1/fd/10":       1<<48 | 10,
		"/1/task/7":      2<<48 | 7<<8,
		"/1/task/7/stat": 2<<48 | 7<<8 | 2,
		"/1/task/3/comm": 2<<48 | 3<<8 | 1,
	} {
		if a[p] != want {
			t.Errorf("%s: inode %#x, want %#x", p, a[p], want)
		}
	}
}

func TestFiles(t *testing.T) {
	fs := setup(t, newFake())
	status := func(pid int, name, state string, threads int) string {
		return "Name:\t" + name + "\n" +
			"Umask:\t0022\n" +
			"State:\t" + state + "\n" +
			"Tgid:\t1\n" +
			"Ngid:\t0\n" +
			fmt.Sprintf("Pid:\t%d\n", pid) +
			"PPid:\t0\n" +
			"TracerPid:\t0\n" +
			"Uid:\t0\t0\t0\t0\n" +
			"Gid:\t0\t0\t0\t0\n" +
			"FDSize:\t64\n" +
			"Groups:\t \n" +
			"NStgid:\t1\n" +
			fmt.Sprintf("NSpid:\t%d\n", pid) +
			"NSpgid:\t1\n" +
			"NSsid:\t1\n" +
			"VmPeak:\t   65836 kB\n" +
			"VmSize:\t   65836 kB\n" +
			"VmLck:\t       0 kB\n" +
			"VmPin:\t       0 kB\n" +
			"VmHWM:\t   31072 kB\n" +
			"VmRSS:\t   31072 kB\n" +
			"RssAnon:\t   31072 kB\n" +
			"RssFile:\t       0 kB\n" +
			"RssShmem:\t       0 kB\n" +
			"VmData:\t   65672 kB\n" +
			"VmStk:\t     132 kB\n" +
			"VmExe:\t      16 kB\n" +
			"VmLib:\t       8 kB\n" +
			"VmPTE:\t       0 kB\n" +
			"VmSwap:\t       0 kB\n" +
			"HugetlbPages:\t       0 kB\n" +
			"CoreDumping:\t0\n" +
			"THP_enabled:\t1\n" +
			fmt.Sprintf("Threads:\t%d\n", threads) +
			"SigQ:\t0/512\n" +
			"SigPnd:\t0000000000000000\n" +
			"ShdPnd:\t0000000000000000\n" +
			"SigBlk:\t0000000000000000\n" +
			"SigIgn:\t0000000000000000\n" +
			"SigCgt:\t0000000000000000\n" +
			"CapInh:\t0000000000000000\n" +
			"CapPrm:\t000001ffffffffff\n" +
			"CapEff:\t000001ffffffffff\n" +
			"CapBnd:\t000001ffffffffff\n" +
			"CapAmb:\t0000000000000000\n" +
			"NoNewPrivs:\t0\n" +
			"Seccomp:\t0\n" +
			"Seccomp_filters:\t0\n" +
			"Speculation_Store_Bypass:\tthread vulnerable\n" +
			"Cpus_allowed:\t3\n" +
			"Cpus_allowed_list:\t0-1\n" +
			"Mems_allowed:\t00000000,00000001\n" +
			"Mems_allowed_list:\t0\n" +
			"voluntary_ctxt_switches:\t0\n" +
			"nonvoluntary_ctxt_switches:\t0\n"
	}
	cpu0 := "processor\t: 0\n" +
		"vendor_id\t: GenuineIntel\n" +
		"cpu family\t: 6\n" +
		"model\t\t: 85\n" +
		"model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz\n" +
		"stepping\t: 4\n" +
		"microcode\t: 0x1\n" +
		"cpu MHz\t\t: 2400.000\n" +
		"cache size\t: 16384 KB\n" +
		"physical id\t: 0\n" +
		"siblings\t: 2\n" +
		"core id\t\t: 0\n" +
		"cpu cores\t: 2\n" +
		"apicid\t\t: 0\n" +
		"initial apicid\t: 0\n" +
		"fpu\t\t: yes\n" +
		"fpu_exception\t: yes\n" +
		"cpuid level\t: 13\n" +
		"wp\t\t: yes\n" +
		"flags\t\t: fpu vme de pse tsc\n" +
		"bugs\t\t: spectre_v1\n" +
		"bogomips\t: 4800.00\n" +
		"clflush size\t: 64\n" +
		"cache_alignment\t: 64\n" +
		"address sizes\t: 46 bits physical, 48 bits virtual\n" +
		"power management:\n\n"
	cpu1 := "processor\t: 1\n" +
		"vendor_id\t: GenuineIntel\n" +
		"cpu family\t: 6\n" +
		"model\t\t: 85\n" +
		"model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz\n" +
		"stepping\t: 4\n" +
		"cpu MHz\t\t: 2400.000\n" +
		"physical id\t: 0\n" +
		"siblings\t: 2\n" +
		"core id\t\t: 1\n" +
		"cpu cores\t: 2\n" +
		"apicid\t\t: 1\n" +
		"initial apicid\t: 1\n" +
		"fpu\t\t: yes\n" +
		"fpu_exception\t: yes\n" +
		"cpuid level\t: 13\n" +
		"wp\t\t: yes\n" +
		"flags\t\t: fpu vme de pse tsc\n" +
		"bugs\t\t:\n" +
		"bogomips\t: 4800.12\n" +
		"clflush size\t: 64\n" +
		"cache_alignment\t: 64\n" +
		"address sizes\t: 46 bits physical, 48 bits virtual\n" +
		"power management:\n\n"
	meminfo := "" +
		"MemTotal:         131072 kB\n" +
		"MemFree:          100000 kB\n" +
		"MemAvailable:     110000 kB\n" +
		"Buffers:               0 kB\n" +
		"Cached:                0 kB\n" +
		"SwapCached:            0 kB\n" +
		"Active:            31072 kB\n" +
		"Inactive:              0 kB\n" +
		"Active(anon):      31072 kB\n" +
		"Inactive(anon):        0 kB\n" +
		"Active(file):          0 kB\n" +
		"Inactive(file):        0 kB\n" +
		"Unevictable:           0 kB\n" +
		"Mlocked:               0 kB\n" +
		"SwapTotal:             0 kB\n" +
		"SwapFree:              0 kB\n" +
		"Dirty:                 0 kB\n" +
		"Writeback:             0 kB\n" +
		"AnonPages:         31072 kB\n" +
		"Mapped:                0 kB\n" +
		"Shmem:                 0 kB\n" +
		"KReclaimable:          0 kB\n" +
		"Slab:                  0 kB\n" +
		"SReclaimable:          0 kB\n" +
		"SUnreclaim:            0 kB\n" +
		"KernelStack:           0 kB\n" +
		"PageTables:            0 kB\n" +
		"NFS_Unstable:          0 kB\n" +
		"Bounce:                0 kB\n" +
		"WritebackTmp:          0 kB\n" +
		"CommitLimit:       65536 kB\n" +
		"Committed_AS:      31072 kB\n" +
		"VmallocTotal:   34359738367 kB\n" +
		"VmallocUsed:           0 kB\n" +
		"VmallocChunk:          0 kB\n" +
		"Percpu:                0 kB\n" +
		"AnonHugePages:         0 kB\n" +
		"ShmemHugePages:        0 kB\n" +
		"ShmemPmdMapped:        0 kB\n" +
		"FileHugePages:         0 kB\n" +
		"FilePmdMapped:         0 kB\n" +
		"HugePages_Total:       0\n" +
		"HugePages_Free:        0\n" +
		"HugePages_Rsvd:        0\n" +
		"HugePages_Surp:        0\n" +
		"Hugepagesize:       2048 kB\n" +
		"Hugetlb:               0 kB\n"
	mounts := "" +
		"rootfs / rootfs rw 0 0\n" +
		"proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n" +
		"devtmpfs /dev devtmpfs rw,nosuid,size=4k,mode=755 0 0\n" +
		"tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0\n" +
		"none /tmp/with\\040space ramfs rw 0 0\n" +
		"sysfs /sys sysfs ro 0 0\n" +
		"x /devx weirdfs rw 0 0\n"
	mountinfo := "" +
		"2 1 0:2 / / rw - rootfs rootfs rw\n" +
		"3 2 0:3 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n" +
		"4 2 0:4 / /dev rw,nosuid - devtmpfs devtmpfs rw,size=4k,mode=755\n" +
		"5 4 0:5 / /dev/shm rw,nosuid,nodev - tmpfs tmpfs rw\n" +
		"6 2 0:6 / /tmp/with\\040space rw - ramfs none rw\n" +
		"7 2 0:7 / /sys ro - sysfs sysfs ro\n" +
		"8 2 0:8 / /devx rw - weirdfs x rw\n"
	stat := "" +
		"cpu  171 0 37 2345678 0 0 0 0 0 0\n" +
		"cpu0 86 0 19 1172839 0 0 0 0 0 0\n" +
		"cpu1 85 0 18 1172839 0 0 0 0 0 0\n" +
		"intr 0\n" +
		"ctxt 0\n" +
		"btime BTIME\n" +
		"processes 3\n" +
		"procs_running 1\n" +
		"procs_blocked 0\n" +
		"softirq 0 0 0 0 0 0 0 0 0 0 0\n"

	for _, tc := range []struct {
		path, want string
	}{
		{"/proc/self/cmdline", exe + "\x00-v\x00\x00arg two\x00"},
		{"/proc/1/environ", "HOME=/\x00PATH=/bin\x00"},
		{"/proc/self/comm", "my-very-long-ap\n"},
		{"/proc/self/task/7/comm", "wor\\ker\tthread-\n"},
		{"/proc/self/task/3/comm", "gc\n"},
		{"/proc/self/task/1/comm", "my-very-long-ap\n"},
		{"/proc/self/status", status(1, "my-very-long-ap", "S (sleeping)", 3)},
		{"/proc/self/task/1/status", status(1, "my-very-long-ap", "S (sleeping)", 3)},
		{"/proc/self/task/7/status", status(7, `wor\\ker\tthread-`, "R (running)", 3)},
		{"/proc/self/statm", "16459 7768 0 4 0 16451 0\n"},
		{"/proc/cpuinfo", cpu0 + cpu1},
		{"/proc/meminfo", meminfo},
		{"/proc/mounts", mounts},
		{"/proc/self/mounts", mounts},
		{"/proc/1/mountinfo", mountinfo},
		{"/proc/uptime", "12345.67 23456.78\n"},
		{"/proc/loadavg", "0.50 0.25 0.13 1/3 7\n"},
		{"/proc/stat", stat},
		{"/proc/version", "Linux version 5.15.0-gosv (gosv@gosv) (" + runtime.Version() + ") #1 SMP gosv\n"},
		{"/proc/filesystems", "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\tramfs\nnodev\trootfs\nnodev\tweirdfs\n"},
		{"/proc/sys/kernel/hostname", "testhost\n"},
		{"/proc/sys/kernel/domainname", "(none)\n"},
		{"/proc/sys/kernel/ostype", "Linux\n"},
		{"/proc/sys/kernel/osrelease", "5.15.0-gosv\n"},
		{"/proc/sys/kernel/version", "#1 SMP gosv\n"},
		{"/proc/sys/kernel/pid_max", "32768\n"},
		{"/proc/sys/kernel/random/entropy_avail", "256\n"},
		{"/proc/sys/net/core/somaxconn", "4096\n"},
		{"/proc/sys/vm/overcommit_memory", "0\n"},
		{"/proc/sys/vm/max_map_count", "65530\n"},
	} {
		got := read(t, fs, tc.path)
		want := tc.want
		if strings.Contains(want, "BTIME") {
			m := regexp.MustCompile(`(?m)^btime (\d+)$`).FindStringSubmatch(got)
			if m == nil {
				t.Errorf("%s: no btime line in %q", tc.path, got)
				continue
			}
			btime, _ := strconv.ParseInt(m[1], 10, 64)
			wantBtime := time.Now().Add(-12345678 * time.Millisecond).Unix()
			if btime < wantBtime-2 || btime > wantBtime+2 {
				t.Errorf("btime %d, want about %d", btime, wantBtime)
			}
			want = strings.Replace(want, "BTIME", m[1], 1)
		}
		if got != want {
			t.Errorf("%s:\n%s", tc.path, vfstest.Diff(strings.SplitAfter(want, "\n"), strings.SplitAfter(got, "\n")))
		}
	}
}

// The maps golden text: paths start in column 73, as Linux pads them.
func TestMaps(t *testing.T) {
	fs := setup(t, newFake())
	want := "" +
		"00400000-00401000 r--p 00000000 fd:01 1234                               /usr/bin/my-very-long-application-name\n" +
		"00401000-00405000 r-xp 00001000 fd:01 1234                               /usr/bin/my-very-long-application-name\n" +
		"00405000-00406000 rw-p 00005000 fd:01 1234                               /usr/bin/my-very-long-application-name\n" +
		"00406000-00427000 rw-p 00000000 00:00 0                                  [heap]\n" +
		"7f0000000000-7f0004000000 rw-p 00000000 00:00 0\n" +
		"7f0004000000-7f0004001000 r--s 00123000 00:05 99                         /tmp/odd\\012name\n" +
		"7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]\n" +
		"7ffc000fe000-7ffc00100000 r-xp 00000000 00:00 0                          [vdso]\n"
	got := read(t, fs, "/proc/self/maps")
	if got != want {
		t.Errorf("maps:\n%s", vfstest.Diff(strings.SplitAfter(want, "\n"), strings.SplitAfter(got, "\n")))
	}
	for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if fields := strings.Fields(line); len(fields) == 6 && strings.Index(line, fields[5]) != 73 {
			t.Errorf("path at column %d in %q", strings.Index(line, fields[5]), line)
		}
	}
}

// statFields splits a stat line, keeping the comm (which may contain
// spaces) as one field.
func statFields(t *testing.T, s string) []string {
	t.Helper()
	if !strings.HasSuffix(s, "\n") {
		t.Fatalf("stat %q does not end in a newline", s)
	}
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		t.Fatalf("stat %q has no (comm)", s)
	}
	f := []string{strings.TrimSpace(s[:open]), s[open : close+1]}
	return append(f, strings.Fields(s[close+1:])...)
}

func TestStat(t *testing.T) {
	fs := setup(t, newFake())
	for _, tc := range []struct {
		path string
		want map[int]string // 1-based field number -> value
	}{
		{"/proc/self/stat", map[int]string{
			1: "1", 2: "(my-very-long-ap)", 3: "S", 4: "0", 5: "1", 6: "1", 7: "0", 8: "-1", 9: "0",
			10: "0", 11: "0", 12: "0", 13: "0",
			14: "171", 15: "37", 16: "0", 17: "0", 18: "20", 19: "0", 20: "3", 21: "0",
			22: "42",
			23: strconv.Itoa(65836 * 1024),
			24: "7768",
			25: "18446744073709551615",
			26: strconv.Itoa(0x401000), 27: strconv.Itoa(0x405000),
			28: strconv.Itoa(0x7ffc00021000),
			29: "0", 30: "0", 31: "0", 32: "0", 33: "0", 34: "0", 35: "0", 36: "0", 37: "0",
			38: "17", 39: "0", 40: "0", 41: "0", 42: "0", 43: "0", 44: "0",
			45: strconv.Itoa(0x405000), 46: strconv.Itoa(0x406000),
			47: strconv.Itoa(0x406000),
			48: "0", 49: "0", 50: "0", 51: "0", 52: "0",
		}},
		{"/proc/1/task/7/stat", map[int]string{
			1: "7", 2: "(wor\\ker\tthread-)", 3: "R", 5: "1", 14: "20", 15: "5", 20: "3", 22: "42", 39: "1",
		}},
		{"/proc/1/task/1/stat", map[int]string{
			1: "1", 2: "(my-very-long-ap)", 3: "S", 14: "150", 15: "30", 20: "3",
		}},
	} {
		s := read(t, fs, tc.path)
		f := statFields(t, s)
		if len(f) != 52 {
			t.Errorf("%s: %d fields, want 52: %q", tc.path, len(f), s)
			continue
		}
		for i, want := range tc.want {
			if f[i-1] != want {
				t.Errorf("%s: field %d = %q, want %q", tc.path, i, f[i-1], want)
			}
		}
	}
}

func TestCPUInfoKeys(t *testing.T) {
	fs := setup(t, newFake())
	blocks := strings.Split(strings.TrimSuffix(read(t, fs, "/proc/cpuinfo"), "\n\n"), "\n\n")
	if len(blocks) != 2 {
		t.Fatalf("%d blocks, want 2", len(blocks))
	}
	// Keys Linux x86 always prints, in its order.
	always := []string{"processor", "vendor_id", "cpu family", "model", "model name", "stepping",
		"cpu MHz", "physical id", "siblings", "core id", "cpu cores", "apicid", "initial apicid",
		"fpu", "fpu_exception", "cpuid level", "wp", "flags", "bugs", "bogomips", "clflush size",
		"cache_alignment", "address sizes", "power management"}
	for i, b := range blocks {
		var keys []string
		for _, line := range strings.Split(b, "\n") {
			k, _, ok := strings.Cut(line, ":")
			if !ok {
				t.Errorf("cpu %d: line %q has no colon", i, line)
			}
			keys = append(keys, strings.TrimRight(k, "\t"))
		}
		j := 0
		for _, k := range keys {
			if j < len(always) && k == always[j] {
				j++
			} else if k != "microcode" && k != "cache size" {
				t.Errorf("cpu %d: unexpected key %q", i, k)
			}
		}
		if j != len(always) {
			t.Errorf("cpu %d: keys %q lack %q", i, keys, always[j:])
		}
	}
}

func TestLinks(t *testing.T) {
	fs := setup(t, newFake())
	for _, tc := range []struct{ path, want string }{
		{"/proc/self", "1"},
		{"/proc/self/exe", exe},
		{"/proc/1/exe", exe},
		{"/proc/self/cwd", "/work"},
		{"/proc/self/root", "/"},
		{"/proc/mounts", "self/mounts"},
		{"/proc/self/fd/10", "pipe:[5]"},
		{"/proc/self/task/../fd/3", "/etc/hosts"},
		{"/dev/fd", "/proc/self/fd"},
		{"/dev/stdout", "/proc/self/fd/1"},
	} {
		n, err := fs.Resolve("/", tc.path, false)
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if got, err := n.Readlink(); got != tc.want || err != nil {
			t.Errorf("readlink %s = %q, %v; want %q", tc.path, got, err, tc.want)
		}
		if st, _ := n.Stat(); !st.IsSymlink() || st.Size != int64(len(tc.want)) {
			t.Errorf("%s: mode %#o size %d", tc.path, st.Mode, st.Size)
		}
	}
	// Paths through the links.
	_, p, err := fs.ResolvePath("/", "/proc/self/task/7", true)
	if p != "/proc/1/task/7" || err != nil {
		t.Errorf("ResolvePath(/proc/self/task/7) = %q, %v", p, err)
	}
	_, p, err = fs.ResolvePath("/", "/dev/fd/", true)
	if p != "/proc/1/fd" || err != nil {
		t.Errorf("ResolvePath(/dev/fd/) = %q, %v", p, err)
	}
	// /dev/stdout -> /proc/self/fd/1 -> /dev/console.
	n, err := fs.Resolve("/", "/dev/stdout", true)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := n.Stat(); st.Rdev != vfs.Mkdev(5, 1) {
		t.Errorf("/dev/stdout leads to rdev %#x, want the console", st.Rdev)
	}
	if _, ok := n.(vfs.Writer); !ok {
		t.Error("/dev/stdout is not writable")
	}
	// /proc/self/exe leads nowhere in an empty root.
	if _, err := fs.Resolve("/", "/proc/self/exe", true); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("resolve /proc/self/exe: %v, want ENOENT", err)
	}
	// The pid directory has the same contents through self.
	if a, b := read(t, fs, "/proc/self/cmdline"), read(t, fs, "/proc/1/cmdline"); a != b {
		t.Errorf("self/cmdline %q, 1/cmdline %q", a, b)
	}
}

func TestReaddir(t *testing.T) {
	src := newFake()
	fs := setup(t, src)
	list := func(p string) string {
		ents, err := resolve(t, fs, p).Readdir()
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, e := range ents {
			s = append(s, fmt.Sprintf("%s@%d", e.Name, e.Off))
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct{ path, want string }{
		{"/proc", "1@1 cpuinfo@2 filesystems@3 loadavg@4 meminfo@5 mounts@6 self@7 stat@8 sys@9 uptime@10 version@11"},
		{"/proc/self/fd", "0@1 1@2 2@3 3@4 10@11"},
		{"/proc/self/task", "1@2 3@4 7@8"},
		{"/proc/self/task/3", "comm@1 stat@2 status@3"},
	} {
		if got := list(tc.path); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.path, got, tc.want)
		}
	}
	// Cookies stay with their entries as descriptors come and go.
	src.mu.Lock()
	src.fds = []procfs.FD{{Num: 0, Target: "/a"}, {Num: 10, Target: "/b"}, {Num: 5, Target: "/c"}}
	src.threads = src.threads[:2]
	src.mu.Unlock()
	if got, want := list("/proc/self/fd"), "0@1 5@6 10@11"; got != want {
		t.Errorf("fd after changes: %s, want %s", got, want)
	}
	if got, want := list("/proc/self/task"), "1@2 7@8"; got != want {
		t.Errorf("task after changes: %s, want %s", got, want)
	}
	if st, _ := resolve(t, fs, "/proc/self/task").Stat(); st.Nlink != 4 {
		t.Errorf("task nlink %d, want 4", st.Nlink)
	}
}

// A generated file keeps its contents for reads past offset 0, and
// generates them afresh at offset 0; each open (Lookup) has its own.
func TestSnapshots(t *testing.T) {
	src := newFake()
	fs := setup(t, src)
	a := resolve(t, fs, "/proc/sys/kernel/hostname")
	b := resolve(t, fs, "/proc/sys/kernel/hostname")
	buf := make([]byte, 4)
	at := func(n vfs.Node, off int64) string {
		k, err := n.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		return string(buf[:k])
	}
	if got := at(a, 0); got != "test" {
		t.Fatalf("a at 0: %q", got)
	}
	src.mu.Lock()
	src.host = "otherhost"
	src.mu.Unlock()
	if got := at(a, 4); got != "host" {
		t.Errorf("a at 4 after the change: %q, want the snapshot's %q", got, "host")
	}
	if got := at(b, 4); got != "rhos" {
		t.Errorf("b at 4 (first read): %q, want %q", got, "rhos")
	}
	if got := at(a, 0); got != "othe" {
		t.Errorf("a at 0 again: %q, want %q", got, "othe")
	}
	if got := at(a, 8); got != "t\n" {
		t.Errorf("a at 8: %q", got)
	}
	if got := at(a, 10); got != "" {
		t.Errorf("a at 10: %q", got)
	}
	// Sizes are 0, as on Linux.
	if st, _ := a.Stat(); st.Size != 0 || !st.IsRegular() {
		t.Errorf("hostname: size %d mode %#o", st.Size, st.Mode)
	}
	// A whole read in one call, and reads with tiny buffers, agree.
	one, _ := readAll(resolve(t, fs, "/proc/self/status"), 1<<16)
	tiny, _ := readAll(resolve(t, fs, "/proc/self/status"), 1)
	if one != tiny || len(one) < 100 {
		t.Errorf("status read at once (%d bytes) and bytewise (%d bytes) differ", len(one), len(tiny))
	}
	// Uptime moves between opens.
	u1 := read(t, fs, "/proc/uptime")
	src.mu.Lock()
	src.up += 1500 * time.Millisecond
	src.mu.Unlock()
	if u2 := read(t, fs, "/proc/uptime"); u2 != "12347.17 23456.78\n" || u1 == u2 {
		t.Errorf("uptime %q then %q", u1, u2)
	}
}

func TestRandom(t *testing.T) {
	fs := setup(t, newFake())
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$`)
	b1, b2 := read(t, fs, "/proc/sys/kernel/random/boot_id"), read(t, fs, "/proc/sys/kernel/random/boot_id")
	u1, u2 := read(t, fs, "/proc/sys/kernel/random/uuid"), read(t, fs, "/proc/sys/kernel/random/uuid")
	for _, s := range []string{b1, u1, u2} {
		if !uuidRE.MatchString(s) {
			t.Errorf("%q is not a random UUID", s)
		}
	}
	if b1 != b2 {
		t.Errorf("boot_id changed: %q, %q", b1, b2)
	}
	if u1 == u2 || u1 == b1 {
		t.Errorf("uuid repeats: %q %q (boot_id %q)", u1, u2, b1)
	}
	// Another boot, another boot_id.
	if b3 := read(t, setup(t, newFake()), "/proc/sys/kernel/random/boot_id"); b3 == b1 {
		t.Errorf("two procfs share boot_id %q", b1)
	}
}

type unameFake struct{ *fake }

func (unameFake) Uname() (string, string) { return "6.1.0-test", "#7 SMP test 0.2" }

func TestUname(t *testing.T) {
	fs := setup(t, unameFake{newFake()})
	for _, tc := range []struct{ path, want string }{
		{"/proc/sys/kernel/osrelease", "6.1.0-test\n"},
		{"/proc/sys/kernel/version", "#7 SMP test 0.2\n"},
		{"/proc/version", "Linux version 6.1.0-test (gosv@gosv) (" + runtime.Version() + ") #7 SMP test 0.2\n"},
	} {
		if got := read(t, fs, tc.path); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// A Source with little in it still gives well-formed files.
type sparse struct{ fake }

func (*sparse) ExePath() string          { return "" }
func (*sparse) Cmdline() []string        { return nil }
func (*sparse) Environ() []string        { return nil }
func (*sparse) Cwd() string              { return "" }
func (*sparse) PID() int                 { return 5 }
func (*sparse) Threads() []procfs.Thread { return nil }
func (*sparse) Maps() []procfs.Mapping   { return nil }
func (*sparse) MemInfo() procfs.MemInfo  { return procfs.MemInfo{} }
func (*sparse) CPUs() []procfs.CPU       { return nil }
func (*sparse) Mounts() []procfs.Mount   { return nil }
func (*sparse) FDs() []procfs.FD         { return nil }
func (*sparse) LoadAvg() [3]float64      { return [3]float64{} }

func TestSparse(t *testing.T) {
	fs := setup(t, &sparse{})
	for _, tc := range []struct{ path, want string }{
		{"/proc/5/cmdline", ""},
		{"/proc/self/environ", ""},
		{"/proc/self/comm", ".\n"},
		{"/proc/self/maps", ""},
		{"/proc/self/statm", "0 0 0 0 0 0 0\n"},
		{"/proc/cpuinfo", ""},
		{"/proc/mounts", ""},
		{"/proc/loadavg", "0.00 0.00 0.00 1/1 5\n"},
		{"/proc/sys/kernel/pid_max", "32768\n"},
	} {
		if got := read(t, fs, tc.path); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.path, got, tc.want)
		}
	}
	if p := read(t, fs, "/proc/stat"); !strings.HasPrefix(p, "cpu  0 0 0 2345678 0 0 0 0 0 0\ncpu0 0 0 0 2345678 0 0 0 0 0 0\nintr") {
		t.Errorf("stat %q", p)
	}
	f := statFields(t, read(t, fs, "/proc/self/stat"))
	if len(f) != 52 || f[0] != "5" || f[2] != "R" || f[19] != "1" {
		t.Errorf("stat fields %q", f)
	}
	if s := read(t, fs, "/proc/self/status"); !strings.Contains(s, "\nPid:\t5\n") || !strings.Contains(s, "\nCpus_allowed:\t1\nCpus_allowed_list:\t0\n") {
		t.Errorf("status %q", s)
	}
	if ents, _ := resolve(t, fs, "/proc/self/task").Readdir(); len(ents) != 0 {
		t.Errorf("task entries %v", ents)
	}
	for _, p := range []string{"/proc/self/exe", "/proc/self/cwd", "/proc/1"} {
		if _, err := fs.Resolve("/", p, false); !errors.Is(err, syscall.ENOENT) {
			t.Errorf("%s: %v, want ENOENT", p, err)
		}
	}
}

func TestGone(t *testing.T) {
	src := newFake()
	fs := setup(t, src)
	task := resolve(t, fs, "/proc/1/task/7")
	stat := resolve(t, fs, "/proc/1/task/7/stat")
	fdLink, err := fs.Resolve("/", "/proc/1/fd/3", false)
	if err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	src.threads = src.threads[:1]
	src.fds = src.fds[:3]
	src.mu.Unlock()
	check := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", what, err, want)
		}
	}
	_, err = task.Stat()
	check("task Stat", err, syscall.ENOENT)
	_, err = task.Readdir()
	check("task Readdir", err, syscall.ENOENT)
	_, err = task.Lookup("stat")
	check("task Lookup", err, syscall.ENOENT)
	_, err = stat.ReadAt(make([]byte, 10), 0)
	check("stat ReadAt", err, syscall.ESRCH)
	_, err = stat.Stat()
	check("stat Stat", err, syscall.ENOENT)
	_, err = fdLink.Readlink()
	check("fd Readlink", err, syscall.ENOENT)
	_, err = fdLink.Stat()
	check("fd Stat", err, syscall.ENOENT)
	_, err = fs.Resolve("/", "/proc/1/task/7", true)
	check("resolve task/7", err, syscall.ENOENT)
}

func TestErrors(t *testing.T) {
	fs := setup(t, newFake())
	check := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", what, err, want)
		}
	}
	for _, tc := range []struct {
		path string
		want error
	}{
		{"/proc/2", syscall.ENOENT},
		{"/proc/nope", syscall.ENOENT},
		{"/proc/self/fd/4", syscall.ENOENT},
		{"/proc/self/fd/01", syscall.ENOENT},
		{"/proc/self/fd/+1", syscall.ENOENT},
		{"/proc/self/fd/-1", syscall.ENOENT},
		{"/proc/self/fd/x", syscall.ENOENT},
		{"/proc/self/fd/99999999999999999999", syscall.ENOENT},
		{"/proc/self/task/2", syscall.ENOENT},
		{"/proc/self/task/07", syscall.ENOENT},
		{"/proc/self/task/7/maps", syscall.ENOENT},
		{"/proc/cpuinfo/x", syscall.ENOTDIR},
		{"/proc/cpuinfo/", syscall.ENOTDIR},
		{"/proc/self/stat/x", syscall.ENOTDIR},
		{"/proc/sys/kernel/hostname/x", syscall.ENOTDIR},
	} {
		_, err := fs.Resolve("/", tc.path, true)
		check("resolve "+tc.path, err, tc.want)
	}
	proc := resolve(t, fs, "/proc")
	file := resolve(t, fs, "/proc/meminfo")
	link, _ := proc.Lookup("self")
	_, err := proc.ReadAt(make([]byte, 8), 0)
	check("dir ReadAt", err, syscall.EISDIR)
	_, err = link.ReadAt(make([]byte, 8), 0)
	check("link ReadAt", err, syscall.EINVAL)
	_, err = file.ReadAt(make([]byte, 8), -1)
	check("ReadAt(-1)", err, syscall.EINVAL)
	_, err = file.Readdir()
	check("file Readdir", err, syscall.ENOTDIR)
	_, err = link.Readdir()
	check("link Readdir", err, syscall.ENOTDIR)
	_, err = file.Lookup("x")
	check("file Lookup", err, syscall.ENOTDIR)
	_, err = link.Lookup("x")
	check("link Lookup", err, syscall.ENOTDIR)
	_, err = file.Readlink()
	check("file Readlink", err, syscall.EINVAL)
	_, err = proc.Readlink()
	check("dir Readlink", err, syscall.EINVAL)
	// Read-only everywhere.
	for _, n := range []vfs.Node{proc, file, link} {
		if _, ok := n.(vfs.Writer); ok {
			t.Errorf("%T is a vfs.Writer", n)
		}
		if _, ok := n.(vfs.DirWriter); ok {
			t.Errorf("%T is a vfs.DirWriter", n)
		}
	}
	_, _, err = fs.Create("/", "/proc/newfile", 0o644, false)
	check("create", err, syscall.EROFS)
	_, _, err = fs.Create("/", "/proc/meminfo", 0o644, true)
	check("create O_EXCL", err, syscall.EEXIST)
	check("unlink", fs.Unlink("/", "/proc/meminfo"), syscall.EROFS)
	_, err = fs.Mkdir("/", "/proc/self/fd/x", 0o755)
	check("mkdir", err, syscall.EROFS)
}

// cpuFake reports per-CPU times and many CPUs.
type cpuFake struct{ *fake }

func (cpuFake) CPUs() []procfs.CPU {
	cpus := make([]procfs.CPU, 64)
	for i := range cpus {
		cpus[i] = procfs.CPU{UserTicks: uint64(i), SysTicks: 2 * uint64(i), IdleTicks: 1000}
	}
	return cpus
}

func TestPerCPU(t *testing.T) {
	fs := setup(t, cpuFake{newFake()})
	lines := strings.Split(read(t, fs, "/proc/stat"), "\n")
	if lines[0] != "cpu  2016 0 4032 64000 0 0 0 0 0 0" || lines[1] != "cpu0 0 0 0 1000 0 0 0 0 0 0" ||
		lines[64] != "cpu63 63 0 126 1000 0 0 0 0 0 0" || !strings.HasPrefix(lines[65], "intr ") {
		t.Errorf("stat lines %q", lines)
	}
	if got := read(t, fs, "/proc/sys/kernel/pid_max"); got != "65536\n" {
		t.Errorf("pid_max %q", got)
	}
	s := read(t, fs, "/proc/self/status")
	if !strings.Contains(s, "\nCpus_allowed:\tffffffff,ffffffff\nCpus_allowed_list:\t0-63\n") {
		t.Errorf("status %q", s)
	}
	// Defaults: siblings and cores count the CPUs; 2*MHz bogomips.
	c := read(t, fs, "/proc/cpuinfo")
	for _, want := range []string{"\nsiblings\t: 64\n", "\ncpu cores\t: 64\n", "vendor_id\t: unknown\n",
		"model name\t: unknown\n", "\ncpu MHz\t\t: 0.000\n", "\nbogomips\t: 0.00\n",
		"\naddress sizes\t: 40 bits physical, 48 bits virtual\n"} {
		if !strings.Contains(c, want) {
			t.Errorf("cpuinfo lacks %q", want)
		}
	}
}

func TestCPUMask(t *testing.T) {
	for n, want := range map[int]string{
		1: "1", 4: "f", 5: "1f", 32: "ffffffff", 33: "1,ffffffff", 36: "f,ffffffff", 64: "ffffffff,ffffffff",
		65: "1,ffffffff,ffffffff",
	} {
		if got := procfs.CPUMask(n); got != want {
			t.Errorf("CPUMask(%d) = %q, want %q", n, got, want)
		}
	}
}

// Concurrent readers of shared and per-open nodes (for -race).
func TestConcurrent(t *testing.T) {
	src := newFake()
	fs := setup(t, src)
	shared := resolve(t, fs, "/proc/self/task/7/stat")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				for _, p := range []string{"/proc/self/status", "/proc/self/maps", "/proc/stat", "/proc/self/fd"} {
					n, err := fs.Resolve("/", p, true)
					if err != nil {
						t.Error(err)
						return
					}
					if st, _ := n.Stat(); st.IsDir() {
						n.Readdir()
					} else if _, err := readAll(n, 64); err != nil {
						t.Error(err)
					}
				}
				if _, err := readAll(shared, 5); err != nil {
					t.Error(err)
				}
				src.mu.Lock()
				src.up += time.Millisecond
				src.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
