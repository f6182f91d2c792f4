// Package kimage turns the statically linked Go ELF of the kernel into a
// bootable image and checks finished images.
//
// The Go linker places the kernel at a high virtual base (-T) and leaves
// p_paddr equal to p_vaddr. Boot loaders copy PT_LOAD segments to p_paddr, so
// Convert rewrites those to low physical addresses, turns the Go build-id note
// into a PVH entry note (QEMU, Firecracker) and puts a Multiboot2 header into
// the zero padding after the ELF headers (GRUB).
package kimage

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
)

const (
	// SegmentAlign is the PT_LOAD alignment Firecracker insists on.
	SegmentAlign = 0x200000
	// MaxImageSpan is how much physical memory the boot stub maps before it
	// can reach Go code; everything loaded must fit in it.
	MaxImageSpan = 64 << 20
	// MinPhys keeps the image clear of real-mode memory, the BIOS and
	// the areas loaders use for boot data below 1 MiB.
	MinPhys = 1 << 20
	// physLimit is 4 GiB: the image is entered in 32-bit mode and GRUB
	// refuses ELF64 segments that reach it.
	physLimit = 1 << 32

	// mb2Search is how much of the file GRUB scans for the Multiboot2
	// header (MULTIBOOT_SEARCH); the program headers must lie there too.
	mb2Search  = 32 << 10
	mb2Magic   = 0xE85250D6
	mb2ArchI86 = 0 // i386 protected mode
	// mb2Align is GRUB's step when scanning for the header.
	mb2Align = 8
	// mb2Gap rounds the header's offset up so it does not sit directly
	// against the tables before it.
	mb2Gap = 64

	mb2TagEnd         = 0
	mb2TagAddress     = 2
	mb2TagEntry       = 3
	mb2TagModuleAlign = 6
	mb2TagOptional    = 1 // flags bit: loader may ignore the tag

	xenPhys32Entry = 18 // XEN_ELFNOTE_PHYS32_ENTRY
	goBuildIDType  = 4  // the Go linker's ELF_NOTE_GOBUILDID_TAG
	// pvhNoteSize is the whole Xen note: 12-byte header, "Xen\0", 4-byte desc.
	pvhNoteSize = 20

	phdrSize = 56 // sizeof(Elf64_Phdr)
	shdrSize = 64 // sizeof(Elf64_Shdr)

	// Byte offsets of the fields Convert rewrites.
	phPaddr  = 24
	phFilesz = 32
	phMemsz  = 40
	phAlign  = 48
	shSize   = 32
)

// Multiboot2 header as Convert writes it: fixed part, entry address tag
// (padded to 8), module alignment tag, end tag.
const mb2HeaderLen = 16 + 16 + 8 + 8

// Layout says where the kernel is linked and where it is loaded.
type Layout struct {
	KVBase      uint64 // virtual address the kernel is linked at (-T minus the header page)
	PBase       uint64 // physical address KVBase is loaded to
	EntrySymbol string // 32-bit entry point, e.g. "gosv/arch/amd64.entry32"
}

// Segment is one PT_LOAD of a finished image.
type Segment struct {
	VAddr, PAddr, Offset, FileSize, MemSize uint64
	Flags                                   elf.ProgFlag
}

// Info describes a bootable image.
type Info struct {
	Entry      uint32 // physical entry from the PVH note
	NoteOffset int64  // file offset of the PVH note
	MB2Offset  int64  // file offset of the Multiboot2 header
	MB2Entry   uint32 // entry address from the Multiboot2 header
	Segments   []Segment
	PhysStart  uint64 // lowest p_paddr
	PhysEnd    uint64 // highest p_paddr+p_memsz
}

// Span is the physical memory the image covers.
func (i Info) Span() uint64 { return i.PhysEnd - i.PhysStart }

var le = binary.LittleEndian

// image is a parsed input: debug/elf for the tables it decodes, plus the raw
// header fields it does not export but Convert needs to patch bytes.
type image struct {
	f         *elf.File
	phoff     uint64
	phentsize uint64
	shoff     uint64
	shentsize uint64
	entry     uint64
}

