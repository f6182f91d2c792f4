package kernel

//go:generate go run ../elfload/vdso/gen -o vdso_image.go

// The vDSO. Go's runtime and libc read clocks through the vDSO Linux
// maps into every process, falling back to system calls without one;
// under TCG those calls were most of the kernel's traps (dozens per HTTP
// request). gosv's vDSO is an ELF image (built by package
// gosv/elfload/vdso, embedded as vdsoImage) whose symbols point at
// functions in the kernel's text (vdso_amd64.s): the kernel and the
// application share ring 0 and one address space, so the application
// calls them where they are. The same image serves the kernel's own Go
// runtime (AT_SYSINFO_EHDR in its auxiliary vector) and the application.

const auxSysinfoEhdr = 33

// vdsoFuncAddresses returns the vDSO's functions.
func vdsoFuncAddresses() (clockGettime, gettimeofday, time uintptr)

// Assembly entry points (vdso_amd64.s), declared so vet knows them.
func vdsoClockGettime()
func vdsoGettimeofday()
func vdsoTime()

// setupVDSO stores each symbol's value: its function's address minus
// the image's (the image is its own load bias, as p_vaddr is 0). Once,
// before the kernel's runtime starts.
func setupVDSO() {
	base := uintptrOf(&vdsoImage)
	var fns [3]uintptr // in vdso.Func order
	fns[0], fns[1], fns[2] = vdsoFuncAddresses()
	for f, fields := range vdsoValueFields {
		for _, off := range fields {
			vdsoImage[off/8] = uint64(fns[f] - base)
		}
	}
}

// VDSOAddress is the vDSO image's address, for the application's
// AT_SYSINFO_EHDR.
func VDSOAddress() uint64 { return uint64(uintptrOf(&vdsoImage)) }
