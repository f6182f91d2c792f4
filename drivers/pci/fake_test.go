package pci

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// The fakes stand at the package's seams: fakeSpace is a ConfigSpace
// made of functions with 4 KiB of registers each; fakePorts serves it
// through ports 0xCF8/0xCFC and fakeECAM through memory, so PortIO and
// ECAM are tested against the same model.

type loc struct{ bus, dev, fn uint8 }

// fakeFn is one function's configuration space. Each bit is read-only
// unless set in rw (takes the written value) or w1c (written 1 clears
// it), as the PCI 3.0 register descriptions make them.
type fakeFn struct {
	cfg     [ecamSpaceSize]byte
	rw, w1c [ecamSpaceSize / 4]uint32
	capLast uint16 // the last capability added, for chaining
}

func (x *fakeFn) get32(off uint16) uint32 { return binary.LittleEndian.Uint32(x.cfg[off:]) }
func (x *fakeFn) put32(off uint16, v uint32) {
	binary.LittleEndian.PutUint32(x.cfg[off:], v)
}
func (x *fakeFn) put16(off uint16, v uint16) {
	binary.LittleEndian.PutUint16(x.cfg[off:], v)
}

// fakeSpace is a set of functions. Missing functions read as all ones.
type fakeSpace struct {
	fns           map[loc]*fakeFn
	reads, writes int
	// violations lists BAR sizing writes made while the function still
	// decoded memory or I/O.
	violations []string
}

var _ ConfigSpace = (*fakeSpace)(nil)

func newFakeSpace() *fakeSpace { return &fakeSpace{fns: map[loc]*fakeFn{}} }

func (f *fakeSpace) Read32(bus, dev, fn uint8, off uint16) uint32 {
	f.reads++
	x := f.fns[loc{bus, dev, fn}]
	if x == nil || off >= ecamSpaceSize {
		return ^uint32(0)
	}
	return x.get32(off &^ 3)
}

func (f *fakeSpace) Write32(bus, dev, fn uint8, off uint16, v uint32) {
	f.writes++
	x := f.fns[loc{bus, dev, fn}]
	if x == nil || off >= ecamSpaceSize {
		return
	}
	off &^= 3
	i := off / 4
	nbars := uint16(6)
	if x.cfg[regHeaderType]&0x7f == HeaderBridge {
		nbars = 2
	}
	if v == ^uint32(0) && off >= regBAR0 && off < regBAR0+4*nbars && x.rw[i] != 0 &&
		x.get32(regCommand)&uint32(CommandIO|CommandMemory) != 0 {
		f.violations = append(f.violations, fmt.Sprintf("%02x:%02x.%d: BAR %#x sized with decode on", bus, dev, fn, off))
	}
	n := x.get32(off)&^x.rw[i] | v&x.rw[i]
	n &^= v & x.w1c[i]
	x.put32(off, n)
}

// snapshot copies every function's registers.
func (f *fakeSpace) snapshot() map[loc][ecamSpaceSize]byte {
	m := map[loc][ecamSpaceSize]byte{}
	for l, x := range f.fns {
		m[l] = x.cfg
	}
	return m
}

// Class codes as one number: class<<16 | subclass<<8 | prog IF.
const (
	ccHostBridge = 0x060000
	ccISABridge  = 0x060100
	ccPCIBridge  = 0x060400
	ccEthernet   = 0x020000
	ccAHCI       = 0x010601
	ccNVMe       = 0x010802
	ccSMBus      = 0x0c0500
)