func parse(r io.ReaderAt) (*image, error) {
	var h elf.Header64
	if err := binary.Read(io.NewSectionReader(r, 0, 64), le, &h); err != nil {
		return nil, fmt.Errorf("reading ELF header: %w", err)
	}
	switch {
	case string(h.Ident[:4]) != elf.ELFMAG:
		return nil, errors.New("not an ELF file")
	case elf.Class(h.Ident[elf.EI_CLASS]) != elf.ELFCLASS64:
		return nil, fmt.Errorf("not ELF64 (class %v)", elf.Class(h.Ident[elf.EI_CLASS]))
	case elf.Data(h.Ident[elf.EI_DATA]) != elf.ELFDATA2LSB:
		return nil, errors.New("not little endian")
	case elf.Machine(h.Machine) != elf.EM_X86_64:
		return nil, fmt.Errorf("not x86-64 (machine %v)", elf.Machine(h.Machine))
	case elf.Type(h.Type) != elf.ET_EXEC:
		return nil, fmt.Errorf("not a static executable (type %v)", elf.Type(h.Type))
	case h.Phentsize != phdrSize:
		return nil, fmt.Errorf("program header size %d, want %d", h.Phentsize, phdrSize)
	}
	if err := checkShstrtab(r, &h); err != nil {
		return nil, err
	}
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	// debug/elf follows PN_XNUM into section 0; the raw count is what
	// loaders read, so insist they agree.
	if len(f.Progs) != int(h.Phnum) {
		return nil, fmt.Errorf("program header count %d does not match e_phnum %d", len(f.Progs), h.Phnum)
	}
	if len(f.Sections) > 0 && h.Shentsize != shdrSize {
		return nil, fmt.Errorf("section header size %d, want %d", h.Shentsize, shdrSize)
	}
	return &image{f: f, phoff: h.Phoff, phentsize: uint64(h.Phentsize),
		shoff: h.Shoff, shentsize: uint64(h.Shentsize), entry: h.Entry}, nil
}

// checkShstrtab rejects a section name table that lies past the end of the
// file before debug/elf allocates a buffer for its claimed size.
func checkShstrtab(r io.ReaderAt, h *elf.Header64) error {
	if h.Shnum == 0 || h.Shstrndx >= h.Shnum || h.Shentsize != shdrSize {
		return nil // nothing to read, or left to debug/elf to judge
	}
	var s elf.Section64
	at := satAdd(h.Shoff, uint64(h.Shstrndx)*shdrSize)
	if at > math.MaxInt64-shdrSize {
		return errors.New("section header table offset out of range")
	}
	if err := binary.Read(io.NewSectionReader(r, int64(at), shdrSize), le, &s); err != nil {
		return fmt.Errorf("reading section header %d: %w", h.Shstrndx, err)
	}
	if elf.SectionType(s.Type) == elf.SHT_NOBITS {
		return nil
	}
	if !fileHas(r, s.Off, s.Size) {
		return fmt.Errorf("section name table [%#x, +%#x) extends past end of file", s.Off, s.Size)
	}
	return nil
}

// fileHas reports whether r holds the bytes [off, off+size).
func fileHas(r io.ReaderAt, off, size uint64) bool {
	end := satAdd(off, size)
	if size == 0 || end > math.MaxInt64 {
		return size == 0
	}
	var b [1]byte
	_, err := r.ReadAt(b[:], int64(end-1))
	return err == nil
}

// phdr returns the file offset of program header i.
func (m *image) phdr(i int) uint64 { return m.phoff + uint64(i)*m.phentsize }

