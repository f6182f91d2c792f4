package link

import (
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Receive checksums. gVisor's CapabilityRXChecksumOffload is one switch
// for the whole NIC (stack.nic sets every packet's RXChecksumValidated
// from it), and it also skips the IPv4 header checksum; a virtio-net
// device vouches for each frame's L4 checksum separately (DATA_VALID, or
// NEEDS_CSUM for a frame from the same host whose checksum field was
// never finished). So the endpoint claims the capability and checks in
// software what the device did not: the IPv4 header checksum always,
// and the TCP or UDP checksum of frames the device did not validate.
//
// What software cannot check per frame passes unchecked: IP fragments
// (the L4 checksum covers the reassembled datagram), IPv6 extension
// headers, and protocols other than TCP and UDP (gVisor verifies ICMP
// itself either way).

// checksumsOK reports whether frame (Ethernet header included) may go
// up the stack: l4Valid says the device validated the L4 checksum.
func checksumsOK(frame []byte, l4Valid bool) bool {
	if len(frame) < header.EthernetMinimumSize {
		return false
	}
	ip := frame[header.EthernetMinimumSize:]
	switch header.Ethernet(frame).Type() {
	case header.IPv4ProtocolNumber:
		if len(ip) < header.IPv4MinimumSize {
			return true // malformed: the stack drops and counts it
		}
		h := header.IPv4(ip)
		hl := int(h.HeaderLength())
		if hl < header.IPv4MinimumSize || hl > len(ip) {
			return true
		}
		if checksum.Checksum(ip[:hl], 0) != 0xffff {
			return false
		}
		if l4Valid || h.More() || h.FragmentOffset() != 0 {
			return true
		}
		total := int(h.TotalLength())
		if total < hl || total > len(ip) {
			return true
		}
		return l4OK(h.TransportProtocol(), h.SourceAddress(), h.DestinationAddress(), ip[hl:total])
	case header.IPv6ProtocolNumber:
		if l4Valid || len(ip) < header.IPv6MinimumSize {
			return true
		}
		h := header.IPv6(ip)
		end := header.IPv6MinimumSize + int(h.PayloadLength())
		if end > len(ip) {
			return true
		}
		return l4OK(h.TransportProtocol(), h.SourceAddress(), h.DestinationAddress(), ip[header.IPv6MinimumSize:end])
	}
	return true
}

// l4OK verifies a TCP or UDP checksum over the pseudo-header; other
// protocols pass.
func l4OK(proto tcpip.TransportProtocolNumber, src, dst tcpip.Address, seg []byte) bool {
	switch proto {
	case header.TCPProtocolNumber:
		if len(seg) < header.TCPMinimumSize {
			return true
		}
	case header.UDPProtocolNumber:
		if len(seg) < header.UDPMinimumSize {
			return true
		}
		if src.BitLen() == 32 && header.UDP(seg).Checksum() == 0 {
			return true // IPv4 UDP without a checksum
		}
	default:
		return true
	}
	sum := header.PseudoHeaderChecksum(proto, src, dst, uint16(len(seg)))
	return checksum.Checksum(seg, sum) == 0xffff
}
