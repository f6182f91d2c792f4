package appsys

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"gosv/vfs"
	"gosv/vfs/ramfs"
)

// addr is the application address of a Go value (one address space).
func addr[T any](p *T) uint64 { return uint64(uintptr(unsafe.Pointer(p))) }

func TestTimespecTimes(t *testing.T) {
	ts := func(asec, ansec, msec, mnsec int64) *[4]int64 { return &[4]int64{asec, ansec, msec, mnsec} }
	for _, c := range []struct {
		name         string
		in           *[4]int64
		atime, mtime string // "now", "omit" or seconds.nanoseconds
		err          error
	}{
		{"both", ts(10, 5, 20, 6), "10.5", "20.6", nil},
		{"before 1970", ts(-1, 0, 0, 0), "-1.0", "0.0", nil},
		{"now and omit", ts(0, utimeNow, 0, utimeOmit), "now", "omit", nil},
		{"omit both", ts(0, utimeOmit, 0, utimeOmit), "omit", "omit", nil},
		{"bad nanoseconds", ts(0, 1e9, 0, 0), "", "", syscall.EINVAL},
		{"negative nanoseconds", ts(0, 0, 0, -1), "", "", syscall.EINVAL},
		{"NULL", nil, "now", "now", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var a uint64
			if c.in != nil {
				a = addr(c.in)
			}
			start := time.Now()
			at, mt, err := timespecTimes(a)
			if err != c.err {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			show := func(p *time.Time) string {
				switch {
				case p == nil:
					return "omit"
				case !p.Before(start) && p.Sub(start) < time.Minute:
					return "now"
				}
				return fmt.Sprintf("%d.%d", p.Unix(), p.Nanosecond())
			}
			if err == nil && (show(at) != c.atime || show(mt) != c.mtime) {
				t.Errorf("(-want +got):\n- %s %s\n+ %s %s", c.atime, c.mtime, show(at), show(mt))
			}
		})
	}
}

func TestChownNode(t *testing.T) {
	n := ramfs.New()
	for _, c := range []struct {
		uid, gid         uint64
		wantUID, wantGID uint32
	}{
		{5, 6, 5, 6},
		{uint64(noID), 7, 5, 7},
		{8, uint64(noID), 8, 7},
		{1<<32 - 1, 1<<32 - 1, 8, 7}, // -1 as a 32-bit argument
	} {
		if err := chownNode(n, c.uid, c.gid); err != nil {
			t.Fatal(err)
		}
		st, _ := n.Stat()
		if st.UID != c.wantUID || st.GID != c.wantGID {
			t.Errorf("chown(%d, %d): uid %d gid %d, want %d %d", int64(c.uid), int64(c.gid), st.UID, st.GID, c.wantUID, c.wantGID)
		}
	}
	if err := chmodNode(struct{ vfs.Node }{n}, 0o700); err != syscall.EROFS {
		t.Errorf("chmod on a read-only node: %v, want EROFS", err)
	}
}

func TestAccessFlags(t *testing.T) {
	for _, c := range []struct {
		name            string
		nr, mode, flags uint64
		follow          bool
		err             error
	}{
		{"access", syscall.SYS_ACCESS, 4, 0, true, nil},
		{"access bad mode", syscall.SYS_ACCESS, 8, 0, false, syscall.EINVAL},
		{"faccessat ignores the fourth register", syscall.SYS_FACCESSAT, 4, 0xdead, true, nil},
		{"faccessat2", sysFaccessat2, 0, 0, true, nil},
		{"faccessat2 AT_EACCESS", sysFaccessat2, 4, atEaccess, true, nil},
		{"faccessat2 no follow", sysFaccessat2, 4, atSymlinkNofollow, false, nil},
		{"faccessat2 unknown flag", sysFaccessat2, 4, 2, false, syscall.EINVAL},
		{"faccessat2 bad mode", sysFaccessat2, 0x10, 0, false, syscall.EINVAL},
	} {
		t.Run(c.name, func(t *testing.T) {
			follow, err := accessFlags(c.nr, c.mode, c.flags)
			if follow != c.follow || err != c.err {
				t.Errorf("accessFlags(%d, %#x, %#x) = %v, %v; want %v, %v", c.nr, c.mode, c.flags, follow, err, c.follow, c.err)
			}
		})
	}
}

func TestRecordLock(t *testing.T) {
	lock := func(typ, whence int16, start, length int64) *[flockSize]byte {
		var b [flockSize]byte
		binary.LittleEndian.PutUint16(b[0:], uint16(typ))
		binary.LittleEndian.PutUint16(b[flockWhence:], uint16(whence))
		binary.LittleEndian.PutUint64(b[flockStart:], uint64(start))
		binary.LittleEndian.PutUint64(b[flockLen:], uint64(length))
		return &b
	}
	for _, c := range []struct {
		name     string
		flags    int
		cmd      uint64
		lk       *[flockSize]byte
		err      error
		wantType int16 // l_type afterwards
	}{
		{"write lock", oRdwr, fSetLk, lock(syscall.F_WRLCK, 0, 0, 10), nil, syscall.F_WRLCK},
		{"read lock, waiting", oRdonly, fSetLkw, lock(syscall.F_RDLCK, 1, -5, 0), nil, syscall.F_RDLCK},
		{"unlock", oRdonly, fSetLk, lock(syscall.F_UNLCK, 0, 0, 0), nil, syscall.F_UNLCK},
		{"write lock on a read-only file", oRdonly, fSetLk, lock(syscall.F_WRLCK, 0, 0, 0), syscall.EBADF, syscall.F_WRLCK},
		{"read lock on a write-only file", oWronly, fSetLk, lock(syscall.F_RDLCK, 0, 0, 0), syscall.EBADF, syscall.F_RDLCK},
		{"O_PATH", oPath, fSetLk, lock(syscall.F_RDLCK, 0, 0, 0), syscall.EBADF, syscall.F_RDLCK},
		{"bad type", oRdwr, fSetLk, lock(7, 0, 0, 0), syscall.EINVAL, 7},
		{"bad whence", oRdwr, fSetLk, lock(syscall.F_WRLCK, 3, 0, 0), syscall.EINVAL, syscall.F_WRLCK},
		{"before the file", oRdwr, fSetLk, lock(syscall.F_WRLCK, 0, -1, 0), syscall.EINVAL, syscall.F_WRLCK},
		{"ends before the file", oRdwr, fSetLk, lock(syscall.F_WRLCK, 0, 4, -5), syscall.EINVAL, syscall.F_WRLCK},
		{"nothing in the way", oRdonly, fGetLk, lock(syscall.F_WRLCK, 0, 0, 0), nil, syscall.F_UNLCK},
		{"F_GETLK of F_UNLCK", oRdwr, fGetLk, lock(syscall.F_UNLCK, 0, 0, 0), syscall.EINVAL, syscall.F_UNLCK},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := recordLock(c.flags, c.cmd, c.lk); err != c.err {
				t.Errorf("error %v, want %v", err, c.err)
			}
			if got := int16(binary.LittleEndian.Uint16(c.lk[0:])); got != c.wantType {
				t.Errorf("l_type afterwards %d, want %d", got, c.wantType)
			}
		})
	}
}