// Convert rewrites a kernel ELF linked at l.KVBase into a bootable image
// loaded at l.PBase. The input is not modified; the output has the same size.
func Convert(in []byte, l Layout) ([]byte, Info, error) {
	if err := l.check(); err != nil {
		return nil, Info{}, err
	}
	m, err := parse(bytes.NewReader(in))
	if err != nil {
		return nil, Info{}, err
	}
	// Catch bogus section sizes here: debug/elf would otherwise allocate
	// for them while reading the symbol table.
	for _, s := range m.f.Sections {
		if s.Type != elf.SHT_NOBITS && satAdd(s.Offset, s.FileSize) > uint64(len(in)) {
			return nil, Info{}, fmt.Errorf("section %q [%#x, +%#x) extends past end of file", s.Name, s.Offset, s.FileSize)
		}
	}
	out := bytes.Clone(in)

	loads, err := m.relocate(out, l)
	if err != nil {
		return nil, Info{}, err
	}
	syms, err := m.f.Symbols()
	if err != nil {
		return nil, Info{}, fmt.Errorf("reading symbol table: %w", err)
	}
	entry, err := m.findEntry(l, loads, syms)
	if err != nil {
		return nil, Info{}, err
	}
	if err := m.writePVHNote(out, entry); err != nil {
		return nil, Info{}, err
	}
	if err := m.writeMB2Header(out, entry); err != nil {
		return nil, Info{}, err
	}
	if err := m.writeLazyBSS(out, l, syms); err != nil {
		return nil, Info{}, err
	}

	// Inspect holds every bootability rule (overlaps, 1 MiB..4 GiB, span,
	// GRUB's restrictions), so run it on the result rather than repeat them.
	info, err := Inspect(bytes.NewReader(out))
	if err != nil {
		return nil, Info{}, err
	}
	return out, info, nil
}

func (l Layout) check() error {
	switch {
	case l.EntrySymbol == "":
		return errors.New("no entry symbol given")
	case l.PBase < MinPhys || l.PBase >= physLimit:
		return fmt.Errorf("physical base %#x outside [1 MiB, 4 GiB)", l.PBase)
	// Both bases must agree modulo 2 MiB so large pages can map the image.
	case (l.KVBase-l.PBase)%SegmentAlign != 0:
		return fmt.Errorf("virtual base %#x and physical base %#x differ by a non-multiple of 2 MiB", l.KVBase, l.PBase)
	}
	return nil
}

// phys translates a kernel virtual address; ok is false if v is below the
// base or so far above it that it cannot be below 4 GiB physical.
func (l Layout) phys(v uint64) (p uint64, ok bool) {
	if v < l.KVBase || v-l.KVBase >= physLimit {
		return 0, false
	}
	return v - l.KVBase + l.PBase, true
}

// relocate sets p_paddr of every PT_LOAD, and of every other header with an
// address in the kernel's range (PT_PHDR, PT_NOTE), to its physical address.
// It returns the PT_LOADs.
func (m *image) relocate(out []byte, l Layout) ([]elf.ProgHeader, error) {
	var loads []elf.ProgHeader
	for i, p := range m.f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		if p.Align != SegmentAlign {
			return nil, fmt.Errorf("segment %d: p_align %#x, want %#x (link with -R %#x)", i, p.Align, SegmentAlign, SegmentAlign)
		}
		if p.Vaddr < l.KVBase {
			return nil, fmt.Errorf("segment %d: p_vaddr %#x below kernel base %#x", i, p.Vaddr, l.KVBase)
		}
		pa, ok := l.phys(p.Vaddr)
		if !ok {
			return nil, fmt.Errorf("segment %d: p_vaddr %#x lies 4 GiB or more above kernel base %#x", i, p.Vaddr, l.KVBase)
		}
		le.PutUint64(out[m.phdr(i)+phPaddr:], pa)
		loads = append(loads, p.ProgHeader)
	}
	if len(loads) == 0 {
		return nil, errors.New("no PT_LOAD segments")
	}
	for i, p := range m.f.Progs {
		if p.Type == elf.PT_LOAD {
			continue
		}
		if pa, ok := l.phys(p.Vaddr); ok {
			le.PutUint64(out[m.phdr(i)+phPaddr:], pa)
		}
	}
	return loads, nil
}

func inLoad(loads []elf.ProgHeader, v uint64) bool {
	for _, p := range loads {
		if v >= p.Vaddr && v-p.Vaddr < p.Memsz {
			return true
		}
	}
	return false
}

