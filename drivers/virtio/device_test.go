package virtio

import (
	"errors"
	"slices"
	"testing"
)

// mmioDev models a virtio-mmio device's registers (32-bit accesses only,
// as 4.2.2.2 asks of control registers).
type mmioDev struct {
	devType        DeviceType // 0 means DeviceNet
	isr            uint32     // InterruptStatus, cleared by InterruptACK
	version        uint32
	features       uint64
	featSel        uint32
	drvSel         uint32
	driverFeatures uint64
	status         uint32
	statusWrites   []uint8
	// reject refuses FEATURES_OK for the driver's features.
	reject func(driver uint64) bool
	// resetDelay is how many status reads still return the old status
	// after a reset; stuck makes it forever.
	resetDelay, resetPending int
	stuck                    bool

	sel      uint32
	queues   []mmioQueue
	pageSize uint32

	config   []byte
	gen      uint32
	genBumps int // config reads that change the generation

	onNotify func(q uint32)
}

type mmioQueue struct {
	max, num, ready, align, pfn uint32
	desc, driver, device        uint64
}

func newMMIODev(version uint32, features uint64) *mmioDev {
	return &mmioDev{
		version:  version,
		features: features,
		reject:   func(drv uint64) bool { return drv&^features != 0 },
		queues:   []mmioQueue{{max: 256}, {max: 256}},
		config:   []byte{0x52, 0x54, 0, 0x12, 0x34, 0x56, 1, 0},
	}
}

func (m *mmioDev) q() *mmioQueue {
	if int(m.sel) < len(m.queues) {
		return &m.queues[m.sel]
	}
	return &mmioQueue{}
}

func half(v uint64, sel uint32) uint32 {
	if sel == 1 {
		return uint32(v >> 32)
	}
	if sel == 0 {
		return uint32(v)
	}
	return 0
}

func setHalf(v *uint64, sel, x uint32) {
	switch sel {
	case 0:
		*v = *v&^0xffffffff | uint64(x)
	case 1:
		*v = *v&0xffffffff | uint64(x)<<32
	}
}

func (m *mmioDev) Read32(off uint32) uint32 {
	switch off {
	case mmioMagic:
		return mmioMagicValue
	case mmioVersion:
		return m.version
	case mmioDeviceID:
		if m.devType == 0 {
			return uint32(DeviceNet)
		}
		return uint32(m.devType)
	case mmioInterruptStatus:
		return m.isr
	case mmioDeviceFeatures:
		return half(m.features, m.featSel)
	case mmioQueueNumMax:
		return m.q().max
	case mmioQueueReady:
		return m.q().ready
	case mmioQueuePFN:
		return m.q().pfn
	case mmioStatus:
		if m.stuck || m.resetPending > 0 {
			m.resetPending--
			return StatusDriver
		}
		return m.status
	case mmioConfigGeneration:
		return m.gen
	}
	if off >= mmioConfig && int(off-mmioConfig)+4 <= len(m.config) {
		if m.genBumps > 0 {
			m.genBumps--
			m.gen++
		}
		return le.Uint32(m.config[off-mmioConfig:])
	}
	return 0
}

func (m *mmioDev) Write32(off, v uint32) {
	q := m.q()
	switch off {
	case mmioDeviceFeaturesSel:
		m.featSel = v
	case mmioDriverFeaturesSel:
		m.drvSel = v
	case mmioDriverFeatures:
		setHalf(&m.driverFeatures, m.drvSel, v)
	case mmioGuestPageSize:
		m.pageSize = v
	case mmioQueueSel:
		m.sel = v
	case mmioQueueNum:
		q.num = v
	case mmioQueueAlign:
		q.align = v
	case mmioQueuePFN:
		q.pfn = v
	case mmioQueueReady:
		q.ready = v
	case mmioQueueDescLow, mmioQueueDescHigh:
		setHalf(&q.desc, (off-mmioQueueDescLow)/4, v)
	case mmioQueueDriverLow, mmioQueueDriverHigh:
		setHalf(&q.driver, (off-mmioQueueDriverLow)/4, v)
	case mmioQueueDeviceLow, mmioQueueDeviceHigh:
		setHalf(&q.device, (off-mmioQueueDeviceLow)/4, v)
	case mmioInterruptACK:
		m.isr &^= v
	case mmioQueueNotify:
		if m.onNotify != nil {
			m.onNotify(v)
		}
	case mmioStatus:
		m.statusWrites = append(m.statusWrites, uint8(v))
		switch {
		case v == 0:
			m.status, m.driverFeatures, m.resetPending = 0, 0, m.resetDelay
			for i := range m.queues {
				m.queues[i] = mmioQueue{max: m.queues[i].max}
			}
		case v&StatusFeaturesOK != 0 && m.status&StatusFeaturesOK == 0 && m.reject(m.driverFeatures):
			m.status = v &^ StatusFeaturesOK
		default:
			m.status = v
		}
	}
}

