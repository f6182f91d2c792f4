package acpi

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// Test memory is a byte slice standing for physical memory from 0, with
// tables built to ACPI 6.5 chapter 5 and placed by an image.

// image lays tables out in memory, each 16-byte aligned after the last.
type image struct {
	m    Memory
	next uint64
}

func newImage(size int, first uint64) *image {
	return &image{m: make(Memory, size), next: first}
}

// add places b at the next free address and returns that address.
func (im *image) add(b []byte) uint64 {
	addr := im.next
	im.at(addr, b)
	im.next = (addr + uint64(len(b)) + 15) &^ 15
	return addr
}

// at places b at addr.
func (im *image) at(addr uint64, b []byte) uint64 {
	copy(im.m[addr:], b)
	return addr
}

// used is the memory up to the last table placed by add.
func (im *image) used() Memory { return im.m[:im.next] }

func sum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return s
}

// rsdp builds a Root System Description Pointer (section 5.2.5.3): 20
// bytes for revision 0, 36 for revision 2 and later, both checksums set.
func rsdp(rev byte, rsdt uint32, xsdt uint64) []byte {
	n := 20
	if rev >= 2 {
		n = 36
	}
	b := make([]byte, n)
	copy(b, "RSD PTR ")
	copy(b[9:], "GOSVTS")
	b[15] = rev
	binary.LittleEndian.PutUint32(b[16:], rsdt)
	b[8] = -sum(b[:20])
	if rev >= 2 {
		binary.LittleEndian.PutUint32(b[20:], 36)
		binary.LittleEndian.PutUint64(b[24:], xsdt)
		b[32] = -sum(b[:36])
	}
	return b
}

// sdt builds a System Description Table: the 36-byte header (section
// 5.2.6) followed by body, with a checksum that makes the table sum to 0.
func sdt(sig string, rev byte, body []byte) []byte {
	b := make([]byte, 36+len(body))
	copy(b, sig)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	b[8] = rev
	copy(b[10:], "GOSVTS")
	copy(b[16:], "GOSVTEST")
	binary.LittleEndian.PutUint32(b[24:], 1)
	copy(b[28:], "GOSV")
	binary.LittleEndian.PutUint32(b[32:], 1)
	copy(b[36:], body)
	b[9] = -sum(b)
	return b
}

// rsdt and xsdt build root tables listing the given table addresses.
func rsdt(addrs ...uint64) []byte {
	body := make([]byte, 4*len(addrs))
	for i, a := range addrs {
		binary.LittleEndian.PutUint32(body[4*i:], uint32(a))
	}
	return sdt("RSDT", 1, body)
}

func xsdt(addrs ...uint64) []byte {
	body := make([]byte, 8*len(addrs))
	for i, a := range addrs {
		binary.LittleEndian.PutUint64(body[8*i:], a)
	}
	return sdt("XSDT", 1, body)
}

// madt builds a MADT (section 5.2.12) from interrupt controller
// structures.
func madt(entries ...[]byte) []byte {
	body := make([]byte, 8)
	binary.LittleEndian.PutUint32(body[0:], 0xfee00000) // local APIC address
	binary.LittleEndian.PutUint32(body[4:], 1)          // PCAT_COMPAT
	for _, e := range entries {
		body = append(body, e...)
	}
	return sdt("APIC", 5, body)
}

// MADT entry flags.
const (
	enabled       = 1 << 0
	onlineCapable = 1 << 1
)

