// Package bootinfo reads what the loader hands the kernel: the memory
// map, the command line, boot modules and the ACPI RSDP, from either boot
// protocol gosv's entry accepts:
//
//   - PVH (Xen's HVM direct boot ABI, used by QEMU -kernel, Firecracker,
//     cloud-hypervisor and Xen): EBX points at struct hvm_start_info
//     (xen/include/public/arch-x86/hvm/start_info.h).
//   - Multiboot2 (GRUB): EAX = 0x36d76289, EBX points at the boot
//     information structure (Multiboot2 specification, section 3.6).
//
// Parse runs before the Go runtime is initialised, so nothing here
// allocates: results go into a caller-provided Info of fixed arrays, and
// errors are constants.
package bootinfo

import "encoding/binary"

// Error is a parse failure. It is a string type so errors can be
// constants, usable before the runtime (and package init) has run.
type Error string

func (e Error) Error() string { return string(e) }

// Parse errors.
const (
	ErrUnknownProtocol = Error("bootinfo: neither PVH start info nor Multiboot2 information found")
	ErrUnreadable      = Error("bootinfo: boot information lies outside readable memory")
	ErrBadMemoryMap    = Error("bootinfo: memory map is missing or malformed")
	ErrBadMultiboot2   = Error("bootinfo: malformed Multiboot2 information")
)

// Protocol names the boot protocol.
type Protocol uint8

const (
	PVH Protocol = iota + 1
	Multiboot2
)

func (p Protocol) String() string {
	switch p {
	case PVH:
		return "PVH"
	case Multiboot2:
		return "Multiboot2"
	}
	return "unknown"
}

// Memory region types shared by the E820-style PVH map and Multiboot2.
const (
	RegionRAM      = 1
	RegionReserved = 2
	RegionACPI     = 3
	RegionNVS      = 4
	RegionUnusable = 5
	RegionPMEM     = 7
)

// Protocol magic numbers.
const (
	pvhMagic        = 0x336ec578
	multiboot2Magic = 0x36d76289
)

// Limits of the fixed arrays in Info.
const (
	MaxRegions    = 128
	MaxModules    = 8
	MaxCmdline    = 4096
	maxModCmdline = 256
)

// Region is one memory map entry.
type Region struct {
	Base, Size uint64
	Type       uint32
}

// Module is a boot module (an initrd on QEMU's -initrd, a GRUB module).
type Module struct {
	Base, Size uint64
	cmdline    [maxModCmdline]byte
	cmdlineLen int
}

// Cmdline returns the module's command line.
func (m *Module) Cmdline() []byte { return m.cmdline[:m.cmdlineLen] }

// Info is everything the loader said.
type Info struct {
	Protocol Protocol
	// InfoAddr and InfoSize locate the loader's structure, so the
	// physical allocator can keep it.
	InfoAddr, InfoSize uint64
	// CmdlineAddr and CmdlineSize locate the command line in memory.
	CmdlineAddr, CmdlineSize uint64
	// RSDP is the physical address of the ACPI RSDP, or 0 if the loader
	// did not say (Firecracker: scan the BIOS area).
	RSDP       uint64
	Regions    [MaxRegions]Region
	NRegions   int
	Modules    [MaxModules]Module
	NModules   int
	cmdline    [MaxCmdline]byte
	cmdlineLen int
	// Truncated is set when a list or the command line did not fit.
	Truncated bool
}

// Cmdline returns the kernel command line.
func (in *Info) Cmdline() []byte { return in.cmdline[:in.cmdlineLen] }

// Memory is physical memory from address 0, as far as the caller can
// see it (the kernel passes a view of its direct map, tests a slice).
// Reading through a slice rather than a callback keeps every buffer on
// the stack: arguments to an unknown function escape to the heap, and
// there is no heap yet.
type Memory []byte

