package appsys

import (
	"syscall"
	"unsafe"
)

// Application memory. The application lives in the kernel's address
// space, so its pointers are usable as they are; a bad one faults, and
// Server.call turns the fault into EFAULT (debug.SetPanicOnFault).

// ptr converts an application address. The double conversion keeps
// vet's unsafeptr check quiet about a deliberate uintptr -> pointer.
func ptr(addr uint64) unsafe.Pointer {
	a := uintptr(addr)
	return *(*unsafe.Pointer)(unsafe.Pointer(&a))
}

// bytesAt views n bytes of application memory.
func bytesAt(addr, n uint64) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if addr == 0 || addr+n < addr || n > 1<<31 {
		return nil, syscall.EFAULT
	}
	return unsafe.Slice((*byte)(ptr(addr)), n), nil
}

// stringAt reads a NUL-terminated string of at most max bytes.
func stringAt(addr uint64, max int) (string, error) {
	if addr == 0 {
		return "", syscall.EFAULT
	}
	var b []byte
	for i := 0; i < max; i++ {
		c := *(*byte)(ptr(addr + uint64(i)))
		if c == 0 {
			return string(b), nil
		}
		b = append(b, c)
	}
	return "", syscall.ENAMETOOLONG
}

// pathAt reads a path argument.
func pathAt(addr uint64) (string, error) {
	p, err := stringAt(addr, 4096)
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", syscall.ENOENT
	}
	return p, nil
}

func put64(addr uint64, v uint64) { *(*uint64)(ptr(addr)) = v }
func put32(addr uint64, v uint32) { *(*uint32)(ptr(addr)) = v }
func get64(addr uint64) uint64    { return *(*uint64)(ptr(addr)) }

// iovecs reads an array of struct iovec {base, len}.
func iovecs(addr uint64, n uint64) ([][]byte, error) {
	if n > 1024 {
		return nil, syscall.EINVAL
	}
	out := make([][]byte, 0, n)
	for i := uint64(0); i < n; i++ {
		b, err := bytesAt(get64(addr+16*i), get64(addr+16*i+8))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
