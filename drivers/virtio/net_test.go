package virtio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"

	"gosv/drivers/nic"
)

const (
	modernAll = 1<<FeatureVersion1 | 1<<FeatureEventIdx | 1<<FeatureIndirectDesc |
		1<<NetFeatureMAC | 1<<NetFeatureStatus | 1<<NetFeatureMTU | 1<<NetFeatureMrgRxbuf |
		1<<NetFeatureCsum | 1<<NetFeatureGuestCsum | 1<<NetFeatureHostTSO4 | 1<<NetFeatureHostTSO6 |
		1<<NetFeatureGuestTSO4 | 1<<NetFeatureGuestTSO6
	// legacyBasic is an old device: no mergeable buffers, no offloads,
	// no ANY_LAYOUT.
	legacyBasic = 1<<NetFeatureMAC | 1<<NetFeatureStatus
	legacyMrg   = legacyBasic | 1<<NetFeatureMrgRxbuf | 1<<FeatureAnyLayout | 1<<FeatureEventIdx |
		1<<NetFeatureCsum | 1<<NetFeatureHostTSO4
)

// netConfig is one device the tests run against.
type netConfig struct {
	name     string
	version  uint32 // virtio-mmio version: 2 modern, 1 legacy
	features uint64
}

var netConfigs = []netConfig{
	{"modern", 2, modernAll},
	{"modern without mergeable buffers", 2, modernAll &^ (1 << NetFeatureMrgRxbuf)},
	{"modern without offloads or event index", 2, 1<<FeatureVersion1 | 1<<NetFeatureMAC | 1<<NetFeatureMrgRxbuf},
	{"legacy", 1, legacyBasic},
	{"legacy with mergeable buffers", 1, legacyMrg},
}

// newTestNet brings up a driver on a fresh fake device.
func newTestNet(t testing.TB, version uint32, features uint64, opts NetOptions) (*netDev, *Net) {
	t.Helper()
	d := newNetDev(version, features)
	tr, err := NewMMIO(d)
	if err != nil {
		t.Fatal(err)
	}
	if opts.QueueSize == 0 {
		opts.QueueSize = 32
	}
	n, err := NewNet(tr, d.a, d.irq, opts)
	if err != nil {
		t.Fatalf("NewNet: %v", err)
	}
	return d, n
}

// collector gathers received frames, copied.
// collector keeps received frames, each flattened into Data, and how
// many pieces each came in.
type collector struct {
	got    []nic.RxPacket
	pieces []int
}

func (c *collector) rx(p nic.RxPacket) {
	c.pieces = append(c.pieces, 1+len(p.Tail))
	p.Data, p.Tail = bytes.Clone(p.Flat(nil)), nil
	c.got = append(c.got, p)
}

// frame is a test Ethernet frame of n bytes whose content depends on seed.
func frame(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7+i>>8)
	}
	return b
}

func TestNetFeatures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		offered uint64
		want    uint64
	}{
		{"everything", modernAll | 1<<NetFeatureCtrlVQ | 1<<NetFeatureMQ | 1<<FeatureAccessPlatform, modernAll},
		{"host TSO needs CSUM", 1<<NetFeatureHostTSO4 | 1<<NetFeatureHostTSO6, 0},
		{"guest TSO needs mergeable buffers", 1<<NetFeatureGuestCsum | 1<<NetFeatureGuestTSO4, 1 << NetFeatureGuestCsum},
		{"guest TSO needs GUEST_CSUM", 1<<NetFeatureMrgRxbuf | 1<<NetFeatureGuestTSO6, 1 << NetFeatureMrgRxbuf},
		{"legacy any layout", legacyBasic | 1<<FeatureAnyLayout, legacyBasic | 1<<FeatureAnyLayout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := netFeatures(tc.offered); got != tc.want {
				t.Errorf("netFeatures(%#x) = %#x, want %#x", tc.offered, got, tc.want)
			}
		})
	}
}