// add creates the function at bus:dev.fn with the writable bits of a
// typical device: command bits, W1C status bits, the interrupt line, and
// a bridge's bus numbers.
func (f *fakeSpace) add(bus, dev, fn uint8, vendor, device uint16, class uint32, rev, hdr uint8) *fakeFn {
	x := &fakeFn{}
	x.put16(regVendorID, vendor)
	x.put16(regDeviceID, device)
	x.put32(regRevision, class<<8|uint32(rev))
	x.cfg[regHeaderType] = hdr
	// Command: I/O, memory, bus master, parity, SERR#, INTx disable.
	// Status: master data parity error and the four abort/error bits.
	x.rw[regCommand/4] = 0x0547
	x.w1c[regCommand/4] = 0xf900 << 16
	x.rw[regInterrupt/4] = 0xff
	if hdr&0x7f == HeaderBridge {
		x.rw[regBusNumbers/4] = 0x00ffffff
	}
	f.fns[loc{bus, dev, fn}] = x
	return x
}

func (x *fakeFn) command(v uint16) *fakeFn {
	x.put16(regCommand, v)
	return x
}

func (x *fakeFn) status(v uint16) *fakeFn {
	x.put16(regStatus, binary.LittleEndian.Uint16(x.cfg[regStatus:])|v)
	return x
}

func (x *fakeFn) subsystem(vendor, id uint16) *fakeFn {
	x.put16(regSubsystemVendor, vendor)
	x.put16(regSubsystemVendor+2, id)
	return x
}

func (x *fakeFn) irq(line, pin uint8) *fakeFn {
	x.cfg[regInterrupt], x.cfg[regInterrupt+1] = line, pin
	return x
}

func (x *fakeFn) buses(primary, secondary, subordinate uint8) *fakeFn {
	x.cfg[regBusNumbers], x.cfg[regBusNumbers+1], x.cfg[regBusNumbers+2] = primary, secondary, subordinate
	return x
}

// memBAR implements BAR i as a memory BAR of size bytes at addr.
func (x *fakeFn) memBAR(i int, addr, size uint64, is64, prefetch bool) *fakeFn {
	off := uint16(regBAR0 + 4*i)
	v := uint32(addr)
	if is64 {
		v |= barMem64
	}
	if prefetch {
		v |= barPrefetch
	}
	x.put32(off, v)
	x.rw[off/4] = uint32(^(size - 1)) & barMemAddrMask
	if is64 {
		x.put32(off+4, uint32(addr>>32))
		x.rw[off/4+1] = uint32(^(size - 1) >> 32)
	}
	return x
}

// ioBAR implements BAR i as an I/O BAR of size bytes at addr, decoding 32
// or (bits16) only 16 address bits.
func (x *fakeFn) ioBAR(i int, addr, size uint32, bits16 bool) *fakeFn {
	off := uint16(regBAR0 + 4*i)
	x.put32(off, addr|barIO)
	x.rw[off/4] = ^(size - 1) & barIOAddrMask
	if bits16 {
		x.rw[off/4] &= 0xffff
	}
	return x
}

// addCap appends a capability at off: ID, a next pointer (0 until the
// next addCap), then body from offset 2. The first sets the capability
// pointer and the status bit.
func (x *fakeFn) addCap(off uint16, id uint8, body ...byte) *fakeFn {
	x.cfg[off], x.cfg[off+1] = id, 0
	copy(x.cfg[off+2:], body)
	if x.capLast == 0 {
		x.cfg[regCapPtr] = uint8(off)
		x.status(statusCapList)
	} else {
		x.cfg[x.capLast+1] = uint8(off)
	}
	x.capLast = off
	if id == CapMSIX {
		x.rw[off/4] = uint32(msixEnable|msixFunctionMask) << 16
	}
	return x
}

// msixBody is the body of an MSI-X capability (PCI 3.0 section 6.8.2).
func msixBody(size int, tableBIR int, tableOff uint32, pbaBIR int, pbaOff uint32) []byte {
	b := binary.LittleEndian.AppendUint16(nil, uint16(size-1))
	b = binary.LittleEndian.AppendUint32(b, tableOff|uint32(tableBIR))
	return binary.LittleEndian.AppendUint32(b, pbaOff|uint32(pbaBIR))
}