// findEntry returns the physical address of the entry symbol.
func (m *image) findEntry(l Layout, loads []elf.ProgHeader, syms []elf.Symbol) (uint32, error) {
	// An assembly function that Go code also refers to has two symbols:
	// NAME.abi0 is the assembly itself and NAME a 64-bit Go wrapper that
	// must never run in 32-bit mode. The linker's -E picks NAME.abi0 too.
	var sym *elf.Symbol
	for i, s := range syms {
		switch s.Name {
		case l.EntrySymbol + ".abi0":
			sym = &syms[i]
		case l.EntrySymbol:
			if sym == nil {
				sym = &syms[i]
			}
		}
	}
	if sym == nil {
		return 0, fmt.Errorf("entry symbol %q not found in the symbol table", l.EntrySymbol)
	}
	if !inLoad(loads, sym.Value) {
		return 0, fmt.Errorf("entry symbol %s at %#x is not in a loaded segment", sym.Name, sym.Value)
	}
	pa, ok := l.phys(sym.Value)
	if !ok || pa > math.MaxUint32 {
		return 0, fmt.Errorf("entry symbol %s at %#x has no 32-bit physical address", sym.Name, sym.Value)
	}
	return uint32(pa), nil
}

// writePVHNote turns the Go build-id note into XEN_ELFNOTE_PHYS32_ENTRY.
// The linker emits that note in its own PT_NOTE inside the first page, so
// reusing it needs no new program header and no file layout change.
func (m *image) writePVHNote(out []byte, entry uint32) error {
	for i, p := range m.f.Progs {
		if p.Type != elf.PT_NOTE || !isGoBuildID(out, p.Off, p.Filesz) {
			continue
		}
		old := out[p.Off : p.Off+p.Filesz]
		// Zero the tail of the build id rather than leave half a note.
		clear(old)
		le.PutUint32(old[0:], 4) // namesz
		le.PutUint32(old[4:], 4) // descsz
		le.PutUint32(old[8:], xenPhys32Entry)
		copy(old[12:], "Xen\x00")
		le.PutUint32(old[16:], entry)

		ph := m.phdr(i)
		le.PutUint64(out[ph+phFilesz:], pvhNoteSize)
		le.PutUint64(out[ph+phMemsz:], pvhNoteSize)
		// QEMU pads note fields to p_align and gets it wrong for 8
		// (QEMU 7.2 then rejects the note); 4 is what ELF64 notes use.
		le.PutUint64(out[ph+phAlign:], 4)

		// Keep the section that held the build id in step, so tools
		// reading notes by section see the same single note.
		for j, s := range m.f.Sections {
			if s.Type == elf.SHT_NOTE && s.Offset == p.Off {
				le.PutUint64(out[m.shoff+uint64(j)*m.shentsize+shSize:], pvhNoteSize)
			}
		}
		return nil
	}
	return errors.New(`no PT_NOTE holding the Go build-id note (name "Go", type 4) to turn into the PVH note; ` +
		"was the file already converted or linked with an empty -buildid?")
}

func isGoBuildID(b []byte, off, size uint64) bool {
	if size < pvhNoteSize || off > uint64(len(b)) || size > uint64(len(b))-off {
		return false
	}
	n := b[off:]
	return le.Uint32(n[0:]) == 4 && le.Uint32(n[8:]) == goBuildIDType && string(n[12:16]) == "Go\x00\x00"
}

// GRUB 2's multiboot2 loader (grub-core/loader/multiboot_mbi2.c and
// multiboot_elfxx.c) treats an image whose header has no address tag as ELF:
// it requires the program headers within the first 32 KiB, copies each
// PT_LOAD to p_paddr (p_vaddr is ignored), and refuses ELF64 images whose
// segments reach 4 GiB. It also translates e_entry through the program
// header containing it and fails if that is not below 4 GiB, even though the
// entry address tag then overrides the result; and it refuses files with
// SHT_REL/SHT_RELA sections. Sections without an address (symbols, DWARF)
// are copied somewhere below 4 GiB for the ELF-sections tag; that costs
// memory but is harmless. An address tag would switch GRUB to the "a.out
// kludge" that loads the file as one flat blob, which is wrong for a
// multi-segment ELF, so the header carries none.