func TestNetSetup(t *testing.T) {
	for _, tc := range []struct {
		cfg     netConfig
		mtu     uint16
		refuse  uint64
		hdrLen  int
		feat    nic.Features
		wantMTU int
	}{
		{
			cfg: netConfigs[0], mtu: 9000, hdrLen: 12, wantMTU: 9000,
			feat: nic.Features{TxChecksum: true, RxChecksumValid: true, TSO4: true, TSO6: true, MaxGSOSize: 65536},
		},
		{
			cfg: netConfigs[0], refuse: 1 << NetFeatureCsum, mtu: 1500, hdrLen: 12, wantMTU: 1500,
			feat: nic.Features{RxChecksumValid: true},
		},
		{cfg: netConfigs[3], mtu: 1500, hdrLen: 10, wantMTU: 1500},
		{
			cfg: netConfigs[4], mtu: 1500, hdrLen: 12, wantMTU: 1500,
			feat: nic.Features{TxChecksum: true, TSO4: true, MaxGSOSize: 65536},
		},
	} {
		t.Run(fmt.Sprintf("%s refusing %#x", tc.cfg.name, tc.refuse), func(t *testing.T) {
			d := newNetDev(tc.cfg.version, tc.cfg.features)
			le.PutUint16(d.m.config[NetConfigMTU:], tc.mtu)
			tr, _ := NewMMIO(d)
			n, err := NewNet(tr, d.a, d.irq, NetOptions{QueueSize: 64, Refuse: tc.refuse})
			if err != nil {
				t.Fatal(err)
			}
			if n.hdrLen != tc.hdrLen || n.MTU() != tc.wantMTU || n.MAC() != testMAC || !n.LinkUp() || n.Name() != "virtio-net" {
				t.Errorf("header %d MTU %d MAC %x link %v name %q; want %d %d %x up virtio-net",
					n.hdrLen, n.MTU(), n.MAC(), n.LinkUp(), n.Name(), tc.hdrLen, tc.wantMTU, testMAC)
			}
			if got := n.Features(); got != tc.feat {
				t.Errorf("Features (-want +got):\n-%+v\n+%+v", tc.feat, got)
			}
			if want := StatusAcknowledge | StatusDriver | StatusDriverOK | featuresOKIf(tc.cfg.version); d.m.status != want {
				t.Errorf("status %#x after setup, want %#x", d.m.status, want)
			}
			if d.m.driverFeatures != n.features || d.m.driverFeatures&tc.refuse != 0 {
				t.Errorf("device got features %#x, driver has %#x, refused %#x", d.m.driverFeatures, n.features, tc.refuse)
			}
			// Every receive buffer is posted and the device was told.
			if r := d.ring(0); r.availIdx() != uint16(len(n.rxBufs)) || d.notifies[0] == 0 {
				t.Errorf("%d receive buffers posted, %d notifies; want %d", r.availIdx(), d.notifies[0], len(n.rxBufs))
			}
		})
	}
}

func featuresOKIf(version uint32) uint32 {
	if version == 2 {
		return StatusFeaturesOK
	}
	return 0
}

func TestNetSetupErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		dev  func() *netDev
		want error
	}{
		{"not a network device", func() *netDev {
			d := newNetDev(2, modernAll)
			d.m.devType = DeviceBlock
			return d
		}, ErrNotNet},
		{"modern without VERSION_1", func() *netDev { return newNetDev(2, 1<<NetFeatureMAC) }, ErrNoVersion1},
		{"tiny MTU", func() *netDev {
			d := newNetDev(2, modernAll)
			le.PutUint16(d.m.config[NetConfigMTU:], 20)
			return d
		}, ErrBadConfig},
		{"no transmit queue", func() *netDev {
			d := newNetDev(2, modernAll)
			d.m.queues = d.m.queues[:1]
			return d
		}, ErrNoQueue},
		{"no memory", func() *netDev {
			d := newNetDev(2, modernAll)
			d.a.limit = 64 << 10
			return d
		}, errArenaFull},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.dev()
			tr, err := NewMMIO(d)
			if err != nil {
				t.Fatal(err)
			}
			_, err = NewNet(tr, d.a, nil, NetOptions{})
			if !errors.Is(err, tc.want) && !(tc.want == errArenaFull && err != nil) {
				t.Fatalf("NewNet = %v, want %v", err, tc.want)
			}
			if tc.want != ErrNotNet && d.m.status&StatusFailed == 0 {
				t.Errorf("status %#x: FAILED not set", d.m.status)
			}
		})
	}
}

