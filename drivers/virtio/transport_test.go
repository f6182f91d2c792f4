package virtio

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// regFile is a fake register window: writes are stored and read back
// unless onRead answers, and every access is logged.
type regFile struct {
	val    map[uint32]uint32
	log    []string
	onRead func(off uint32) (uint32, bool)
}

func newRegFile(vals map[uint32]uint32) *regFile {
	if vals == nil {
		vals = map[uint32]uint32{}
	}
	return &regFile{val: vals}
}

func (r *regFile) read(width int, off uint32) uint32 {
	r.log = append(r.log, fmt.Sprintf("r%d %#x", width, off))
	v, ok := uint32(0), false
	if r.onRead != nil {
		v, ok = r.onRead(off)
	}
	if !ok {
		v = r.val[off]
	}
	return v & uint32(1<<width-1)
}

func (r *regFile) write(width int, off, v uint32) {
	r.log = append(r.log, fmt.Sprintf("w%d %#x=%#x", width, off, v))
	r.val[off] = v
}

func (r *regFile) Read8(off uint32) uint8       { return uint8(r.read(8, off)) }
func (r *regFile) Read16(off uint32) uint16     { return uint16(r.read(16, off)) }
func (r *regFile) Read32(off uint32) uint32     { return r.read(32, off) }
func (r *regFile) Write8(off uint32, v uint8)   { r.write(8, off, uint32(v)) }
func (r *regFile) Write16(off uint32, v uint16) { r.write(16, off, uint32(v)) }
func (r *regFile) Write32(off uint32, v uint32) { r.write(32, off, v) }
func (r *regFile) take() []string               { l := r.log; r.log = nil; return l }
func (r *regFile) expect(t *testing.T, what string, want ...string) {
	t.Helper()
	if d := diffLines(want, r.take()); d != "" {
		t.Errorf("%s: register accesses (-want +got):\n%s", what, d)
	}
}

// regs32 hides the narrow accessors of a regFile.
type regs32 struct{ r *regFile }

func (r regs32) Read32(off uint32) uint32     { return r.r.Read32(off) }
func (r regs32) Write32(off uint32, v uint32) { r.r.Write32(off, v) }

// diffLines compares two line lists in "-want +got" form; "" if equal.
func diffLines(want, got []string) string {
	var b strings.Builder
	differ := false
	for i := 0; i < len(want) || i < len(got); i++ {
		switch {
		case i >= len(got):
			differ = true
			fmt.Fprintf(&b, "-%s\n", want[i])
		case i >= len(want):
			differ = true
			fmt.Fprintf(&b, "+%s\n", got[i])
		case want[i] != got[i]:
			differ = true
			fmt.Fprintf(&b, "-%s\n+%s\n", want[i], got[i])
		default:
			fmt.Fprintf(&b, " %s\n", want[i])
		}
	}
	if !differ {
		return ""
	}
	return b.String()
}

// selected returns what a select register picks from a 64-bit value.
func selected(r *regFile, sel uint32, v uint64) uint32 {
	if r.val[sel] == 1 {
		return uint32(v >> 32)
	}
	return uint32(v)
}

func newMMIOFile(version uint32) *regFile {
	r := newRegFile(map[uint32]uint32{0: 0x74726976, 4: version, 8: 1, 0xc: 0x554d4551, 0x34: 256})
	r.onRead = func(off uint32) (uint32, bool) {
		if off == 0x10 {
			return selected(r, 0x14, 1<<32|1<<29|1<<5), true
		}
		return 0, false
	}
	return r
}

func TestMMIOProbe(t *testing.T) {
	for _, tc := range []struct {
		name string
		vals map[uint32]uint32
		want error
	}{
		{"bad magic", map[uint32]uint32{0: 0x12345678, 4: 2, 8: 1}, ErrBadMagic},
		{"version 3", map[uint32]uint32{0: 0x74726976, 4: 3, 8: 1}, ErrBadVersion},
		{"no device", map[uint32]uint32{0: 0x74726976, 4: 2, 8: 0}, ErrNoDevice},
	} {
		if _, err := NewMMIO(newRegFile(tc.vals)); !errors.Is(err, tc.want) {
			t.Errorf("%s: NewMMIO = %v, want %v", tc.name, err, tc.want)
		}
	}
	m, err := NewMMIO(newMMIOFile(2))
	if err != nil || m.DeviceType() != DeviceNet || m.Legacy() || m.Version() != 2 || m.VendorID() != 0x554d4551 {
		t.Errorf("NewMMIO v2 = %+v, %v", m, err)
	}
}

