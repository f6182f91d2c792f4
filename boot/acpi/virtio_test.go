package acpi

import (
	"encoding/binary"
	"testing"
)

// microvmDevice encodes one virtio-mmio Device() the way QEMU microvm's
// DSDT does (name, _HID, _UID, _CCA, _CRS with Memory32Fixed and one
// Extended Interrupt).
func microvmDevice(name string, base, size, gsi uint32, flags byte) []byte {
	var crs []byte
	crs = append(crs, 0x86, 9, 0, 1)
	crs = binary.LittleEndian.AppendUint32(crs, base)
	crs = binary.LittleEndian.AppendUint32(crs, size)
	crs = append(crs, 0x89, 6, 0, flags, 1)
	crs = binary.LittleEndian.AppendUint32(crs, gsi)
	crs = append(crs, 0x79, 0)
	var body []byte
	body = append(body, name...)
	body = append(body, 0x08, '_', 'H', 'I', 'D', 0x0d)
	body = append(body, "LNRO0005\x00"...)
	body = append(body, 0x08, '_', 'U', 'I', 'D', 0x00)
	body = append(body, 0x08, '_', 'C', 'C', 'A', 0x01)
	body = append(body, 0x08, '_', 'C', 'R', 'S', 0x11, byte(len(crs)+3), 0x0a, byte(len(crs)))
	body = append(body, crs...)
	return append([]byte{0x5b, 0x82, byte(len(body) + 1)}, body...)
}

func TestFindVirtioMMIO(t *testing.T) {
	aml := make([]byte, 36) // SDT header
	aml = append(aml, microvmDevice("VR00", 0xfeb00000, 0x200, 24, 0x01)...)
	aml = append(aml, 0x5b, 0x82, 0x05, 'C', 'O', 'M', '1') // another device
	aml = append(aml, microvmDevice("VR01", 0xfeb00200, 0x200, 25, 0x01|0x02|0x04)...)
	var out [MaxMMIODevices]MMIODevice
	n := findVirtioMMIO(aml, out[:])
	want := []MMIODevice{
		{Base: 0xfeb00000, Size: 0x200, GSI: 24, Level: true},
		{Base: 0xfeb00200, Size: 0x200, GSI: 25, Level: false, ActiveLow: true},
	}
	if n != len(want) {
		t.Fatalf("found %d devices, want %d: %+v", n, len(want), out[:n])
	}
	for i, w := range want {
		if out[i] != w {
			t.Errorf("device %d = %+v, want %+v", i, out[i], w)
		}
	}
	// A truncated descriptor is not read past the table.
	if n := findVirtioMMIO(aml[:len(aml)-8], out[:]); n != 1 {
		t.Errorf("truncated table: %d devices, want 1", n)
	}
	// More devices than room: out is filled, never overrun.
	if n := findVirtioMMIO(aml, out[:1]); n != 1 {
		t.Errorf("room for one: %d devices", n)
	}
}

func FuzzFindVirtioMMIO(f *testing.F) {
	aml := append(make([]byte, 36), microvmDevice("VR00", 0xfeb00000, 0x200, 24, 1)...)
	f.Add(aml)
	f.Fuzz(func(t *testing.T, b []byte) {
		var out [4]MMIODevice
		if n := findVirtioMMIO(b, out[:]); n < 0 || n > len(out) {
			t.Fatalf("n = %d", n)
		}
	})
}
