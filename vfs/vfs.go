// Package vfs is the file system core the kernel's syscall layer serves
// an application's file calls from: the Node interface every file system
// implements, a mount table (FS) that resolves Linux path names across
// mounts, and the mapping from Go errors to Linux errnos.
//
// A Node is any file: regular file, directory, symbolic link or special
// file. Every Node has the read side (Stat, ReadAt, Readdir, Lookup,
// Readlink); a method that does not apply to the node's type fails with
// the errno Linux would give (ReadAt on a directory: EISDIR, Lookup on a
// file: ENOTDIR, Readlink on a non-link: EINVAL). Writable file systems
// also implement the optional interfaces Writer, Truncater, DirWriter,
// Linker, AttrChanger and Mknoder; the syscall layer type-asserts and answers EROFS when a node
// lacks them (the FS helpers do this already).
//
// Errors are ordinary Go errors wrapping a syscall.Errno; Errno turns any
// of them into the errno a system call returns.
package vfs

import (
	"errors"
	"io/fs"
	"syscall"
	"time"
)

// Linux st_mode bits.
const (
	S_IFMT   uint32 = 0o170000
	S_IFSOCK uint32 = 0o140000
	S_IFLNK  uint32 = 0o120000
	S_IFREG  uint32 = 0o100000
	S_IFBLK  uint32 = 0o060000
	S_IFDIR  uint32 = 0o040000
	S_IFCHR  uint32 = 0o020000
	S_IFIFO  uint32 = 0o010000
	S_ISUID  uint32 = 0o004000
	S_ISGID  uint32 = 0o002000
	S_ISVTX  uint32 = 0o001000
	// PermMask selects the permission bits including set-id and sticky.
	PermMask uint32 = 0o7777
)

// Linux d_type values for Dirent.Type.
const (
	DT_UNKNOWN uint8 = 0
	DT_FIFO    uint8 = 1
	DT_CHR     uint8 = 2
	DT_DIR     uint8 = 4
	DT_BLK     uint8 = 6
	DT_REG     uint8 = 8
	DT_LNK     uint8 = 10
	DT_SOCK    uint8 = 12
)

// Linux limits.
const (
	// NameMax is the longest path component (NAME_MAX).
	NameMax = 255
	// PathMax is PATH_MAX: it counts the terminating NUL, so the longest
	// path name is PathMax-1 bytes.
	PathMax = 4096
	// MaxSymlinks is how many symbolic links one resolution may follow
	// (Linux's MAXSYMLINKS).
	MaxSymlinks = 40
)

// Stat is a node's metadata in Linux terms.
type Stat struct {
	// Mode is the file type (S_IFREG, S_IFDIR...) | permission bits.
	Mode uint32
	// Ino is the inode number, unique and stable within one file system.
	Ino uint64
	// Nlink is the number of names (for a directory: 2 + subdirectories).
	Nlink uint64
	UID   uint32
	GID   uint32
	// Rdev is the device number of a character or block device (Mkdev).
	Rdev uint64
	// Size is the length in bytes (for a symbolic link: the target's).
	Size int64
	// Atime, Mtime and Ctime are the access, modification and status
	// change times.
	Atime, Mtime, Ctime time.Time
}

// IsDir reports whether the mode is a directory.
func (s Stat) IsDir() bool { return s.Mode&S_IFMT == S_IFDIR }

// IsRegular reports whether the mode is a regular file.
func (s Stat) IsRegular() bool { return s.Mode&S_IFMT == S_IFREG }

// IsSymlink reports whether the mode is a symbolic link.
func (s Stat) IsSymlink() bool { return s.Mode&S_IFMT == S_IFLNK }

// Dirent is one directory entry. "." and ".." are not entries: the
// syscall layer, which knows the parent across mounts, adds them.
type Dirent struct {
	Name string
	Ino  uint64
	// Type is the DT_* value of the entry's file type.
	Type uint8
	// Off is the entry's position cookie: entries come in increasing Off
	// order, every Off is >= 1, and an entry keeps its Off for as long
	// as it exists, so a reader resumes after cookie c with the first
	// entry whose Off > c even if entries were added or removed (the
	// getdents d_off contract).
	Off int64
}

// Node is a file of any type.
type Node interface {
	// Stat returns the node's metadata.
	Stat() (Stat, error)
	// ReadAt reads a regular file, following io.ReaderAt: fewer than
	// len(p) bytes come with io.EOF. Directories fail with EISDIR, other
	// types with EINVAL.
	ReadAt(p []byte, off int64) (int, error)
	// Readdir lists a directory in a stable order (see Dirent.Off).
	// Other types fail with ENOTDIR.
	Readdir() ([]Dirent, error)
	// Lookup finds one name (not "." or "..") in a directory: ENOENT if
	// absent, ENOTDIR on other types.
	Lookup(name string) (Node, error)
	// Readlink returns a symbolic link's target; other types fail with
	// EINVAL.
	Readlink() (string, error)
}

