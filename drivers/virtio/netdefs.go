package virtio

// virtio-net feature bit numbers (5.1.3).
const (
	NetFeatureCsum      = 0  // device handles partial checksums on transmit
	NetFeatureGuestCsum = 1  // driver handles partial checksums on receive
	NetFeatureMTU       = 3  // configuration has the maximum MTU
	NetFeatureMAC       = 5  // configuration has a MAC address
	NetFeatureGuestTSO4 = 7  // driver takes TSOv4 on receive
	NetFeatureGuestTSO6 = 8  // driver takes TSOv6 on receive
	NetFeatureHostTSO4  = 11 // device takes TSOv4 on transmit
	NetFeatureHostTSO6  = 12 // device takes TSOv6 on transmit
	NetFeatureMrgRxbuf  = 15 // receive packets may span buffers
	NetFeatureStatus    = 16 // configuration has link status
	NetFeatureCtrlVQ    = 17 // control queue
	NetFeatureMQ        = 22 // multiple queue pairs
)

// virtio-net device configuration (5.1.4): byte offsets.
const (
	NetConfigMAC       = 0  // [6]byte, with NetFeatureMAC
	NetConfigStatus    = 6  // uint16, with NetFeatureStatus
	NetConfigMaxQPairs = 8  // uint16, with NetFeatureMQ
	NetConfigMTU       = 10 // uint16, with NetFeatureMTU

	NetStatusLinkUp   = 1
	NetStatusAnnounce = 2
)

// NetHdr is a view of struct virtio_net_hdr_v1 (5.1.6), the header in
// front of every packet on the receive and transmit queues:
//
//	0  flags        u8
//	1  gso_type     u8
//	2  hdr_len      le16
//	4  gso_size     le16
//	6  csum_start   le16
//	8  csum_offset  le16
//	10 num_buffers  le16
//
// Legacy devices without NetFeatureMrgRxbuf use the first 10 bytes only
// (NetHdrSize).
type NetHdr []byte

// Header sizes.
const (
	NetHdrLen       = 12
	NetHdrLenLegacy = 10
)

// NetHdr flags.
const (
	NetHdrNeedsCsum = 1 // csum_start/csum_offset describe a partial checksum
	NetHdrDataValid = 2 // the device validated the checksum (receive)
	NetHdrRSCInfo   = 4
)

// NetHdr GSO types.
const (
	NetGSONone  = 0
	NetGSOTCPv4 = 1
	NetGSOUDP   = 3
	NetGSOTCPv6 = 4
	NetGSOUDPL4 = 5
	NetGSOECN   = 0x80
)

const (
	netHdrFlags      = 0
	netHdrGSOType    = 1
	netHdrHdrLen     = 2
	netHdrGSOSize    = 4
	netHdrCsumStart  = 6
	netHdrCsumOffset = 8
	netHdrNumBuffers = 10
)

// NetHdrSize is the header length for the negotiated features: 12 for
// VERSION_1 or mergeable receive buffers, 10 otherwise.
func NetHdrSize(features uint64) int {
	if features&(1<<FeatureVersion1|1<<NetFeatureMrgRxbuf) != 0 {
		return NetHdrLen
	}
	return NetHdrLenLegacy
}

func (h NetHdr) Flags() uint8        { return h[netHdrFlags] }
func (h NetHdr) GSOType() uint8      { return h[netHdrGSOType] }
func (h NetHdr) HdrLen() uint16      { return le.Uint16(h[netHdrHdrLen:]) }
func (h NetHdr) GSOSize() uint16     { return le.Uint16(h[netHdrGSOSize:]) }
func (h NetHdr) CsumStart() uint16   { return le.Uint16(h[netHdrCsumStart:]) }
func (h NetHdr) CsumOffset() uint16  { return le.Uint16(h[netHdrCsumOffset:]) }
func (h NetHdr) NumBuffers() uint16  { return le.Uint16(h[netHdrNumBuffers:]) }
func (h NetHdr) SetFlags(v uint8)    { h[netHdrFlags] = v }
func (h NetHdr) SetGSOType(v uint8)  { h[netHdrGSOType] = v }
func (h NetHdr) SetHdrLen(v uint16)  { le.PutUint16(h[netHdrHdrLen:], v) }
func (h NetHdr) SetGSOSize(v uint16) { le.PutUint16(h[netHdrGSOSize:], v) }
func (h NetHdr) SetCsumStart(v uint16) {
	le.PutUint16(h[netHdrCsumStart:], v)
}
func (h NetHdr) SetCsumOffset(v uint16) {
	le.PutUint16(h[netHdrCsumOffset:], v)
}
func (h NetHdr) SetNumBuffers(v uint16) {
	le.PutUint16(h[netHdrNumBuffers:], v)
}
