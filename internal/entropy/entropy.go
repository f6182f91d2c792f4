// Package entropy reads random bytes with the getrandom system call.
//
// The kernel's own code uses it instead of crypto/rand, because linking
// crypto/rand brings a 32 MiB buffer (the FIPS DRBG's memory) into the
// kernel's BSS, and a gosv machine is meant to boot in 16 MiB. Inside
// gosv, getrandom is served from the CPU's RDRAND/RDSEED.
package entropy

import "syscall"

const sysGetrandom = 318

// Read fills p with random bytes.
func Read(p []byte) {
	for len(p) > 0 {
		n, _, e := syscall.Syscall(sysGetrandom, uintptr(sliceAddr(p)), uintptr(len(p)), 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			panic("getrandom: " + e.Error())
		}
		p = p[n:]
	}
}

// UUID returns a random (version 4) UUID in its text form.
func UUID() string {
	var b [16]byte
	Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}
