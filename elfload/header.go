package elfload

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
)

// ELF constants (System V gABI, x86-64 psABI). debug/elf has them too,
// but the kernel need not link that package for a dozen numbers.
const (
	ehdrSize = 64 // sizeof(Elf64_Ehdr)
	phdrSize = 56 // sizeof(Elf64_Phdr)

	elfClass64  = 2
	elfData2LSB = 1
	evCurrent   = 1
	osabiSysV   = 0
	osabiGNU    = 3
	etRel       = 1
	etExec      = 2
	etDyn       = 3
	etCore      = 4
	emX86_64    = 62
	ptLoad      = 1
	ptInterp    = 3
	ptPhdr      = 6
	ptGNUStack  = 0x6474e551
	pfX         = 1
	pfW         = 2
	pfR         = 4
	pnXNum      = 0xffff // e_phnum escape for more than 65534 headers
	minPageSize = 4096
)

// Limits.
const (
	// MaxPhnum bounds the program header table. Real programs have
	// about a dozen; Linux stops at 4 KiB of headers (73).
	MaxPhnum = 128
	// MaxInterpPath bounds PT_INTERP, NUL included (PATH_MAX).
	MaxInterpPath = 4096
	// MaxSpan bounds the distance from the lowest to the highest page a
	// program's PT_LOAD segments occupy.
	MaxSpan = 1 << 40
	// UserTop is the end of the lower canonical half of the x86-64
	// address space: no segment may reach beyond it.
	UserTop = 1 << 47
)

// ProgHeader is one Elf64_Phdr.
type ProgHeader struct {
	Type, Flags                             uint32
	Off, Vaddr, Paddr, Filesz, Memsz, Align uint64
}

// Prot is the segment's protection from its PF_R, PF_W, PF_X flags.
func (p *ProgHeader) Prot() Prot {
	var prot Prot
	if p.Flags&pfR != 0 {
		prot |= ProtRead
	}
	if p.Flags&pfW != 0 {
		prot |= ProtWrite
	}
	if p.Flags&pfX != 0 {
		prot |= ProtExec
	}
	return prot
}

// Header is what ParseHeader validated: the ELF header fields the loader
// uses and the program headers.
type Header struct {
	Type  uint16 // etExec (2) or etDyn (3)
	Entry uint64 // e_entry, unrelocated
	Phoff uint64 // e_phoff
	// Progs is the program header table in file order; Loads its PT_LOAD
	// entries, in the same (ascending address) order.
	Progs []ProgHeader
	Loads []ProgHeader
	// Interp is PT_INTERP's path without its NUL; "" if there is none.
	Interp string
	// PhdrVaddr is PT_PHDR's p_vaddr when HasPhdr.
	PhdrVaddr uint64
	HasPhdr   bool
	// ExecStack records a PT_GNU_STACK asking for an executable stack.
	// gosv notes it but never makes the stack executable.
	ExecStack bool
	// First and End bound the pages the PT_LOAD segments occupy,
	// unrelocated: First is the lowest page, End the page-aligned end
	// of the highest segment (at 4 KiB granularity).
	First, End uint64
}

// IsDyn reports whether the file is ET_DYN (position-independent).
func (h *Header) IsDyn() bool { return h.Type == etDyn }

func notExec(format string, args ...any) error {
	return &FormatError{Reason: fmt.Sprintf(format, args...)}
}

// readFull reads len(b) bytes at off, treating a short read as an error
// even when the ReaderAt reports none.
func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("elfload: reading %d bytes at offset %#x: %w", len(b), off, err)
}

// add returns a+b and whether it did not overflow.
func add(a, b uint64) (uint64, bool) {
	s, carry := bits.Add64(a, b, 0)
	return s, carry == 0
}

// pageDown and pageUp round to ps, a power of two. pageUp reports
// overflow.
func pageDown(a, ps uint64) uint64 { return a &^ (ps - 1) }

func pageUp(a, ps uint64) (uint64, bool) {
	s, ok := add(a, ps-1)
	return s &^ (ps - 1), ok
}