// lapic is a Processor Local APIC structure (type 0, 8 bytes).
func lapic(acpiID, apicID byte, flags uint32) []byte {
	e := []byte{0, 8, acpiID, apicID, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(e[4:], flags)
	return e
}

// ioapic is an I/O APIC structure (type 1, 12 bytes).
func ioapic(id byte, addr, gsiBase uint32) []byte {
	e := []byte{1, 12, id, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(e[4:], addr)
	binary.LittleEndian.PutUint32(e[8:], gsiBase)
	return e
}

// x2apic is a Processor Local x2APIC structure (type 9, 16 bytes).
func x2apic(id, flags, uid uint32) []byte {
	e := make([]byte, 16)
	e[0], e[1] = 9, 16
	binary.LittleEndian.PutUint32(e[4:], id)
	binary.LittleEndian.PutUint32(e[8:], flags)
	binary.LittleEndian.PutUint32(e[12:], uid)
	return e
}

// iso is an Interrupt Source Override (type 2, 10 bytes): an entry the
// parser must step over.
func iso(bus, source byte, gsi uint32) []byte {
	e := []byte{2, 10, bus, source, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(e[4:], gsi)
	return e
}

// FADT flags (section 5.2.9, table 5.10).
const (
	resetRegSup   = 1 << 10
	hwReducedACPI = 1 << 20
)

// fadtSpec describes a FADT (section 5.2.9). Fields beyond length are
// cut off, the way older revisions are shorter.
type fadtSpec struct {
	length     int // whole table; 0 = 276 (revision 6)
	dsdt       uint32
	xdsdt      uint64
	pm1a, pm1b uint32
	flags      uint32
	reset      GAS
	resetValue uint8
	xpm1a      GAS
	sleepCtl   GAS
}

func putGAS(b []byte, g GAS) {
	b[0], b[1], b[2], b[3] = g.Space, g.BitWidth, 0, 1 // byte access
	binary.LittleEndian.PutUint64(b[4:], g.Address)
}

func fadt(s fadtSpec) []byte {
	full := make([]byte, 276)
	le := binary.LittleEndian
	le.PutUint32(full[40:], s.dsdt)
	le.PutUint32(full[64:], s.pm1a)
	le.PutUint32(full[68:], s.pm1b)
	le.PutUint32(full[112:], s.flags)
	putGAS(full[116:], s.reset)
	full[128] = s.resetValue
	le.PutUint64(full[140:], s.xdsdt)
	putGAS(full[172:], s.xpm1a)
	putGAS(full[244:], s.sleepCtl)
	n := s.length
	if n == 0 {
		n = len(full)
	}
	return sdt("FACP", 6, full[36:n])
}

// dsdt builds a DSDT whose AML is the concatenation of parts.
func dsdt(parts ...[]byte) []byte {
	var aml []byte
	for _, p := range parts {
		aml = append(aml, p...)
	}
	return sdt("DSDT", 2, aml)
}

// AML fragments (ACPI 6.5 chapter 20).
var (
	// Name(_S5_, Package(){0x05, 0x05, 0, 0}) as ACPICA compiles it.
	s5Byte = []byte{0x08, '_', 'S', '5', '_', 0x12, 0x0a, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00}
	// Name(_S5_, Package(){Zero, Zero}) (QEMU's q35 and piix tables).
	s5Zero = []byte{0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x00, 0x00}
	// Name(\_S5_, Package(){One, One}), with a root prefix.
	s5One = []byte{0x08, '\\', '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x01, 0x01}
	// Name(_S5_, Package(){7}) with a two-byte PkgLength (bits 7:6 = 1).
	s5LongPkg = []byte{0x08, '_', 'S', '5', '_', 0x12, 0x44, 0x00, 0x01, 0x0a, 0x07}
	// A method call mentioning _S5_ without a package: not the object.
	s5Ref = []byte{0x70, '_', 'S', '5', '_', 0x60}
	// Some other AML before the object: Name(_S4_, Package(){4, 4}).
	s4 = []byte{0x08, '_', 'S', '4', '_', 0x12, 0x06, 0x02, 0x0a, 0x04, 0x0a, 0x04}
)

// view is the observable content of Tables, for comparison.
type view struct {
	Found            bool
	CPUs             []uint32
	IOAPIC           uint64
	IOAPICID         uint8
	PM1aCnt, PM1bCnt uint32
	SleepControl     GAS
	HardwareReduced  bool
	S5Type           uint8
	S5Found          bool
	Reset            GAS
	ResetValue       uint8
	ResetSupported   bool
}

func viewOf(t *Tables) view {
	n := min(max(t.NCPUs, 0), MaxCPUs)
	return view{
		Found:           t.Found,
		CPUs:            append([]uint32(nil), t.CPUs[:n]...),
		IOAPIC:          t.IOAPIC,
		IOAPICID:        t.IOAPICID,
		PM1aCnt:         t.PM1aCnt,
		PM1bCnt:         t.PM1bCnt,
		SleepControl:    t.SleepControl,
		HardwareReduced: t.HardwareReduced,
		S5Type:          t.S5Type,
		S5Found:         t.S5Found,
		Reset:           t.Reset,
		ResetValue:      t.ResetValue,
		ResetSupported:  t.ResetSupported,
	}
}

// diff reports the differences between two views, one line per field,
// in "-want +got" form; "" if they are equal.
func diff(want, got view) string {
	var b strings.Builder
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	for i := 0; i < wv.NumField(); i++ {
		w, g := wv.Field(i).Interface(), gv.Field(i).Interface()
		if !reflect.DeepEqual(w, g) {
			fmt.Fprintf(&b, "  %s:\n-\t%+v\n+\t%+v\n", wv.Type().Field(i).Name, w, g)
		}
	}
	return b.String()
}

// checkClean verifies the CPU list beyond NCPUs is zero: Parse must
// not leave anything of a previous result behind.
func checkClean(t *testing.T, tb *Tables) {
	t.Helper()
	if tb.NCPUs < 0 || tb.NCPUs > MaxCPUs {
		t.Fatalf("NCPUs = %d, want 0..%d", tb.NCPUs, MaxCPUs)
	}
	for i := tb.NCPUs; i < MaxCPUs; i++ {
		if tb.CPUs[i] != 0 {
			t.Fatalf("CPUs[%d] = %#x beyond NCPUs = %d", i, tb.CPUs[i], tb.NCPUs)
		}
	}
}

// dirty is what Tables hold before Parse, to catch fields it forgets
// to reset.
func dirty() *Tables {
	t := &Tables{Found: true, NCPUs: 3, IOAPIC: 1, IOAPICID: 2, PM1aCnt: 3, PM1bCnt: 4,
		SleepControl: GAS{1, 2, 3}, HardwareReduced: true, S5Type: 7, S5Found: true,
		Reset: GAS{4, 5, 6}, ResetValue: 8, ResetSupported: true}
	for i := range t.CPUs {
		t.CPUs[i] = 0xdead
	}
	return t
}

// Firmware-like systems.

const (
	lapicBase  = 0xfee00000
	ioapicBase = 0xfec00000
)

// qemuPC is like QEMU's q35/piix tables from SeaBIOS: revision 0 RSDP,
// RSDT, a revision 3 FADT (244 bytes) with fixed hardware, _S5 = 0.
func qemuPC(ncpu int) (Memory, uint64) {
	im := newImage(0x10000, 0x1000)
	d := im.add(dsdt(s4, s5Zero))
	var ents [][]byte
	for i := range ncpu {
		ents = append(ents, lapic(byte(i), byte(i), enabled))
	}
	ents = append(ents, ioapic(0, ioapicBase, 0), iso(0, 0, 2), iso(0, 5, 5))
	ma := im.add(madt(ents...))
	fa := im.add(fadt(fadtSpec{length: 244, dsdt: uint32(d), pm1a: 0x604,
		flags: resetRegSup, reset: GAS{1, 8, 0xcf9}, resetValue: 0x0f}))
	root := im.add(rsdt(fa, ma))
	return im.m, im.at(0x800, rsdp(0, uint32(root), 0))
}

var qemuPCWant = view{Found: true, CPUs: []uint32{0, 1}, IOAPIC: ioapicBase,
	PM1aCnt: 0x604, S5Found: true, S5Type: 0,
	Reset: GAS{1, 8, 0xcf9}, ResetValue: 0x0f, ResetSupported: true}

// microvm is like QEMU's microvm tables: revision 2 RSDP with only an
// XSDT, hardware-reduced revision 6 FADT with the sleep control and
// reset registers, X_DSDT, _S5 = 5. compact packs it from address 0,
// for the fuzzer's seed.
func microvm(compact bool) (Memory, uint64) {
	im := newImage(0x10000, 0x1000)
	if compact {
		im = newImage(0x400, 0x30)
	}
	d := im.add(dsdt(s5Byte))
	ma := im.add(madt(lapic(0, 0, enabled), lapic(1, 1, enabled), ioapic(2, ioapicBase, 0)))
	fa := im.add(fadt(fadtSpec{xdsdt: d, flags: hwReducedACPI | resetRegSup,
		reset: GAS{1, 8, 0x604}, resetValue: 0x42, sleepCtl: GAS{1, 8, 0x600}}))
	root := im.add(xsdt(ma, fa))
	if compact {
		im.at(0, rsdp(2, 0, root))
		return im.used(), 0
	}
	return im.m, im.at(0x800, rsdp(2, 0, root))
}

var microvmWant = view{Found: true, CPUs: []uint32{0, 1}, IOAPIC: ioapicBase, IOAPICID: 2,
	SleepControl: GAS{1, 8, 0x600}, HardwareReduced: true, S5Found: true, S5Type: 5,
	Reset: GAS{1, 8, 0x604}, ResetValue: 0x42, ResetSupported: true}

type parseCase struct {
	name  string
	build func() (Memory, uint64)
	ok    bool
	want  view
}

func parseCases() []parseCase {
	return []parseCase{
		{"qemu pc (RSDT)", func() (Memory, uint64) { return qemuPC(2) }, true, qemuPCWant},
		{"microvm (XSDT, hardware-reduced)", func() (Memory, uint64) { return microvm(false) }, true, microvmWant},
		{"microvm compact", func() (Memory, uint64) { return microvm(true) }, true, microvmWant},
		{"XSDT preferred over RSDT", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			old := im.add(madt(lapic(0, 9, enabled)))
			cur := im.add(madt(lapic(0, 0, enabled), lapic(1, 4, enabled)))
			r := im.add(rsdt(old))
			x := im.add(xsdt(cur))
			return im.m, im.at(0x40, rsdp(2, uint32(r), x))
		}, true, view{Found: true, CPUs: []uint32{0, 4}}},
		{"revision 2, XSDT address 0: RSDT", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 3, enabled)))
			r := im.add(rsdt(ma))
			return im.m, im.at(0x40, rsdp(2, uint32(r), 0))
		}, true, view{Found: true, CPUs: []uint32{3}}},
		{"revision 0 ignores an XSDT address after the RSDP", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 3, enabled)))
			r := im.add(rsdt(ma))
			x := im.add(xsdt(im.add(madt(lapic(0, 9, enabled)))))
			p := im.at(0x40, rsdp(0, uint32(r), 0))
			binary.LittleEndian.PutUint64(im.m[p+24:], x) // stray bytes
			return im.m, p
		}, true, view{Found: true, CPUs: []uint32{3}}},
		{"revision 0 RSDP in the last 20 bytes of memory", func() (Memory, uint64) {
			im := newImage(0x2000, 0x1000)
			ma := im.add(madt(lapic(0, 3, enabled)))
			r := im.add(rsdt(ma))
			return im.m, im.at(0x2000-20, rsdp(0, uint32(r), 0))
		}, true, view{Found: true, CPUs: []uint32{3}}},
		{"XSDT with a bad checksum: RSDT", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 3, enabled)))
			r := im.add(rsdt(ma))
			x := im.add(xsdt(im.add(madt(lapic(0, 9, enabled)))))
			im.m[x+9]++
			return im.m, im.at(0x40, rsdp(2, uint32(r), x))
		}, true, view{Found: true, CPUs: []uint32{3}}},
		{"XSDT beyond memory: RSDT", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 3, enabled)))
			r := im.add(rsdt(ma))
			return im.m, im.at(0x40, rsdp(2, uint32(r), 1<<40))
		}, true, view{Found: true, CPUs: []uint32{3}}},
		{"disabled CPUs skipped", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 0, enabled), lapic(1, 1, 0), lapic(2, 2, onlineCapable),
				lapic(3, 3, enabled|onlineCapable), lapic(4, 0xff, 0)))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(ma))), 0))
		}, true, view{Found: true, CPUs: []uint32{0, 3}}},
		{"x2APIC entries", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 0, enabled), x2apic(0x100, enabled, 1), x2apic(0x101, 0, 2),
				iso(0, 0, 2), x2apic(0xfffffffe, enabled, 3), lapic(4, 7, enabled)))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(ma))), 0))
		}, true, view{Found: true, CPUs: []uint32{0, 0x100, 0xfffffffe, 7}}},
		{"first I/O APIC wins", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(ioapic(8, 0xfec01000, 0), ioapic(9, 0xfec02000, 24), lapic(0, 0, enabled)))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(ma))), 0))
		}, true, view{Found: true, CPUs: []uint32{0}, IOAPIC: 0xfec01000, IOAPICID: 8}},
		{"MADT spread over two tables", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			a := im.add(madt(lapic(0, 0, enabled)))
			b := im.add(madt(lapic(1, 1, enabled)))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(a, b))), 0))
		}, true, view{Found: true, CPUs: []uint32{0, 1}}},
		{"MADT entry of length 0 stops the walk", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 0, enabled), []byte{0, 0, 0, 0, 0, 0, 0, 0}, lapic(1, 1, enabled)))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(ma))), 0))
		}, true, view{Found: true, CPUs: []uint32{0}}},
		{"MADT entry of length 1 stops the walk", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 0, enabled), []byte{9, 1}, lapic(1, 1, enabled)))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(ma))), 0))
		}, true, view{Found: true, CPUs: []uint32{0}}},
		{"MADT entry running past the table", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			e := x2apic(5, enabled, 0)
			ma := im.add(madt(lapic(0, 0, enabled), e[:12])) // claims 16 bytes
			// What follows the table is a valid-looking rest of the entry.
			im.add([]byte{1, 0, 0, 0})
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(ma))), 0))
		}, true, view{Found: true, CPUs: []uint32{0}}},
		{"MADT entries too short for their type", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt([]byte{0, 4, 0, 5}, []byte{1, 8, 3, 0, 0, 0, 0xc0, 0xfe},
				[]byte{9, 8, 0, 0, 6, 0, 0, 0}, lapic(1, 1, enabled)))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(ma))), 0))
		}, true, view{Found: true, CPUs: []uint32{1}}},
		{"MADT with only a header", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(sdt("APIC", 5, nil))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(ma))), 0))
		}, true, view{Found: true}},
		{"MADT with a bad checksum ignored", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 0, enabled)))
			im.m[ma+40]++
			fa := im.add(fadt(fadtSpec{length: 116, pm1a: 0x604}))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(ma, fa))), 0))
		}, true, view{Found: true, PM1aCnt: 0x604}},
		{"FADT with a bad checksum ignored", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 0, enabled)))
			fa := im.add(fadt(fadtSpec{pm1a: 0x604}))
			im.m[fa+9]--
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(ma, fa))), 0))
		}, true, view{Found: true, CPUs: []uint32{0}}},
		{"tables cut off by the end of memory", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 0, enabled)))
			// The header fits, the 52-byte table does not.
			im.at(0xffd0, madt(lapic(2, 2, enabled)))
			r := im.add(rsdt(ma, 0xffd0))
			return im.m, im.at(0x40, rsdp(0, uint32(r), 0))
		}, true, view{Found: true, CPUs: []uint32{0}}},
		{"table header cut off by the end of memory", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 0, enabled)))
			im.at(0xfff0, madt(lapic(2, 2, enabled)))
			r := im.add(rsdt(0xfff0, ma))
			return im.m, im.at(0x40, rsdp(0, uint32(r), 0))
		}, true, view{Found: true, CPUs: []uint32{0}}},
		{"table longer than the 1 MiB limit", func() (Memory, uint64) {
			im := newImage(0x120000, 0x1000)
			ma := im.add(madt(lapic(0, 0, enabled)))
			big := make([]byte, 1<<20)
			copy(big, lapic(1, 1, enabled))
			huge := im.add(madt(big))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(ma, huge))), 0))
		}, true, view{Found: true, CPUs: []uint32{0}}},
		{"root entries at 0, beyond memory and at 2^64-36", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 0, enabled)))
			x := im.add(xsdt(0, 1<<40, ma, ^uint64(0)-35, ^uint64(0)))
			return im.m, im.at(0x40, rsdp(2, 0, x))
		}, true, view{Found: true, CPUs: []uint32{0}}},
		{"root table with a partial last entry", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 0, enabled)))
			body := make([]byte, 12)
			binary.LittleEndian.PutUint64(body, ma)
			body[8] = 0x10 // half an entry
			x := im.add(sdt("XSDT", 1, body))
			return im.m, im.at(0x40, rsdp(2, 0, x))
		}, true, view{Found: true, CPUs: []uint32{0}}},
		{"too many CPUs", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			var ents [][]byte
			for i := range MaxCPUs + 10 {
				ents = append(ents, x2apic(uint32(i), enabled, uint32(i)))
			}
			ma := im.add(madt(ents...))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(ma))), 0))
		}, true, view{Found: true, CPUs: seq(MaxCPUs)}},

		// FADT variants.
		{"FADT revision 1 (116 bytes)", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			d := im.add(dsdt(s5One))
			fa := im.add(fadt(fadtSpec{length: 116, dsdt: uint32(d), pm1a: 0xb004, pm1b: 0xb008,
				flags: resetRegSup | hwReducedACPI})) // flags need 129 bytes to be read
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(fa))), 0))
		}, true, view{Found: true, PM1aCnt: 0xb004, PM1bCnt: 0xb008, S5Found: true, S5Type: 1}},
		{"FADT with X_PM1a_CNT_BLK in I/O space", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			fa := im.add(fadt(fadtSpec{length: 244, pm1a: 0x604, xpm1a: GAS{1, 16, 0x1804}}))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(fa))), 0))
		}, true, view{Found: true, PM1aCnt: 0x1804}},
		{"FADT with X_PM1a_CNT_BLK in memory space", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			fa := im.add(fadt(fadtSpec{length: 244, pm1a: 0x604, xpm1a: GAS{0, 16, 0xfed01004}}))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(fa))), 0))
		}, true, view{Found: true, PM1aCnt: 0x604}},
		{"FADT too short for anything", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			fa := im.add(fadt(fadtSpec{length: 40}))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(fa))), 0))
		}, true, view{Found: true}},
		{"FADT with DSDT only (44 bytes)", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			d := im.add(dsdt(s5Byte))
			fa := im.add(fadt(fadtSpec{length: 44, dsdt: uint32(d)}))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(fa))), 0))
		}, true, view{Found: true, S5Found: true, S5Type: 5}},
		{"X_DSDT preferred over DSDT", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			old := im.add(dsdt(s5One))
			cur := im.add(dsdt(s5Byte))
			fa := im.add(fadt(fadtSpec{dsdt: uint32(old), xdsdt: cur}))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(fa))), 0))
		}, true, view{Found: true, S5Found: true, S5Type: 5}},
		{"DSDT with a bad checksum", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			d := im.add(dsdt(s5Byte))
			im.m[d+36+9]++
			fa := im.add(fadt(fadtSpec{length: 116, dsdt: uint32(d), pm1a: 0x604}))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(fa))), 0))
		}, true, view{Found: true, PM1aCnt: 0x604}},

		// _S5 in AML.
		{"_S5 after a reference and other objects", s5System(dsdt(s5Ref, s4, s5Byte)), true, view{Found: true, S5Found: true, S5Type: 5}},
		{"_S5 with a two-byte PkgLength", s5System(dsdt(s4, s5LongPkg)), true, view{Found: true, S5Found: true, S5Type: 7}},
		{"_S5 with a root prefix and OneOp", s5System(dsdt(s5One)), true, view{Found: true, S5Found: true, S5Type: 1}},
		{"_S5 with ZeroOp", s5System(dsdt(s5Zero)), true, view{Found: true, S5Found: true, S5Type: 0}},
		{"no _S5", s5System(dsdt(s4, s5Ref)), true, view{Found: true}},
		{"_S5 with a WordPrefix value", s5System(dsdt([]byte{0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x01, 0x0b, 0x05, 0x00})), true, view{Found: true}},
		{"_S5 package cut off after PackageOp", s5System(dsdt(s5Byte[:6])), true, view{Found: true}},
		{"_S5 package cut off after PkgLength", s5System(dsdt(s5Byte[:7])), true, view{Found: true}},
		{"_S5 package cut off after NumElements", s5System(dsdt(s5Byte[:8])), true, view{Found: true}},
		{"_S5 package cut off after BytePrefix", s5System(dsdt(s5Byte[:9])), true, view{Found: true}},
		{"_S5 package with a 4-byte PkgLength at the end", s5System(dsdt([]byte{0x08, '_', 'S', '5', '_', 0x12, 0xc0, 0, 0})), true, view{Found: true}},
		{"_S5_ at the very end", s5System(dsdt([]byte("_S5_"))), true, view{Found: true}},
		{"_S5 in the header is not AML", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			d := sdt("DSDT", 2, nil)
			copy(d[16:], "_S5_\x12\x04\x02\x01") // OEM table ID
			d[9] = 0
			d[9] = -sum(d)
			fa := im.add(fadt(fadtSpec{dsdt: uint32(im.add(d))}))
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(fa))), 0))
		}, true, view{Found: true}},

		// Failures.
		{"RSDP with a bad checksum", func() (Memory, uint64) {
			m, p := qemuPC(1)
			m[p+8]++
			return m, p
		}, false, view{}},
		{"RSDP signature wrong", func() (Memory, uint64) {
			m, p := qemuPC(1)
			m[p] = 'r'
			m[p+8] -= 'r' - 'R' // keep the checksum
			return m, p
		}, false, view{}},
		{"RSDP beyond memory", func() (Memory, uint64) {
			m, _ := qemuPC(1)
			return m, uint64(len(m)) - 19
		}, false, view{}},
		{"RSDP at 2^64-1", func() (Memory, uint64) {
			m, _ := qemuPC(1)
			return m, ^uint64(0)
		}, false, view{}},
		{"RSDT with a bad checksum", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			ma := im.add(madt(lapic(0, 0, enabled)))
			r := im.add(rsdt(ma))
			im.m[r+36]++
			return im.m, im.at(0x40, rsdp(0, uint32(r), 0))
		}, false, view{}},
		{"RSDT length below the header size", func() (Memory, uint64) {
			im := newImage(0x10000, 0x1000)
			r := rsdt()
			binary.LittleEndian.PutUint32(r[4:], 35)
			r[9] = 0
			r[9] = -sum(r)
			return im.m, im.at(0x40, rsdp(0, uint32(im.add(r)), 0))
		}, false, view{}},
		{"empty memory", func() (Memory, uint64) { return nil, 0 }, false, view{}},
	}
}

