package pci

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"reflect"
	"slices"
	"testing"
)

// FuzzParseMCFG feeds ParseMCFG arbitrary tables. flags bit 0 sets the
// header length to the input's length and bit 1 fixes the checksum, so
// the fuzzer also gets past the header checks to the entries. It must
// never panic, fail only with its sentinel errors, and return regions
// that are exactly the table's entries and lie below 2^64.
func FuzzParseMCFG(f *testing.F) {
	f.Add(qemuMCFG, uint8(0))
	f.Add(mcfg(ECAMRegion{Base: 0xe0000000, EndBus: 0x3f}, ECAMRegion{Base: 1 << 40, Segment: 1, StartBus: 1, EndBus: 1}), uint8(0))
	f.Add(mcfg(ECAMRegion{Base: 1<<64 - 1<<20, StartBus: 0xff, EndBus: 0xff}), uint8(3))
	f.Add(qemuMCFG[:50], uint8(3))
	f.Add([]byte("MCFG"), uint8(1))
	f.Add([]byte{}, uint8(0))

	f.Fuzz(func(t *testing.T, table []byte, flags uint8) {
		table = slices.Clone(table)
		if flags&1 != 0 && len(table) >= 8 {
			binary.LittleEndian.PutUint32(table[sdtLength:], uint32(len(table)))
		}
		if flags&2 != 0 && len(table) >= 10 {
			fixChecksum(table)
		}
		regions, err := ParseMCFG(table)
		if err != nil {
			if regions != nil {
				t.Errorf("error %v with regions %+v", err, regions)
			}
			for _, e := range []error{ErrMCFGSignature, ErrMCFGLength, ErrMCFGChecksum, ErrMCFGEntry} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("unexpected error %v", err)
		}
		n := binary.LittleEndian.Uint32(table[sdtLength:])
		if want := int(n-mcfgHeaderSize) / mcfgEntrySize; len(regions) != want {
			t.Fatalf("%d regions from a %d-byte table", len(regions), n)
		}
		for i, r := range regions {
			if r.EndBus < r.StartBus {
				t.Errorf("region %d: buses %d-%d", i, r.StartBus, r.EndBus)
			}
			if end, carry := bits.Add64(r.Start(), r.Size()-1, 0); carry != 0 || end < r.Base {
				t.Errorf("region %d %+v wraps", i, r)
			}
			e := table[mcfgHeaderSize+i*mcfgEntrySize:]
			if r.Base != binary.LittleEndian.Uint64(e) || r.Segment != binary.LittleEndian.Uint16(e[8:]) {
				t.Errorf("region %d %+v is not entry % x", i, r, e[:mcfgEntrySize])
			}
		}
		// What parses re-encodes to a table that parses the same.
		if again, err := ParseMCFG(mcfg(regions...)); err != nil || !reflect.DeepEqual(again, regions) {
			t.Errorf("re-encoded: %+v, %v; want %+v", again, err, regions)
		}
	})
}

// uniformSpace answers for device 0 of every bus and function with the
// same 256 read-only bytes, and counts accesses. Scan sees at most two
// buses of it (0 and one secondary bus), each with up to 8 functions.
type uniformSpace struct {
	cfg           [256]byte
	reads, writes int
}

func (u *uniformSpace) Read32(bus, dev, fn uint8, off uint16) uint32 {
	u.reads++
	if dev != 0 || off >= 256 {
		return ^uint32(0)
	}
	return binary.LittleEndian.Uint32(u.cfg[off&^3:])
}

func (u *uniformSpace) Write32(bus, dev, fn uint8, off uint16, v uint32) { u.writes++ }