// read copies len(buf) bytes at addr, reporting false if the range is
// outside mem.
func (mem Memory) read(addr uint64, buf []byte) bool {
	if addr > uint64(len(mem)) || uint64(len(buf)) > uint64(len(mem))-addr {
		return false
	}
	copy(buf, mem[addr:])
	return true
}

// Parse decodes the boot information at info for the protocol that magic
// (EAX at entry) and the structure itself identify.
func Parse(mem Memory, magic uint32, info uint64, out *Info) error {
	*out = Info{}
	if uint32(magic) == multiboot2Magic {
		return parseMultiboot2(mem, info, out)
	}
	var m [4]byte
	if !mem.read(info, m[:]) {
		return ErrUnreadable
	}
	if binary.LittleEndian.Uint32(m[:]) == pvhMagic {
		return parsePVH(mem, info, out)
	}
	return ErrUnknownProtocol
}

func parsePVH(mem Memory, info uint64, out *Info) error {
	var h [56]byte
	if !mem.read(info, h[:]) {
		return ErrUnreadable
	}
	le := binary.LittleEndian
	out.Protocol = PVH
	out.InfoAddr, out.InfoSize = info, uint64(len(h))
	version := le.Uint32(h[4:])
	nrModules := le.Uint32(h[12:])
	modlist := le.Uint64(h[16:])
	cmdline := le.Uint64(h[24:])
	out.RSDP = le.Uint64(h[32:])
	if cmdline != 0 {
		out.CmdlineAddr = cmdline
		out.cmdlineLen, out.Truncated = readCString(mem, cmdline, out.cmdline[:])
		out.CmdlineSize = uint64(out.cmdlineLen) + 1
	}
	for i := uint32(0); i < nrModules; i++ {
		if out.NModules == MaxModules {
			out.Truncated = true
			break
		}
		var e [32]byte
		if !mem.read(modlist+uint64(i)*32, e[:]) {
			return ErrUnreadable
		}
		m := &out.Modules[out.NModules]
		m.Base, m.Size = le.Uint64(e[0:]), le.Uint64(e[8:])
		if c := le.Uint64(e[16:]); c != 0 {
			m.cmdlineLen, _ = readCString(mem, c, m.cmdline[:])
		}
		out.NModules++
	}
	if version < 1 {
		return ErrBadMemoryMap // version 0 has no memory map
	}
	memmap := le.Uint64(h[40:])
	entries := le.Uint32(h[48:])
	if memmap == 0 || entries == 0 {
		return ErrBadMemoryMap
	}
	for i := uint32(0); i < entries; i++ {
		var e [24]byte
		if !mem.read(memmap+uint64(i)*24, e[:]) {
			return ErrUnreadable
		}
		out.addRegion(le.Uint64(e[0:]), le.Uint64(e[8:]), le.Uint32(e[16:]))
	}
	if out.NRegions == 0 {
		return ErrBadMemoryMap
	}
	return nil
}

// Multiboot2 tag types (specification section 3.6).
const (
	mb2TagEnd     = 0
	mb2TagCmdline = 1
	mb2TagModule  = 3
	mb2TagMmap    = 6
	mb2TagACPIOld = 14
	mb2TagACPINew = 15
	// mb2MaxInfo bounds the structure so a corrupt size cannot make the
	// parser walk all of memory.
	mb2MaxInfo = 1 << 20
)

