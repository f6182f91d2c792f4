package pci

import (
	"errors"
	"reflect"
	"testing"
)

// rawCaps writes capability headers directly, for lists addCap would not
// build: next maps each offset to its next pointer, all with ID id.
func rawCaps(x *fakeFn, first uint8, id uint8, next map[uint8]uint8) {
	x.status(statusCapList)
	x.cfg[regCapPtr] = first
	for off, n := range next {
		x.cfg[off], x.cfg[off+1] = id, n
	}
}

// capAt is a capability without typed body.
func capAt(id uint8, off uint16) Capability { return Capability{ID: id, Offset: off} }

func TestCapabilities(t *testing.T) {
	// A full list: one capability in every dword from 0x40 to 0xfc.
	full := map[uint8]uint8{}
	var fullWant []Capability
	for p := 0x40; p <= 0xfc; p += 4 {
		full[uint8(p)] = uint8(p + 4) // 0xfc links to 0: the end
		fullWant = append(fullWant, capAt(0x0d, uint16(p)))
	}
	fullLoop := map[uint8]uint8{}
	for k, v := range full {
		fullLoop[k] = v
	}
	fullLoop[0xfc] = 0x40

	tests := []struct {
		name    string
		vendor  uint16
		hdr     uint8
		build   func(x *fakeFn)
		want    []Capability
		wantErr error
	}{
		{"no list", VendorVirtio, HeaderGeneral, func(x *fakeFn) {}, nil, nil},
		{"pointer without status bit", VendorVirtio, HeaderGeneral, func(x *fakeFn) {
			x.cfg[regCapPtr] = 0x40
			x.cfg[0x40] = CapMSIX
		}, nil, nil},
		{"CardBus layout", VendorVirtio, HeaderCardBus, func(x *fakeFn) {
			rawCaps(x, 0x40, CapMSI, map[uint8]uint8{0x40: 0})
		}, nil, nil},
		{"bridge", VendorVirtio, HeaderBridge, func(x *fakeFn) {
			rawCaps(x, 0x40, CapMSI, map[uint8]uint8{0x40: 0})
		}, []Capability{capAt(CapMSI, 0x40)}, nil},
		{"reserved pointer bits masked", VendorIntel, HeaderGeneral, func(x *fakeFn) {
			rawCaps(x, 0x43, CapMSI, map[uint8]uint8{0x40: 0x52, 0x50: 0x01})
		}, []Capability{capAt(CapMSI, 0x40), capAt(CapMSI, 0x50)}, nil},
		{"self loop", VendorIntel, HeaderGeneral, func(x *fakeFn) {
			rawCaps(x, 0x40, CapMSI, map[uint8]uint8{0x40: 0x40})
		}, []Capability{capAt(CapMSI, 0x40)}, ErrCapLoop},
		{"loop of two", VendorIntel, HeaderGeneral, func(x *fakeFn) {
			rawCaps(x, 0x40, CapMSI, map[uint8]uint8{0x40: 0x50, 0x50: 0x40})
		}, []Capability{capAt(CapMSI, 0x40), capAt(CapMSI, 0x50)}, ErrCapLoop},
		{"loop through reserved bits", VendorIntel, HeaderGeneral, func(x *fakeFn) {
			rawCaps(x, 0x40, CapMSI, map[uint8]uint8{0x40: 0x53, 0x50: 0x41})
		}, []Capability{capAt(CapMSI, 0x40), capAt(CapMSI, 0x50)}, ErrCapLoop},
		{"first pointer into header", VendorIntel, HeaderGeneral, func(x *fakeFn) {
			rawCaps(x, 0x3c, CapMSI, nil)
		}, nil, ErrCapPointer},
		{"pointer into header", VendorIntel, HeaderGeneral, func(x *fakeFn) {
			rawCaps(x, 0x40, CapMSI, map[uint8]uint8{0x40: 0x10})
		}, []Capability{capAt(CapMSI, 0x40)}, ErrCapPointer},
		{"48 capabilities", VendorIntel, HeaderGeneral, func(x *fakeFn) {
			rawCaps(x, 0x40, 0x0d, full)
		}, fullWant, nil},
		{"48 capabilities and back", VendorIntel, HeaderGeneral, func(x *fakeFn) {
			rawCaps(x, 0x40, 0x0d, fullLoop)
		}, fullWant, ErrCapLoop},
		{"MSI-X", VendorIntel, HeaderGeneral, func(x *fakeFn) {
			x.addCap(0xf4, CapMSIX, msixBody(2048, 2, 0x10000, 3, 0x18000)...)
			x.put16(0xf6, 0xffff) // enabled, masked, 2048 entries
		}, []Capability{{ID: CapMSIX, Offset: 0xf4, MSIX: &MSIXCap{Offset: 0xf4, TableSize: 2048,
			TableBAR: 2, TableOffset: 0x10000, PBABAR: 3, PBAOffset: 0x18000, Enabled: true, FunctionMasked: true}}}, nil},
		{"MSI-X past 256 bytes", VendorIntel, HeaderGeneral, func(x *fakeFn) {
			x.addCap(0xf8, CapMSIX, msixBody(4, 0, 0, 0, 0x800)...)
		}, []Capability{capAt(CapMSIX, 0xf8)}, nil},
		{"virtio capabilities", VendorVirtio, HeaderGeneral, func(x *fakeFn) {
			x.addCap(0x40, CapVendor, virtioBody(VirtioCommonCfg, 4, 0, 0x1000)...)
			x.cfg[0x45] = 7 // id
			x.addCap(0x54, CapVendor, virtioBody(VirtioNotifyCfg, 2, 0x3000, 0x1000, 0x1000)...)
			x.addCap(0xf0, CapVendor, virtioBody(VirtioDeviceCfg, 5, 0xffffffff, 0x10)...)
		}, []Capability{
			{ID: CapVendor, Offset: 0x40, Virtio: &VirtioCap{CfgType: VirtioCommonCfg, BAR: 4, ID: 7, Length: 0x1000}},
			{ID: CapVendor, Offset: 0x54, Virtio: &VirtioCap{CfgType: VirtioNotifyCfg, BAR: 2, Offset: 0x3000, Length: 0x1000, NotifyOffMultiplier: 0x1000}},
			{ID: CapVendor, Offset: 0xf0, Virtio: &VirtioCap{CfgType: VirtioDeviceCfg, BAR: 5, Offset: 0xffffffff, Length: 0x10}},
		}, nil},
		{"malformed virtio capabilities", VendorVirtio, HeaderGeneral, func(x *fakeFn) {
			x.addCap(0x40, CapVendor, virtioBody(VirtioCommonCfg, 4, 0, 0x1000)...)
			// cap_len too short; a notify capability without its
			// multiplier; one that would run past 256 bytes.
			x.cfg[0x42] = 12
			x.addCap(0x54, CapVendor, virtioBody(VirtioNotifyCfg, 4, 0x3000, 0x1000)...)
			x.addCap(0xf0, CapVendor, virtioBody(VirtioNotifyCfg, 4, 0x3000, 0x1000, 4)...)
		}, []Capability{capAt(CapVendor, 0x40), capAt(CapVendor, 0x54), capAt(CapVendor, 0xf0)}, nil},
		{"vendor capability of another vendor", VendorIntel, HeaderGeneral, func(x *fakeFn) {
			x.addCap(0x40, CapVendor, virtioBody(VirtioCommonCfg, 4, 0, 0x1000)...)
		}, []Capability{capAt(CapVendor, 0x40)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSpace()
			x := f.add(0, 3, 0, tt.vendor, 0x1041, ccEthernet, 1, tt.hdr)
			tt.build(x)
			d := Device{Dev: 3, Vendor: tt.vendor, HeaderType: tt.hdr}
			got, err := Capabilities(f, &d)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(tt.want, got) {
				t.Errorf("capabilities (-want +got):\n%s",
					diff(dump([]Device{{Capabilities: tt.want}}), dump([]Device{{Capabilities: got}})))
			}
			if len(got) > MaxCapabilities {
				t.Errorf("%d capabilities, more than %d", len(got), MaxCapabilities)
			}
			// Status, pointer, and at most six dwords per capability.
			if max := 2 + 6*MaxCapabilities; f.reads > max {
				t.Errorf("%d reads, want at most %d", f.reads, max)
			}
		})
	}
}

func TestDeviceCapabilityLookup(t *testing.T) {
	devs := Scan(q35())
	net := devs[1]
	if m := net.MSIX(); m == nil || m.TableSize != 3 {
		t.Errorf("virtio-net MSIX() = %+v", m)
	}
	if c, ok := net.Capability(CapVendor); !ok || c.Offset != 0x84 {
		t.Errorf("Capability(CapVendor) = %+v, %v; want the first, at 0x84", c, ok)
	}
	if _, ok := net.Capability(CapPCIExpress); ok {
		t.Errorf("virtio-net has no PCIe capability")
	}
	if m := devs[0].MSIX(); m != nil {
		t.Errorf("host bridge MSIX() = %+v", m)
	}
}
