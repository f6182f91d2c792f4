package kernel

import "sync/atomic"

// The system-call table: one literal table from number to name and
// handler, shared by the kernel's Go runtime and the application. Calls
// that are not in it return ENOSYS and are logged once by name.

// sysBlocked is returned by a handler that parked the calling thread;
// the result is filled in when it is woken.
const sysBlocked = -1 << 62

// syscallHandler serves one call. f holds the caller's registers: the
// arguments are RDI, RSI, RDX, R10, R8, R9. It returns the result (a
// negative errno on failure) or sysBlocked.
type syscallHandler func(c *cpuLocal, t *thread, i int32, f *Frame) int64

type syscallEntry struct {
	name string
	fn   syscallHandler
}

// syscallNames lists calls gosv knows by name but does not implement, so
// the ENOSYS log line can name them.
var syscallTable = [...]syscallEntry{
	0:   {"read", sysRead},
	1:   {"write", sysWrite},
	2:   {"open", sysServe},
	3:   {"close", sysClose},
	4:   {"stat", sysServe},
	5:   {"fstat", sysFstat},
	6:   {"lstat", sysServe},
	7:   {"poll", sysPoll},
	8:   {"lseek", sysFDCall},
	9:   {"mmap", sysMmap},
	10:  {"mprotect", sysMprotect},
	11:  {"munmap", sysMunmap},
	12:  {"brk", sysBrk},
	13:  {"rt_sigaction", sysRtSigaction},
	14:  {"rt_sigprocmask", sysRtSigprocmask},
	15:  {"rt_sigreturn", sysRtSigreturn},
	16:  {"ioctl", sysIoctl},
	17:  {"pread64", sysFDCall},
	18:  {"pwrite64", sysFDCall},
	19:  {"readv", sysFDCall},
	20:  {"writev", sysWritev},
	21:  {"access", sysServe},
	22:  {"pipe", sysServe},
	23:  {"select", nil},
	24:  {"sched_yield", sysSchedYield},
	25:  {"mremap", sysMremap},
	28:  {"madvise", sysMadvise},
	32:  {"dup", sysDup},
	33:  {"dup2", sysDup2},
	35:  {"nanosleep", sysNanosleep},
	36:  {"getitimer", sysServeTimer},
	37:  {"alarm", sysServeTimer},
	38:  {"setitimer", sysServeTimer},
	39:  {"getpid", sysGetpid},
	40:  {"sendfile", sysFDCall},
	41:  {"socket", sysServe},
	42:  {"connect", sysFDCall},
	43:  {"accept", sysFDCall},
	44:  {"sendto", sysFDCall},
	45:  {"recvfrom", sysFDCall},
	46:  {"sendmsg", sysFDCall},
	47:  {"recvmsg", sysFDCall},
	48:  {"shutdown", sysFDCall},
	49:  {"bind", sysFDCall},
	50:  {"listen", sysFDCall},
	51:  {"getsockname", sysFDCall},
	52:  {"getpeername", sysFDCall},
	53:  {"socketpair", sysServe},
	54:  {"setsockopt", sysFDCall},
	55:  {"getsockopt", sysFDCall},
	56:  {"clone", sysClone},
	57:  {"fork", nil},
	58:  {"vfork", nil},
	59:  {"execve", nil},
	60:  {"exit", sysExit},
	61:  {"wait4", sysNoChildren},
	62:  {"kill", sysKill},
	63:  {"uname", sysUname},
	72:  {"fcntl", sysFcntl},
	74:  {"fsync", sysFDCall},
	75:  {"fdatasync", sysFDCall},
	76:  {"truncate", sysServe},
	77:  {"ftruncate", sysFDCall},
	78:  {"getdents", sysFDCall},
	79:  {"getcwd", sysServe},
	80:  {"chdir", sysServe},
	81:  {"fchdir", sysFDCall},
	82:  {"rename", sysServe},
	83:  {"mkdir", sysServe},
	84:  {"rmdir", sysServe},
	86:  {"link", sysServe},
	87:  {"unlink", sysServe},
	88:  {"symlink", sysServe},
	89:  {"readlink", sysServe},
	90:  {"chmod", sysServe},
	91:  {"fchmod", sysFDCall},
	92:  {"chown", sysServe},
	93:  {"fchown", sysFDCall},
	94:  {"lchown", sysServe},
	95:  {"umask", sysServe},
	96:  {"gettimeofday", sysGettimeofday},
	97:  {"getrlimit", sysGetrlimit},
	98:  {"getrusage", sysGetrusage},
	99:  {"sysinfo", sysSysinfo},
	102: {"getuid", sysZero},
	104: {"getgid", sysZero},
	107: {"geteuid", sysZero},
	108: {"getegid", sysZero},
	110: {"getppid", sysZero},
	115: {"getgroups", sysZero}, // no supplementary groups
	125: {"capget", sysCapget},
	131: {"sigaltstack", sysSigaltstack},
	132: {"utime", sysServe},
	133: {"mknod", sysServe},
	137: {"statfs", sysServe},
	138: {"fstatfs", sysFDCall},
	157: {"prctl", sysPrctl},
	158: {"arch_prctl", sysArchPrctl},
	186: {"gettid", sysGettid},
	200: {"tkill", sysTkill},
	201: {"time", sysTime},
	202: {"futex", sysFutex},
	203: {"sched_setaffinity", sysZero},
	204: {"sched_getaffinity", sysSchedGetaffinity},
	217: {"getdents64", sysFDCall},
	218: {"set_tid_address", sysSetTidAddress},
	222: {"timer_create", sysServeTimer},
	223: {"timer_settime", sysServeTimer},
	224: {"timer_gettime", sysServeTimer},
	225: {"timer_getoverrun", sysServeTimer},
	226: {"timer_delete", sysServeTimer},
	228: {"clock_gettime", sysClockGettime},
	229: {"clock_getres", sysClockGetres},
	230: {"clock_nanosleep", sysClockNanosleep},
	231: {"exit_group", sysExitGroup},
	232: {"epoll_wait", sysEpollWait},
	233: {"epoll_ctl", sysEpollCtl},
	234: {"tgkill", sysTgkill},
	235: {"utimes", sysServe},
	247: {"waitid", sysNoChildren},
	257: {"openat", sysServe},
	258: {"mkdirat", sysServe},
	259: {"mknodat", sysServe},
	260: {"fchownat", sysServe},
	261: {"futimesat", sysServe},
	262: {"newfstatat", sysNewfstatat},
	263: {"unlinkat", sysServe},
	264: {"renameat", sysServe},
	265: {"linkat", sysServe},
	266: {"symlinkat", sysServe},
	267: {"readlinkat", sysServe},
	268: {"fchmodat", sysServe},
	269: {"faccessat", sysServe},
	270: {"pselect6", nil},
	271: {"ppoll", sysPpoll},
	273: {"set_robust_list", sysZero},
	// splice and tee: EINVAL is Linux's answer for fds that cannot
	// splice, and callers (Go's io.Copy between sockets) fall back to
	// read and write.
	275: {"splice", sysCannotSplice},
	276: {"tee", sysCannotSplice},
	280: {"utimensat", sysServe},
	281: {"epoll_pwait", sysEpollPwait},
	283: {"timerfd_create", sysServeTimer},
	286: {"timerfd_settime", sysServe},
	287: {"timerfd_gettime", sysServe},
	288: {"accept4", sysFDCall},
	290: {"eventfd2", sysEventfd2},
	291: {"epoll_create1", sysEpollCreate1},
	292: {"dup3", sysDup3},
	293: {"pipe2", sysServe},
	295: {"preadv", sysFDCall},
	296: {"pwritev", sysFDCall},
	299: {"recvmmsg", sysFDCall},
	302: {"prlimit64", sysPrlimit64},
	307: {"sendmmsg", sysFDCall},
	316: {"renameat2", sysServe},
	318: {"getrandom", sysGetrandom},
	324: {"membarrier", nil},
	326: {"copy_file_range", nil},
	332: {"statx", sysServe},
	334: {"rseq", nil},
	434: {"pidfd_open", nil},
	435: {"clone3", sysClone3},
	439: {"faccessat2", sysServe},
	452: {"fchmodat2", sysServe},
}

