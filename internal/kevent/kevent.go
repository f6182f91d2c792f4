// Package kevent is a wake-up from gosv's core to a goroutine: a
// non-blocking eventfd of the kernel's that the core raises (a device
// interrupt, work queued for the system-call server) and that the
// goroutine waits on through the Go scheduler's netpoller.
//
// Waiting there holds no thread: the goroutine parks, and whichever
// runtime thread polls next (the one blocked in epoll_pwait when all
// were idle, or a busy one at its next netpoll) readies it. A blocking
// system call instead parks a whole thread, and its return takes a P
// and wakes the runtime's sysmon when all Ps were idle: a thread switch
// or two per wake-up.
package kevent

import (
	"context"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Event is one eventfd registered with the netpoller. One goroutine
// waits on it at a time.
type Event struct {
	fd   int      // not f.Fd(), which would make the file blocking
	f    *os.File // holds the netpoller registration
	raw  syscall.RawConn
	done <-chan struct{} // the context whose end raises the eventfd
}

// New returns a new Event once bind (the core call that makes
// something raise it) has accepted its descriptor. It stays open for
// good: what the core raises must not go away.
func New(bind func(fd int) error) (*Event, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// Non-blocking, so os.NewFile registers it with the netpoller.
	f := os.NewFile(uintptr(fd), "kevent")
	raw, err := f.SyscallConn()
	if err == nil {
		err = bind(fd)
	}
	if err != nil {
		f.Close() // the core was never told to raise it
		return nil, err
	}
	return &Event{fd: fd, f: f, raw: raw}, nil
}

// raise adds one to the eventfd, as the core does.
func (e *Event) raise() {
	one := uint64(1)
	syscall.RawSyscall(syscall.SYS_WRITE, uintptr(e.fd), uintptr(unsafe.Pointer(&one)), 8)
}

// Wait parks until the eventfd has been raised, and takes its count; it
// returns early (nil) when ctx ends, which the caller checks. Raises
// coalesce: several before a Wait make it return once.
func (e *Event) Wait(ctx context.Context) error {
	if d := ctx.Done(); d != nil && d != e.done {
		// The context's end raises the eventfd, which ends the wait.
		// Registered once per context.
		e.done = d
		context.AfterFunc(ctx, e.raise)
	}
	var count uint64
	return e.raw.Read(func(fd uintptr) bool {
		// RawSyscall: the core answers an eventfd read at once, so the
		// runtime need not know of a system call (entersyscall would
		// wake sysmon, and let it hand this thread's P away).
		_, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&count)), 8)
		return errno != syscall.EAGAIN
	})
}
