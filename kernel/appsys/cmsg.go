package appsys

import (
	"encoding/binary"
	"syscall"
)

// Control messages (sendmsg/recvmsg's msg_control), as Linux lays them
// out on x86-64: struct cmsghdr {len u64 (header included), level i32,
// type i32}, then the data; each message starts 8-byte aligned.
const (
	cmsgHdrLen = 16
	cmsgAlign  = 8
	// scmMaxFD is how many fds one sendmsg may pass (SCM_MAX_FD).
	scmMaxFD = 253
	// maxControl bounds msg_controllen (Linux's optmem_max is smaller).
	maxControl  = 64 << 10
	sizeofUcred = 12
)

func cmsgSpace(n int) int { return cmsgHdrLen + (n+cmsgAlign-1)&^(cmsgAlign-1) }

// sendControl is what an AF_UNIX sendmsg's control messages ask for.
type sendControl struct {
	// fds are the SCM_RIGHTS fds, in order, over all such messages.
	fds []int32
	// creds says an SCM_CREDENTIALS message came (its contents are
	// checked for size; there is one process, whose credentials the
	// receiver gets anyway).
	creds bool
}

// parseControl reads sendmsg control messages as Linux's __scm_send
// does: a header that does not fit or claims more than is left fails
// with EINVAL; levels other than SOL_SOCKET are ignored; SOL_SOCKET
// types other than SCM_RIGHTS and SCM_CREDENTIALS fail with EINVAL, as
// do more than scmMaxFD fds. Trailing bytes too short for a header are
// ignored.
func parseControl(b []byte) (sendControl, error) {
	var c sendControl
	for off := 0; len(b)-off >= cmsgHdrLen; {
		h := b[off:]
		l := binary.LittleEndian.Uint64(h)
		if l < cmsgHdrLen || l > uint64(len(h)) {
			return sendControl{}, syscall.EINVAL
		}
		level := int32(binary.LittleEndian.Uint32(h[8:]))
		typ := int32(binary.LittleEndian.Uint32(h[12:]))
		data := h[cmsgHdrLen:l]
		if level == syscall.SOL_SOCKET {
			switch typ {
			case syscall.SCM_RIGHTS:
				n := len(data) / 4
				if len(c.fds)+n > scmMaxFD {
					return sendControl{}, syscall.EINVAL
				}
				for i := 0; i < n; i++ {
					c.fds = append(c.fds, int32(binary.LittleEndian.Uint32(data[4*i:])))
				}
			case syscall.SCM_CREDENTIALS:
				if len(data) != sizeofUcred {
					return sendControl{}, syscall.EINVAL
				}
				c.creds = true
			default:
				return sendControl{}, syscall.EINVAL
			}
		}
		// The next header starts aligned; l <= len(h) keeps this in
		// range or past the end (which ends the loop).
		next := (l + cmsgAlign - 1) &^ (cmsgAlign - 1)
		if next > uint64(len(h)) {
			break
		}
		off += int(next)
	}
	return c, nil
}

// putCmsg writes one control message into room as Linux's put_cmsg
// does: nothing (but truncated) when not even the header fits, the
// message cut short (truncated) when its data does not; used is how much
// of room the message takes, padding included.
func putCmsg(room []byte, level, typ int32, data []byte) (used int, truncated bool) {
	if len(room) < cmsgHdrLen {
		return 0, true
	}
	l := cmsgHdrLen + len(data)
	if l > len(room) {
		l, truncated = len(room), true
	}
	binary.LittleEndian.PutUint64(room, uint64(l))
	binary.LittleEndian.PutUint32(room[8:], uint32(level))
	binary.LittleEndian.PutUint32(room[12:], uint32(typ))
	copy(room[cmsgHdrLen:l], data)
	return min(cmsgSpace(len(data)), len(room)), truncated
}

// fdsFit is how many fds an SCM_RIGHTS message may carry in room bytes.
func fdsFit(room int) int {
	if room < cmsgHdrLen {
		return 0
	}
	return (room - cmsgHdrLen) / 4
}

// rightsData encodes fds as SCM_RIGHTS data.
func rightsData(fds []int32) []byte {
	b := make([]byte, 4*len(fds))
	for i, fd := range fds {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(fd))
	}
	return b
}

// ucredData encodes struct ucred {pid, uid, gid}.
func ucredData(pid, uid, gid uint32) []byte {
	b := make([]byte, sizeofUcred)
	binary.LittleEndian.PutUint32(b, pid)
	binary.LittleEndian.PutUint32(b[4:], uid)
	binary.LittleEndian.PutUint32(b[8:], gid)
	return b
}