// writeMB2Header puts a Multiboot2 header in the first zero gap after the
// ELF headers. That gap is file padding inside the first PT_LOAD that no
// header or section refers to.
func (m *image) writeMB2Header(out []byte, entry uint32) error {
	used := m.usedRanges()
	off := alignUp(m.phdr(len(m.f.Progs)), mb2Gap)
	for moved := true; moved && off < mb2Search; {
		moved = false
		for _, r := range used {
			if off < r[1] && r[0] < off+mb2HeaderLen {
				off = alignUp(r[1], mb2Gap)
				moved = true
			}
		}
	}
	if off+mb2HeaderLen > mb2Search || off+mb2HeaderLen > uint64(len(out)) {
		return fmt.Errorf("no room for the Multiboot2 header in the first %d bytes", mb2Search)
	}
	h := out[off : off+mb2HeaderLen]
	if !allZero(h) {
		return fmt.Errorf("no zero gap for the Multiboot2 header: bytes at %#x are in use", off)
	}
	le.PutUint32(h[0:], mb2Magic)
	le.PutUint32(h[4:], mb2ArchI86)
	le.PutUint32(h[8:], mb2HeaderLen)
	sum := uint32(mb2Magic + mb2ArchI86 + mb2HeaderLen)
	le.PutUint32(h[12:], -sum) // the four fields add up to 0 mod 2^32
	putTag(h[16:], mb2TagEntry, 12)
	le.PutUint32(h[24:], entry)
	// GRUB page-aligns modules anyway; the tag states the requirement.
	putTag(h[32:], mb2TagModuleAlign, 8)
	putTag(h[40:], mb2TagEnd, 8)
	return nil
}

func putTag(b []byte, typ uint16, size uint32) {
	le.PutUint16(b[0:], typ)
	le.PutUint16(b[2:], 0) // flags: required
	le.PutUint32(b[4:], size)
}

// usedRanges lists the file ranges the headers refer to, apart from PT_LOAD
// contents (the first one covers the padding we want to use).
func (m *image) usedRanges() [][2]uint64 {
	used := [][2]uint64{
		{0, 64},
		{m.phoff, satAdd(m.phoff, uint64(len(m.f.Progs))*m.phentsize)},
	}
	if n := uint64(len(m.f.Sections)); n > 0 {
		used = append(used, [2]uint64{m.shoff, satAdd(m.shoff, n*m.shentsize)})
	}
	for _, s := range m.f.Sections {
		if s.Type != elf.SHT_NOBITS && s.FileSize > 0 {
			used = append(used, [2]uint64{s.Offset, satAdd(s.Offset, s.FileSize)})
		}
	}
	for _, p := range m.f.Progs {
		if p.Type != elf.PT_LOAD && p.Filesz > 0 {
			used = append(used, [2]uint64{p.Off, satAdd(p.Off, p.Filesz)})
		}
	}
	return used
}

// Inspect reads a finished image and checks that QEMU/Firecracker (PVH) and
// GRUB (Multiboot2) can boot it.
func Inspect(r io.ReaderAt) (Info, error) {
	m, err := parse(r)
	if err != nil {
		return Info{}, err
	}
	var info Info
	if info.Segments, err = m.segments(r); err != nil {
		return Info{}, err
	}
	info.PhysStart = info.Segments[0].PAddr
	for _, s := range info.Segments {
		info.PhysEnd = max(info.PhysEnd, s.PAddr+s.MemSize)
	}
	if info.Span() > MaxImageSpan {
		return Info{}, fmt.Errorf("image spans %#x bytes physical (%#x-%#x), more than the %d MiB the boot stub maps",
			info.Span(), info.PhysStart, info.PhysEnd, MaxImageSpan>>20)
	}
	if err := m.checkGRUB(); err != nil {
		return Info{}, err
	}
	if info.Entry, info.NoteOffset, err = m.pvhEntry(); err != nil {
		return Info{}, err
	}
	if info.MB2Offset, info.MB2Entry, err = findMB2(r); err != nil {
		return Info{}, err
	}
	if info.MB2Entry != info.Entry {
		return Info{}, fmt.Errorf("Multiboot2 entry %#x differs from PVH entry %#x", info.MB2Entry, info.Entry)
	}
	if !inCode(info.Segments, info.Entry) {
		return Info{}, fmt.Errorf("entry %#x is not in the file contents of an executable segment", info.Entry)
	}
	return info, nil
}