func TestNetReceive(t *testing.T) {
	for _, cfg := range netConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			d, n := newTestNet(t, cfg.version, cfg.features, NetOptions{})
			sizes := []int{60, 1514, 1518}
			if n.dev.Has(NetFeatureGuestTSO4) {
				sizes = append(sizes, 4096, 9000, 65536)
			}
			flags := []uint8{0, NetHdrDataValid, NetHdrNeedsCsum}
			var want []nic.RxPacket
			var c collector
			for i, size := range sizes {
				f := frame(size, byte(i))
				fl := flags[i%len(flags)]
				if err := d.deliver(f, rxHdr{flags: fl}); err != nil {
					t.Fatal(err)
				}
				// Alternate between one frame and two per drain: the
				// first of two says More.
				more := i%2 == 0 && i+1 < len(sizes)
				want = append(want, nic.RxPacket{Data: f, ChecksumValid: fl != 0 && n.guestCsum, More: more})
				if i%2 == 0 {
					continue
				}
				if err := n.service(c.rx); err != nil {
					t.Fatal(err)
				}
			}
			if err := n.service(c.rx); err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(want, c.got, rxEqual) {
				t.Errorf("received (-want +got):\n%s", rxDiff(want, c.got))
			}
			// A frame larger than a buffer arrives in the device's
			// pieces (mergeable buffers), not assembled by the driver.
			for i, p := range c.pieces {
				if i < len(want) && n.mergeable && len(want[i].Data)+n.hdrLen > n.rxBufLen && p < 2 {
					t.Errorf("frame %d (%d bytes) came in %d piece, want the device's buffers", i, len(want[i].Data), p)
				}
			}
			st := n.Stats()
			if st.RxPackets != uint64(len(sizes)) || st.RxDropped != 0 {
				t.Errorf("stats %+v, want %d packets, none dropped", st, len(sizes))
			}
			// Every buffer went back to the device.
			if got := d.ring(0).availIdx() - d.ring(0).lastAvail; int(got) != len(n.rxBufs) {
				t.Errorf("%d buffers posted after receiving, want %d", got, len(n.rxBufs))
			}
		})
	}
}

func rxEqual(a, b nic.RxPacket) bool {
	return a.ChecksumValid == b.ChecksumValid && a.More == b.More && bytes.Equal(a.Data, b.Data)
}

func rxDiff(want, got []nic.RxPacket) string {
	var s string
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = fmt.Sprintf("%d bytes csum %v more %v", len(want[i].Data), want[i].ChecksumValid, want[i].More)
		}
		if i < len(got) {
			g = fmt.Sprintf("%d bytes csum %v more %v", len(got[i].Data), got[i].ChecksumValid, got[i].More)
		}
		if i < len(want) && i < len(got) && rxEqual(want[i], got[i]) {
			continue
		}
		s += fmt.Sprintf("%d: -%s\n   +%s\n", i, w, g)
	}
	return s
}