// enosysLogged records which unknown calls were already reported.
var enosysLogged [8]uint64

// sysGosvDebug is gosv's own call for tests of the fatal path (outside
// Linux's number range).
const sysGosvDebug = 0x7ff0

func doSyscall(c *cpuLocal, t *thread, f *Frame) {
	nr := f.RAX
	t.syscallNr = nr
	if nr >= sysGosvDebug {
		if r, ok := doGosvSyscall(c, t, f); ok {
			f.RAX = uint64(r)
			return
		}
	}
	var e *syscallEntry
	if nr < uint64(len(syscallTable)) {
		e = &syscallTable[nr]
		syscallCounts[t.proc&1][nr].Add(1)
	}
	if e == nil || e.fn == nil {
		if nr < 512 && enosysLogged[nr/64]&(1<<(nr%64)) == 0 {
			enosysLogged[nr/64] |= 1 << (nr % 64)
			l := line{}
			l.s("gosv: unimplemented system call ").u(nr)
			if e != nil && e.name != "" {
				l.s(" (").s(e.name).s(")")
			}
			l.s(": ENOSYS").print()
		}
		f.RAX = uint64(errnoResult(ENOSYS))
		return
	}
	r := e.fn(c, t, c.sched.current, f)
	if r != sysBlocked {
		f.RAX = uint64(r)
		raiseSIGPIPE(t, f, nr, r)
		return
	}
	interruptIfSignalled(c.sched.current)
}

// syscallTableReady reports whether the table was laid out by the linker
// (it must be: the runtime makes system calls before package init).
func syscallTableReady() bool { return syscallTable[1].fn != nil }

// syscallCounts counts each table call by process (the kernel's Go
// runtime, the application), for CoreCounters.
var syscallCounts [2][len(syscallTable)]atomic.Uint64

func errnoResult(e errno) int64 { return -int64(e) }