func TestMMIOv2(t *testing.T) {
	r := newMMIOFile(2)
	m, err := NewMMIO(r)
	if err != nil {
		t.Fatal(err)
	}
	r.take()
	if f := m.DeviceFeatures(); f != 1<<32|1<<29|1<<5 {
		t.Errorf("DeviceFeatures = %#x", f)
	}
	r.expect(t, "DeviceFeatures", "w32 0x14=0x0", "r32 0x10", "w32 0x14=0x1", "r32 0x10")
	m.SetDriverFeatures(1<<32 | 1<<5)
	r.expect(t, "SetDriverFeatures", "w32 0x24=0x0", "w32 0x20=0x20", "w32 0x24=0x1", "w32 0x20=0x1")

	m.SetStatus(StatusAcknowledge)
	if m.Status() != StatusAcknowledge {
		t.Error("status not read back")
	}
	r.expect(t, "status", "w32 0x70=0x1", "r32 0x70")

	m.SelectQueue(2)
	if n := m.QueueMaxSize(); n != 256 {
		t.Errorf("QueueMaxSize = %d", n)
	}
	if err := m.SetQueueSize(128); err != nil {
		t.Fatal(err)
	}
	if err := m.SetQueueAddrs(0x1_2345_6000, 0x1_2345_6800, 0x2_0000_0004); err != nil {
		t.Fatal(err)
	}
	m.EnableQueue()
	r.expect(t, "queue setup",
		"w32 0x30=0x2", "r32 0x34", "w32 0x38=0x80",
		"w32 0x80=0x23456000", "w32 0x84=0x1",
		"w32 0x90=0x23456800", "w32 0x94=0x1",
		"w32 0xa0=0x4", "w32 0xa4=0x2",
		"w32 0x44=0x1")

	m.Notify(3)
	m.AckInterrupt(m.InterruptStatus())
	m.ConfigGeneration()
	r.expect(t, "notify, interrupt, generation", "w32 0x50=0x3", "r32 0x60", "w32 0x64=0x0", "r32 0xfc")
}

func TestMMIOv1(t *testing.T) {
	r := newMMIOFile(1)
	m, err := NewMMIO(r)
	if err != nil || !m.Legacy() {
		t.Fatalf("NewMMIO v1 = %v, legacy %v", err, m.Legacy())
	}
	r.take()
	if g := m.ConfigGeneration(); g != 0 {
		t.Errorf("ConfigGeneration = %d", g)
	}
	m.SelectQueue(0)
	m.SetQueueSize(256)
	lay, _ := RingLayout(256, true)
	const desc = 0x1234_5000
	if err := m.SetQueueAddrs(desc, desc+0x10, desc+uint64(lay.Used)); !errors.Is(err, ErrLegacyLayout) {
		t.Errorf("SetQueueAddrs off layout = %v, want ErrLegacyLayout", err)
	}
	if err := m.SetQueueAddrs(desc+8, desc+8+uint64(lay.Avail), desc+8+uint64(lay.Used)); !errors.Is(err, ErrLegacyLayout) {
		t.Errorf("SetQueueAddrs unaligned = %v, want ErrLegacyLayout", err)
	}
	if err := m.SetQueueAddrs(desc, desc+uint64(lay.Avail), desc+uint64(lay.Used)); err != nil {
		t.Fatal(err)
	}
	m.EnableQueue()
	r.expect(t, "legacy queue setup",
		"w32 0x30=0x0", "w32 0x38=0x100",
		"w32 0x28=0x1000", "w32 0x3c=0x1000", "w32 0x40=0x12345")
}