// virtioBody is the body of a struct virtio_pci_cap (virtio 1.2 section
// 4.1.4) with extra dwords after it (the notify multiplier, or
// pci_cfg_data); cap_len counts them.
func virtioBody(cfgType, bar uint8, offset, length uint32, extra ...uint32) []byte {
	b := []byte{byte(virtioCapSize + 4*len(extra)), cfgType, bar, 0, 0, 0}
	b = binary.LittleEndian.AppendUint32(b, offset)
	b = binary.LittleEndian.AppendUint32(b, length)
	for _, e := range extra {
		b = binary.LittleEndian.AppendUint32(b, e)
	}
	return b
}

const (
	vendorRedHatQEMU = 0x1b36 // QEMU's own devices: bridges, NVMe
	deviceRootPort   = 0x000c
	deviceQEMUNVMe   = 0x0010
)

// q35 is the configuration space QEMU's q35 machine presents (as lspci
// shows it under QEMU 7.2) with -device virtio-net-pci on the root bus and
// an NVMe disk behind a pcie-root-port; firmware has assigned addresses:
//
//	00:00.0 host bridge 8086:29c0
//	00:02.0 virtio-net, transitional 1af4:1000: I/O BAR0, MSI-X table in
//	        BAR1, virtio structures in 64-bit BAR4, vendor capabilities
//	00:03.0 pcie-root-port 1b36:000c, secondary bus 1
//	00:1f.0 ICH9 LPC 8086:2918 (multi-function), .2 AHCI 8086:2922,
//	        .3 SMBus 8086:2930
//	01:00.0 NVMe 1b36:0010: 64-bit BAR0 with MSI-X table and PBA
//
// and 00:02.3, a function a single-function device would not have (some
// devices answer for every function number), which Scan must skip.
func q35() *fakeSpace {
	f := newFakeSpace()
	f.add(0, 0, 0, VendorIntel, 0x29c0, ccHostBridge, 0, HeaderGeneral).
		subsystem(VendorVirtio, 0x1100)

	f.add(0, 2, 0, VendorVirtio, DeviceVirtioNetTransitional, ccEthernet, 0, HeaderGeneral).
		command(CommandIO|CommandMemory|CommandBusMaster).
		subsystem(VendorVirtio, 1).irq(11, 1).
		ioBAR(0, 0xc040, 0x20, false).
		memBAR(1, 0xfebd1000, 0x1000, false, false).
		memBAR(4, 0xfe000000, 0x4000, true, true).
		addCap(0x98, CapMSIX, msixBody(3, 1, 0, 1, 0x800)...).
		addCap(0x84, CapVendor, virtioBody(VirtioPCICfg, 0, 0, 0, 0)...).
		addCap(0x70, CapVendor, virtioBody(VirtioNotifyCfg, 4, 0x3000, 0x1000, 4)...).
		addCap(0x60, CapVendor, virtioBody(VirtioDeviceCfg, 4, 0x2000, 0x1000)...).
		addCap(0x50, CapVendor, virtioBody(VirtioISRCfg, 4, 0x1000, 0x1000)...).
		addCap(0x40, CapVendor, virtioBody(VirtioCommonCfg, 4, 0, 0x1000)...)
	f.add(0, 2, 3, VendorVirtio, DeviceVirtioNetTransitional, ccEthernet, 0, HeaderGeneral)

	f.add(0, 3, 0, vendorRedHatQEMU, deviceRootPort, ccPCIBridge, 0, HeaderBridge).
		command(CommandIO|CommandMemory|CommandBusMaster).irq(10, 1).
		buses(0, 1, 1).
		memBAR(0, 0xfebd2000, 0x1000, false, false).
		addCap(0x54, CapPCIExpress, 0x42).
		addCap(0x48, CapMSIX, msixBody(1, 0, 0, 0, 0x800)...).
		addCap(0x40, 0x0d) // bridge subsystem ID
	f.add(1, 0, 0, vendorRedHatQEMU, deviceQEMUNVMe, ccNVMe, 2, HeaderGeneral).
		command(CommandMemory|CommandBusMaster).
		subsystem(VendorVirtio, 0x1100).irq(10, 1).
		memBAR(0, 0xfe800000, 0x4000, true, false).
		addCap(0x40, CapMSIX, msixBody(65, 0, 0x2000, 0, 0x3000)...).
		addCap(0x80, CapPCIExpress, 0x02).
		addCap(0x60, CapPowerManagement, 0x03)
	// An extended capability header (AER), beyond PortIO's reach.
	f.fns[loc{1, 0, 0}].put32(0x100, 0x00010001)

	f.add(0, 0x1f, 0, VendorIntel, 0x2918, ccISABridge, 2, HeaderGeneral|HeaderMultiFunction).
		command(CommandIO|CommandMemory).subsystem(VendorVirtio, 0x1100)
	f.add(0, 0x1f, 2, VendorIntel, 0x2922, ccAHCI, 2, HeaderGeneral).
		command(CommandIO|CommandMemory|CommandBusMaster).
		subsystem(VendorVirtio, 0x1100).irq(10, 1).
		ioBAR(4, 0xc060, 0x20, false).
		memBAR(5, 0xfebd3000, 0x1000, false, false).
		addCap(0x80, CapMSI, 0x80).
		addCap(0xa8, 0x12, 0x10) // SATA
	f.add(0, 0x1f, 3, VendorIntel, 0x2930, ccSMBus, 2, HeaderGeneral).
		command(CommandIO).subsystem(VendorVirtio, 0x1100).irq(10, 1).
		ioBAR(4, 0x0700, 0x40, true)
	return f
}

