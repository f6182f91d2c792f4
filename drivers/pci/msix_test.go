package pci

import (
	"errors"
	"reflect"
	"testing"
)

func TestEnableMSIX(t *testing.T) {
	f := q35()
	devs := Scan(f)
	net := &devs[1]
	x := f.fns[loc{0, 2, 0}]
	x.put16(0x9a, uint16(x.get32(0x98)>>16)|msixFunctionMask) // firmware left it masked
	if err := EnableMSIX(f, net); err != nil {
		t.Fatal(err)
	}
	if got := x.get32(0x98); got != uint32(msixEnable|2)<<16|0x84<<8|uint32(CapMSIX) {
		t.Errorf("capability dword after EnableMSIX = %#x", got)
	}
	if m := net.MSIX(); !m.Enabled || m.FunctionMasked {
		t.Errorf("MSIX() after EnableMSIX = %+v", m)
	}
	if err := DisableMSIX(f, net); err != nil {
		t.Fatal(err)
	}
	if got := x.get32(0x98) >> 16; got != 2 || net.MSIX().Enabled {
		t.Errorf("message control after DisableMSIX = %#x, Enabled %v", got, net.MSIX().Enabled)
	}
	if err := EnableMSIX(f, &devs[0]); !errors.Is(err, ErrNoMSIX) {
		t.Errorf("EnableMSIX of the host bridge = %v, want ErrNoMSIX", err)
	}
}

func TestNewMSIXTable(t *testing.T) {
	devs := Scan(q35())
	mem := newFakeMem()
	for _, tt := range []struct {
		dev  int
		base uint64
		size int
	}{{1, 0xfebd1000, 3}, {2, 0xfebd2000, 1}, {6, 0xfe802000, 65}} {
		got, err := NewMSIXTable(mem, &devs[tt.dev])
		if want := (MSIXTable{Mem: mem, Base: tt.base, Size: tt.size}); err != nil || got != want {
			t.Errorf("%v: NewMSIXTable = %+v, %v; want %+v", devs[tt.dev].String(), got, err, want)
		}
	}

	bad := []struct {
		name string
		edit func(d *Device)
	}{
		{"no capability", func(d *Device) { d.Capabilities = nil }},
		{"reserved BIR", func(d *Device) { d.MSIX().TableBAR = 6 }},
		{"I/O BAR", func(d *Device) { d.MSIX().TableBAR = 0 }},
		{"empty BAR", func(d *Device) { d.MSIX().TableBAR = 2 }},
		{"unassigned BAR", func(d *Device) { d.BARs[1].Addr = 0 }},
		{"past the BAR", func(d *Device) { d.MSIX().TableOffset = 0x1000 - 2*msixEntrySize }},
	}
	for _, tt := range bad {
		d := Scan(q35())[1]
		tt.edit(&d)
		if _, err := NewMSIXTable(mem, &d); !errors.Is(err, ErrNoMSIX) {
			t.Errorf("%s: NewMSIXTable error %v, want ErrNoMSIX", tt.name, err)
		}
	}
}

func TestMSIXTableSet(t *testing.T) {
	const base = 0xfebd1000
	e1 := uint64(base + msixEntrySize)
	tests := []struct {
		name   string
		ctl    uint32 // vector control before
		masked bool
		want   []string
	}{
		{"unmasked to unmasked", 0, false, []string{
			"0xfebd101c=0x1", "0xfebd1010=0xfee03000", "0xfebd1014=0x0", "0xfebd1018=0x41", "0xfebd101c=0x0"}},
		{"masked to unmasked, reserved bits kept", 0x80000001, false, []string{
			"0xfebd1010=0xfee03000", "0xfebd1014=0x0", "0xfebd1018=0x41", "0xfebd101c=0x80000000"}},
		{"unmasked to masked", 0, true, []string{
			"0xfebd101c=0x1", "0xfebd1010=0xfee03000", "0xfebd1014=0x0", "0xfebd1018=0x41"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := newFakeMem()
			mem.m[e1+msixEntryControl] = tt.ctl
			tab := MSIXTable{Mem: mem, Base: base, Size: 3}
			if err := tab.Set(1, X86MSIAddress(3), X86MSIData(0x41), tt.masked); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(mem.log, tt.want) {
				t.Errorf("writes (-want +got):\n-%q\n+%q", tt.want, mem.log)
			}
		})
	}

	mem := newFakeMem()
	tab := MSIXTable{Mem: mem, Base: base, Size: 3}
	for _, i := range []int{-1, 3} {
		if err := tab.Set(i, 0, 0, false); err == nil {
			t.Errorf("Set(%d) of a 3-entry table succeeded", i)
		}
		if err := tab.Mask(i, true); err == nil {
			t.Errorf("Mask(%d) of a 3-entry table succeeded", i)
		}
	}
	if len(mem.log) != 0 {
		t.Errorf("failed calls wrote %q", mem.log)
	}
	mem.m[base+2*msixEntrySize+msixEntryControl] = 0x40000000
	if err := tab.Mask(2, true); err != nil || mem.m[base+0x2c] != 0x40000001 {
		t.Errorf("Mask(2, true): %v, control %#x", err, mem.m[base+0x2c])
	}
	if err := tab.Mask(2, false); err != nil || mem.m[base+0x2c] != 0x40000000 {
		t.Errorf("Mask(2, false): %v, control %#x", err, mem.m[base+0x2c])
	}
}

func TestX86MSI(t *testing.T) {
	for _, tt := range []struct {
		apic uint8
		want uint64
	}{{0, 0xfee00000}, {3, 0xfee03000}, {255, 0xfeeff000}} {
		if got := X86MSIAddress(tt.apic); got != tt.want {
			t.Errorf("X86MSIAddress(%d) = %#x, want %#x", tt.apic, got, tt.want)
		}
	}
	if got := X86MSIData(0x41); got != 0x41 {
		t.Errorf("X86MSIData(0x41) = %#x", got)
	}
}
