package sockets

import (
	"encoding/binary"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// Linux socket address layouts (include/uapi/linux/in.h, in6.h, un.h):
//
//	sockaddr_in  (16 bytes): family u16, port u16 (big-endian), addr [4]byte, zero [8]byte
//	sockaddr_in6 (28 bytes): family u16, port u16 (big-endian), flowinfo u32, addr [16]byte, scope_id u32
//	sockaddr_un (110 bytes): family u16, path [108]byte (NUL-terminated, or abstract: path[0] == 0)
const (
	sizeofSockaddrIn  = 16
	sizeofSockaddrIn6 = 28
	// Linux accepts a sockaddr_in6 without scope_id (RFC 2133's size).
	minSockaddrIn6  = 24
	sizeofSockaddrU = 110
	unixPathMax     = 108
)

// MaxSockaddr is the size of struct sockaddr_storage: no address this
// package encodes is longer.
const MaxSockaddr = 128

// Family reads the address family of a raw sockaddr.
func Family(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, syscall.EINVAL
	}
	return int(binary.LittleEndian.Uint16(b)), nil
}

// DecodeInet decodes a sockaddr_in or sockaddr_in6 for a socket of the
// given family. An all-zero address (INADDR_ANY, in6addr_any) becomes
// the empty tcpip.Address, which netstack reads as "any".
func DecodeInet(family int, b []byte) (tcpip.FullAddress, error) {
	f, err := Family(b)
	if err != nil {
		return tcpip.FullAddress{}, err
	}
	if f != family {
		return tcpip.FullAddress{}, syscall.EAFNOSUPPORT
	}
	switch family {
	case syscall.AF_INET:
		if len(b) < sizeofSockaddrIn {
			return tcpip.FullAddress{}, syscall.EINVAL
		}
		a := tcpip.FullAddress{Port: binary.BigEndian.Uint16(b[2:4])}
		if !allZero(b[4:8]) {
			a.Addr = tcpip.AddrFrom4Slice(b[4:8])
		}
		return a, nil
	case syscall.AF_INET6:
		if len(b) < minSockaddrIn6 {
			return tcpip.FullAddress{}, syscall.EINVAL
		}
		a := tcpip.FullAddress{Port: binary.BigEndian.Uint16(b[2:4])}
		if !allZero(b[8:24]) {
			a.Addr = tcpip.AddrFrom16Slice(b[8:24])
			// A v4-mapped address talks IPv4 (dual-stack sockets):
			// netstack wants the bare 4-byte form for that.
			if isV4Mapped(b[8:24]) {
				a.Addr = tcpip.AddrFrom4Slice(b[20:24])
			}
		}
		// The scope only means something for link-local addresses.
		if len(b) >= sizeofSockaddrIn6 && b[8] == 0xfe && b[9]&0xc0 == 0x80 {
			a.NIC = tcpip.NICID(binary.LittleEndian.Uint32(b[24:28]))
		}
		return a, nil
	}
	return tcpip.FullAddress{}, syscall.EAFNOSUPPORT
}

// EncodeInet encodes a for a socket of the given family; an IPv4
// address on an IPv6 socket comes out v4-mapped, as Linux shows it.
func EncodeInet(family int, a tcpip.FullAddress) []byte {
	switch family {
	case syscall.AF_INET:
		b := make([]byte, sizeofSockaddrIn)
		binary.LittleEndian.PutUint16(b, syscall.AF_INET)
		binary.BigEndian.PutUint16(b[2:], a.Port)
		if a.Addr.Len() == 4 {
			v := a.Addr.As4()
			copy(b[4:8], v[:])
		}
		return b
	case syscall.AF_INET6:
		b := make([]byte, sizeofSockaddrIn6)
		binary.LittleEndian.PutUint16(b, syscall.AF_INET6)
		binary.BigEndian.PutUint16(b[2:], a.Port)
		switch a.Addr.Len() {
		case 4:
			v := a.Addr.As4()
			b[18], b[19] = 0xff, 0xff
			copy(b[20:24], v[:])
		case 16:
			v := a.Addr.As16()
			copy(b[8:24], v[:])
		}
		return b
	}
	return nil
}

// DecodeUnix decodes a sockaddr_un into its path. An abstract address
// keeps its leading NUL and is exactly as long as addrlen says; a path
// name ends at the first NUL.
func DecodeUnix(b []byte) (string, error) {
	f, err := Family(b)
	if err != nil {
		return "", err
	}
	if f != syscall.AF_UNIX {
		return "", syscall.EINVAL
	}
	p := b[2:]
	if len(p) > unixPathMax {
		return "", syscall.EINVAL
	}
	if len(p) == 0 {
		return "", nil // unnamed: autobind
	}
	if p[0] == 0 {
		return string(p), nil
	}
	for i, c := range p {
		if c == 0 {
			p = p[:i]
			break
		}
	}
	return string(p), nil
}

// EncodeUnix encodes a sockaddr_un for path ("" for unnamed: family only).
func EncodeUnix(path string) []byte {
	b := make([]byte, 2, 2+len(path)+1)
	binary.LittleEndian.PutUint16(b, syscall.AF_UNIX)
	b = append(b, path...)
	// A path name ends with a NUL when sun_path has room for one.
	if path != "" && path[0] != 0 && len(path) < unixPathMax {
		b = append(b, 0)
	}
	return b
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func isV4Mapped(a []byte) bool {
	return allZero(a[:10]) && a[10] == 0xff && a[11] == 0xff
}
