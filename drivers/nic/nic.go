// Package nic is the contract between network drivers (virtio-net,
// later Xen netfront and VMXNET3) and the network stack (net/): a Device
// moves Ethernet frames with their offload metadata, and knows nothing of
// IP. It holds only types, so both sides import it without importing
// each other.
package nic

import "context"

// MAC is an Ethernet address.
type MAC [6]byte

// Features are the offloads a device does for the stack.
type Features struct {
	// TxChecksum: the device completes a partial TCP/UDP checksum
	// described by TxPacket.CsumStart/CsumOffset.
	TxChecksum bool
	// RxChecksumValid: the device may mark received frames whose
	// checksums it validated (RxPacket.ChecksumValid).
	RxChecksumValid bool
	// TSO4 and TSO6: the device segments TCP frames larger than the MTU
	// (TxPacket.GSO). Both need TxChecksum.
	TSO4, TSO6 bool
	// MaxGSOSize is the largest frame the device takes with GSO, header
	// included (0 without TSO).
	MaxGSOSize int
}

// GSOType says how a device must segment a transmitted frame.
type GSOType uint8

const (
	GSONone GSOType = iota
	GSOTCPv4
	GSOTCPv6
)

// TxPacket is one Ethernet frame to send, without FCS.
type TxPacket struct {
	// Data is the frame, in pieces (headers and payload views); the
	// device may use them only until Transmit returns.
	Data [][]byte
	// NeedsChecksum: the L4 checksum field at CsumStart+CsumOffset holds
	// the pseudo-header sum, and the device must fold in the bytes from
	// CsumStart to the end (virtio-net's VIRTIO_NET_HDR_F_NEEDS_CSUM).
	NeedsChecksum bool
	CsumStart     uint16
	CsumOffset    uint16
	// GSO, when not GSONone: segment the TCP payload into GSOSize-byte
	// segments; HdrLen is the length of the Ethernet+IP+TCP headers.
	GSO     GSOType
	GSOSize uint16
	HdrLen  uint16
}

// RxPacket is one received Ethernet frame.
type RxPacket struct {
	// Data is the frame, or its start when the device received it into
	// several buffers (a large TSO frame into 4 KiB pages): Tail holds
	// the other pieces, in order. Both are valid only during the
	// receive callback: the device reuses its buffers afterwards, so a
	// receiver that keeps the frame copies it (straight from the
	// pieces, which spares the device assembling a copy first).
	Data []byte
	Tail [][]byte
	// ChecksumValid: the device validated the L4 checksum.
	ChecksumValid bool
	// More: the device has further frames ready now, which the
	// receiver gets next (a hint for spreading work: a receiver may
	// hand frames off while more follow and process the last itself).
	More bool
}

// Len is the frame's length.
func (p RxPacket) Len() int {
	n := len(p.Data)
	for _, t := range p.Tail {
		n += len(t)
	}
	return n
}

// Flat returns the frame in one slice: Data itself when there is no
// Tail, else the pieces copied into scratch (grown as needed).
func (p RxPacket) Flat(scratch []byte) []byte {
	if len(p.Tail) == 0 {
		return p.Data
	}
	scratch = append(scratch[:0], p.Data...)
	for _, t := range p.Tail {
		scratch = append(scratch, t...)
	}
	return scratch
}

// Receiver takes received frames. A device calls it from its receive
// goroutine, one frame at a time, in arrival order.
type Receiver func(RxPacket)

// Stats are a device's counters; only the device writes them.
type Stats struct {
	RxPackets, RxBytes, RxDropped uint64
	TxPackets, TxBytes, TxDropped uint64
	Interrupts                    uint64
}

// Device is a network interface card as the stack sees it.
type Device interface {
	// Name is the driver and instance, for logs ("virtio-net0").
	Name() string
	MAC() MAC
	// MTU is the largest IP packet without GSO (1500 unless the device
	// says otherwise).
	MTU() int
	Features() Features
	// LinkUp reports the link state (true when the device cannot tell).
	LinkUp() bool
	// Transmit queues frames for sending and returns how many it took;
	// it does not block (a full queue takes fewer, and the caller drops
	// or retries the rest).
	Transmit(pkts []TxPacket) (int, error)
	// Run receives frames and hands each to rx until ctx ends. The
	// device is started by the first Run and serves no frames before it.
	Run(ctx context.Context, rx Receiver) error
	Stats() Stats
}