// ParseHeader reads and validates an ELF file's header and program
// headers, and PT_INTERP's path. It checks everything the loader relies
// on, so that Load can do plain arithmetic afterwards; a file it accepts
// may still fail to load (the address range is taken, the interpreter is
// bad). Failures wrap ErrNotExecutable (as a *FormatError saying why),
// except I/O errors from r, returned as they are.
func ParseHeader(r io.ReaderAt, size int64) (*Header, error) {
	if size < ehdrSize {
		return nil, notExec("truncated: %d bytes is too short for an ELF header", size)
	}
	var eh [ehdrSize]byte
	if err := readFull(r, eh[:], 0); err != nil {
		return nil, err
	}
	if !bytes.Equal(eh[:4], []byte("\x7fELF")) {
		return nil, notExec("bad ELF magic %q", eh[:4])
	}
	switch eh[4] {
	case elfClass64:
	case 1:
		return nil, notExec("ELF class 1 (32-bit), want ELFCLASS64")
	default:
		return nil, notExec("ELF class %d, want ELFCLASS64", eh[4])
	}
	if eh[5] != elfData2LSB {
		return nil, notExec("ELF data encoding %d, want little-endian (ELFDATA2LSB)", eh[5])
	}
	if eh[6] != evCurrent {
		return nil, notExec("ELF identification version %d, want EV_CURRENT", eh[6])
	}
	if eh[7] != osabiSysV && eh[7] != osabiGNU {
		return nil, notExec("OS ABI %d, want System V (0) or GNU/Linux (3)", eh[7])
	}
	le := binary.LittleEndian
	h := &Header{
		Type:  le.Uint16(eh[16:]),
		Entry: le.Uint64(eh[24:]),
		Phoff: le.Uint64(eh[32:]),
	}
	switch h.Type {
	case etExec, etDyn:
	case etRel:
		return nil, notExec("relocatable object (ET_REL), not a program")
	case etCore:
		return nil, notExec("core dump (ET_CORE), not a program")
	default:
		return nil, notExec("e_type %d, want ET_EXEC or ET_DYN", h.Type)
	}
	if m := le.Uint16(eh[18:]); m != emX86_64 {
		return nil, notExec("machine %d, want EM_X86_64 (62)", m)
	}
	if v := le.Uint32(eh[20:]); v != evCurrent {
		return nil, notExec("e_version %d, want EV_CURRENT", v)
	}
	if pe := le.Uint16(eh[54:]); pe != phdrSize {
		return nil, notExec("e_phentsize %d, want %d", pe, phdrSize)
	}
	phnum := int(le.Uint16(eh[56:]))
	switch {
	case phnum == 0:
		return nil, notExec("no program headers")
	case phnum == pnXNum:
		return nil, notExec("extended program header numbering (PN_XNUM) is not supported")
	case phnum > MaxPhnum:
		return nil, notExec("%d program headers, more than %d", phnum, MaxPhnum)
	}
	tabSize := uint64(phnum) * phdrSize
	if tabEnd, ok := add(h.Phoff, tabSize); !ok || tabEnd > uint64(size) {
		return nil, notExec("truncated: program headers at %#x+%#x lie outside the %d-byte file", h.Phoff, tabSize, size)
	}
	tab := make([]byte, tabSize)
	if err := readFull(r, tab, int64(h.Phoff)); err != nil {
		return nil, err
	}
	h.Progs = make([]ProgHeader, phnum)
	var phdr *ProgHeader
	interps := 0
	for i := range h.Progs {
		b := tab[i*phdrSize:]
		p := &h.Progs[i]
		*p = ProgHeader{
			Type:   le.Uint32(b[0:]),
			Flags:  le.Uint32(b[4:]),
			Off:    le.Uint64(b[8:]),
			Vaddr:  le.Uint64(b[16:]),
			Paddr:  le.Uint64(b[24:]),
			Filesz: le.Uint64(b[32:]),
			Memsz:  le.Uint64(b[40:]),
			Align:  le.Uint64(b[48:]),
		}
		switch p.Type {
		case ptLoad:
			if err := checkLoad(h, i, p, size); err != nil {
				return nil, err
			}
			h.Loads = append(h.Loads, *p)
		case ptInterp:
			interps++
			if interps > 1 {
				return nil, notExec("more than one PT_INTERP")
			}
			path, err := readInterp(r, p, size)
			if err != nil {
				return nil, err
			}
			h.Interp = path
		case ptPhdr:
			if phdr != nil {
				return nil, notExec("more than one PT_PHDR")
			}
			phdr = p
		case ptGNUStack:
			h.ExecStack = p.Flags&pfX != 0
		}
	}
	first, end := uint64(0), uint64(0)
	for i := range h.Loads {
		p := &h.Loads[i]
		if p.Memsz == 0 {
			continue
		}
		lo := pageDown(p.Vaddr, minPageSize)
		hi, _ := pageUp(p.Vaddr+p.Memsz, minPageSize) // below UserTop: no overflow
		if end == 0 {
			first = lo
		}
		end = hi
	}
	if end == 0 {
		return nil, notExec("no loadable (non-empty PT_LOAD) segments")
	}
	if end-first >= MaxSpan {
		return nil, notExec("PT_LOAD segments span %#x bytes, more than %#x", end-first, uint64(MaxSpan))
	}
	h.First, h.End = first, end
	if !inside(h.Loads, h.Entry, 1, true, pfX) {
		return nil, notExec("entry point %#x is not inside an executable PT_LOAD segment's file data", h.Entry)
	}
	if phdr != nil {
		if !inside(h.Loads, phdr.Vaddr, tabSize, false, 0) {
			return nil, notExec("PT_PHDR at %#x is not inside a PT_LOAD segment", phdr.Vaddr)
		}
		h.PhdrVaddr, h.HasPhdr = phdr.Vaddr, true
	}
	return h, nil
}