func TestMMIOConfig(t *testing.T) {
	cfg := map[uint32]uint32{0x100: 0x44332211, 0x104: 0x00015655, 0x108: 0xaabbccdd, 0x10c: 0x01020304}
	t.Run("sized", func(t *testing.T) {
		r := newMMIOFile(2)
		for k, v := range cfg {
			r.val[k] = v
		}
		r.onRead = func(off uint32) (uint32, bool) {
			w := r.val[off&^3] >> (8 * (off & 3))
			return w, true
		}
		m, _ := NewMMIO(r)
		r.take()
		var mac [6]byte
		m.ReadConfig(0, mac[:])
		if mac != [6]byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x56} {
			t.Errorf("mac %x", mac)
		}
		var st [2]byte
		m.ReadConfig(6, st[:])
		var q [8]byte
		m.ReadConfig(8, q[:])
		if le.Uint16(st[:]) != 1 || le.Uint64(q[:]) != 0x01020304aabbccdd {
			t.Errorf("status %x, u64 %x", st, q)
		}
		r.expect(t, "config reads",
			"r8 0x100", "r8 0x101", "r8 0x102", "r8 0x103", "r8 0x104", "r8 0x105",
			"r16 0x106", "r32 0x108", "r32 0x10c")
		m.WriteConfig(6, []byte{0x34, 0x12})
		r.expect(t, "config write", "w16 0x106=0x1234")
	})
	t.Run("32-bit only", func(t *testing.T) {
		r := newMMIOFile(2)
		for k, v := range cfg {
			r.val[k] = v
		}
		m, _ := NewMMIO(regs32{r})
		r.take()
		var mac [6]byte
		m.ReadConfig(0, mac[:])
		if mac != [6]byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x56} {
			t.Errorf("mac %x", mac)
		}
		var st [2]byte
		m.ReadConfig(6, st[:])
		if le.Uint16(st[:]) != 1 {
			t.Errorf("status %x", st)
		}
		r.take()
		m.WriteConfig(6, []byte{0x34, 0x12})
		r.expect(t, "narrow config write", "r32 0x104", "w32 0x104=0x12345655")
		m.WriteConfig(8, []byte{1, 2, 3, 4})
		r.expect(t, "word config write", "w32 0x108=0x4030201")
	})
}

func newCommon(numQueues uint16, features uint64) *regFile {
	r := newRegFile(map[uint32]uint32{0x12: uint32(numQueues), 0x18: 512, 0x1e: 5})
	r.onRead = func(off uint32) (uint32, bool) {
		if off == 0x04 {
			return selected(r, 0x00, features), true
		}
		return 0, false
	}
	return r
}