// TestNetReceiveHostile has the device return buffers the driver must
// refuse. Each bad frame is dropped and counted, nothing panics, and the
// next good frame arrives intact; a used ring that names unknown buffers
// makes the driver reset the device.
func TestNetReceiveHostile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		nb      uint16
		entries []rawEntry
		dropped uint64
		reset   bool
	}{
		{name: "shorter than the header", nb: 1, entries: []rawEntry{{length: 5}}, dropped: 1},
		{name: "zero length", nb: 1, entries: []rawEntry{{length: 0}}, dropped: 1},
		{name: "header only", nb: 1, entries: []rawEntry{{length: 12}}, dropped: 1},
		{name: "runt frame", nb: 1, entries: []rawEntry{{length: 12 + 13}}, dropped: 1},
		{name: "longer than the buffer", nb: 1, entries: []rawEntry{{length: 1 << 20}}, dropped: 1},
		{name: "num_buffers 0", nb: 0, entries: []rawEntry{{length: 100}}, dropped: 1},
		{name: "num_buffers beyond the used entries", nb: 3, entries: []rawEntry{{length: 100}, {length: 100}}, dropped: 1},
		{name: "second buffer too long", nb: 2, entries: []rawEntry{{length: 100}, {length: 5000}}, dropped: 1},
		{name: "frame over the limit", nb: 20, entries: slices.Repeat([]rawEntry{{length: 4096}}, 20), dropped: 1},
		{name: "unknown head", nb: 1, entries: []rawEntry{{length: 100, badHead: true, head: 1000}}, reset: true},
		{name: "head not in flight", nb: 1, entries: []rawEntry{{length: 100, badHead: true, head: 31}, {length: 100, badHead: true, head: 31}}, dropped: 1, reset: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Modern without guest TSO: frames up to 1518 bytes.
			d, n := newTestNet(t, 2, modernAll&^(1<<NetFeatureGuestTSO4|1<<NetFeatureGuestTSO6), NetOptions{})
			if err := d.deliverRaw(tc.nb, NetHdrDataValid, tc.entries); err != nil {
				t.Fatal(err)
			}
			var c collector
			err := n.service(c.rx)
			if tc.reset {
				if err == nil {
					t.Fatal("service accepted a broken used ring")
				}
				if err := n.reset(); err != nil {
					t.Fatalf("reset: %v", err)
				}
			} else if err != nil {
				t.Fatalf("service: %v", err)
			}
			if len(c.got) != 0 {
				t.Errorf("delivered %d frames from a misbehaving device (first %d bytes)", len(c.got), len(c.got[0].Data))
			}
			if st := n.Stats(); st.RxDropped != tc.dropped {
				t.Errorf("dropped %d, want %d", st.RxDropped, tc.dropped)
			}
			good := frame(1000, 9)
			if err := d.deliver(good, rxHdr{}); err != nil {
				t.Fatal(err)
			}
			if err := n.service(c.rx); err != nil {
				t.Fatal(err)
			}
			if len(c.got) != 1 || !bytes.Equal(c.got[0].Data, good) {
				t.Errorf("good frame after the bad one: got %d frames", len(c.got))
			}
		})
	}
}

// txCase is a packet to send and what the device must see.
type txCase struct {
	name    string
	pkt     nic.TxPacket
	hdr     []byte // expected header, first 10 bytes
	wantErr bool
	// csumAt: check that the frame's checksum at this offset was
	// completed in software (0: no check).
	csumAt, csumStart int
}

func tcpFrame(n int) []byte {
	f := frame(n, 3)
	if n >= 14 {
		f[12], f[13] = 0x08, 0x00
	}
	return f
}