func parseMultiboot2(mem Memory, info uint64, out *Info) error {
	le := binary.LittleEndian
	var h [8]byte
	if !mem.read(info, h[:]) {
		return ErrUnreadable
	}
	total := uint64(le.Uint32(h[0:]))
	if total < 16 || total > mb2MaxInfo {
		return ErrBadMultiboot2
	}
	out.Protocol = Multiboot2
	out.InfoAddr, out.InfoSize = info, total
	for off := uint64(8); off+8 <= total; {
		var t [16]byte
		if !mem.read(info+off, t[:8]) {
			return ErrUnreadable
		}
		typ, size := le.Uint32(t[0:]), uint64(le.Uint32(t[4:]))
		if size < 8 || off+size > total {
			return ErrBadMultiboot2
		}
		body := info + off + 8
		bodyLen := size - 8
		switch typ {
		case mb2TagEnd:
			if out.NRegions == 0 {
				return ErrBadMemoryMap
			}
			return nil
		case mb2TagCmdline:
			var cut bool
			out.CmdlineAddr = body
			out.cmdlineLen, cut = readCStringN(mem, body, bodyLen, out.cmdline[:])
			out.CmdlineSize = bodyLen
			// Tags come in any order: keep a truncation already found.
			out.Truncated = out.Truncated || cut
		case mb2TagModule:
			if bodyLen < 8 {
				return ErrBadMultiboot2
			}
			if out.NModules == MaxModules {
				out.Truncated = true
				break
			}
			if !mem.read(body, t[:8]) {
				return ErrUnreadable
			}
			start, end := uint64(le.Uint32(t[0:])), uint64(le.Uint32(t[4:]))
			if end < start {
				return ErrBadMultiboot2
			}
			m := &out.Modules[out.NModules]
			m.Base, m.Size = start, end-start
			m.cmdlineLen, _ = readCStringN(mem, body+8, bodyLen-8, m.cmdline[:])
			out.NModules++
		case mb2TagMmap:
			if bodyLen < 8 {
				return ErrBadMultiboot2
			}
			if !mem.read(body, t[:8]) {
				return ErrUnreadable
			}
			entrySize := uint64(le.Uint32(t[0:]))
			if entrySize < 24 {
				return ErrBadMultiboot2
			}
			for e := uint64(8); e+entrySize <= bodyLen; e += entrySize {
				var r [24]byte
				if !mem.read(body+e, r[:]) {
					return ErrUnreadable
				}
				out.addRegion(le.Uint64(r[0:]), le.Uint64(r[8:]), le.Uint32(r[16:]))
			}
		case mb2TagACPIOld, mb2TagACPINew:
			// The tag holds a copy of the RSDP; prefer the ACPI 2.0 one.
			if out.RSDP == 0 || typ == mb2TagACPINew {
				out.RSDP = body
			}
		}
		off += (size + 7) &^ 7
	}
	return ErrBadMultiboot2 // no end tag
}

// addRegion appends a non-empty region. QEMU microvm's map can be
// unsorted and end with a zero entry; empty ones are dropped here and
// consumers do not rely on order.
func (in *Info) addRegion(base, size uint64, typ uint32) {
	if size == 0 {
		return
	}
	if base+size < base { // wraps: clamp to the top of the address space
		size = -base
	}
	if in.NRegions == MaxRegions {
		in.Truncated = true
		return
	}
	in.Regions[in.NRegions] = Region{Base: base, Size: size, Type: typ}
	in.NRegions++
}

// readCString copies a NUL-terminated string at addr into buf.
func readCString(mem Memory, addr uint64, buf []byte) (n int, truncated bool) {
	return readCStringN(mem, addr, uint64(len(buf))+1, buf)
}

// readCStringN copies at most limit bytes of a NUL-terminated string.
func readCStringN(mem Memory, addr, limit uint64, buf []byte) (n int, truncated bool) {
	var c [1]byte
	for i := uint64(0); i < limit; i++ {
		if !mem.read(addr+i, c[:]) || c[0] == 0 {
			return n, false
		}
		if n == len(buf) {
			return n, true
		}
		buf[n] = c[0]
		n++
	}
	return n, false
}

// RAM returns the total bytes of usable RAM in the map.
func (in *Info) RAM() uint64 {
	var total uint64
	for i := 0; i < in.NRegions; i++ {
		if in.Regions[i].Type == RegionRAM {
			total += in.Regions[i].Size
		}
	}
	return total
}