// bars builds a BAR array: the given BARs at their indexes, the rest
// empty.
func bars(bs ...BAR) [6]BAR {
	var a [6]BAR
	for i := range a {
		a[i].Index = i
	}
	for _, b := range bs {
		a[b.Index] = b
	}
	return a
}

// q35Devices is what Scan must find in q35().
func q35Devices() []Device {
	virtio := func(off uint16, c VirtioCap) Capability {
		return Capability{ID: CapVendor, Offset: off, Virtio: &c}
	}
	return []Device{
		{Bus: 0, Dev: 0, Fn: 0, Vendor: VendorIntel, DeviceID: 0x29c0, Class: 6,
			SubsystemVendor: VendorVirtio, SubsystemID: 0x1100, BARs: bars()},
		{Bus: 0, Dev: 2, Fn: 0, Vendor: VendorVirtio, DeviceID: DeviceVirtioNetTransitional, Class: 2,
			SubsystemVendor: VendorVirtio, SubsystemID: 1, InterruptLine: 11, InterruptPin: 1,
			BARs: bars(
				BAR{Index: 0, IO: true, Addr: 0xc040, Size: 0x20},
				BAR{Index: 1, Addr: 0xfebd1000, Size: 0x1000},
				BAR{Index: 4, Addr: 0xfe000000, Size: 0x4000, Prefetch: true, Is64: true}),
			Capabilities: []Capability{
				{ID: CapMSIX, Offset: 0x98, MSIX: &MSIXCap{Offset: 0x98, TableSize: 3, TableBAR: 1, PBABAR: 1, PBAOffset: 0x800}},
				virtio(0x84, VirtioCap{CfgType: VirtioPCICfg}),
				virtio(0x70, VirtioCap{CfgType: VirtioNotifyCfg, BAR: 4, Offset: 0x3000, Length: 0x1000, NotifyOffMultiplier: 4}),
				virtio(0x60, VirtioCap{CfgType: VirtioDeviceCfg, BAR: 4, Offset: 0x2000, Length: 0x1000}),
				virtio(0x50, VirtioCap{CfgType: VirtioISRCfg, BAR: 4, Offset: 0x1000, Length: 0x1000}),
				virtio(0x40, VirtioCap{CfgType: VirtioCommonCfg, BAR: 4, Length: 0x1000}),
			}},
		{Bus: 0, Dev: 3, Fn: 0, Vendor: vendorRedHatQEMU, DeviceID: deviceRootPort, Class: 6, Subclass: 4,
			HeaderType: HeaderBridge, SecondaryBus: 1, SubordinateBus: 1, InterruptLine: 10, InterruptPin: 1,
			BARs: bars(BAR{Index: 0, Addr: 0xfebd2000, Size: 0x1000}),
			Capabilities: []Capability{
				{ID: CapPCIExpress, Offset: 0x54},
				{ID: CapMSIX, Offset: 0x48, MSIX: &MSIXCap{Offset: 0x48, TableSize: 1, PBAOffset: 0x800}},
				{ID: 0x0d, Offset: 0x40},
			}},
		{Bus: 0, Dev: 0x1f, Fn: 0, Vendor: VendorIntel, DeviceID: 0x2918, Class: 6, Subclass: 1, Revision: 2,
			HeaderType: HeaderMultiFunction, SubsystemVendor: VendorVirtio, SubsystemID: 0x1100, BARs: bars()},
		{Bus: 0, Dev: 0x1f, Fn: 2, Vendor: VendorIntel, DeviceID: 0x2922, Class: 1, Subclass: 6, ProgIF: 1, Revision: 2,
			SubsystemVendor: VendorVirtio, SubsystemID: 0x1100, InterruptLine: 10, InterruptPin: 1,
			BARs: bars(
				BAR{Index: 4, IO: true, Addr: 0xc060, Size: 0x20},
				BAR{Index: 5, Addr: 0xfebd3000, Size: 0x1000}),
			Capabilities: []Capability{{ID: CapMSI, Offset: 0x80}, {ID: 0x12, Offset: 0xa8}}},
		{Bus: 0, Dev: 0x1f, Fn: 3, Vendor: VendorIntel, DeviceID: 0x2930, Class: 0xc, Subclass: 5, Revision: 2,
			SubsystemVendor: VendorVirtio, SubsystemID: 0x1100, InterruptLine: 10, InterruptPin: 1,
			BARs: bars(BAR{Index: 4, IO: true, Addr: 0x0700, Size: 0x40})},
		{Bus: 1, Dev: 0, Fn: 0, Vendor: vendorRedHatQEMU, DeviceID: deviceQEMUNVMe, Class: 1, Subclass: 8, ProgIF: 2, Revision: 2,
			SubsystemVendor: VendorVirtio, SubsystemID: 0x1100, InterruptLine: 10, InterruptPin: 1,
			BARs: bars(BAR{Index: 0, Addr: 0xfe800000, Size: 0x4000, Is64: true}),
			Capabilities: []Capability{
				{ID: CapMSIX, Offset: 0x40, MSIX: &MSIXCap{Offset: 0x40, TableSize: 65, TableOffset: 0x2000, PBAOffset: 0x3000}},
				{ID: CapPCIExpress, Offset: 0x80},
				{ID: CapPowerManagement, Offset: 0x60},
			}},
	}
}

