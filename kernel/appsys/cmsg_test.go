package appsys

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"syscall"
	"testing"
)

// cmsg builds one control message with Linux's layout, padded to 8.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, cmsgSpace(len(data)))
	binary.LittleEndian.PutUint64(b, uint64(cmsgHdrLen+len(data)))
	binary.LittleEndian.PutUint32(b[8:], uint32(level))
	binary.LittleEndian.PutUint32(b[12:], uint32(typ))
	copy(b[cmsgHdrLen:], data)
	return b
}

func rightsMsg(fds ...int32) []byte {
	return cmsg(syscall.SOL_SOCKET, syscall.SCM_RIGHTS, rightsData(fds))
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestParseControl(t *testing.T) {
	many := make([]int32, scmMaxFD)
	badLen := rightsMsg(3)
	binary.LittleEndian.PutUint64(badLen, 8)
	tooLong := rightsMsg(3)
	binary.LittleEndian.PutUint64(tooLong, 40)
	for _, c := range []struct {
		name string
		in   []byte
		want sendControl
		err  error
	}{
		{"empty", nil, sendControl{}, nil},
		{"rights", rightsMsg(3, 4), sendControl{fds: []int32{3, 4}}, nil},
		{"two rights messages add up", cat(rightsMsg(3), rightsMsg(5, 6)), sendControl{fds: []int32{3, 5, 6}}, nil},
		{"no fds", rightsMsg(), sendControl{}, nil},
		{"other levels are ignored", cat(cmsg(syscall.IPPROTO_IP, 1, []byte{1, 0, 0, 0}), rightsMsg(7)), sendControl{fds: []int32{7}}, nil},
		{"credentials", cmsg(syscall.SOL_SOCKET, syscall.SCM_CREDENTIALS, ucredData(1, 0, 0)), sendControl{creds: true}, nil},
		{"credentials of a wrong size", cmsg(syscall.SOL_SOCKET, syscall.SCM_CREDENTIALS, make([]byte, 8)), sendControl{}, syscall.EINVAL},
		{"unknown SOL_SOCKET type", cmsg(syscall.SOL_SOCKET, 99, nil), sendControl{}, syscall.EINVAL},
		{"length below the header", badLen, sendControl{}, syscall.EINVAL},
		{"length past the buffer", tooLong, sendControl{}, syscall.EINVAL},
		{"trailing bytes shorter than a header", cat(rightsMsg(3), make([]byte, 15)), sendControl{fds: []int32{3}}, nil},
		{"unpadded last message", rightsMsg(3)[:cmsgHdrLen+4], sendControl{fds: []int32{3}}, nil},
		{"SCM_MAX_FD fds", rightsMsg(many...), sendControl{fds: many}, nil},
		{"more than SCM_MAX_FD", cat(rightsMsg(many...), rightsMsg(1)), sendControl{}, syscall.EINVAL},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseControl(c.in)
			if err != c.err || !reflect.DeepEqual(got, c.want) {
				t.Errorf("parseControl (-want +got):\n-%+v, %v\n+%+v, %v", c.want, c.err, got, err)
			}
		})
	}
}

func TestPutCmsg(t *testing.T) {
	data := []byte{1, 2, 3, 4, 5}
	for _, c := range []struct {
		name      string
		room      int
		used      int
		truncated bool
		want      []byte // what lands in room
	}{
		{"fits, padded", 32, 24, false, cmsg(1, 2, data)[:21]},
		{"fits exactly, without padding", 21, 21, false, cmsg(1, 2, data)[:21]},
		{"data cut", 18, 18, true, func() []byte { b := cmsg(1, 2, data)[:18]; b[0] = 18; return b }()},
		{"no room for the header", 15, 0, true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			room := make([]byte, c.room)
			used, trunc := putCmsg(room, 1, 2, data)
			got := room[:min(len(c.want), len(room))]
			if used != c.used || trunc != c.truncated || fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("putCmsg (-want +got):\n-%d %v %v\n+%d %v %v", c.used, c.truncated, c.want, used, trunc, got)
			}
		})
	}
}

func TestFDsFit(t *testing.T) {
	for room, want := range map[int]int{0: 0, 15: 0, 16: 0, 20: 1, 24: 2, 64: 12} {
		if got := fdsFit(room); got != want {
			t.Errorf("fdsFit(%d) = %d, want %d", room, got, want)
		}
	}
}

func FuzzParseControl(f *testing.F) {
	f.Add([]byte{})
	f.Add(rightsMsg(3, 4))
	f.Add(cat(rightsMsg(3), cmsg(syscall.SOL_SOCKET, syscall.SCM_CREDENTIALS, ucredData(1, 0, 0))))
	f.Add(cat(cmsg(0, 0, nil), make([]byte, 7)))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseControl(b)
		if err != nil {
			if err != syscall.EINVAL {
				t.Fatalf("error %v, want EINVAL", err)
			}
			return
		}
		if len(c.fds) > scmMaxFD {
			t.Fatalf("%d fds accepted, more than SCM_MAX_FD", len(c.fds))
		}
		if len(c.fds)*4 > len(b) {
			t.Fatalf("%d fds from %d bytes", len(c.fds), len(b))
		}
	})
}
