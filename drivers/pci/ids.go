package pci

// Vendor IDs (PCI-SIG assignments).
const (
	VendorIntel  uint16 = 0x8086
	VendorVMware uint16 = 0x15ad
	VendorVirtio uint16 = 0x1af4 // Red Hat's, used for all virtio devices
	VendorAmazon uint16 = 0x1d0f
)

// Virtio device IDs (virtio 1.2 section 4.1.2). Transitional devices,
// which also offer the legacy interface, use 0x1000-0x103f and give the
// virtio device type as subsystem ID; modern-only devices are
// 0x1040 + device type.
const (
	DeviceVirtioNetTransitional     uint16 = 0x1000
	DeviceVirtioBlockTransitional   uint16 = 0x1001
	DeviceVirtioConsoleTransitional uint16 = 0x1003
	DeviceVirtioRNGTransitional     uint16 = 0x1005

	DeviceVirtioModernBase uint16 = 0x1040 // + virtio device type
	DeviceVirtioNet        uint16 = 0x1041 // type 1
	DeviceVirtioBlock      uint16 = 0x1042 // type 2
	DeviceVirtioConsole    uint16 = 0x1043 // type 3
	DeviceVirtioRNG        uint16 = 0x1044 // type 4
	DeviceVirtioVsock      uint16 = 0x1053 // type 19
)

// VMware, Amazon and Intel device IDs.
const (
	DeviceVMXNET3 uint16 = 0x07b0 // VMware paravirtual NIC
	DevicePVSCSI  uint16 = 0x07c0 // VMware paravirtual SCSI

	// Elastic Network Adapter: physical and virtual functions, each also
	// in a low-latency-queue variant. EC2 instances see the VFs.
	DeviceENAPF    uint16 = 0x0ec2
	DeviceENALLQPF uint16 = 0x1ec2
	DeviceENAVF    uint16 = 0xec20
	DeviceENALLQVF uint16 = 0xec21

	DeviceE1000 uint16 = 0x100e // 82540EM, QEMU's "e1000"; listed for reference
)

// Class codes (PCI Code and ID Assignment specification, section 1).
const (
	ClassMassStorage uint8 = 0x01
	ClassNetwork     uint8 = 0x02
	ClassBridge      uint8 = 0x06

	SubclassNVM        uint8 = 0x08 // of ClassMassStorage
	SubclassHostBridge uint8 = 0x00 // of ClassBridge
	SubclassPCIBridge  uint8 = 0x04 // of ClassBridge

	ProgIFNVMe uint8 = 0x02 // of SubclassNVM
)

// ID is a vendor and device ID pair.
type ID struct{ Vendor, Device uint16 }

// ClassCode is a class, subclass and programming interface triple.
type ClassCode struct{ Class, Subclass, ProgIF uint8 }

// Match lists the devices one driver takes: by ID, or by class code for
// devices with a standard interface (NVMe).
type Match struct {
	Driver  string // the name the driver registers under
	IDs     []ID
	Classes []ClassCode
}

// Matches reports whether d is one of m's devices.
func (m Match) Matches(d Device) bool {
	for _, id := range m.IDs {
		if d.Vendor == id.Vendor && d.DeviceID == id.Device {
			return true
		}
	}
	for _, c := range m.Classes {
		if d.Class == c.Class && d.Subclass == c.Subclass && d.ProgIF == c.ProgIF {
			return true
		}
	}
	return false
}

// Table is the one place that says which driver takes which devices.
// Drivers register with TableMatch(name) rather than their own IDs. Some
// rows have no driver yet; they name devices in boot logs. No device
// appears in two rows (tested).
var Table = []Match{
	{Driver: "virtio-net", IDs: []ID{
		{VendorVirtio, DeviceVirtioNetTransitional},
		{VendorVirtio, DeviceVirtioNet},
	}},
	{Driver: "virtio-blk", IDs: []ID{
		{VendorVirtio, DeviceVirtioBlockTransitional},
		{VendorVirtio, DeviceVirtioBlock},
	}},
	{Driver: "virtio-console", IDs: []ID{
		{VendorVirtio, DeviceVirtioConsoleTransitional},
		{VendorVirtio, DeviceVirtioConsole},
	}},
	{Driver: "virtio-rng", IDs: []ID{
		{VendorVirtio, DeviceVirtioRNGTransitional},
		{VendorVirtio, DeviceVirtioRNG},
	}},
	{Driver: "virtio-vsock", IDs: []ID{{VendorVirtio, DeviceVirtioVsock}}},
	{Driver: "vmxnet3", IDs: []ID{{VendorVMware, DeviceVMXNET3}}},
	{Driver: "pvscsi", IDs: []ID{{VendorVMware, DevicePVSCSI}}},
	{Driver: "ena", IDs: []ID{
		{VendorAmazon, DeviceENAPF},
		{VendorAmazon, DeviceENALLQPF},
		{VendorAmazon, DeviceENAVF},
		{VendorAmazon, DeviceENALLQVF},
	}},
	{Driver: "nvme", Classes: []ClassCode{{ClassMassStorage, SubclassNVM, ProgIFNVMe}}},
	{Driver: "e1000", IDs: []ID{{VendorIntel, DeviceE1000}}},
}

// Lookup returns the Table row that takes d.
func Lookup(d Device) (Match, bool) {
	for _, m := range Table {
		if m.Matches(d) {
			return m, true
		}
	}
	return Match{}, false
}

// TableMatch returns a Driver.Match function for the Table row of the
// named driver. It panics if Table has no such row: that is a mistake in
// the program, found at the first boot.
func TableMatch(driver string) func(Device) bool {
	for _, m := range Table {
		if m.Driver == driver {
			return m.Matches
		}
	}
	panic("pci: no Table row for driver " + driver)
}
