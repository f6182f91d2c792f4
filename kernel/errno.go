package kernel

// errno is a Linux error number. Core code returns them directly since
// it sits at the system-call boundary; a syscall returns -errno.
type errno int64

// Linux errno values (include/uapi/asm-generic/errno-base.h, errno.h).
const (
	EPERM     errno = 1
	ENOENT    errno = 2
	ESRCH     errno = 3
	EINTR     errno = 4
	EIO       errno = 5
	EBADF     errno = 9
	ECHILD    errno = 10
	EAGAIN    errno = 11
	ENOMEM    errno = 12
	EACCES    errno = 13
	EFAULT    errno = 14
	EEXIST    errno = 17
	ENODEV    errno = 19
	ENOTDIR   errno = 20
	EINVAL    errno = 22
	EMFILE    errno = 24
	ENOTTY    errno = 25
	ENOSPC    errno = 28
	ESPIPE    errno = 29
	ERANGE    errno = 34
	ENOSYS    errno = 38
	ENOTSOCK  errno = 88
	EISCONN   errno = 106
	ETIMEDOUT errno = 110
)

// EOPNOTSUPP: an operation the file does not support (passing a file
// the core serves itself over a socket).
const EOPNOTSUPP errno = 95

// EPIPE: a write to a pipe or socket nobody reads (it raises SIGPIPE).
const EPIPE errno = 32
