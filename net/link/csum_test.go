package link

import (
	"encoding/binary"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// checkedTCPFrame builds an Ethernet/IPv4/TCP frame with correct checksums.
func checkedTCPFrame(payload string) []byte {
	src, dst := tcpip.AddrFrom4([4]byte{10, 0, 2, 2}), tcpip.AddrFrom4([4]byte{10, 0, 2, 15})
	f := make([]byte, header.EthernetMinimumSize+header.IPv4MinimumSize+header.TCPMinimumSize+len(payload))
	binary.BigEndian.PutUint16(f[12:], etherTypeIPv4)
	ip := header.IPv4(f[header.EthernetMinimumSize:])
	ip.Encode(&header.IPv4Fields{TotalLength: uint16(len(ip)), TTL: 64, Protocol: uint8(header.TCPProtocolNumber), SrcAddr: src, DstAddr: dst})
	ip.SetChecksum(^ip.CalculateChecksum())
	tcp := header.TCP(ip[header.IPv4MinimumSize:])
	tcp.Encode(&header.TCPFields{SrcPort: 80, DstPort: 5000, DataOffset: header.TCPMinimumSize, Flags: header.TCPFlagAck, WindowSize: 1000})
	copy(tcp[header.TCPMinimumSize:], payload)
	sum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(len(tcp)))
	tcp.SetChecksum(^checksum.Checksum(tcp, sum))
	return f
}

func TestChecksumsOK(t *testing.T) {
	good := checkedTCPFrame("hello")
	badL4 := checkedTCPFrame("hello")
	badL4[len(badL4)-1] ^= 0xff
	badIP := checkedTCPFrame("hello")
	badIP[header.EthernetMinimumSize+8]-- // TTL changed, checksum not
	for _, tc := range []struct {
		name    string
		frame   []byte
		l4Valid bool
		want    bool
	}{
		{"good", good, false, true},
		{"good, device validated", good, true, true},
		{"corrupt payload", badL4, false, false},
		{"corrupt payload the device vouched for", badL4, true, true},
		{"bad IPv4 header", badIP, false, false},
		{"bad IPv4 header the device vouched for", badIP, true, false},
		{"runt", good[:10], false, false},
		{"truncated IP", good[:20], false, true},
	} {
		if got := checksumsOK(tc.frame, tc.l4Valid); got != tc.want {
			t.Errorf("%s: checksumsOK = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func FuzzChecksumsOK(f *testing.F) {
	f.Add(checkedTCPFrame("x"), false)
	f.Fuzz(func(t *testing.T, b []byte, valid bool) {
		checksumsOK(b, valid) // must not panic on any input
	})
}