// dump formats devices one field per line, following pointers, for
// diffs.
func dump(devs []Device) string {
	var b strings.Builder
	for _, d := range devs {
		fmt.Fprintf(&b, "%s:\n", d.String())
		v := reflect.ValueOf(d)
		for i := range v.NumField() {
			name := v.Type().Field(i).Name
			switch name {
			case "BARs":
				for _, bar := range d.BARs {
					fmt.Fprintf(&b, "  BAR%d %+v\n", bar.Index, bar)
				}
			case "Capabilities":
				for _, c := range d.Capabilities {
					fmt.Fprintf(&b, "  cap %#x id %#x", c.Offset, c.ID)
					if c.MSIX != nil {
						fmt.Fprintf(&b, " MSIX %+v", *c.MSIX)
					}
					if c.Virtio != nil {
						fmt.Fprintf(&b, " Virtio %+v", *c.Virtio)
					}
					b.WriteByte('\n')
				}
			default:
				fmt.Fprintf(&b, "  %s %#x\n", name, v.Field(i).Interface())
			}
		}
	}
	return b.String()
}

// diff is a line diff of two texts with the same structure: "-" lines
// are wanted, "+" lines are got.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "-%s\n+%s\n", wl, gl)
		}
	}
	return b.String()
}

// checkDevices fails t unless got is want.
func checkDevices(t *testing.T, want, got []Device) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Errorf("devices differ (-want +got):\n%s", diff(dump(want), dump(got)))
	}
}

