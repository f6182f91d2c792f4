// Package kernel is the core of gosv: it turns a bare x86-64 machine into
// the Linux system-call interface that a stock Go runtime (the kernel's
// own) and an unmodified Linux program run on.
//
// # Two kinds of kernel code
//
// Core code runs in trap context: on a per-CPU kernel stack, with
// interrupts off, with FS pointing at a per-CPU block whose g is a
// zeroed stand-in (see percpu.go). It serves system calls, page faults
// and interrupts. Because the stand-in g has no m, core code must not
// allocate, must not start goroutines, must not panic on purpose, and
// must not store Go pointers into the heap (write barriers need an m).
// Its data structures live in fixed arrays and link by index or uintptr.
// It must not take page faults either: user memory is reached through
// userMemory, which maps pages in software and reports bad addresses as
// EFAULT.
//
// Everything else (drivers, the network stack, the REST API, the boot
// sequence after the runtime starts) is ordinary Go running in
// goroutines of the kernel's own Go runtime, whose threads are kernel
// threads scheduled by sched.go.
//
// # No privilege switch
//
// As in OSv, the kernel and the application run in ring 0 in one address
// space. A system call is a SYSCALL instruction whose entry never touches
// the caller's stack; every interrupt runs on an IST stack so that a
// ring-0 interrupt does not push onto an application's red zone. See
// docs/design.md for the measurements behind the choice.
package kernel