// FuzzCapabilities runs Capabilities, ProbeBARs and Scan over arbitrary
// 256-byte configuration spaces. They must never panic, must do bounded
// work, and what they return must respect the list rules.
func FuzzCapabilities(f *testing.F) {
	for _, l := range []loc{{0, 2, 0}, {0, 3, 0}, {1, 0, 0}, {0, 0x1f, 2}} {
		f.Add(q35().fns[l].cfg[:256])
	}
	loop := q35().fns[loc{0, 2, 0}].cfg
	loop[0x41] = 0x98 // the last virtio capability points back to MSI-X
	f.Add(loop[:256])
	bridge := q35().fns[loc{0, 3, 0}].cfg
	bridge[regHeaderType] = HeaderBridge | HeaderMultiFunction
	f.Add(bridge[:256])
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, cfg []byte) {
		u := &uniformSpace{}
		copy(u.cfg[:], cfg)
		d := Device{
			Vendor:     binary.LittleEndian.Uint16(u.cfg[regVendorID:]),
			HeaderType: u.cfg[regHeaderType],
		}
		caps, err := Capabilities(u, &d)
		if err != nil && err != ErrCapLoop && err != ErrCapPointer {
			t.Fatalf("unexpected error %v", err)
		}
		if max := 2 + 6*MaxCapabilities; u.reads > max {
			t.Fatalf("%d reads for the capability list, want at most %d", u.reads, max)
		}
		checkCaps(t, &d, caps)

		u.reads = 0
		b := ProbeBARs(u, &d)
		if u.reads+u.writes > 2+6*2*4 {
			t.Fatalf("%d accesses to probe BARs", u.reads+u.writes)
		}
		checkBARs(t, b)

		u.reads, u.writes = 0, 0
		devs := Scan(u)
		if len(devs) > 16 {
			t.Fatalf("Scan found %d functions in a space with at most 16", len(devs))
		}
		// Per bus 32 presence reads; per function a fixed number of reads
		// and writes plus its capability list.
		if max := 2*32 + 16*(30+2+6*MaxCapabilities); u.reads+u.writes > max {
			t.Fatalf("Scan made %d accesses, want at most %d", u.reads+u.writes, max)
		}
		for i := range devs {
			if !reflect.DeepEqual(devs[i].Capabilities, caps) {
				t.Fatalf("Scan's capabilities differ from Capabilities'")
			}
			checkBARs(t, devs[i].BARs)
		}
	})
}

func checkCaps(t *testing.T, d *Device, caps []Capability) {
	t.Helper()
	if len(caps) > MaxCapabilities {
		t.Fatalf("%d capabilities", len(caps))
	}
	seen := map[uint16]bool{}
	for _, c := range caps {
		if c.Offset < capFirst || c.Offset > 0xfc || c.Offset%4 != 0 || seen[c.Offset] {
			t.Errorf("capability at %#x", c.Offset)
		}
		seen[c.Offset] = true
		if m := c.MSIX; m != nil {
			if c.ID != CapMSIX || m.Offset != c.Offset || c.Offset+msixCapLen > 0x100 ||
				m.TableSize < 1 || m.TableSize > 2048 || m.TableBAR > 7 || m.PBABAR > 7 ||
				m.TableOffset%8 != 0 || m.PBAOffset%8 != 0 {
				t.Errorf("capability %+v with MSI-X %+v", c, *m)
			}
		}
		if v := c.Virtio; v != nil {
			if c.ID != CapVendor || d.Vendor != VendorVirtio || c.Offset+virtioCapSize > 0x100 {
				t.Errorf("capability %+v of vendor %#x with virtio %+v", c, d.Vendor, *v)
			}
			if v.CfgType != VirtioNotifyCfg && v.NotifyOffMultiplier != 0 {
				t.Errorf("notify multiplier in %+v", *v)
			}
		}
	}
}

func checkBARs(t *testing.T, b [6]BAR) {
	t.Helper()
	for i, bar := range b {
		if bar.Index != i {
			t.Errorf("BAR %d has index %d", i, bar.Index)
		}
		if bar.Size&(bar.Size-1) != 0 || (bar.Size != 0 && bar.Addr%bar.Size != 0) {
			// Sizes are powers of two; with read-only registers the
			// address is its own mask, so it is aligned to the size.
			t.Errorf("BAR %+v", bar)
		}
		if bar.Is64 && (i == 5 || b[i+1].Size != 0) {
			t.Errorf("64-bit BAR %d without a free upper half", i)
		}
		if bar.IO && (bar.Is64 || bar.Prefetch) {
			t.Errorf("I/O BAR %+v", bar)
		}
	}
}
