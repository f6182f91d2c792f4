package procfs

import (
	"bytes"
	"fmt"
	"math"
	"path"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

const pageSize = 4096

// commLen is TASK_COMM_LEN without the NUL.
const commLen = 15

// nulList joins strings each followed by a NUL, as cmdline and environ
// show them.
func nulList(ss []string) []byte {
	var b bytes.Buffer
	for _, s := range ss {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.Bytes()
}

func (f *fsys) cmdline() ([]byte, error) { return nulList(f.src.Cmdline()), nil }
func (f *fsys) environ() ([]byte, error) { return nulList(f.src.Environ()), nil }

// task is a thread and the process it belongs to.
type task struct {
	Thread
	threads []Thread
}

// task returns thread tid, or the main thread for 0 (ESRCH if tid does
// not exist).
func (f *fsys) task(tid int) (task, error) {
	ts := f.src.Threads()
	for _, t := range ts {
		if t.TID == tid || tid == 0 && t.TID == f.pid {
			return task{t, ts}, nil
		}
	}
	switch {
	case tid != 0:
		return task{}, syscall.ESRCH
	case len(ts) > 0:
		return task{ts[0], ts}, nil
	}
	return task{Thread: Thread{TID: f.pid}}, nil
}

// id is the pid or tid a file of task tid shows: the pid for the
// process's own files (tid 0).
func (f *fsys) id(tid int, t task) int {
	if tid == 0 {
		return f.pid
	}
	return t.TID
}

// name is the thread's comm, cut to 15 bytes.
func (f *fsys) name(t Thread) string {
	name := t.Name
	if name == "" {
		exe := f.src.ExePath()
		if exe == "" {
			if args := f.src.Cmdline(); len(args) > 0 {
				exe = args[0]
			}
		}
		name = path.Base(exe)
	}
	if len(name) > commLen {
		name = name[:commLen]
	}
	return name
}

func (f *fsys) comm(tid int) ([]byte, error) {
	t, err := f.task(tid)
	if err != nil {
		return nil, err
	}
	return []byte(f.name(t.Thread) + "\n"), nil
}

func state(t Thread) byte {
	if t.State == 0 {
		return 'R'
	}
	return t.State
}

// stateNames are the State lines of status.
var stateNames = map[byte]string{
	'R': "R (running)",
	'S': "S (sleeping)",
	'D': "D (disk sleep)",
	'T': "T (stopped)",
	't': "t (tracing stop)",
	'X': "X (dead)",
	'Z': "Z (zombie)",
	'P': "P (parked)",
	'I': "I (idle)",
}

// memory is what the maps and MemInfo say about the address space.
type memory struct {
	vsize uint64 // bytes
	// rssKiB is the memory in use (MemInfo Total-Free: in a unikernel
	// that is the application's, kernel included), at most vsize.
	rssKiB                  uint64
	startCode, endCode      uint64
	startData, endData      uint64
	startBrk, startStack    uint64
	dataVM, stackVM, execVM uint64 // bytes
}

func (f *fsys) memory() memory {
	var m memory
	exe := f.src.ExePath()
	for _, mp := range f.src.Maps() {
		if mp.End < mp.Start {
			continue
		}
		size := mp.End - mp.Start
		m.vsize += size
		perm := func(i int, c byte) bool { return len(mp.Perms) > i && mp.Perms[i] == c }
		write, exec, shared := perm(1, 'w'), perm(2, 'x'), perm(3, 's')
		stack := mp.Path == "[stack]"
		switch {
		case stack:
			m.stackVM += size
			m.startStack = mp.End
		case write && !shared:
			m.dataVM += size
		case exec && !write:
			m.execVM += size
		}
		if mp.Path == "[heap]" && m.startBrk == 0 {
			m.startBrk = mp.Start
		}
		if exe != "" && mp.Path == exe {
			if exec {
				m.startCode, m.endCode = widen(m.startCode, m.endCode, mp)
			} else if write {
				m.startData, m.endData = widen(m.startData, m.endData, mp)
			}
		}
	}
	mi := f.src.MemInfo()
	if mi.FreeKiB < mi.TotalKiB {
		m.rssKiB = min(mi.TotalKiB-mi.FreeKiB, m.vsize/1024)
	}
	return m
}

// widen extends [lo, hi) to cover mp.
func widen(lo, hi uint64, mp Mapping) (uint64, uint64) {
	if hi == 0 {
		return mp.Start, mp.End
	}
	return min(lo, mp.Start), max(hi, mp.End)
}

// textKiB is VmExe: the code of the executable, whole pages.
func (m memory) textKiB() uint64 {
	if m.endCode == 0 {
		return 0
	}
	return (pageUp(m.endCode) - m.startCode&^(pageSize-1)) >> 10
}

func pageUp(x uint64) uint64 { return (x + pageSize - 1) &^ (pageSize - 1) }

// stat is /proc/1/stat (tid 0: the whole process) or
// /proc/1/task/TID/stat: Linux's 52 fields.
func (f *fsys) stat(tid int) ([]byte, error) {
	t, err := f.task(tid)
	if err != nil {
		return nil, err
	}
	utime, stime := t.UserTicks, t.SysTicks
	if tid == 0 {
		utime, stime = 0, 0
		for _, th := range t.threads {
			utime += th.UserTicks
			stime += th.SysTicks
		}
	}
	m := f.memory()
	pid := int64(f.pid)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d (%s) %c", f.id(tid, t), f.name(t.Thread), state(t.Thread))
	for _, v := range [...]int64{
		0,          // 4 ppid
		pid,        // 5 pgrp
		pid,        // 6 session
		0,          // 7 tty_nr
		-1,         // 8 tpgid: no controlling terminal
		0,          // 9 flags
		0, 0, 0, 0, // 10-13 minflt cminflt majflt cmajflt
		int64(utime), int64(stime), // 14-15
		0, 0, // 16-17 cutime cstime
		20, 0, // 18-19 priority nice
		int64(max(len(t.threads), 1)), // 20 num_threads
		0,                             // 21 itrealvalue
	} {
		fmt.Fprintf(&b, " %d", v)
	}
	for _, v := range [...]uint64{
		f.src.StartTime(),            // 22 starttime
		m.vsize,                      // 23 vsize (bytes)
		m.rssKiB / (pageSize / 1024), // 24 rss (pages)
		math.MaxUint64,               // 25 rsslim: RLIM_INFINITY
		m.startCode, m.endCode,       // 26-27
		m.startStack, // 28 startstack
		0, 0,         // 29-30 kstkesp kstkeip
		0, 0, 0, 0, // 31-34 signal blocked sigignore sigcatch
		0, 0, 0, // 35-37 wchan nswap cnswap
		17,                    // 38 exit_signal: SIGCHLD
		uint64(max(t.CPU, 0)), // 39 processor
		0, 0, 0, 0, 0,         // 40-44 rt_priority policy delayacct_blkio_ticks guest_time cguest_time
		m.startData, m.endData, // 45-46
		m.startBrk, // 47 start_brk
		0, 0, 0, 0, // 48-51 arg_start arg_end env_start env_end
		0, // 52 exit_code
	} {
		fmt.Fprintf(&b, " %d", v)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// statm is /proc/1/statm, in pages.
func (f *fsys) statm() ([]byte, error) {
	m := f.memory()
	const k = pageSize / 1024
	return fmt.Appendf(nil, "%d %d %d %d %d %d %d\n",
		m.vsize/pageSize, m.rssKiB/k, 0, m.textKiB()/k, 0, (m.dataVM+m.stackVM)/pageSize, 0), nil
}

// escapeName escapes a comm for status as Linux does.
func escapeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\v':
			b.WriteString(`\v`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// cpuMask formats a mask of the first n CPUs as Linux's "%*pb" does.
func cpuMask(n int) string {
	var chunks []string
	for lo := (n - 1) / 32 * 32; lo >= 0; lo -= 32 {
		bits := min(n-lo, 32)
		v := uint64(1)<<bits - 1
		if len(chunks) == 0 {
			chunks = append(chunks, fmt.Sprintf("%0*x", (bits+3)/4, v))
		} else {
			chunks = append(chunks, fmt.Sprintf("%08x", v))
		}
	}
	return strings.Join(chunks, ",")
}

// cpuList formats the first n CPUs as Linux's "%*pbl" does.
func cpuList(n int) string {
	if n <= 1 {
		return "0"
	}
	return fmt.Sprintf("0-%d", n-1)
}

// status is /proc/1/status (tid 0) or /proc/1/task/TID/status.
func (f *fsys) status(tid int) ([]byte, error) {
	t, err := f.task(tid)
	if err != nil {
		return nil, err
	}
	m := f.memory()
	fdSize := 64
	for _, fd := range f.src.FDs() {
		fdSize = max(fdSize, (fd.Num+64)/64*64)
	}
	st, ok := stateNames[state(t.Thread)]
	if !ok {
		st = string(state(t.Thread))
	}
	ncpu := max(len(f.src.CPUs()), 1)
	var b bytes.Buffer
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s:\t%v\n", k, v) }
	kB := func(k string, v uint64) { fmt.Fprintf(&b, "%s:\t%8d kB\n", k, v) }
	kv("Name", escapeName(f.name(t.Thread)))
	kv("Umask", "0022")
	kv("State", st)
	kv("Tgid", f.pid)
	kv("Ngid", 0)
	kv("Pid", f.id(tid, t))
	kv("PPid", 0)
	kv("TracerPid", 0)
	kv("Uid", "0\t0\t0\t0")
	kv("Gid", "0\t0\t0\t0")
	kv("FDSize", fdSize)
	kv("Groups", " ") // Linux ends the (empty) list with a space
	kv("NStgid", f.pid)
	kv("NSpid", f.id(tid, t))
	kv("NSpgid", f.pid)
	kv("NSsid", f.pid)
	kB("VmPeak", m.vsize>>10)
	kB("VmSize", m.vsize>>10)
	kB("VmLck", 0)
	kB("VmPin", 0)
	kB("VmHWM", m.rssKiB)
	kB("VmRSS", m.rssKiB)
	kB("RssAnon", m.rssKiB)
	kB("RssFile", 0)
	kB("RssShmem", 0)
	kB("VmData", m.dataVM>>10)
	kB("VmStk", m.stackVM>>10)
	kB("VmExe", m.textKiB())
	kB("VmLib", m.execVM>>10-min(m.textKiB(), m.execVM>>10))
	kB("VmPTE", 0)
	kB("VmSwap", 0)
	kB("HugetlbPages", 0)
	kv("CoreDumping", 0)
	kv("THP_enabled", 1)
	kv("Threads", max(len(t.threads), 1))
	kv("SigQ", fmt.Sprintf("0/%d", f.src.MemInfo().TotalKiB/256))
	for _, k := range []string{"SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt", "CapInh"} {
		kv(k, "0000000000000000")
	}
	for _, k := range []string{"CapPrm", "CapEff", "CapBnd"} {
		kv(k, "000001ffffffffff")
	}
	kv("CapAmb", "0000000000000000")
	kv("NoNewPrivs", 0)
	kv("Seccomp", 0)
	kv("Seccomp_filters", 0)
	kv("Speculation_Store_Bypass", "thread vulnerable")
	kv("Cpus_allowed", cpuMask(ncpu))
	kv("Cpus_allowed_list", cpuList(ncpu))
	kv("Mems_allowed", "00000000,00000001")
	kv("Mems_allowed_list", 0)
	kv("voluntary_ctxt_switches", 0)
	kv("nonvoluntary_ctxt_switches", 0)
	return b.Bytes(), nil
}

// octal escapes the bytes of special in s as \ooo, as Linux's mangle and
// seq_path do.
func octal(s, special string) string {
	if !strings.ContainsAny(s, special) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(special, s[i]) >= 0 {
			fmt.Fprintf(&b, "\\%03o", s[i])
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// mapsWidth is where the path starts in a maps line, less one: Linux
// pads the fields to 25 + 6*sizeof(void *) - 1 and adds a space.
const mapsWidth = 25 + 6*8 - 1

// maps is /proc/1/maps.
func (f *fsys) maps() ([]byte, error) {
	var b bytes.Buffer
	for _, m := range f.src.Maps() {
		dev := m.Dev
		if dev == "" {
			dev = "00:00"
		}
		perms := (m.Perms + "---p")[:4]
		if len(m.Perms) >= 4 {
			perms = m.Perms[:4]
		}
		start := b.Len()
		fmt.Fprintf(&b, "%08x-%08x %s %08x %s %d", m.Start, m.End, perms, m.Offset, dev, m.Inode)
		if m.Path != "" {
			if pad := mapsWidth - (b.Len() - start); pad > 0 {
				b.WriteString(strings.Repeat(" ", pad))
			}
			b.WriteByte(' ')
			b.WriteString(octal(m.Path, "\n"))
		}
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

const pathSpecial = " \t\n\\"

// mountOptions returns m's options with "rw" or "ro" first, as Linux
// shows them.
func mountOptions(m Mount) string {
	if m.Options == "" {
		return "rw"
	}
	if first, _, _ := strings.Cut(m.Options, ","); first != "rw" && first != "ro" {
		return "rw," + m.Options
	}
	return m.Options
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// mounts is /proc/1/mounts (and /proc/mounts).
func (f *fsys) mounts() ([]byte, error) {
	var b bytes.Buffer
	for _, m := range f.src.Mounts() {
		fmt.Fprintf(&b, "%s %s %s %s 0 0\n", octal(orNone(m.Device), pathSpecial), octal(m.Path, pathSpecial),
			octal(orNone(m.Type), pathSpecial), octal(mountOptions(m), pathSpecial))
	}
	return b.Bytes(), nil
}

// perMount are the options mountinfo shows before the "-": the
// mount's, not the file system's.
var perMount = map[string]bool{
	"ro": true, "rw": true, "nosuid": true, "nodev": true, "noexec": true,
	"relatime": true, "noatime": true, "nodiratime": true, "strictatime": true,
}

// mountID is a mount's ID in mountinfo: mounts are numbered in order
// from 2; 1 is the parent of the root (as Linux's hidden rootfs).
func mountID(i int) int { return i + 2 }

// mountinfo is /proc/1/mountinfo.
func (f *fsys) mountinfo() ([]byte, error) {
	ms := f.src.Mounts()
	var b bytes.Buffer
	for i, m := range ms {
		parent, best := 1, -1
		for j, p := range ms {
			if j != i && len(p.Path) > best && p.Path != m.Path && under(m.Path, p.Path) {
				parent, best = mountID(j), len(p.Path)
			}
		}
		var mnt, super []string
		for _, o := range strings.Split(mountOptions(m), ",") {
			if perMount[o] {
				mnt = append(mnt, o)
			} else if o != "" {
				super = append(super, o)
			}
		}
		super = append([]string{mnt[0]}, super...)
		fmt.Fprintf(&b, "%d %d 0:%d / %s %s - %s %s %s\n", mountID(i), parent, mountID(i),
			octal(m.Path, pathSpecial), octal(strings.Join(mnt, ","), pathSpecial),
			octal(orNone(m.Type), pathSpecial), octal(orNone(m.Device), pathSpecial),
			octal(strings.Join(super, ","), pathSpecial))
	}
	return b.Bytes(), nil
}

// under reports whether path p is dir or below it.
func under(p, dir string) bool {
	return dir == "/" || p == dir || strings.HasPrefix(p, dir+"/")
}

// filesystems is /proc/filesystems: the kinds gosv has, and any other
// mounted.
func (f *fsys) filesystems() ([]byte, error) {
	kinds := []string{"sysfs", "tmpfs", "proc", "devtmpfs", "ramfs", "rootfs"}
	for _, m := range f.src.Mounts() {
		if m.Type != "" && !slices.Contains(kinds, m.Type) {
			kinds = append(kinds, m.Type)
		}
	}
	var b bytes.Buffer
	for _, k := range kinds {
		fmt.Fprintf(&b, "nodev\t%s\n", k)
	}
	return b.Bytes(), nil
}

// cpuinfo is /proc/cpuinfo, x86's layout.
func (f *fsys) cpuinfo() ([]byte, error) {
	cpus := f.src.CPUs()
	var b bytes.Buffer
	orUnknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	orDefault := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	for i, c := range cpus {
		fmt.Fprintf(&b, "processor\t: %d\n", i)
		fmt.Fprintf(&b, "vendor_id\t: %s\n", orUnknown(c.Vendor))
		fmt.Fprintf(&b, "cpu family\t: %d\n", c.Family)
		fmt.Fprintf(&b, "model\t\t: %d\n", c.Model)
		fmt.Fprintf(&b, "model name\t: %s\n", orUnknown(c.ModelName))
		fmt.Fprintf(&b, "stepping\t: %d\n", c.Stepping)
		if c.Microcode != 0 {
			fmt.Fprintf(&b, "microcode\t: %#x\n", c.Microcode)
		}
		khz := uint64(math.Round(max(c.MHz, 0) * 1000))
		fmt.Fprintf(&b, "cpu MHz\t\t: %d.%03d\n", khz/1000, khz%1000)
		if c.CacheKiB != 0 {
			fmt.Fprintf(&b, "cache size\t: %d KB\n", c.CacheKiB)
		}
		fmt.Fprintf(&b, "physical id\t: %d\n", c.PhysicalID)
		fmt.Fprintf(&b, "siblings\t: %d\n", orDefault(c.Siblings, len(cpus)))
		fmt.Fprintf(&b, "core id\t\t: %d\n", c.CoreID)
		fmt.Fprintf(&b, "cpu cores\t: %d\n", orDefault(c.Cores, len(cpus)))
		fmt.Fprintf(&b, "apicid\t\t: %d\n", c.APICID)
		fmt.Fprintf(&b, "initial apicid\t: %d\n", c.APICID)
		fmt.Fprintf(&b, "fpu\t\t: yes\nfpu_exception\t: yes\n")
		fmt.Fprintf(&b, "cpuid level\t: %d\n", c.CPUIDLevel)
		fmt.Fprintf(&b, "wp\t\t: yes\n")
		b.WriteString("flags\t\t:")
		for _, fl := range c.Flags {
			b.WriteString(" " + fl)
		}
		b.WriteString("\nbugs\t\t:")
		for _, fl := range c.Bugs {
			b.WriteString(" " + fl)
		}
		bogo := c.BogoMIPS
		if bogo == 0 {
			bogo = 2 * c.MHz
		}
		centi := uint64(math.Round(max(bogo, 0) * 100))
		fmt.Fprintf(&b, "\nbogomips\t: %d.%02d\n", centi/100, centi%100)
		fmt.Fprintf(&b, "clflush size\t: %d\n", orDefault(c.CLFlushSize, 64))
		fmt.Fprintf(&b, "cache_alignment\t: %d\n", orDefault(c.CacheAlignment, 64))
		fmt.Fprintf(&b, "address sizes\t: %d bits physical, %d bits virtual\n",
			orDefault(c.PhysBits, 40), orDefault(c.VirtBits, 48))
		b.WriteString("power management:\n\n")
	}
	return b.Bytes(), nil
}

// meminfo is /proc/meminfo.
func (f *fsys) meminfo() ([]byte, error) {
	mi := f.src.MemInfo()
	used := uint64(0)
	if mi.FreeKiB < mi.TotalKiB {
		used = mi.TotalKiB - mi.FreeKiB
	}
	var b bytes.Buffer
	kB := func(k string, v uint64) { fmt.Fprintf(&b, "%-16s%8d kB\n", k+":", v) }
	kB("MemTotal", mi.TotalKiB)
	kB("MemFree", mi.FreeKiB)
	kB("MemAvailable", mi.AvailableKiB)
	kB("Buffers", 0)
	kB("Cached", 0)
	kB("SwapCached", 0)
	kB("Active", used)
	kB("Inactive", 0)
	kB("Active(anon)", used)
	kB("Inactive(anon)", 0)
	kB("Active(file)", 0)
	kB("Inactive(file)", 0)
	kB("Unevictable", 0)
	kB("Mlocked", 0)
	kB("SwapTotal", 0)
	kB("SwapFree", 0)
	kB("Dirty", 0)
	kB("Writeback", 0)
	kB("AnonPages", used)
	kB("Mapped", 0)
	kB("Shmem", 0)
	kB("KReclaimable", 0)
	kB("Slab", 0)
	kB("SReclaimable", 0)
	kB("SUnreclaim", 0)
	kB("KernelStack", 0)
	kB("PageTables", 0)
	kB("NFS_Unstable", 0)
	kB("Bounce", 0)
	kB("WritebackTmp", 0)
	kB("CommitLimit", mi.TotalKiB/2)
	kB("Committed_AS", used)
	kB("VmallocTotal", 34359738367)
	kB("VmallocUsed", 0)
	kB("VmallocChunk", 0)
	kB("Percpu", 0)
	kB("AnonHugePages", 0)
	kB("ShmemHugePages", 0)
	kB("ShmemPmdMapped", 0)
	kB("FileHugePages", 0)
	kB("FilePmdMapped", 0)
	b.WriteString("HugePages_Total:       0\nHugePages_Free:        0\nHugePages_Rsvd:        0\nHugePages_Surp:        0\n")
	kB("Hugepagesize", 2048)
	kB("Hugetlb", 0)
	return b.Bytes(), nil
}

// centis formats d as Linux's uptime does: seconds, a dot and two
// truncated decimals.
func centis(d time.Duration) string {
	d = max(d, 0)
	return fmt.Sprintf("%d.%02d", d/time.Second, d%time.Second/(10*time.Millisecond))
}

// uptime is /proc/uptime.
func (f *fsys) uptime() ([]byte, error) {
	up, idle := f.src.Uptime()
	return []byte(centis(up) + " " + centis(idle) + "\n"), nil
}

// loadavg is /proc/loadavg.
func (f *fsys) loadavg() ([]byte, error) {
	la := f.src.LoadAvg()
	ts := f.src.Threads()
	running, last := 0, f.pid
	for _, t := range ts {
		if state(t) == 'R' {
			running++
		}
		last = max(last, t.TID)
	}
	// Linux rounds the fixed-point averages half up to two decimals.
	avg := func(x float64) string {
		c := uint64(math.Floor(max(x, 0)*100 + 0.5))
		return fmt.Sprintf("%d.%02d", c/100, c%100)
	}
	return fmt.Appendf(nil, "%s %s %s %d/%d %d\n", avg(la[0]), avg(la[1]), avg(la[2]),
		max(running, 1), max(len(ts), 1), last), nil
}

// ticks converts a duration to clock ticks.
func ticks(d time.Duration) uint64 { return uint64(max(d, 0) / (time.Second / UserHZ)) }

// procStat is /proc/stat.
func (f *fsys) procStat() ([]byte, error) {
	cpus := f.src.CPUs()
	n := max(len(cpus), 1)
	type times struct{ user, sys, idle uint64 }
	per := make([]times, n)
	given := false
	for i, c := range cpus {
		per[i] = times{c.UserTicks, c.SysTicks, c.IdleTicks}
		given = given || per[i] != times{}
	}
	ts := f.src.Threads()
	if !given {
		var total times
		for _, t := range ts {
			total.user += t.UserTicks
			total.sys += t.SysTicks
		}
		_, idle := f.src.Uptime()
		total.idle = ticks(idle)
		share := func(v uint64, i int) uint64 {
			s := v / uint64(n)
			if uint64(i) < v%uint64(n) {
				s++
			}
			return s
		}
		for i := range per {
			per[i] = times{share(total.user, i), share(total.sys, i), share(total.idle, i)}
		}
	}
	var sum times
	for _, p := range per {
		sum.user += p.user
		sum.sys += p.sys
		sum.idle += p.idle
	}
	var b bytes.Buffer
	line := func(name string, t times) {
		fmt.Fprintf(&b, "%s %d 0 %d %d 0 0 0 0 0 0\n", name, t.user, t.sys, t.idle)
	}
	line("cpu ", sum)
	for i, p := range per {
		line(fmt.Sprintf("cpu%d", i), p)
	}
	running := 0
	for _, t := range ts {
		if state(t) == 'R' {
			running++
		}
	}
	fmt.Fprintf(&b, "intr 0\nctxt 0\nbtime %d\nprocesses %d\nprocs_running %d\nprocs_blocked 0\n",
		f.btime, max(len(ts), 1), max(running, 1))
	b.WriteString("softirq 0 0 0 0 0 0 0 0 0 0 0\n")
	return b.Bytes(), nil
}

// version is /proc/version.
func (f *fsys) version() ([]byte, error) {
	release, version := f.uname()
	return fmt.Appendf(nil, "Linux version %s (gosv@gosv) (%s) %s\n", release, runtime.Version(), version), nil
}