// segments returns the PT_LOADs sorted by p_paddr after checking each one.
func (m *image) segments(r io.ReaderAt) ([]Segment, error) {
	var segs []Segment
	for i, p := range m.f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		switch {
		case p.Align != SegmentAlign:
			return nil, fmt.Errorf("segment %d: p_align %#x, want %#x", i, p.Align, SegmentAlign)
		case p.Filesz > p.Memsz:
			return nil, fmt.Errorf("segment %d: p_filesz %#x exceeds p_memsz %#x", i, p.Filesz, p.Memsz)
		case p.Paddr < MinPhys:
			return nil, fmt.Errorf("segment %d: p_paddr %#x below 1 MiB", i, p.Paddr)
		case p.Paddr >= physLimit || p.Memsz >= physLimit-p.Paddr:
			return nil, fmt.Errorf("segment %d: p_paddr %#x + p_memsz %#x reaches 4 GiB", i, p.Paddr, p.Memsz)
		}
		// Loaders read the contents by offset; a short file fails there.
		if !fileHas(r, p.Off, p.Filesz) {
			return nil, fmt.Errorf("segment %d: contents [%#x, +%#x) past end of file", i, p.Off, p.Filesz)
		}
		segs = append(segs, Segment{VAddr: p.Vaddr, PAddr: p.Paddr, Offset: p.Off,
			FileSize: p.Filesz, MemSize: p.Memsz, Flags: p.Flags})
	}
	if len(segs) == 0 {
		return nil, errors.New("no PT_LOAD segments")
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].PAddr < segs[j].PAddr })
	for i := 1; i < len(segs); i++ {
		a, b := segs[i-1], segs[i]
		if a.PAddr+a.MemSize > b.PAddr {
			return nil, fmt.Errorf("segments at %#x (size %#x) and %#x overlap physically", a.PAddr, a.MemSize, b.PAddr)
		}
	}
	return segs, nil
}

// checkGRUB applies the rules of GRUB's ELF loader described above
// writeMB2Header.
func (m *image) checkGRUB() error {
	if end := satAdd(m.phoff, uint64(len(m.f.Progs))*m.phentsize); end > mb2Search {
		return fmt.Errorf("program headers end at %#x, beyond the first %d bytes GRUB reads", end, mb2Search)
	}
	for _, s := range m.f.Sections {
		if s.Type == elf.SHT_REL || s.Type == elf.SHT_RELA {
			return fmt.Errorf("section %s has relocations, which GRUB's multiboot2 loader refuses", s.Name)
		}
	}
	for _, p := range m.f.Progs {
		if m.entry >= p.Vaddr && m.entry-p.Vaddr < p.Memsz {
			if pa := satAdd(m.entry-p.Vaddr, p.Paddr); pa > math.MaxUint32 {
				return fmt.Errorf("e_entry %#x translates to physical %#x, above 4 GiB", m.entry, pa)
			}
			return nil
		}
	}
	return fmt.Errorf("e_entry %#x is not inside any program header", m.entry)
}