// checkLoad validates PT_LOAD number i (its index in the table) against
// the file and the PT_LOAD before it.
func checkLoad(h *Header, i int, p *ProgHeader, size int64) error {
	if p.Filesz > p.Memsz {
		return notExec("PT_LOAD %d: p_filesz %#x exceeds p_memsz %#x", i, p.Filesz, p.Memsz)
	}
	if end, ok := add(p.Off, p.Filesz); !ok || end > uint64(size) {
		return notExec("truncated: PT_LOAD %d: file data %#x+%#x lies outside the %d-byte file", i, p.Off, p.Filesz, size)
	}
	end, ok := add(p.Vaddr, p.Memsz)
	if !ok || end > UserTop {
		return notExec("PT_LOAD %d: %#x+%#x reaches beyond the user address space (%#x)", i, p.Vaddr, p.Memsz, uint64(UserTop))
	}
	if p.Vaddr%minPageSize != p.Off%minPageSize {
		return notExec("PT_LOAD %d: p_vaddr %#x and p_offset %#x differ modulo the page size", i, p.Vaddr, p.Off)
	}
	if h.Type == etExec && p.Memsz > 0 && p.Vaddr < minPageSize {
		return notExec("PT_LOAD %d at %#x would map page 0", i, p.Vaddr)
	}
	if n := len(h.Loads); n > 0 {
		prev := &h.Loads[n-1]
		if p.Vaddr < prev.Vaddr {
			return notExec("PT_LOAD segments not sorted: %#x follows %#x", p.Vaddr, prev.Vaddr)
		}
		if p.Vaddr < prev.Vaddr+prev.Memsz {
			return notExec("PT_LOAD segments overlap: %#x+%#x and %#x+%#x", prev.Vaddr, prev.Memsz, p.Vaddr, p.Memsz)
		}
	}
	return nil
}

// readInterp reads and checks PT_INTERP's path.
func readInterp(r io.ReaderAt, p *ProgHeader, size int64) (string, error) {
	if p.Filesz < 2 {
		return "", notExec("PT_INTERP path is empty")
	}
	if p.Filesz > MaxInterpPath {
		return "", notExec("PT_INTERP path of %d bytes is longer than %d", p.Filesz, MaxInterpPath)
	}
	if end, ok := add(p.Off, p.Filesz); !ok || end > uint64(size) {
		return "", notExec("truncated: PT_INTERP %#x+%#x lies outside the %d-byte file", p.Off, p.Filesz, size)
	}
	b := make([]byte, p.Filesz)
	if err := readFull(r, b, int64(p.Off)); err != nil {
		return "", err
	}
	n := bytes.IndexByte(b, 0)
	switch {
	case n < 0:
		return "", notExec("PT_INTERP path is not NUL-terminated")
	case n != len(b)-1:
		return "", notExec("PT_INTERP path %q has a NUL inside", b[:len(b)-1])
	}
	return string(b[:n]), nil
}

// inside reports whether [a, a+n) lies in one of loads, in its file data
// if fileOnly, and in a segment with all of flags.
func inside(loads []ProgHeader, a, n uint64, fileOnly bool, flags uint32) bool {
	end, ok := add(a, n)
	if !ok {
		return false
	}
	for i := range loads {
		p := &loads[i]
		sz := p.Memsz
		if fileOnly {
			sz = p.Filesz
		}
		if p.Flags&flags == flags && a >= p.Vaddr && end <= p.Vaddr+sz {
			return true
		}
	}
	return false
}