// Writer is implemented by nodes of writable file systems. WriteAt on a
// directory fails with EISDIR; writing past the end extends the file,
// leaving a hole of zeros.
type Writer interface {
	WriteAt(p []byte, off int64) (int, error)
}

// Truncater is implemented by nodes of writable file systems.
type Truncater interface {
	Truncate(size int64) error
}

// DirWriter is implemented by directories of writable file systems.
// Names are single components: "", ".", ".." and names with '/' fail with
// EINVAL (CheckName).
type DirWriter interface {
	// Create makes a new empty regular file: EEXIST if the name exists.
	Create(name string, perm uint32) (Node, error)
	// Mkdir makes a new empty directory: EEXIST if the name exists.
	Mkdir(name string, perm uint32) (Node, error)
	// Symlink makes a symbolic link to target: EEXIST if the name exists.
	Symlink(name, target string) (Node, error)
	// Unlink removes a non-directory (EISDIR for a directory).
	Unlink(name string) error
	// Rmdir removes an empty directory (ENOTDIR, ENOTEMPTY).
	Rmdir(name string) error
	// Rename moves oldName to newName in newDir, which must belong to the
	// same file system (EXDEV otherwise), replacing newName as Linux's
	// rename(2) does.
	Rename(oldName string, newDir Node, newName string) error
}

// Linker is implemented by directories of file systems with hard links.
type Linker interface {
	// Link adds name as a new name of target, a non-directory of the same
	// file system (EXDEV otherwise, EPERM for a directory).
	Link(name string, target Node) error
}

// AttrChange is a change of a node's metadata (chmod, chown, utimensat).
// Nil fields stay as they are.
type AttrChange struct {
	// Mode is the new permission bits (PermMask); the file type stays.
	Mode *uint32
	UID  *uint32
	GID  *uint32
	// Atime and Mtime are the new access and modification times.
	Atime *time.Time
	Mtime *time.Time
}

// AttrChanger is implemented by nodes of writable file systems. A change
// sets the status change time (ctime) too; a change of owner clears the
// set-user-ID bit of a non-directory, and its set-group-ID bit if it is
// group-executable, as Linux does.
type AttrChanger interface {
	ChangeAttr(c AttrChange) error
}

// ChangeAttr applies c to n: EROFS if n's file system is read-only.
func ChangeAttr(n Node, c AttrChange) error {
	a, ok := n.(AttrChanger)
	if !ok {
		return syscall.EROFS
	}
	return a.ChangeAttr(c)
}

// Mknoder is implemented by directories of file systems that hold
// special files.
type Mknoder interface {
	// Mknod makes a file of the type in mode (S_IFREG, S_IFIFO or
	// S_IFSOCK; mode has the permission bits too): EEXIST if the name
	// exists, EPERM for other types. The syscall layer gives FIFOs and
	// sockets their behaviour; the file system only keeps their names
	// and metadata.
	Mknod(name string, mode uint32) (Node, error)
}

// CheckName validates a single path component for creation.
func CheckName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return syscall.EINVAL
	case len(name) > NameMax:
		return syscall.ENAMETOOLONG
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return syscall.EINVAL
		}
	}
	return nil
}

// DirentType returns the DT_* value for a mode.
func DirentType(mode uint32) uint8 {
	switch mode & S_IFMT {
	case S_IFREG:
		return DT_REG
	case S_IFDIR:
		return DT_DIR
	case S_IFLNK:
		return DT_LNK
	case S_IFCHR:
		return DT_CHR
	case S_IFBLK:
		return DT_BLK
	case S_IFIFO:
		return DT_FIFO
	case S_IFSOCK:
		return DT_SOCK
	}
	return DT_UNKNOWN
}

// Mkdev combines a major and minor device number as Linux's makedev does.
func Mkdev(major, minor uint32) uint64 {
	ma, mi := uint64(major), uint64(minor)
	return (ma&0xfffff000)<<32 | (ma&0xfff)<<8 | (mi&0xffffff00)<<12 | mi&0xff
}

// Errno returns the Linux errno for err: 0 for nil, the syscall.Errno that
// err wraps, the errno matching the io/fs sentinel errors, else EIO.
func Errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, fs.ErrExist):
		return syscall.EEXIST
	case errors.Is(err, fs.ErrPermission):
		return syscall.EACCES
	case errors.Is(err, fs.ErrInvalid):
		return syscall.EINVAL
	case errors.Is(err, fs.ErrClosed):
		return syscall.EBADF
	}
	return syscall.EIO
}