func TestNetTransmit(t *testing.T) {
	for _, cfg := range netConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			d, n := newTestNet(t, cfg.version, cfg.features, NetOptions{})
			f := n.Features()
			cases := []txCase{
				{name: "plain", pkt: nic.TxPacket{Data: [][]byte{tcpFrame(60)}}, hdr: make([]byte, 10)},
				{name: "pieces", pkt: nic.TxPacket{Data: [][]byte{tcpFrame(14), tcpFrame(40), nil, tcpFrame(1460)}}, hdr: make([]byte, 10)},
				{name: "too short", pkt: nic.TxPacket{Data: [][]byte{tcpFrame(13)}}, wantErr: true},
				{name: "too long", pkt: nic.TxPacket{Data: [][]byte{tcpFrame(1519)}}, wantErr: true},
				{name: "checksum outside", pkt: nic.TxPacket{Data: [][]byte{tcpFrame(60)}, NeedsChecksum: true, CsumStart: 34, CsumOffset: 25}, wantErr: true},
				{name: "GSO without checksum", pkt: nic.TxPacket{Data: [][]byte{tcpFrame(6000)}, GSO: nic.GSOTCPv4, GSOSize: 1448, HdrLen: 54}, wantErr: true},
				{name: "unknown GSO", pkt: nic.TxPacket{Data: [][]byte{tcpFrame(60)}, GSO: 9}, wantErr: true},
			}
			csum := nic.TxPacket{Data: [][]byte{tcpFrame(21), tcpFrame(1000)}, NeedsChecksum: true, CsumStart: 34, CsumOffset: 16}
			if f.TxChecksum {
				cases = append(cases, txCase{name: "partial checksum", pkt: csum, hdr: []byte{1, 0, 0, 0, 0, 0, 34, 0, 16, 0}})
			} else {
				cases = append(cases, txCase{name: "software checksum", pkt: csum, hdr: make([]byte, 10), csumAt: 50, csumStart: 34})
			}
			gso := nic.TxPacket{Data: [][]byte{tcpFrame(54), tcpFrame(60000)}, NeedsChecksum: true, CsumStart: 34, CsumOffset: 16,
				GSO: nic.GSOTCPv4, GSOSize: 1448, HdrLen: 54}
			if f.TSO4 {
				cases = append(cases,
					txCase{name: "TSO", pkt: gso, hdr: []byte{1, 1, 54, 0, 0xa8, 5, 34, 0, 16, 0}},
					txCase{name: "TSO too long", pkt: nic.TxPacket{Data: [][]byte{tcpFrame(65537)}, NeedsChecksum: true, GSO: nic.GSOTCPv4, GSOSize: 1448, HdrLen: 54}, wantErr: true})
			} else {
				cases = append(cases, txCase{name: "TSO not offered", pkt: gso, wantErr: true})
			}
			if !f.TSO6 {
				gso6 := gso
				gso6.GSO = nic.GSOTCPv6
				cases = append(cases, txCase{name: "TSO6 not offered", pkt: gso6, wantErr: true})
			}
			var dropped uint64
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					taken, err := n.Transmit([]nic.TxPacket{tc.pkt})
					if taken != 1 {
						t.Fatalf("Transmit took %d, want 1 (%v)", taken, err)
					}
					sent := d.takeSent()
					if tc.wantErr {
						dropped++
						if !errors.Is(err, ErrTxPacket) || len(sent) != 0 {
							t.Errorf("Transmit = %v with %d frames sent; want ErrTxPacket, none sent", err, len(sent))
						}
						return
					}
					if err != nil || len(sent) != 1 {
						t.Fatalf("Transmit = %v with %d frames sent", err, len(sent))
					}
					s := sent[0]
					want := slices.Concat(tc.pkt.Data...)
					if tc.csumAt != 0 {
						// The device got the completed checksum: the
						// sum over the covered bytes folds to 0xffff.
						pseudo := uint16(want[tc.csumAt])<<8 | uint16(want[tc.csumAt+1])
						if got := checksum.Checksum(s.data[tc.csumStart:], pseudo); got != 0xffff {
							t.Errorf("software checksum: sum %#x over the frame, want 0xffff", got)
						}
						copy(want[tc.csumAt:], s.data[tc.csumAt:tc.csumAt+2])
					}
					if !bytes.Equal(s.data, want) {
						t.Errorf("frame data differs: %d bytes sent, %d given", len(s.data), len(want))
					}
					if !bytes.Equal(s.hdr[:10], tc.hdr) {
						t.Errorf("header (-want +got):\n-% x\n+% x", tc.hdr, s.hdr[:10])
					}
					if len(s.hdr) == 12 && !bytes.Equal(s.hdr[10:], []byte{0, 0}) {
						t.Errorf("num_buffers % x on transmit, want 0", s.hdr[10:])
					}
					if n.splitHdr != s.ownHdr {
						t.Errorf("header in its own descriptor: %v, want %v", s.ownHdr, n.splitHdr)
					}
					if wantDescs := n.txDescs(len(want)); s.descs != wantDescs {
						t.Errorf("%d descriptors, want %d", s.descs, wantDescs)
					}
				})
			}
			if err := d.protocolErr(); err != nil {
				t.Errorf("device saw: %v", err)
			}
			st := n.Stats()
			if st.TxDropped != dropped || st.TxPackets != uint64(len(cases))-dropped {
				t.Errorf("stats %+v; want %d dropped of %d", st, dropped, len(cases))
			}
		})
	}
}