// s5System is a FADT pointing at the DSDT d.
func s5System(d []byte) func() (Memory, uint64) {
	return func() (Memory, uint64) {
		im := newImage(0x10000, 0x1000)
		fa := im.add(fadt(fadtSpec{length: 244, dsdt: uint32(im.add(d))}))
		return im.m, im.at(0x40, rsdp(0, uint32(im.add(rsdt(fa))), 0))
	}
}

func seq(n int) []uint32 {
	s := make([]uint32, n)
	for i := range s {
		s[i] = uint32(i)
	}
	return s
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases() {
		t.Run(tc.name, func(t *testing.T) {
			m, p := tc.build()
			got := dirty()
			ok := Parse(m, p, got)
			if ok != tc.ok {
				t.Errorf("Parse = %v, want %v", ok, tc.ok)
			}
			checkClean(t, got)
			if d := diff(tc.want, viewOf(got)); d != "" {
				t.Errorf("Parse result (-want +got):\n%s", d)
			}
		})
	}
}

// TestParseNoAlloc checks that Parse never allocates: it runs before the
// Go runtime's heap exists.
func TestParseNoAlloc(t *testing.T) {
	var out Tables
	for _, tc := range parseCases() {
		m, p := tc.build()
		allocs := testing.AllocsPerRun(20, func() { Parse(m, p, &out) })
		if allocs != 0 {
			t.Errorf("%s: Parse allocates %v times per call, want 0", tc.name, allocs)
		}
	}
	m := bios(false)
	if allocs := testing.AllocsPerRun(5, func() { FindRSDP(m) }); allocs != 0 {
		t.Errorf("FindRSDP allocates %v times per call, want 0", allocs)
	}
}

