package elfload

import (
	"errors"
	"io"
	"strings"
)

// Memory is how the loader changes the address space. The kernel
// implements it with its own mmap, mprotect and munmap; tests implement
// it with a sparse map of pages.
type Memory interface {
	// Map reserves and maps [addr, addr+size) zero-filled and
	// read-write. With fixed, the mapping goes exactly at addr and Map
	// fails with an error wrapping ErrCollision if anything is mapped
	// there already. Without fixed, addr is a hint (0: none) and Map
	// returns where the mapping went. addr and size are page multiples.
	Map(addr, size uint64, fixed bool) (uint64, error)
	// Protect sets the protection of [addr, addr+size), which is mapped.
	Protect(addr, size uint64, prot Prot) error
	// Unmap removes whatever is mapped in [addr, addr+size); unmapped
	// parts are not an error (as munmap).
	Unmap(addr, size uint64) error
	// Write copies b into memory at addr. The loader only writes to
	// memory it has mapped and not yet protected, so still read-write.
	Write(addr uint64, b []byte) error
}

// Prot is a memory protection: a set of ProtRead, ProtWrite, ProtExec.
// Zero is no access (PROT_NONE).
type Prot uint8

// Protection bits; the values are those of Linux's PROT_* constants.
const (
	ProtRead  Prot = 1
	ProtWrite Prot = 2
	ProtExec  Prot = 4
)

// String renders p as /proc/self/maps does, without the sharing flag:
// "r-x", "rw-", "---".
func (p Prot) String() string {
	b := []byte("---")
	if p&ProtRead != 0 {
		b[0] = 'r'
	}
	if p&ProtWrite != 0 {
		b[1] = 'w'
	}
	if p&ProtExec != 0 {
		b[2] = 'x'
	}
	return string(b)
}

// File is an executable or interpreter image: random access plus a size.
// *os.File does not implement it directly (its Size is in Stat); see
// NewFile, or wrap a bytes.Reader, which does.
type File interface {
	io.ReaderAt
	Size() int64
}

// sizedReaderAt is the File returned by NewFile.
type sizedReaderAt struct {
	io.ReaderAt
	size int64
}

func (f sizedReaderAt) Size() int64 { return f.size }

// NewFile pairs a reader with its size.
func NewFile(r io.ReaderAt, size int64) File { return sizedReaderAt{r, size} }

// Range is a half-open address range [Start, End). Name says what it is
// in error messages ("the kernel"); empty means "a reserved range".
type Range struct {
	Start, End uint64
	Name       string
}

// Segment is one mapping Load made, at page granularity, with what
// /proc/self/maps shows for it.
type Segment struct {
	Start, End uint64 // page-aligned, Start < End
	Prot       Prot
	// Name is the file's path for file-backed pages (Args.ExePath, or
	// the interpreter's path as PT_INTERP gives it), "[stack]" for the
	// stack, and "" for anonymous pages (bss past the file's last page,
	// the stack guard).
	Name string
	// Offset is the file offset that Start corresponds to, for
	// file-backed pages; 0 otherwise.
	Offset uint64
}

// Errors. Load's errors wrap one of these (or an error from Memory, the
// File, or OpenInterp); the kernel maps them to errno values: ENOEXEC,
// ENOMEM, E2BIG, EINVAL.
var (
	// ErrNotExecutable: the file is not an ELF program gosv can load.
	// The message says why.
	ErrNotExecutable = errors.New("not a loadable executable")
	// ErrCollision: the program wants addresses that are taken, by an
	// existing mapping or by an Args.Forbidden range. Memory
	// implementations wrap it when a fixed Map finds memory in use.
	ErrCollision = errors.New("address range in use")
	// ErrArgsTooLong: argv and envp do not fit the limits (E2BIG).
	ErrArgsTooLong = errors.New("argument list too long")
	// ErrInvalid: Args itself is malformed (missing Exe or Mem, a bad
	// page or stack size, a NUL inside an argument).
	ErrInvalid = errors.New("invalid load arguments")
)

// FormatError is the ErrNotExecutable error: errors.Is(err,
// ErrNotExecutable) holds for it.
type FormatError struct {
	File   string // what was being loaded ("" when ParseHeader is called directly)
	Reason string // why it is not loadable
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("elfload: ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	b.WriteString(ErrNotExecutable.Error())
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Is reports whether target is ErrNotExecutable.
func (e *FormatError) Is(target error) bool { return target == ErrNotExecutable }