func TestDeviceSetup(t *testing.T) {
	offered := uint64(1<<FeatureVersion1 | 1<<FeatureEventIdx | 1<<FeatureIndirectDesc |
		1<<FeatureAccessPlatform | 1<<NetFeatureMAC | 1<<NetFeatureCsum)
	m := newMMIODev(2, offered)
	tr, err := NewMMIO(m)
	if err != nil {
		t.Fatal(err)
	}
	a := newArena(4 << 20)
	d, err := Negotiate(tr, a, 1<<FeatureEventIdx|1<<FeatureIndirectDesc|1<<FeatureAccessPlatform|
		1<<NetFeatureMAC|1<<NetFeatureMrgRxbuf)
	if err != nil {
		t.Fatalf("Negotiate: %v", err)
	}
	want := uint64(1<<FeatureVersion1 | 1<<FeatureEventIdx | 1<<FeatureIndirectDesc | 1<<NetFeatureMAC)
	if d.Features() != want || m.driverFeatures != want {
		t.Errorf("features: negotiated %#x, device got %#x; want %#x", d.Features(), m.driverFeatures, want)
	}
	if !d.Has(FeatureEventIdx) || d.Has(FeatureAccessPlatform) {
		t.Error("Has disagrees with Features")
	}
	if w := []uint8{0, 1, 3, 11}; !slices.Equal(m.statusWrites, w) {
		t.Errorf("status writes %v, want %v", m.statusWrites, w)
	}

	q0, err := d.SetupQueue(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	q1, err := d.SetupQueue(1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if q0.Size() != 256 || q1.Size() != 64 {
		t.Errorf("queue sizes %d, %d; want 256, 64", q0.Size(), q1.Size())
	}
	if _, err := d.SetupQueue(2, 0); !errors.Is(err, ErrNoQueue) {
		t.Errorf("SetupQueue(2) = %v, want ErrNoQueue", err)
	}
	for i, q := range []*Queue{q0, q1} {
		mq := m.queues[i]
		desc, driver, device := q.Addrs()
		if mq.desc != desc || mq.driver != driver || mq.device != device || mq.num != uint32(q.Size()) || mq.ready != 1 {
			t.Errorf("queue %d registers %+v; queue at %#x %#x %#x size %d", i, mq, desc, driver, device, q.Size())
		}
	}
	var mac [6]byte
	if err := d.ReadConfig(NetConfigMAC, mac[:]); err != nil || mac != [6]byte{0x52, 0x54, 0, 0x12, 0x34, 0x56} {
		t.Errorf("MAC %x, %v", mac, err)
	}
	d.Ready()
	if w := []uint8{0, 1, 3, 11, 15}; !slices.Equal(m.statusWrites, w) {
		t.Errorf("status writes %v, want %v", m.statusWrites, w)
	}

	// A request through the queue, served by a device that found the
	// rings through its registers.
	mq := m.queues[0]
	dev := &ringDev{a: a, size: uint16(mq.num), desc: mq.desc, avail: mq.driver, used: mq.device, eventIdx: true}
	m.onNotify = func(q uint32) {
		if q == 0 {
			dev.process()
		}
	}
	b, p := buf(t, a, 32)
	copy(b, "ping")
	head, err := q0.Add([]Buffer{{p, 4, false}, {p + 16, 16, true}})
	if err != nil {
		t.Fatal(err)
	}
	q0.Kick()
	if h, n, ok, err := q0.Used(); !ok || err != nil || h != head || n != 4 || string(b[16:20]) != "ping" {
		t.Errorf("round trip: Used = %d %d %v %v, data %q", h, n, ok, err, b[16:20])
	}
	if dev.err != nil {
		t.Fatal(dev.err)
	}
	if d.NeedsReset() {
		t.Error("NeedsReset on a healthy device")
	}
	m.status |= StatusNeedsReset
	if !d.NeedsReset() {
		t.Error("NeedsReset missed NEEDS_RESET")
	}
}

// TestDeviceRestartQueue: after a reset the driver hands the same queue
// memory to the device again, emptied.
func TestDeviceRestartQueue(t *testing.T) {
	m := newMMIODev(2, 1<<FeatureVersion1)
	tr, _ := NewMMIO(m)
	a := newArena(1 << 20)
	d, err := Negotiate(tr, a, 0)
	if err != nil {
		t.Fatal(err)
	}
	q, err := d.SetupQueue(1, 16)
	if err != nil {
		t.Fatal(err)
	}
	_, p := buf(t, a, 16)
	if _, err := q.Add([]Buffer{{p, 16, true}}); err != nil {
		t.Fatal(err)
	}
	used := a.used
	if d, err = Negotiate(tr, a, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.RestartQueue(q); err != nil {
		t.Fatal(err)
	}
	desc, driver, device := q.Addrs()
	mq := m.queues[1]
	if mq.desc != desc || mq.driver != driver || mq.device != device || mq.num != 16 || mq.ready != 1 {
		t.Errorf("queue registers %+v after restart", mq)
	}
	if q.NumFree() != 16 || q.InFlight() != 0 || a.used != used {
		t.Errorf("restarted queue: %d free, %d in flight, %d bytes allocated", q.NumFree(), q.InFlight(), a.used-used)
	}
	m.queues[1].max = 8
	if err := d.RestartQueue(q); !errors.Is(err, ErrNoQueue) {
		t.Errorf("restart on a smaller queue = %v, want ErrNoQueue", err)
	}
}

func TestDeviceFailures(t *testing.T) {
	offered := uint64(1<<FeatureVersion1 | 1<<NetFeatureMAC)
	for _, tc := range []struct {
		name   string
		dev    *mmioDev
		want   error
		writes []uint8
	}{
		{
			name: "FEATURES_OK does not stick",
			dev: func() *mmioDev {
				m := newMMIODev(2, offered)
				m.reject = func(uint64) bool { return true }
				return m
			}(),
			want:   ErrFeaturesRejected,
			writes: []uint8{0, 1, 3, 11, 3 | StatusFailed},
		},
		{
			name:   "no VERSION_1",
			dev:    newMMIODev(2, 1<<NetFeatureMAC),
			want:   ErrNoVersion1,
			writes: []uint8{0, 1, 3, 3 | StatusFailed},
		},
		{
			name: "reset never completes",
			dev: func() *mmioDev {
				m := newMMIODev(2, offered)
				m.stuck = true
				return m
			}(),
			want:   ErrResetTimeout,
			writes: []uint8{0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewMMIO(tc.dev)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Negotiate(tr, newArena(1<<16), ^uint64(0)); !errors.Is(err, tc.want) {
				t.Errorf("Negotiate = %v, want %v", err, tc.want)
			}
			if !slices.Equal(tc.dev.statusWrites, tc.writes) {
				t.Errorf("status writes %v, want %v", tc.dev.statusWrites, tc.writes)
			}
		})
	}
}

func TestDeviceResetDelay(t *testing.T) {
	m := newMMIODev(2, 1<<FeatureVersion1)
	m.resetDelay = 5
	tr, _ := NewMMIO(m)
	if _, err := Negotiate(tr, newArena(1<<16), 0); err != nil {
		t.Fatalf("Negotiate with a slow reset: %v", err)
	}
}

func TestDeviceLegacyMMIO(t *testing.T) {
	m := newMMIODev(1, 1<<32|1<<FeatureEventIdx|1<<NetFeatureMAC)
	tr, err := NewMMIO(m)
	if err != nil {
		t.Fatal(err)
	}
	a := newArena(4 << 20)
	d, err := Negotiate(tr, a, ^uint64(0))
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(1<<FeatureEventIdx | 1<<NetFeatureMAC); d.Features() != want || m.driverFeatures != want {
		t.Errorf("features %#x, device got %#x; want %#x", d.Features(), m.driverFeatures, want)
	}
	q, err := d.SetupQueue(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	d.Ready()
	if w := []uint8{0, 1, 3, 7}; !slices.Equal(m.statusWrites, w) {
		t.Errorf("status writes %v, want %v (no FEATURES_OK for legacy)", m.statusWrites, w)
	}
	mq := m.queues[0]
	desc, _, _ := q.Addrs()
	if q.Size() != 256 || mq.num != 256 || m.pageSize != 4096 || mq.align != 4096 || uint64(mq.pfn)<<12 != desc {
		t.Fatalf("legacy queue: size %d, registers %+v, page size %d, desc %#x", q.Size(), mq, m.pageSize, desc)
	}
	// The device derives the rings from the PFN alone (2.7.2).
	base := uint64(mq.pfn) * uint64(m.pageSize)
	n := uint64(mq.num)
	dev := &ringDev{a: a, size: uint16(n), desc: base, avail: base + 16*n,
		used: uint64(alignUp(int(base+16*n+6+2*n), int(mq.align))), eventIdx: true}
	m.onNotify = func(uint32) { dev.process() }
	b, p := buf(t, a, 16)
	copy(b, "legacy")
	head, _ := q.Add([]Buffer{{p, 6, false}, {p + 8, 8, true}})
	q.Kick()
	if h, n, ok, err := q.Used(); !ok || err != nil || h != head || n != 6 || string(b[8:14]) != "legacy" {
		t.Errorf("legacy round trip: Used = %d %d %v %v, data %q", h, n, ok, err, b[8:14])
	}
	if dev.err != nil {
		t.Fatal(dev.err)
	}
}

func TestDeviceLegacyPCI(t *testing.T) {
	r := newRegFile(map[uint32]uint32{legacyDeviceFeatures: 1 << NetFeatureMAC, legacyQueueSize: 128})
	d, err := Negotiate(NewPCILegacy(DeviceNet, r, false), newArena(1<<20), 1<<NetFeatureMAC)
	if err != nil {
		t.Fatal(err)
	}
	q, err := d.SetupQueue(0, 64)
	if err != nil {
		t.Fatal(err)
	}
	desc, _, _ := q.Addrs()
	if q.Size() != 128 || uint64(r.val[legacyQueuePFN])<<12 != desc {
		t.Errorf("queue size %d (device's is 128), PFN %#x for desc %#x", q.Size(), r.val[legacyQueuePFN], desc)
	}
}

func TestDeviceConfigGeneration(t *testing.T) {
	m := newMMIODev(2, 1<<FeatureVersion1)
	tr, _ := NewMMIO(m)
	d, err := Negotiate(tr, newArena(1<<16), 0)
	if err != nil {
		t.Fatal(err)
	}
	m.genBumps = 1
	var st [2]byte
	if err := d.ReadConfig(NetConfigStatus, st[:]); err != nil || le.Uint16(st[:]) != NetStatusLinkUp || m.gen != 1 {
		t.Errorf("ReadConfig across one change = %x, %v (generation %d)", st, err, m.gen)
	}
	m.genBumps = 1 << 20
	if err := d.ReadConfig(NetConfigStatus, st[:]); !errors.Is(err, ErrConfigUnstable) {
		t.Errorf("ReadConfig of a changing configuration = %v, want ErrConfigUnstable", err)
	}
}

func TestNetHdr(t *testing.T) {
	b := make([]byte, NetHdrLen)
	h := NetHdr(b)
	h.SetFlags(NetHdrNeedsCsum)
	h.SetGSOType(NetGSOTCPv4)
	h.SetHdrLen(54)
	h.SetGSOSize(1448)
	h.SetCsumStart(34)
	h.SetCsumOffset(16)
	h.SetNumBuffers(1)
	want := []byte{1, 1, 54, 0, 0xa8, 0x05, 34, 0, 16, 0, 1, 0}
	if !slices.Equal(b, want) {
		t.Errorf("header % x, want % x", b, want)
	}
	if h.Flags() != 1 || h.GSOType() != 1 || h.HdrLen() != 54 || h.GSOSize() != 1448 ||
		h.CsumStart() != 34 || h.CsumOffset() != 16 || h.NumBuffers() != 1 {
		t.Error("accessors do not read back")
	}
	for _, tc := range []struct {
		features uint64
		want     int
	}{
		{0, 10},
		{1 << NetFeatureMrgRxbuf, 12},
		{1 << FeatureVersion1, 12},
	} {
		if got := NetHdrSize(tc.features); got != tc.want {
			t.Errorf("NetHdrSize(%#x) = %d, want %d", tc.features, got, tc.want)
		}
	}
}