func TestPCIModern(t *testing.T) {
	common, notify, isr, dev := newCommon(3, 1<<32|1<<28), newRegFile(nil), newRegFile(map[uint32]uint32{0: 3}), newRegFile(nil)
	if _, err := NewPCIModern(DeviceNet, PCIRegions{Common: common}); err == nil {
		t.Error("NewPCIModern without notify and ISR succeeded")
	}
	p, err := NewPCIModern(DeviceNet, PCIRegions{Common: common, Notify: notify, NotifyOffMultiplier: 4, ISR: isr, Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	if p.NumQueues() != 3 || p.DeviceType() != DeviceNet || p.Legacy() {
		t.Errorf("NumQueues %d type %v legacy %v", p.NumQueues(), p.DeviceType(), p.Legacy())
	}
	common.expect(t, "probe", "r16 0x12")

	if f := p.DeviceFeatures(); f != 1<<32|1<<28 {
		t.Errorf("DeviceFeatures = %#x", f)
	}
	p.SetDriverFeatures(1<<32 | 1<<28)
	p.SetStatus(StatusAcknowledge | StatusDriver)
	p.Status()
	p.ConfigGeneration()
	common.expect(t, "features and status",
		"w32 0x0=0x0", "r32 0x4", "w32 0x0=0x1", "r32 0x4",
		"w32 0x8=0x0", "w32 0xc=0x10000000", "w32 0x8=0x1", "w32 0xc=0x1",
		"w8 0x14=0x3", "r8 0x14", "r8 0x15")

	p.SelectQueue(1)
	if n := p.QueueMaxSize(); n != 512 {
		t.Errorf("QueueMaxSize = %d", n)
	}
	p.SetQueueSize(256)
	p.SetQueueAddrs(0x1_0000_1000, 0x1_0000_2000, 0x1_0000_3000)
	if v := p.SetQueueVector(2); v != 2 {
		t.Errorf("SetQueueVector = %d", v)
	}
	p.EnableQueue()
	common.expect(t, "queue setup",
		"w16 0x16=0x1", "r16 0x18", "w16 0x18=0x100",
		"w32 0x20=0x1000", "w32 0x24=0x1",
		"w32 0x28=0x2000", "w32 0x2c=0x1",
		"w32 0x30=0x3000", "w32 0x34=0x1",
		"w16 0x1a=0x2", "r16 0x1a",
		"r16 0x1e", "w16 0x1c=0x1")

	p.Notify(1)
	notify.expect(t, "notify", "w16 0x14=0x1") // queue_notify_off 5 * multiplier 4
	if s := p.InterruptStatus(); s != InterruptQueue|InterruptConfig {
		t.Errorf("InterruptStatus = %d", s)
	}
	p.AckInterrupt(3)
	isr.expect(t, "ISR", "r8 0x0")

	p.SelectQueue(3)
	if n := p.QueueMaxSize(); n != 0 {
		t.Errorf("QueueMaxSize of queue 3 of 3 = %d, want 0", n)
	}
	p.Notify(7) // not a queue: ignored
	notify.expect(t, "notify of a missing queue")

	var b [8]byte
	p.ReadConfig(0, b[:6])
	p.ReadConfig(6, b[:2])
	p.ReadConfig(8, b[:4])
	p.ReadConfig(16, b[:8])
	p.WriteConfig(12, b[:4])
	dev.expect(t, "device config",
		"r8 0x0", "r8 0x1", "r8 0x2", "r8 0x3", "r8 0x4", "r8 0x5",
		"r16 0x6", "r32 0x8", "r32 0x10", "r32 0x14", "w32 0xc=0x0")
}

func TestPCILegacy(t *testing.T) {
	for _, msix := range []bool{false, true} {
		r := newRegFile(map[uint32]uint32{0x0: 1<<28 | 1<<5, 0xc: 256})
		p := NewPCILegacy(DeviceNet, r, msix)
		if !p.Legacy() || p.DeviceType() != DeviceNet {
			t.Fatal("not legacy net")
		}
		if f := p.DeviceFeatures(); f != 1<<28|1<<5 {
			t.Errorf("DeviceFeatures = %#x", f)
		}
		p.SetDriverFeatures(1<<32 | 1<<5)
		p.SetStatus(StatusAcknowledge)
		p.Status()
		r.expect(t, "features and status", "r32 0x0", "w32 0x4=0x20", "w8 0x12=0x1", "r8 0x12")

		p.SelectQueue(1)
		if err := p.SetQueueSize(128); !errors.Is(err, ErrQueueSizeFixed) {
			t.Errorf("SetQueueSize(128) = %v, want ErrQueueSizeFixed", err)
		}
		if err := p.SetQueueSize(256); err != nil {
			t.Errorf("SetQueueSize(256) = %v", err)
		}
		lay, _ := RingLayout(256, true)
		const desc = 0xabc_d000
		if err := p.SetQueueAddrs(desc, desc+uint64(lay.Avail), desc+uint64(lay.Used)); err != nil {
			t.Fatal(err)
		}
		p.EnableQueue()
		p.Notify(1)
		p.AckInterrupt(p.InterruptStatus())
		r.expect(t, "queue",
			"w16 0xe=0x1", "r16 0xc", "r16 0xc", "r16 0xc", "w32 0x8=0xabcd",
			"w16 0x10=0x1", "r8 0x13")

		cfg := uint32(0x14)
		if msix {
			cfg = 0x18
			if v := p.SetConfigVector(1); v != 1 {
				t.Errorf("SetConfigVector = %d", v)
			}
			r.expect(t, "msix", "w16 0x14=0x1", "r16 0x14")
		} else if v := p.SetQueueVector(1); v != NoVector {
			t.Errorf("SetQueueVector without MSI-X = %d", v)
		}
		var mac [6]byte
		p.ReadConfig(0, mac[:1])
		p.ReadConfig(6, mac[:2])
		r.expect(t, fmt.Sprintf("config (msix %v)", msix), fmt.Sprintf("r8 %#x", cfg), fmt.Sprintf("r16 %#x", cfg+6))
		if p.ConfigGeneration() != 0 {
			t.Error("legacy ConfigGeneration != 0")
		}
	}
}

func TestPCIDeviceType(t *testing.T) {
	for _, tc := range []struct {
		dev, sub uint16
		want     DeviceType
		ok       bool
	}{
		{0x1041, 0, DeviceNet, true},
		{0x1042, 0x1af4, DeviceBlock, true},
		{0x1053, 0, DeviceVsock, true},
		{0x1000, 1, DeviceNet, true},
		{0x1005, 4, DeviceRNG, true},
		{0x1100, 1, 0, false},
		{0x0fff, 1, 0, false},
	} {
		got, ok := PCIDeviceType(tc.dev, tc.sub)
		if got != tc.want || ok != tc.ok {
			t.Errorf("PCIDeviceType(%#x, %#x) = %v, %v; want %v, %v", tc.dev, tc.sub, got, ok, tc.want, tc.ok)
		}
	}
	if s := DeviceType(42).String(); s != "type 42" {
		t.Errorf("String = %q", s)
	}
}
