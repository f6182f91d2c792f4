package pci

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Memory is 32-bit access to physical memory, for memory-mapped
// configuration space and device registers. The kernel implements it
// over its direct map of physical memory; accesses must not be merged,
// split or reordered.
type Memory interface {
	Read32(addr uint64) uint32
	Write32(addr uint64, v uint32)
}

// ECAMRegion is one MCFG entry: the configuration space of buses
// StartBus-EndBus of a PCI segment, memory-mapped from Base. Base is the
// address bus 0 would have, even when StartBus is not 0 (PCI Firmware
// 3.0 section 4.1.2).
type ECAMRegion struct {
	Base             uint64
	Segment          uint16
	StartBus, EndBus uint8
}

// ECAM layout (PCIe base 4.0 section 7.2.2): 4 KiB of configuration
// space per function, at bus<<20 | dev<<15 | fn<<12 from the base.
const (
	ecamBus       = 20
	ecamDev       = 15
	ecamFn        = 12
	ecamSpaceSize = 1 << ecamFn // bytes of configuration space per function
)

// Start is the physical address of the region's first bus.
func (r ECAMRegion) Start() uint64 { return r.Base + uint64(r.StartBus)<<ecamBus }

// Size is the length of the region in bytes, 1 MiB per bus.
func (r ECAMRegion) Size() uint64 { return uint64(int(r.EndBus)-int(r.StartBus)+1) << ecamBus }

// ECAM is memory-mapped configuration space over one region: all 4 KiB
// of each function's space, on the region's buses. Other buses read as
// all ones. The caller maps [Start, Start+Size) uncached before use. A
// ConfigSpace has no segment number: one ECAM serves one segment (gosv
// uses segment 0).
type ECAM struct {
	mem    Memory
	region ECAMRegion
}

var _ ConfigSpace = (*ECAM)(nil)

// NewECAM returns configuration access through mem to region r.
func NewECAM(mem Memory, r ECAMRegion) *ECAM { return &ECAM{mem: mem, region: r} }

func (e *ECAM) address(bus, dev, fn uint8, off uint16) (uint64, bool) {
	if bus < e.region.StartBus || bus > e.region.EndBus || dev >= 32 || fn >= 8 || off >= ecamSpaceSize {
		return 0, false
	}
	return e.region.Base + (uint64(bus)<<ecamBus | uint64(dev)<<ecamDev |
		uint64(fn)<<ecamFn | uint64(off&^3)), true
}

// Read32 implements ConfigSpace.
func (e *ECAM) Read32(bus, dev, fn uint8, off uint16) uint32 {
	a, ok := e.address(bus, dev, fn, off)
	if !ok {
		return ^uint32(0)
	}
	return e.mem.Read32(a)
}

// Write32 implements ConfigSpace.
func (e *ECAM) Write32(bus, dev, fn uint8, off uint16, v uint32) {
	if a, ok := e.address(bus, dev, fn, off); ok {
		e.mem.Write32(a, v)
	}
}

// MCFG layout (PCI Firmware 3.0 section 4.1.2, tables 4-2 and 4-3).
const (
	sdtLength       = 4  // offset of the SDT header's length field
	mcfgHeaderSize  = 44 // 36-byte SDT header + 8 reserved bytes
	mcfgEntrySize   = 16
	mcfgEntryBase   = 0 // u64
	mcfgEntrySeg    = 8 // u16
	mcfgEntryStart  = 10
	mcfgEntryEnd    = 11
	mcfgEntryUnused = 12 // u32, reserved
)

// Errors from ParseMCFG.
var (
	ErrMCFGSignature = errors.New("pci: not an MCFG table")
	ErrMCFGLength    = errors.New("pci: bad MCFG length")
	ErrMCFGChecksum  = errors.New("pci: bad MCFG checksum")
	ErrMCFGEntry     = errors.New("pci: bad MCFG entry")
)

// ParseMCFG returns the ECAM regions an ACPI MCFG table lists, in table
// order. table holds the whole table, from its signature; bytes past the
// header's length are ignored. The header length must cover exactly the
// fixed part and whole entries, the table must sum to zero, and every
// entry must have EndBus >= StartBus and fit below 2^64.
func ParseMCFG(table []byte) ([]ECAMRegion, error) {
	if len(table) < 4 || string(table[:4]) != "MCFG" {
		return nil, ErrMCFGSignature
	}
	if len(table) < mcfgHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMCFGLength, len(table))
	}
	n := binary.LittleEndian.Uint32(table[sdtLength:])
	if n < mcfgHeaderSize || uint64(n) > uint64(len(table)) || (n-mcfgHeaderSize)%mcfgEntrySize != 0 {
		return nil, fmt.Errorf("%w: header says %d bytes, have %d", ErrMCFGLength, n, len(table))
	}
	table = table[:n]
	var sum byte
	for _, b := range table {
		sum += b
	}
	if sum != 0 {
		return nil, ErrMCFGChecksum
	}
	entries := table[mcfgHeaderSize:]
	regions := make([]ECAMRegion, 0, len(entries)/mcfgEntrySize)
	for i := 0; i < len(entries); i += mcfgEntrySize {
		e := entries[i : i+mcfgEntrySize]
		r := ECAMRegion{
			Base:     binary.LittleEndian.Uint64(e[mcfgEntryBase:]),
			Segment:  binary.LittleEndian.Uint16(e[mcfgEntrySeg:]),
			StartBus: e[mcfgEntryStart],
			EndBus:   e[mcfgEntryEnd],
		}
		if r.EndBus < r.StartBus {
			return nil, fmt.Errorf("%w %d: buses %d-%d", ErrMCFGEntry, i/mcfgEntrySize, r.StartBus, r.EndBus)
		}
		if r.Base > math.MaxUint64-(uint64(r.EndBus)+1)<<ecamBus+1 {
			return nil, fmt.Errorf("%w %d: base %#x overflows", ErrMCFGEntry, i/mcfgEntrySize, r.Base)
		}
		regions = append(regions, r)
	}
	return regions, nil
}
