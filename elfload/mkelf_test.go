package elfload

import (
	"bytes"
	"encoding/binary"
)

// Hand-made ELF files for the tests and the fuzzers' seeds.

// tseg is one program header of a telf.
type tseg struct {
	typ, flags uint32
	vaddr      uint64
	data       []byte // file bytes (placed congruent to vaddr mod 4 KiB)
	memsz      uint64 // 0: len(data) (or the header size)
	off        uint64 // file offset for data; 0: the next congruent one
	// headers: this PT_LOAD starts at file offset 0 and
	// holds the ELF header and program headers, then data; vaddr is
	// the page the file starts at.
	headers bool
	// phdr: this segment describes the program header table (PT_PHDR):
	// vaddr is where the table is in memory.
	phdr bool
}

// telf is a hand-made ELF file.
type telf struct {
	typ     uint16
	entry   uint64
	segs    []tseg
	trailer []byte // bytes after everything else
}

// Offsets of Elf64_Ehdr and Elf64_Phdr fields, for mutation tests.
const (
	offType      = 16
	offMachine   = 18
	offVersion   = 20
	offEntry     = 24
	offPhoff     = 32
	offPhentsize = 54
	offPhnum     = 56
	phType       = 0
	phFlags      = 4
	phOff        = 8
	phVaddr      = 16
	phFilesz     = 32
	phMemsz      = 40
)

func (e *telf) build() []byte {
	le := binary.LittleEndian
	n := len(e.segs)
	hdrEnd := uint64(ehdrSize + phdrSize*n)
	buf := make([]byte, hdrEnd)
	copy(buf, "\x7fELF\x02\x01\x01")
	le.PutUint16(buf[offType:], e.typ)
	le.PutUint16(buf[offMachine:], emX86_64)
	le.PutUint32(buf[offVersion:], evCurrent)
	le.PutUint64(buf[offEntry:], e.entry)
	le.PutUint64(buf[offPhoff:], ehdrSize)
	le.PutUint16(buf[52:], ehdrSize)
	le.PutUint16(buf[offPhentsize:], phdrSize)
	le.PutUint16(buf[offPhnum:], uint16(n))
	for _, s := range e.segs {
		if s.headers {
			buf = append(buf, s.data...)
		}
	}
	for i, s := range e.segs {
		var off, filesz uint64
		switch {
		case s.headers:
			off, filesz = 0, hdrEnd+uint64(len(s.data))
		case s.phdr:
			off, filesz = ehdrSize, hdrEnd-ehdrSize
		case len(s.data) > 0:
			off = s.off
			if off == 0 {
				off = uint64(len(buf))
				off += (s.vaddr%4096 - off%4096 + 4096) % 4096
			}
			if off < uint64(len(buf)) {
				panic("tseg.off overlaps earlier data")
			}
			buf = append(buf, make([]byte, off-uint64(len(buf)))...)
			buf = append(buf, s.data...)
			filesz = uint64(len(s.data))
		default:
			off = s.vaddr % 4096
		}
		memsz := s.memsz
		if memsz == 0 {
			memsz = filesz
		}
		align := uint64(1)
		if s.typ == ptLoad {
			align = 4096
		}
		ph := buf[ehdrSize+phdrSize*i:]
		le.PutUint32(ph[phType:], s.typ)
		le.PutUint32(ph[phFlags:], s.flags)
		le.PutUint64(ph[phOff:], off)
		le.PutUint64(ph[phVaddr:], s.vaddr)
		le.PutUint64(ph[24:], s.vaddr)
		le.PutUint64(ph[phFilesz:], filesz)
		le.PutUint64(ph[phMemsz:], memsz)
		le.PutUint64(ph[48:], align)
	}
	return append(buf, e.trailer...)
}

// pattern returns n non-zero bytes that depend on seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed | 1
	}
	return b
}

// smallExec is a static ET_EXEC whose program headers are in no
// segment: code at 0x401000, data at 0x402000 with bss, and non-zero
// bytes after the data in the file (which must not reach the bss).
func smallExec() *telf {
	return &telf{
		typ:   etExec,
		entry: 0x401010,
		segs: []tseg{
			{typ: ptLoad, flags: pfR | pfX, vaddr: 0x401000, data: pattern(0x100, 0x11)},
			{typ: ptLoad, flags: pfR | pfW, vaddr: 0x402000, data: pattern(0x20, 0x22), memsz: 0x3000},
			{typ: ptGNUStack, flags: pfR | pfW},
		},
		trailer: bytes.Repeat([]byte{0xee}, 0x1000),
	}
}

// smallExecHdr is a static ET_EXEC with its headers in the first,
// read-only PT_LOAD and a data segment sharing a page with the code.
func smallExecHdr() *telf {
	return &telf{
		typ:   etExec,
		entry: 0x401000,
		segs: []tseg{
			{typ: ptLoad, flags: pfR, vaddr: 0x400000, headers: true, data: pattern(0x40, 0x33)},
			{typ: ptLoad, flags: pfR | pfX, vaddr: 0x401000, data: pattern(0x800, 0x44)},
			{typ: ptLoad, flags: pfR | pfW, vaddr: 0x401800, data: pattern(0x900, 0x55), memsz: 0x1000},
			{typ: ptGNUStack, flags: pfR | pfW | pfX},
		},
		trailer: bytes.Repeat([]byte{0xee}, 0x1000),
	}
}

// smallPIE is a static-PIE ET_DYN linked at 0 with PT_PHDR.
func smallPIE() *telf {
	return &telf{
		typ:   etDyn,
		entry: 0x1020,
		segs: []tseg{
			{typ: ptPhdr, flags: pfR, vaddr: 0x40, phdr: true},
			{typ: ptLoad, flags: pfR, vaddr: 0, headers: true},
			{typ: ptLoad, flags: pfR | pfX, vaddr: 0x1000, data: pattern(0x200, 0x66)},
			{typ: ptLoad, flags: pfR | pfW, vaddr: 0x5000, data: pattern(0x10, 0x77), memsz: 0x2000},
		},
	}
}

// smallDyn is a dynamically linked ET_DYN asking for /lib/ld.so.
func smallDyn() *telf {
	e := smallPIE()
	e.segs = append(e.segs[:1], append([]tseg{{typ: ptInterp, flags: pfR, vaddr: 0x400, data: []byte("/lib/ld.so\x00")}}, e.segs[1:]...)...)
	return e
}

// smallInterp is an interpreter: ET_DYN, code and data.
func smallInterp() *telf {
	return &telf{
		typ:   etDyn,
		entry: 0x1000,
		segs: []tseg{
			{typ: ptLoad, flags: pfR, vaddr: 0, headers: true},
			{typ: ptLoad, flags: pfR | pfX, vaddr: 0x1000, data: pattern(0x300, 0x88)},
			{typ: ptLoad, flags: pfR | pfW, vaddr: 0x3000, data: pattern(0x8, 0x99), memsz: 0x100},
		},
	}
}
