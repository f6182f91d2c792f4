package appsys

import (
	"errors"
	"io"
	"syscall"

	"gosv/kernel"
)

const (
	mapShared    = 0x01
	mapPrivate   = 0x02
	mapAnonymous = 0x20
	protWrite    = 0x2
)

// mmap serves file mappings as private copies: anonymous memory mapped
// by the kernel (one address space, so the kernel's own mmap places it
// where the application asked), filled from the file, then given the
// requested protection. MAP_SHARED mappings are copies too: writes do
// not reach the file (no page cache yet).
func (s *Server) mmap(r *kernel.Request) (int64, error) {
	addr, length, prot, flags, off := r.Args[0], r.Args[1], r.Args[2], r.Args[3], r.Args[5]
	f, err := s.file(r)
	if err != nil {
		return 0, err
	}
	if f.pipe != nil {
		return 0, syscall.ENODEV
	}
	if off&4095 != 0 || length == 0 {
		return 0, syscall.EINVAL
	}
	if f.flags&oAccMode == oWronly {
		return 0, syscall.EACCES
	}
	anonFlags := flags&^(mapShared|mapPrivate) | mapPrivate | mapAnonymous
	got, _, e := syscall.Syscall6(syscall.SYS_MMAP, uintptr(addr), uintptr(length),
		syscall.PROT_READ|syscall.PROT_WRITE, uintptr(anonFlags), ^uintptr(0), 0)
	if e != 0 {
		return 0, e
	}
	dst, err := bytesAt(uint64(got), length)
	if err != nil {
		return 0, err
	}
	n, err := f.node.ReadAt(dst, int64(off))
	if err != nil && !errors.Is(err, io.EOF) {
		syscall.Syscall(syscall.SYS_MUNMAP, got, uintptr(length), 0)
		return 0, err
	}
	_ = n // the rest of the mapping stays zero, as past EOF on Linux
	if prot != syscall.PROT_READ|syscall.PROT_WRITE {
		if _, _, e := syscall.Syscall(syscall.SYS_MPROTECT, got, uintptr(length), uintptr(prot)); e != 0 {
			syscall.Syscall(syscall.SYS_MUNMAP, got, uintptr(length), 0)
			return 0, e
		}
	}
	return int64(got), nil
}
