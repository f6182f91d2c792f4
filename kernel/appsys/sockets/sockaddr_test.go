package sockets

import (
	"bytes"
	"syscall"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
)

func TestSockaddrInet(t *testing.T) {
	for _, tc := range []struct {
		name   string
		family int
		in     []byte
		want   tcpip.FullAddress
		err    error
	}{
		{"in", syscall.AF_INET, sockaddrIn(localhost, 8080), tcpip.FullAddress{Addr: tcpip.AddrFrom4(localhost), Port: 8080}, nil},
		{"in any", syscall.AF_INET, sockaddrIn([4]byte{}, 80), tcpip.FullAddress{Port: 80}, nil},
		{"in short", syscall.AF_INET, sockaddrIn(localhost, 1)[:15], tcpip.FullAddress{}, syscall.EINVAL},
		{"in6 loopback", syscall.AF_INET6, sockaddrIn6([16]byte{15: 1}, 443), tcpip.FullAddress{Addr: tcpip.AddrFrom16([16]byte{15: 1}), Port: 443}, nil},
		{"in6 without scope", syscall.AF_INET6, sockaddrIn6([16]byte{15: 1}, 443)[:24], tcpip.FullAddress{Addr: tcpip.AddrFrom16([16]byte{15: 1}), Port: 443}, nil},
		{"in6 v4-mapped", syscall.AF_INET6, sockaddrIn6([16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1}, 1), tcpip.FullAddress{Addr: tcpip.AddrFrom4(localhost), Port: 1}, nil},
		{"wrong family", syscall.AF_INET6, sockaddrIn(localhost, 1), tcpip.FullAddress{}, syscall.EAFNOSUPPORT},
		{"empty", syscall.AF_INET, nil, tcpip.FullAddress{}, syscall.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeInet(tc.family, tc.in)
			if err != tc.err || got != tc.want {
				t.Fatalf("(-want +got)\n-%+v %v\n+%+v %v", tc.want, tc.err, got, err)
			}
		})
	}
	// Encoding shows IPv4 on an IPv6 socket v4-mapped.
	got := EncodeInet(syscall.AF_INET6, tcpip.FullAddress{Addr: tcpip.AddrFrom4(localhost), Port: 9})
	if want := sockaddrIn6([16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1}, 9); !bytes.Equal(got, want) {
		t.Errorf("v4-mapped encoding (-want +got)\n-%x\n+%x", want, got)
	}
}

func TestSockaddrUnix(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
		err  error
	}{
		{"path", EncodeUnix("/run/x.sock"), "/run/x.sock", nil},
		{"path without NUL", EncodeUnix("/a")[:4], "/a", nil},
		{"abstract", EncodeUnix("\x00name"), "\x00name", nil},
		{"unnamed", EncodeUnix(""), "", nil},
		{"too long", append([]byte{1, 0}, bytes.Repeat([]byte("a"), 109)...), "", syscall.EINVAL},
		{"inet family", sockaddrIn(localhost, 1), "", syscall.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeUnix(tc.in)
			if err != tc.err || got != tc.want {
				t.Fatalf("(-want +got)\n-%q %v\n+%q %v", tc.want, tc.err, got, err)
			}
		})
	}
}

// FuzzDecodeInet: decoding never panics, and what decodes re-encodes
// to an address that decodes the same.
func FuzzDecodeInet(f *testing.F) {
	f.Add(syscall.AF_INET, sockaddrIn(localhost, 80))
	f.Add(syscall.AF_INET6, sockaddrIn6([16]byte{15: 1}, 80))
	f.Add(syscall.AF_INET6, sockaddrIn6([16]byte{10: 0xff, 11: 0xff, 12: 1}, 0))
	f.Add(syscall.AF_INET6, sockaddrIn6([16]byte{0: 0xfe, 1: 0x80, 15: 1}, 1))
	f.Add(syscall.AF_INET, []byte{2})
	f.Fuzz(func(t *testing.T, family int, b []byte) {
		a, err := DecodeInet(family, b)
		if err != nil {
			return
		}
		again, err := DecodeInet(family, EncodeInet(family, a))
		if err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", a, err)
		}
		a.NIC, again.NIC = 0, 0 // the scope id only survives for link-local
		if again != a {
			t.Fatalf("round trip (-want +got)\n-%+v\n+%+v", a, again)
		}
	})
}

func FuzzDecodeUnix(f *testing.F) {
	f.Add(EncodeUnix("/tmp/s"))
	f.Add(EncodeUnix("\x00abstract"))
	f.Add([]byte{1, 0})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeUnix(b)
		if err != nil {
			return
		}
		again, err := DecodeUnix(EncodeUnix(p))
		if err != nil || again != p {
			t.Fatalf("round trip of %q: %q, %v", p, again, err)
		}
	})
}
