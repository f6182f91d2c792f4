package link

import "encoding/binary"

// EtherType values the classifier looks into.
const (
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
	ethHeaderLen  = 14
)

// IP protocol numbers whose first four payload bytes are the ports.
const (
	protoTCP  = 6
	protoUDP  = 17
	protoSCTP = 132
)

// FlowHash returns a hash of the IP 5-tuple of an Ethernet frame: the
// addresses, the protocol and, for TCP, UDP and SCTP, the ports. Every
// frame of one flow hashes the same, so frames of a flow keep their order
// on the queue the hash picks. It reads only the headers, never
// allocates, and returns 0 for frames it cannot classify (ARP, short or
// malformed frames), which all share queue 0.
//
// IPv4 fragments and IPv6 packets with extension headers hash without
// ports (the ports are not where the classifier looks), so they may take
// a different queue from the rest of their flow; TCP avoids both in
// practice, and reassembly in the stack does not depend on queue order.
func FlowHash(frame []byte) uint32 {
	if len(frame) < ethHeaderLen {
		return 0
	}
	ip := frame[ethHeaderLen:]
	var addrs, ports uint64
	var proto byte
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case etherTypeIPv4:
		if len(ip) < 20 || ip[0]>>4 != 4 {
			return 0
		}
		ihl := int(ip[0]&0xf) * 4
		if ihl < 20 || len(ip) < ihl {
			return 0
		}
		proto = ip[9]
		addrs = binary.BigEndian.Uint64(ip[12:20])
		// Flags MF and the fragment offset: only unfragmented packets
		// carry the ports at ip[ihl:].
		fragment := binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0
		if !fragment && hasPorts(proto) && len(ip) >= ihl+4 {
			ports = uint64(binary.BigEndian.Uint32(ip[ihl:]))
		}
	case etherTypeIPv6:
		if len(ip) < 40 || ip[0]>>4 != 6 {
			return 0
		}
		proto = ip[6]
		for i := 8; i < 40; i += 8 {
			addrs = mix(addrs ^ binary.BigEndian.Uint64(ip[i:]))
		}
		if hasPorts(proto) && len(ip) >= 44 {
			ports = uint64(binary.BigEndian.Uint32(ip[40:]))
		}
	default:
		return 0
	}
	h := mix(addrs ^ ports<<8 ^ uint64(proto))
	return uint32(h>>32) | 1 // never 0, which means "unclassified"
}

func hasPorts(proto byte) bool {
	return proto == protoTCP || proto == protoUDP || proto == protoSCTP
}

// mix is the 64-bit finalizer of MurmurHash3: every input bit affects
// every output bit, so the queue index can take the top bits.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// queueIndex maps a hash onto n queues without a division.
func queueIndex(h uint32, n int) int {
	return int(uint64(h) * uint64(n) >> 32)
}