// pvhEntry finds the XEN_ELFNOTE_PHYS32_ENTRY note and returns its value and
// file offset.
func (m *image) pvhEntry() (uint32, int64, error) {
	for _, p := range m.f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		if p.Filesz > 1<<20 {
			return 0, 0, fmt.Errorf("PT_NOTE of %#x bytes is implausibly large", p.Filesz)
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return 0, 0, fmt.Errorf("reading PT_NOTE at %#x: %w", p.Off, err)
		}
		for off := uint64(0); off+12 <= uint64(len(b)); {
			namesz, descsz, typ := uint64(le.Uint32(b[off:])), uint64(le.Uint32(b[off+4:])), le.Uint32(b[off+8:])
			name := off + 12
			desc := name + alignUp(namesz, 4)
			next := desc + alignUp(descsz, 4)
			if next > uint64(len(b)) {
				break
			}
			if typ == xenPhys32Entry && string(b[name:name+namesz]) == "Xen\x00" && descsz == 4 {
				if p.Align != 4 {
					return 0, 0, fmt.Errorf("PVH note segment has p_align %d; QEMU needs 4", p.Align)
				}
				return le.Uint32(b[desc:]), int64(p.Off + off), nil
			}
			off = next
		}
	}
	return 0, 0, errors.New("no PVH entry note (Xen, XEN_ELFNOTE_PHYS32_ENTRY)")
}

// findMB2 looks for the Multiboot2 header the way GRUB does and returns its
// offset and entry address.
func findMB2(r io.ReaderAt) (int64, uint32, error) {
	buf := make([]byte, mb2Search)
	n, err := r.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return 0, 0, fmt.Errorf("reading Multiboot2 search area: %w", err)
	}
	buf = buf[:n]
	for off := 0; off+16 <= len(buf); off += mb2Align {
		h := buf[off:]
		magic, arch, length, sum := le.Uint32(h), le.Uint32(h[4:]), le.Uint32(h[8:]), le.Uint32(h[12:])
		if magic != mb2Magic || arch != mb2ArchI86 || magic+arch+length+sum != 0 {
			continue
		}
		// GRUB takes the first valid header, so this one must be right.
		entry, err := mb2Tags(buf[off:], length)
		if err != nil {
			return 0, 0, fmt.Errorf("Multiboot2 header at %#x: %w", off, err)
		}
		return int64(off), entry, nil
	}
	return 0, 0, fmt.Errorf("no Multiboot2 header in the first %d bytes", mb2Search)
}

func mb2Tags(h []byte, length uint32) (uint32, error) {
	if length < 24 || uint64(length) > uint64(len(h)) {
		return 0, fmt.Errorf("header_length %d out of range", length)
	}
	h = h[:length]
	var entry uint32
	found := false
	for off := uint64(16); ; {
		if off+8 > uint64(len(h)) {
			return 0, errors.New("tags run past header_length without an end tag")
		}
		typ, flags, size := le.Uint16(h[off:]), le.Uint16(h[off+2:]), uint64(le.Uint32(h[off+4:]))
		if size < 8 || size > uint64(len(h))-off {
			return 0, fmt.Errorf("tag %d at %d has bad size %d", typ, off, size)
		}
		switch typ {
		case mb2TagEnd:
			if !found {
				return 0, errors.New("no entry address tag")
			}
			return entry, nil
		case mb2TagEntry:
			if size < 12 {
				return 0, fmt.Errorf("entry address tag has size %d", size)
			}
			entry, found = le.Uint32(h[off+8:]), true
		case mb2TagAddress:
			return 0, errors.New("address tag present: GRUB would load the file as a flat binary")
		case mb2TagModuleAlign:
		default:
			if flags&mb2TagOptional == 0 {
				return 0, fmt.Errorf("required tag type %d that GRUB may not support", typ)
			}
		}
		off += alignUp(size, mb2Align)
	}
}

// inCode reports whether pa lies in the file-backed part of an executable
// segment.
func inCode(segs []Segment, pa uint32) bool {
	for _, s := range segs {
		if s.Flags&elf.PF_X != 0 && uint64(pa) >= s.PAddr && uint64(pa)-s.PAddr < s.FileSize {
			return true
		}
	}
	return false
}

func alignUp(v, a uint64) uint64 { return satAdd(v, a-1) &^ (a - 1) }

