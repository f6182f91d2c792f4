// Package app starts the one application a gosv machine runs: it finds
// the program in the boot filesystem, loads it with elfload into the
// shared address space, starts its first thread through the core, and
// then serves the application's file system calls (appsys) for as long
// as the machine runs. The application's exit powers the machine off.
package app

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"syscall"
	"unsafe"

	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"gosv/elfload"
	"gosv/kernel"
	"gosv/kernel/appsys"
	"gosv/vfs"
	"gosv/vfs/devfs"
	"gosv/vfs/procfs"
	"gosv/vfs/sysfs"
)

// Config says what to run.
type Config struct {
	FS   *vfs.FS
	Argv []string // Argv[0] is the program: a path, or a name looked up in PATH
	Env  []string
	Cwd  string
	// Network serves the application's AF_INET/AF_INET6 sockets (nil:
	// those fail with EAFNOSUPPORT; AF_UNIX works regardless).
	Network *stack.Stack
}

// defaultPath is where programs named without a slash are looked for.
const defaultPath = "/bin:/usr/bin:/sbin:/usr/sbin"

// Start loads and starts the application, and returns a function that
// serves its system calls (it never returns) and must be called next.
func Start(c Config) (serve func(), err error) {
	if len(c.Argv) == 0 {
		return nil, errors.New("no program to run")
	}
	if c.Cwd == "" {
		c.Cwd = "/"
	}
	env := withDefaults(c.Env)
	exePath, node, err := find(c.FS, c.Cwd, c.Argv[0], env)
	if err != nil {
		return nil, err
	}
	st, err := node.Stat()
	if err != nil {
		return nil, err
	}
	if !st.IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", exePath)
	}
	// Not crypto/rand: it links a 32 MiB buffer (FIPS DRBG memory) into
	// the kernel's BSS, which a 16 MiB machine cannot afford.
	random := kernel.RandomBytes16()
	res, err := elfload.Load(elfload.Args{
		Exe:     elfload.NewFile(node, st.Size),
		ExePath: exePath,
		Argv:    c.Argv,
		Envv:    env,
		OpenInterp: func(p string) (elfload.File, error) {
			n, err := c.FS.Resolve("/", p, true)
			if err != nil {
				return nil, fmt.Errorf("interpreter %s: %w", p, err)
			}
			ist, err := n.Stat()
			if err != nil {
				return nil, err
			}
			return elfload.NewFile(n, ist.Size), nil
		},
		Mem:         memory{},
		Random:      random,
		SysinfoEhdr: kernel.VDSOAddress(),
		// Linux gives it on x86 since 5.14: the signal frame grows
		// with the FPU state (AVX here).
		MinSigStackSize: kernel.SignalStackMin(),
		PageSize:        4096,
		// Page 0 and the low 64 KiB stay unmapped, so null pointers fault.
		Forbidden: []elfload.Range{{Start: 0, End: 0x10000, Name: "the null page guard"}, kernel.ImageRange()},
	})
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", exePath, err)
	}
	server := appsys.New(c.FS, c.Cwd)
	server.SetNetwork(c.Network)
	src := &procSource{fs: c.FS, server: server, exe: exePath, argv: c.Argv, env: env, started: kernel.Uptime()}
	for _, m := range []struct {
		path string
		root vfs.Node
	}{
		{"/dev", devfs.NewWith(devfs.Options{Console: os.Stdout})},
		{"/proc", procfs.New(src)},
		{"/sys", sysfs.New(sysfs.SysSource{CPUs: kernel.CPUCount()})},
	} {
		if err := c.FS.Mount(m.path, m.root); err != nil {
			return nil, fmt.Errorf("mounting %s: %w", m.path, err)
		}
	}
	ready := make(chan struct{})
	serve = func() {
		close(ready)
		server.Run()
	}
	go func() {
		// Start the application once the server runs: its first
		// call may need it.
		<-ready
		if _, err := kernel.SpawnApplication(uintptr(res.Entry), uintptr(res.StackPointer), uintptr(res.Brk)); err != nil {
			fmt.Printf("gosv: cannot start %s: %v\n", exePath, err)
			kernel.PowerOff(1)
		}
	}()
	return serve, nil
}

func withDefaults(env []string) []string {
	have := map[string]bool{}
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		have[k] = true
	}
	out := append([]string(nil), env...)
	for _, d := range []string{"PATH=" + defaultPath, "HOME=/root", "TERM=linux"} {
		k, _, _ := strings.Cut(d, "=")
		if !have[k] {
			out = append(out, d)
		}
	}
	return out
}

// find resolves the program: a path (with a slash) relative to cwd, or
// a name searched for in PATH as a shell would.
func find(fs *vfs.FS, cwd, name string, env []string) (string, vfs.Node, error) {
	if strings.Contains(name, "/") {
		n, abs, err := fs.ResolvePath(cwd, name, true)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", name, err)
		}
		return abs, n, nil
	}
	dirs := defaultPath
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			dirs = v
		}
	}
	for _, d := range strings.Split(dirs, ":") {
		p := path.Join(d, name)
		if n, abs, err := fs.ResolvePath("/", p, true); err == nil {
			return abs, n, nil
		}
	}
	return "", nil, fmt.Errorf("%s: not found in %s", name, dirs)
}

// memory implements elfload.Memory with the kernel's own mmap: the
// application's address space is the kernel's.
type memory struct{}

const (
	mapFixedNoReplace = 0x100000
)

func (memory) Map(addr, size uint64, fixed bool) (uint64, error) {
	flags := uintptr(syscall.MAP_PRIVATE | syscall.MAP_ANONYMOUS)
	if fixed {
		flags |= mapFixedNoReplace
	}
	got, _, e := syscall.Syscall6(syscall.SYS_MMAP, uintptr(addr), uintptr(size),
		syscall.PROT_READ|syscall.PROT_WRITE, flags, ^uintptr(0), 0)
	switch {
	case e == syscall.EEXIST || e == syscall.ENOMEM && fixed:
		return 0, fmt.Errorf("%w: %#x-%#x", elfload.ErrCollision, addr, addr+size)
	case e != 0:
		return 0, e
	case fixed && uint64(got) != addr:
		return 0, fmt.Errorf("%w: %#x-%#x", elfload.ErrCollision, addr, addr+size)
	}
	return uint64(got), nil
}

func (memory) Protect(addr, size uint64, prot elfload.Prot) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MPROTECT, uintptr(addr), uintptr(size), uintptr(prot)); e != 0 {
		return e
	}
	return nil
}

func (memory) Unmap(addr, size uint64) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MUNMAP, uintptr(addr), uintptr(size), 0); e != 0 {
		return e
	}
	return nil
}

// Write copies into memory the loader has mapped read-write and not yet
// protected (elfload's contract).
func (memory) Write(addr uint64, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	a := uintptr(addr)
	dst := unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&a))), len(b))
	copy(dst, b)
	return nil
}
