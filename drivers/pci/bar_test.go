package pci

import (
	"reflect"
	"testing"
)

func TestProbeBARs(t *testing.T) {
	const (
		mem = CommandMemory
		io  = CommandIO
	)
	tests := []struct {
		name  string
		hdr   uint8
		class uint32
		cmd   uint16
		build func(x *fakeFn)
		want  [6]BAR
	}{
		{"none", HeaderGeneral, ccEthernet, 0, func(x *fakeFn) {}, bars()},
		{"32-bit memory", HeaderGeneral, ccEthernet, mem, func(x *fakeFn) {
			x.memBAR(0, 0xfebf0000, 0x10000, false, false)
		}, bars(BAR{Index: 0, Addr: 0xfebf0000, Size: 0x10000})},
		{"32-bit prefetchable", HeaderGeneral, ccEthernet, mem, func(x *fakeFn) {
			x.memBAR(2, 0xfd000000, 16<<20, false, true)
		}, bars(BAR{Index: 2, Addr: 0xfd000000, Size: 16 << 20, Prefetch: true})},
		{"64-bit below 4 GiB", HeaderGeneral, ccEthernet, mem, func(x *fakeFn) {
			x.memBAR(4, 0xfe000000, 0x4000, true, true)
		}, bars(BAR{Index: 4, Addr: 0xfe000000, Size: 0x4000, Prefetch: true, Is64: true})},
		{"64-bit above 4 GiB, size in the upper half", HeaderGeneral, ccEthernet, mem, func(x *fakeFn) {
			x.memBAR(0, 0x8_0000_0000, 8<<30, true, true)
			x.memBAR(2, 0x7_0000_0000, 4<<30, true, false)
		}, bars(
			BAR{Index: 0, Addr: 0x8_0000_0000, Size: 8 << 30, Prefetch: true, Is64: true},
			BAR{Index: 2, Addr: 0x7_0000_0000, Size: 4 << 30, Is64: true})},
		{"unassigned 64-bit", HeaderGeneral, ccEthernet, 0, func(x *fakeFn) {
			x.memBAR(0, 0, 1<<20, true, false)
		}, bars(BAR{Index: 0, Size: 1 << 20, Is64: true})},
		{"I/O", HeaderGeneral, ccEthernet, io, func(x *fakeFn) {
			x.ioBAR(0, 0xc000, 0x100, false)
			x.ioBAR(5, 0xc100, 4, false)
		}, bars(BAR{Index: 0, IO: true, Addr: 0xc000, Size: 0x100}, BAR{Index: 5, IO: true, Addr: 0xc100, Size: 4})},
		{"I/O decoding 16 bits", HeaderGeneral, ccEthernet, io, func(x *fakeFn) {
			x.ioBAR(1, 0x0700, 0x40, true)
		}, bars(BAR{Index: 1, IO: true, Addr: 0x0700, Size: 0x40})},
		{"64-bit type in the last register", HeaderGeneral, ccEthernet, mem, func(x *fakeFn) {
			// Malformed: no register left for the upper half; read as
			// 32 bits.
			x.memBAR(5, 0xfe000000, 0x1000, false, false)
			x.put32(regBAR0+20, 0xfe000000|barMem64)
		}, bars(BAR{Index: 5, Addr: 0xfe000000, Size: 0x1000})},
		{"below 1 MiB type", HeaderGeneral, ccEthernet, mem, func(x *fakeFn) {
			x.memBAR(0, 0xd0000, 0x10000, false, false)
			x.put32(regBAR0, 0xd0000|1<<1)
		}, bars(BAR{Index: 0, Addr: 0xd0000, Size: 0x10000})},
		{"bridge has two BARs", HeaderBridge, ccPCIBridge, mem | io, func(x *fakeFn) {
			x.memBAR(0, 0xfebd2000, 0x1000, false, false)
			x.ioBAR(1, 0xd000, 0x10, false)
			x.put32(regBAR0+8, 0x00010100) // bus numbers, not a BAR
		}, bars(BAR{Index: 0, Addr: 0xfebd2000, Size: 0x1000}, BAR{Index: 1, IO: true, Addr: 0xd000, Size: 0x10})},
		{"bridge 64-bit BAR", HeaderBridge, ccPCIBridge, mem, func(x *fakeFn) {
			x.memBAR(0, 0x4_0000_0000, 0x4000, true, false)
		}, bars(BAR{Index: 0, Addr: 0x4_0000_0000, Size: 0x4000, Is64: true})},
		{"CardBus has none probed", HeaderCardBus, 0x060700, mem, func(x *fakeFn) {
			x.memBAR(0, 0xfe000000, 0x1000, false, false)
		}, bars()},
		{"host bridge keeps decoding", HeaderGeneral, ccHostBridge, mem, func(x *fakeFn) {
			x.memBAR(0, 0xe0000000, 0x1000, false, false)
		}, bars(BAR{Index: 0, Addr: 0xe0000000, Size: 0x1000})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSpace()
			x := f.add(0, 3, 0, VendorIntel, 0x1234, tt.class, 0, tt.hdr).command(tt.cmd)
			tt.build(x)
			before := x.cfg
			d := probe(f, 0, 3, 0)
			if d.BARs != tt.want {
				t.Errorf("BARs (-want +got):\n%s", diff(dump([]Device{{BARs: tt.want}}), dump([]Device{{BARs: d.BARs}})))
			}
			if x.cfg != before {
				t.Errorf("registers not restored")
			}
			violations := f.violations
			if tt.class == ccHostBridge {
				if len(violations) == 0 {
					t.Errorf("host bridge decode was turned off while probing")
				}
				violations = nil
			}
			for _, v := range violations {
				t.Error(v)
			}
			// Probing twice gives the same answer.
			if again := ProbeBARs(f, &d); !reflect.DeepEqual(again, d.BARs) {
				t.Errorf("second probe %+v, first %+v", again, d.BARs)
			}
		})
	}
}

// TestProbeBARsGone checks a function that vanished (all ones) has no
// BARs.
func TestProbeBARsGone(t *testing.T) {
	f := newFakeSpace()
	d := Device{Bus: 0, Dev: 9, HeaderType: HeaderGeneral}
	if got := ProbeBARs(f, &d); got != bars() {
		t.Errorf("ProbeBARs of a missing function = %+v", got)
	}
}