// satAdd adds without wrapping, so hostile sizes cannot fold back into range.
func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Lazy BSS: LazyBSSSymbol, the Go FIPS DRBG's 32 MiB entropy scratch
// buffer, which crypto/rand links (net/http does, through crypto/tls)
// and only FIPS mode touches, is cut from the image. The linker puts it
// last (it sorts BSS by size), so the last segment's p_memsz can end
// before it: loaders then neither need nor zero 32 MiB of guest RAM for
// it. The kernel learns the range from the variable LazyBSSVar and maps
// it on demand, zero-filled, like an anonymous mapping. The boot stub
// puts its page tables after the image end, which it computes from
// runtime.end with one LEAL; its displacement is moved to the new end.
// Images without the variable, or where the symbol is not last, are
// left as they are.
const (
	LazyBSSVar    = "gosv/kernel.lazyBSS"
	LazyBSSSymbol = "crypto/internal/fips140/drbg.memory"
)

// Near the start of entry32: CALL +0; LEAL end(SB), AX (RIP-relative, which
// 32-bit mode decodes as absolute); POPL DX.
var stubPrologue = []byte{0xe8, 0, 0, 0, 0, 0x8d, 0x05}

func (m *image) writeLazyBSS(out []byte, l Layout, syms []elf.Symbol) error {
	var target, big, end, entry *elf.Symbol
	for i, s := range syms {
		switch s.Name {
		case LazyBSSVar:
			target = &syms[i]
		case LazyBSSSymbol:
			big = &syms[i]
		case "runtime.end":
			end = &syms[i]
		case l.EntrySymbol + ".abi0":
			entry = &syms[i]
		case l.EntrySymbol:
			if entry == nil {
				entry = &syms[i]
			}
		}
	}
	if target == nil || big == nil || end == nil || entry == nil {
		return nil
	}
	if big.Value+big.Size != end.Value {
		return nil // not last: nothing to cut
	}
	seg := -1
	for i, p := range m.f.Progs {
		if p.Type == elf.PT_LOAD && p.Vaddr+p.Memsz == end.Value && big.Value >= p.Vaddr+p.Filesz {
			seg = i
		}
	}
	if seg < 0 {
		return nil
	}
	newEnd := alignUp(big.Value, 4096)
	if newEnd >= end.Value {
		return nil
	}
	if target.Size != 16 || int(target.Section) >= len(m.f.Sections) {
		return fmt.Errorf("%s: want a [2]uint64 in an initialized section", LazyBSSVar)
	}
	sec := m.f.Sections[target.Section]
	if sec.Type == elf.SHT_NOBITS || target.Value < sec.Addr || target.Value+16 > sec.Addr+sec.Size {
		return fmt.Errorf("%s is not in an initialized section", LazyBSSVar)
	}
	voff := sec.Offset + (target.Value - sec.Addr)
	eoff, ok := m.fileOffset(entry.Value)
	if !ok || voff+16 > uint64(len(out)) || eoff+32 > uint64(len(out)) {
		return fmt.Errorf("%s or the entry point lies outside the file", LazyBSSVar)
	}
	// The sequence is among entry32's first instructions.
	k := bytes.Index(out[eoff:eoff+32], stubPrologue)
	if k < 0 || out[eoff+uint64(k)+11] != 0x5a {
		return fmt.Errorf("entry32 does not begin with the expected CALL/LEAL/POPL")
	}
	disp := eoff + uint64(k+len(stubPrologue))
	rel := int64(int32(le.Uint32(out[disp:]))) - int64(end.Value-newEnd)
	le.PutUint32(out[disp:], uint32(int32(rel)))
	le.PutUint64(out[m.phdr(seg)+phMemsz:], newEnd-m.f.Progs[seg].Vaddr)
	le.PutUint64(out[voff:], newEnd)
	le.PutUint64(out[voff+8:], end.Value)
	return nil
}

// fileOffset maps a virtual address inside a segment's file bytes to its
// file offset.
func (m *image) fileOffset(v uint64) (uint64, bool) {
	for _, p := range m.f.Progs {
		if p.Type == elf.PT_LOAD && v >= p.Vaddr && v-p.Vaddr < p.Filesz {
			return p.Off + (v - p.Vaddr), true
		}
	}
	return 0, false
}