// realRSDP is where bios puts the genuine RSDP (SeaBIOS's usual spot).
const realRSDP = 0xf52e0

// bios is 1 MiB of memory with the qemuPC tables, the RSDP in the BIOS
// area, and decoys before it: an "RSD PTR " with a bad checksum, and
// a valid RSDP that is not 16-byte aligned.
func bios(decoys bool) Memory {
	im := newImage(1<<20, 0x1000)
	ma := im.add(madt(lapic(0, 0, enabled), lapic(1, 1, enabled)))
	r := im.add(rsdt(ma))
	good := rsdp(0, uint32(r), 0)
	if decoys {
		bad := rsdp(0, uint32(r), 0)
		bad[8]++
		im.at(0xe0000, bad)
		im.at(0xe0100, bad)
		im.at(0xf0008, good) // not on a 16-byte boundary
		im.at(0xdfff0, good) // below the BIOS area
	}
	im.at(realRSDP, good)
	return im.m
}

func TestFindRSDP(t *testing.T) {
	tests := []struct {
		name string
		m    Memory
		want uint64
	}{
		{"plain", bios(false), realRSDP},
		{"after decoys", bios(true), realRSDP},
		{"none", make(Memory, 1<<20), 0},
		{"memory below the BIOS area", make(Memory, 0xe0000), 0},
		{"memory ending inside the BIOS area", bios(true)[:0xf0000], 0},
		{"memory ending inside the RSDP", bios(true)[:realRSDP+19], 0},
		{"nil memory", nil, 0},
		{"revision 2 at the first slot", func() Memory {
			m := make(Memory, 1<<20)
			copy(m[0xe0000:], rsdp(2, 0, 0x1000))
			return m
		}(), 0xe0000},
		{"revision 0 in the last 20 bytes it can use", func() Memory {
			m := make(Memory, 1<<20)
			copy(m[0xfffe0:], rsdp(0, 0x1000, 0))
			return m
		}(), 0xfffe0},
		{"at 0xffff0, cut off by the 1 MiB end", func() Memory {
			m := make(Memory, 1<<20)
			copy(m[0xffff0:], rsdp(0, 0x1000, 0))
			return m
		}(), 0},
	}
	for _, tc := range tests {
		if got := FindRSDP(tc.m); got != tc.want {
			t.Errorf("%s: FindRSDP = %#x, want %#x", tc.name, got, tc.want)
		}
	}

	// What FindRSDP finds, Parse reads.
	m := bios(true)
	var out Tables
	if !Parse(m, FindRSDP(m), &out) {
		t.Fatal("Parse(FindRSDP) failed")
	}
	if d := diff(view{Found: true, CPUs: []uint32{0, 1}}, viewOf(&out)); d != "" {
		t.Errorf("Parse(FindRSDP) (-want +got):\n%s", d)
	}
}

// TestParseResets checks that a failed Parse leaves zero Tables, so a
// caller cannot mistake stale data for a result.
func TestParseResets(t *testing.T) {
	m, p := qemuPC(2)
	out := dirty()
	if !Parse(m, p, out) {
		t.Fatal("Parse failed")
	}
	if Parse(m, p+16, out) {
		t.Fatal("Parse of a non-RSDP succeeded")
	}
	if *out != (Tables{}) {
		t.Errorf("failed Parse left %+v", viewOf(out))
	}
}
