package pci

import (
	"reflect"
	"testing"
)

// accessMethods gives each way of reaching a fake space's registers: the
// fake itself, mechanism #1 over fake ports, and ECAM over fake memory
// (with checks that no access strays).
func accessMethods(t *testing.T, f *fakeSpace) map[string]ConfigSpace {
	ports := &fakePorts{cs: f}
	mem := &fakeECAM{cs: f, base: 0xb0000000, size: 256 << 20}
	t.Cleanup(func() {
		for _, b := range append(ports.bad, mem.bad...) {
			t.Errorf("stray access: %s", b)
		}
	})
	return map[string]ConfigSpace{
		"direct": f,
		"portio": NewPortIO(ports),
		"ecam":   NewECAM(mem, ECAMRegion{Base: 0xb0000000, StartBus: 0, EndBus: 255}),
	}
}

func TestScanQ35(t *testing.T) {
	for _, name := range []string{"direct", "portio", "ecam"} {
		t.Run(name, func(t *testing.T) {
			f := q35()
			before := f.snapshot()
			cs := accessMethods(t, f)[name]
			checkDevices(t, q35Devices(), Scan(cs))
			for _, v := range f.violations {
				t.Error(v)
			}
			// Probing restores every register it wrote.
			if after := f.snapshot(); !reflect.DeepEqual(before, after) {
				for l, b := range before {
					if a := after[l]; a != b {
						for i := range a {
							if a[i] != b[i] {
								t.Errorf("%v: byte %#x changed from %#x to %#x", l, i, b[i], a[i])
								break
							}
						}
					}
				}
			}
		})
	}
}

func TestScanBridges(t *testing.T) {
	bridge := func(f *fakeSpace, bus, dev uint8, secondary uint8) {
		f.add(bus, dev, 0, vendorRedHatQEMU, 0x0001, ccPCIBridge, 0, HeaderBridge).buses(bus, secondary, secondary)
	}
	nic := func(f *fakeSpace, bus, dev uint8) {
		f.add(bus, dev, 0, VendorVirtio, DeviceVirtioNet, ccEthernet, 1, HeaderGeneral)
	}
	tests := []struct {
		name  string
		build func(f *fakeSpace)
		want  []loc
	}{
		{"nested", func(f *fakeSpace) {
			bridge(f, 0, 1, 2)
			bridge(f, 2, 0, 3)
			nic(f, 3, 4)
			nic(f, 2, 7)
			nic(f, 0, 5)
		}, []loc{{0, 1, 0}, {0, 5, 0}, {2, 0, 0}, {2, 7, 0}, {3, 4, 0}}},
		{"unconfigured bridge", func(f *fakeSpace) {
			bridge(f, 0, 1, 0)
			nic(f, 1, 0) // not reachable: the bridge has no bus number
		}, []loc{{0, 1, 0}}},
		{"bridge to itself", func(f *fakeSpace) {
			bridge(f, 0, 1, 1)
			bridge(f, 1, 0, 1)
			bridge(f, 1, 1, 0)
			nic(f, 1, 2)
		}, []loc{{0, 1, 0}, {1, 0, 0}, {1, 1, 0}, {1, 2, 0}}},
		{"two bridges to one bus", func(f *fakeSpace) {
			bridge(f, 0, 1, 9)
			bridge(f, 0, 2, 9)
			nic(f, 9, 0)
		}, []loc{{0, 1, 0}, {0, 2, 0}, {9, 0, 0}}},
		{"missing function 0", func(f *fakeSpace) {
			f.add(0, 4, 1, VendorIntel, 0x1234, ccEthernet, 0, HeaderMultiFunction)
		}, nil},
		{"vendor 0", func(f *fakeSpace) {
			f.add(0, 4, 0, 0, 0, ccEthernet, 0, HeaderGeneral)
		}, nil},
		{"multi-function gaps", func(f *fakeSpace) {
			f.add(0, 4, 0, VendorIntel, 0x1234, ccEthernet, 0, HeaderMultiFunction)
			f.add(0, 4, 7, VendorIntel, 0x1234, ccEthernet, 0, HeaderGeneral)
		}, []loc{{0, 4, 0}, {0, 4, 7}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSpace()
			tt.build(f)
			var got []loc
			for _, d := range Scan(f) {
				got = append(got, loc{d.Bus, d.Dev, d.Fn})
			}
			if !reflect.DeepEqual(tt.want, got) {
				t.Errorf("Scan found %v, want %v", got, tt.want)
			}
		})
	}
}

// TestScanBounded checks that each bus is read once however bridges
// point: a bridge on every bus of a 256-bus chain, each also pointing
// back, costs one scan per bus.
func TestScanBounded(t *testing.T) {
	f := newFakeSpace()
	for b := range 256 {
		f.add(uint8(b), 0, 0, vendorRedHatQEMU, 0x0001, ccPCIBridge, 0, HeaderBridge).buses(uint8(b), uint8(b+1), uint8(b+1))
		f.add(uint8(b), 1, 0, vendorRedHatQEMU, 0x0001, ccPCIBridge, 0, HeaderBridge).buses(uint8(b), uint8(b), uint8(b))
	}
	devs := Scan(f)
	if len(devs) != 512 {
		t.Errorf("found %d bridges, want 512", len(devs))
	}
	// Per bus: 32 vendor reads; per bridge: presence, header type, and a
	// fixed number of reads for identity, BARs and bus numbers.
	if max := 256*32 + 512*40; f.reads > max {
		t.Errorf("%d reads, want at most %d", f.reads, max)
	}
}
