package appsys

import (
	"syscall"
	"testing"

	"gosv/kernel"
	"gosv/kernel/appsys/sockets"
	"gosv/vfs"
)

// TestCannotBlock: which calls the serving loop runs itself. fcntl and
// ioctl on sockets must be among them, so that a change to O_NONBLOCK is
// ordered with the socket calls the loop runs because the socket was
// non-blocking (otherwise one of those can find it blocking and stall
// the loop).
func TestCannotBlock(t *testing.T) {
	var fs vfs.FS
	s := New(&fs, "/")
	const sock, file, none = 1, 2, 3
	s.files[sock] = &openFile{sock: new(sockets.Socket)} // blocking
	s.files[file] = &openFile{path: "/f"}
	for _, tc := range []struct {
		nr     uint64
		handle int32
		want   bool
	}{
		{syscall.SYS_FCNTL, sock, true},
		{syscall.SYS_IOCTL, sock, true},
		{syscall.SYS_FCNTL, file, false}, // may wait for the file's lock during I/O
		{syscall.SYS_IOCTL, none, false},
		{syscall.SYS_GETSOCKOPT, sock, true},
		{syscall.SYS_READ, sock, false}, // a blocking socket's read waits
		{syscall.SYS_READ, file, false},
	} {
		r := kernel.Request{Nr: tc.nr, Handle: tc.handle}
		if got := s.cannotBlock(&r); got != tc.want {
			t.Errorf("cannotBlock(%d on handle %d) = %v, want %v", tc.nr, tc.handle, got, tc.want)
		}
	}
}