// TestNetTransmitFull fills the queue while the device holds back: the
// driver takes what fits, skips the kick the device did not ask for,
// and takes more once the device returned buffers.
func TestNetTransmitFull(t *testing.T) {
	for _, cfg := range []netConfig{netConfigs[0], netConfigs[3]} {
		t.Run(cfg.name, func(t *testing.T) {
			d, n := newTestNet(t, cfg.version, cfg.features, NetOptions{QueueSize: 8})
			d.holdTx = true
			pkts := make([]nic.TxPacket, 20)
			for i := range pkts {
				pkts[i].Data = [][]byte{frame(100, byte(i))}
			}
			perFrame := n.txDescs(100)
			fit := 8 / perFrame
			taken, err := n.Transmit(pkts)
			if err != nil || taken != fit {
				t.Fatalf("Transmit = %d, %v; want %d frames in an 8-entry queue", taken, err, fit)
			}
			notifies := d.notifies[1]
			if taken, err := n.Transmit(pkts[fit:]); taken != 0 || err != nil {
				t.Fatalf("Transmit on a full queue = %d, %v", taken, err)
			}
			if d.notifies[1] != notifies {
				t.Errorf("kicked with nothing new")
			}
			d.releaseTx()
			taken2, err := n.Transmit(pkts[fit:])
			if err != nil || taken2 != fit {
				t.Fatalf("Transmit after release = %d, %v; want %d", taken2, err, fit)
			}
			sent := d.takeSent()
			if len(sent) != 2*fit {
				t.Fatalf("device got %d frames, want %d", len(sent), 2*fit)
			}
			for i, s := range sent {
				if !bytes.Equal(s.data, pkts[i].Data[0]) {
					t.Errorf("frame %d differs", i)
				}
			}
		})
	}
}

// TestNetTransmitBigFrames sends TSO frames until the page pool runs
// out; pages come back as the device returns chains.
func TestNetTransmitBigFrames(t *testing.T) {
	d, n := newTestNet(t, 2, modernAll, NetOptions{QueueSize: 16})
	d.holdTx = true
	pkt := nic.TxPacket{Data: [][]byte{tcpFrame(65536)}, NeedsChecksum: true, CsumStart: 34, CsumOffset: 16,
		GSO: nic.GSOTCPv6, GSOSize: 1440, HdrLen: 74}
	pkts := slices.Repeat([]nic.TxPacket{pkt}, 8)
	taken, err := n.Transmit(pkts)
	if err != nil || taken != len(n.txPages)/17 || taken == 0 {
		t.Fatalf("Transmit = %d, %v; want %d (pages %d)", taken, err, len(n.txPages)/17, len(n.txPages))
	}
	d.releaseTx()
	if got, err := n.Transmit(pkts[:1]); got != 1 || err != nil {
		t.Fatalf("Transmit after release = %d, %v", got, err)
	}
	for i, s := range d.takeSent() {
		if !s.indirect || !bytes.Equal(s.data, pkt.Data[0]) || NetHdr(s.hdr).GSOType() != NetGSOTCPv6 {
			t.Errorf("frame %d: indirect %v, %d bytes, GSO type %d", i, s.indirect, len(s.data), NetHdr(s.hdr).GSOType())
		}
	}
}

// runNet runs n.Run in a goroutine, sending received frames to a channel.
func runNet(t *testing.T, n *Net) (frames chan nic.RxPacket, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	frames = make(chan nic.RxPacket, 64)
	done := make(chan error, 1)
	go func() {
		done <- n.Run(ctx, func(p nic.RxPacket) {
			p.Data = bytes.Clone(p.Data)
			frames <- p
		})
	}()
	var stopped bool
	var runErr error
	stop = func() error {
		if !stopped {
			cancel()
			runErr = <-done
			stopped = true
		}
		return runErr
	}
	t.Cleanup(func() { stop() })
	return frames, stop
}