// fakePorts serves configuration mechanism #1 from a ConfigSpace and
// records misuse.
type fakePorts struct {
	cs   ConfigSpace
	addr uint32
	bad  []string
}

func (p *fakePorts) decode() (bus, dev, fn uint8, off uint16, ok bool) {
	a := p.addr
	if a&configEnable == 0 || a&0x7f000003 != 0 {
		p.bad = append(p.bad, fmt.Sprintf("data access with CONFIG_ADDRESS %#x", a))
		return 0, 0, 0, 0, false
	}
	return uint8(a >> 16), uint8(a>>11) & 31, uint8(a>>8) & 7, uint16(a & 0xfc), true
}

func (p *fakePorts) In32(port uint16) uint32 {
	if port != portConfigData {
		p.bad = append(p.bad, fmt.Sprintf("in32 %#x", port))
		return ^uint32(0)
	}
	bus, dev, fn, off, ok := p.decode()
	if !ok {
		return ^uint32(0)
	}
	return p.cs.Read32(bus, dev, fn, off)
}

func (p *fakePorts) Out32(port uint16, v uint32) {
	switch port {
	case portConfigAddress:
		p.addr = v
	case portConfigData:
		if bus, dev, fn, off, ok := p.decode(); ok {
			p.cs.Write32(bus, dev, fn, off, v)
		}
	default:
		p.bad = append(p.bad, fmt.Sprintf("out32 %#x", port))
	}
}

// fakeECAM serves an ECAM window at base from a ConfigSpace and records
// accesses outside it.
type fakeECAM struct {
	cs         ConfigSpace
	base, size uint64
	bad        []string
}

func (m *fakeECAM) decode(addr uint64) (bus, dev, fn uint8, off uint16, ok bool) {
	if addr < m.base || addr-m.base >= m.size || addr&3 != 0 {
		m.bad = append(m.bad, fmt.Sprintf("access at %#x", addr))
		return 0, 0, 0, 0, false
	}
	o := addr - m.base
	return uint8(o >> 20), uint8(o>>15) & 31, uint8(o>>12) & 7, uint16(o & 0xfff), true
}

func (m *fakeECAM) Read32(addr uint64) uint32 {
	bus, dev, fn, off, ok := m.decode(addr)
	if !ok {
		return ^uint32(0)
	}
	return m.cs.Read32(bus, dev, fn, off)
}

func (m *fakeECAM) Write32(addr uint64, v uint32) {
	if bus, dev, fn, off, ok := m.decode(addr); ok {
		m.cs.Write32(bus, dev, fn, off, v)
	}
}

// fakeMem is memory as sparse dwords, with a log of writes.
type fakeMem struct {
	m   map[uint64]uint32
	log []string
}

func newFakeMem() *fakeMem { return &fakeMem{m: map[uint64]uint32{}} }

func (m *fakeMem) Read32(addr uint64) uint32 { return m.m[addr] }

func (m *fakeMem) Write32(addr uint64, v uint32) {
	m.m[addr] = v
	m.log = append(m.log, fmt.Sprintf("%#x=%#x", addr, v))
}