func receiveFrame(t *testing.T, frames chan nic.RxPacket, want []byte) {
	t.Helper()
	select {
	case p := <-frames:
		if !bytes.Equal(p.Data, want) {
			t.Errorf("received %d bytes, want %d", len(p.Data), len(want))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no frame received")
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNetRun(t *testing.T) {
	for _, cfg := range []netConfig{netConfigs[0], netConfigs[3], netConfigs[4]} {
		t.Run(cfg.name, func(t *testing.T) {
			d, n := newTestNet(t, cfg.version, cfg.features, NetOptions{})
			frames, stop := runNet(t, n)
			for i := range 50 {
				f := frame(60+i*29, byte(i))
				if err := d.deliver(f, rxHdr{}); err != nil {
					t.Fatal(err)
				}
				receiveFrame(t, frames, f)
				// Transmit concurrently with Run's reclaiming.
				if taken, err := n.Transmit([]nic.TxPacket{{Data: [][]byte{f}}}); taken != 1 || err != nil {
					t.Fatalf("Transmit = %d, %v", taken, err)
				}
			}
			if err := n.Run(context.Background(), nil); !errors.Is(err, ErrRunning) {
				t.Errorf("second Run = %v, want ErrRunning", err)
			}

			d.setLink(false)
			eventually(t, "link down", func() bool { return !n.LinkUp() })
			d.setLink(true)
			eventually(t, "link up", func() bool { return n.LinkUp() })

			d.askReset()
			eventually(t, "a reset", func() bool { return n.Resets() == 1 })
			f := frame(200, 1)
			eventually(t, "buffers after the reset", func() bool { return d.status()&StatusDriverOK != 0 })
			if err := d.deliver(f, rxHdr{}); err != nil {
				t.Fatal(err)
			}
			receiveFrame(t, frames, f)

			if err := stop(); err != nil {
				t.Errorf("Run after cancel = %v", err)
			}
			st := n.Stats()
			if st.RxPackets != 51 || st.TxPackets != 50 || st.Interrupts == 0 || d.irq.unmasks.Load() == 0 {
				t.Errorf("stats %+v, %d unmasks", st, d.irq.unmasks.Load())
			}
			if got := len(d.takeSent()); got != 50 {
				t.Errorf("device got %d frames, want 50", got)
			}
			if err := d.protocolErr(); err != nil {
				t.Errorf("device saw: %v", err)
			}
		})
	}
}

func TestNetRunPolling(t *testing.T) {
	d, n := newTestNet(t, 2, modernAll, NetOptions{PollInterval: 100 * time.Microsecond})
	n.irq = nil
	frames, stop := runNet(t, n)
	for i := range 10 {
		f := frame(1000, byte(i))
		if err := d.deliver(f, rxHdr{}); err != nil {
			t.Fatal(err)
		}
		receiveFrame(t, frames, f)
	}
	d.setLink(false)
	eventually(t, "link down", func() bool { return !n.LinkUp() })
	if err := stop(); err != nil {
		t.Error(err)
	}
	if st := n.Stats(); st.Interrupts != 0 || st.RxPackets != 10 {
		t.Errorf("stats %+v, want 10 packets and no interrupts", st)
	}
}

// TestNetRunGivesUp: a device that keeps breaking the used ring is
// reset MaxResets times, then marked FAILED.
func TestNetRunGivesUp(t *testing.T) {
	d, n := newTestNet(t, 2, modernAll, NetOptions{MaxResets: 2})
	bad := []rawEntry{{length: 100, badHead: true, head: 999}}
	if err := d.deliverRaw(1, 0, bad); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, func(nic.RxPacket) {}) }()
	for i := range 2 {
		eventually(t, "a reset", func() bool { return n.Resets() == uint64(i+1) && d.status()&StatusDriverOK != 0 })
		if err := d.deliverRaw(1, 0, bad); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrUsedHead) {
			t.Errorf("Run = %v, want ErrUsedHead", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not give up")
	}
	if d.status()&StatusFailed == 0 {
		t.Errorf("status %#x, want FAILED", d.status())
	}
}

// TestNetTransmitBrokenDevice: a transmit used ring that names unknown
// chains stops Transmit until Run has reset the device.
func TestNetTransmitBrokenDevice(t *testing.T) {
	d, n := newTestNet(t, 2, modernAll, NetOptions{})
	d.mu.Lock()
	r := d.ring(1)
	r.complete(7, 0)
	d.mu.Unlock()
	pkt := []nic.TxPacket{{Data: [][]byte{frame(60, 0)}}}
	if taken, err := n.Transmit(pkt); taken != 0 || !errors.Is(err, ErrDeviceBroken) {
		t.Fatalf("Transmit = %d, %v; want ErrDeviceBroken", taken, err)
	}
	if err := n.service(func(nic.RxPacket) {}); err == nil {
		t.Fatal("service did not report the broken device")
	}
	if err := n.reset(); err != nil {
		t.Fatal(err)
	}
	if taken, err := n.Transmit(pkt); taken != 1 || err != nil {
		t.Fatalf("Transmit after reset = %d, %v", taken, err)
	}
	if sent := d.takeSent(); len(sent) != 1 {
		t.Errorf("device got %d frames after the reset, want 1", len(sent))
	}
}

// TestNetHotPathAllocs: sending, receiving and reclaiming allocate
// nothing. The device side here writes the rings by hand, since the
// fake's chain walker allocates.
func TestNetHotPathAllocs(t *testing.T) {
	d, n := newTestNet(t, 2, modernAll, NetOptions{})
	d.holdTx = true
	pkt := []nic.TxPacket{{Data: [][]byte{frame(1000, 0)}}}
	f := frame(1000, 1)
	var got int
	rx := func(p nic.RxPacket) { got += len(p.Data) }
	rxr, txr := d.ring(0), d.ring(1)
	next := func(r *ringDev) (uint16, []byte) {
		head := d.a.u16(r.avail + 4 + 2*uint64(r.lastAvail%r.size))
		r.lastAvail++
		desc, _ := d.a.at(r.desc+16*uint64(head), 16)
		b, _ := d.a.at(le.Uint64(desc), uint64(le.Uint32(desc[8:])))
		return head, b
	}
	allocs := testing.AllocsPerRun(100, func() {
		if taken, err := n.Transmit(pkt); taken != 1 || err != nil {
			t.Fatal(taken, err)
		}
		head, _ := next(txr)
		txr.complete(head, 0)
		head, b := next(rxr)
		clear(b[:NetHdrLen])
		NetHdr(b).SetNumBuffers(1)
		rxr.complete(head, uint32(NetHdrLen+copy(b[NetHdrLen:], f)))
		if err := n.service(rx); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Transmit, receive and reclaim allocate %.1f times per frame", allocs)
	}
	if st := n.Stats(); got != 101*len(f) || st.RxPackets != 101 || st.TxPackets != 101 {
		t.Errorf("received %d bytes, stats %+v", got, st)
	}
}

// TestNetPCILegacy runs the driver over the legacy PCI transport, whose
// queue size the device fixes and whose ISR clears on read.
func TestNetPCILegacy(t *testing.T) {
	for _, cfg := range []netConfig{netConfigs[3], netConfigs[4]} {
		t.Run(cfg.name, func(t *testing.T) {
			features := cfg.features
			d, regs := newPCILegacyNetDev(features)
			for i := range d.m.queues {
				d.m.queues[i].max = 64
			}
			n, err := NewNet(NewPCILegacy(DeviceNet, regs, false), d.a, d.irq, NetOptions{QueueSize: 16})
			if err != nil {
				t.Fatal(err)
			}
			if n.rxq.Size() != 64 || n.MAC() != testMAC || !n.LinkUp() || n.hdrLen != NetHdrSize(features) {
				t.Errorf("queue %d, MAC %x, link %v, header %d", n.rxq.Size(), n.MAC(), n.LinkUp(), n.hdrLen)
			}
			frames, stop := runNet(t, n)
			for i := range 20 {
				f := frame(100+i*70, byte(i))
				if err := d.deliver(f, rxHdr{}); err != nil {
					t.Fatal(err)
				}
				receiveFrame(t, frames, f)
				if taken, err := n.Transmit([]nic.TxPacket{{Data: [][]byte{f}}}); taken != 1 || err != nil {
					t.Fatalf("Transmit = %d, %v", taken, err)
				}
			}
			d.setLink(false)
			eventually(t, "link down", func() bool { return !n.LinkUp() })
			if err := stop(); err != nil {
				t.Error(err)
			}
			sent := d.takeSent()
			if len(sent) != 20 || sent[0].ownHdr != (features&(1<<FeatureAnyLayout) == 0) {
				t.Errorf("device got %d frames (want 20), header alone %v", len(sent), len(sent) > 0 && sent[0].ownHdr)
			}
			if err := d.protocolErr(); err != nil {
				t.Errorf("device saw: %v", err)
			}
		})
	}
}
