// Package vdso builds gosv's vDSO image: the small ELF shared object
// Linux puts in every process (AT_SYSINFO_EHDR) so that libc and the Go
// runtime read clocks without a system call. gosv runs the kernel and
// the application in ring 0 in one address space, so the image maps
// nothing and holds no code: its dynamic symbols point at functions
// already in the kernel (kernel/vdso_amd64.s). The kernel embeds the
// image built here (kernel/vdso_image.go, go generate) and, at boot,
// fills in the symbols' values, which depend on where the linker put the
// image and the functions.
//
// The image is what the three loaders in use need, and no more: Go's
// runtime (runtime/vdso_linux.go), musl (src/internal/vdso.c) and
// glibc's ld.so find the PT_LOAD and PT_DYNAMIC program headers, then
// DT_STRTAB, DT_SYMTAB, DT_HASH and the version tables (DT_VERSYM,
// DT_VERDEF), and match symbols by name and by version "LINUX_2.6".
// Section headers are there for tools (readelf, debug/elf).
package vdso

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"go/format"
)

// Func is a kernel function the vDSO exports.
type Func int

const (
	ClockGettime Func = iota
	Gettimeofday
	Time
	NumFuncs
)

// names are each function's symbols: Linux exports "__vdso_x" (what
// libcs look up) and a weak alias "x".
var names = [NumFuncs]string{ClockGettime: "clock_gettime", Gettimeofday: "gettimeofday", Time: "time"}

// Version is the symbol version every libc asks for on x86-64.
const Version = "LINUX_2.6"

// SOName is the name ld.so shows for the vDSO.
const SOName = "linux-vdso.so.1"

// Image is a built vDSO.
type Image struct {
	Bytes []byte
	// ValueFields[f] are the offsets in Bytes of the st_value fields of
	// f's symbols; the kernel stores there f's address minus the
	// image's (the image's load bias is its own address: p_vaddr 0).
	ValueFields [NumFuncs][]int
}

type symbol struct {
	name string
	fn   Func
	bind elf.SymBind
}

// Build lays out the image.
func Build() Image {
	var syms []symbol
	for f, n := range names {
		syms = append(syms, symbol{"__vdso_" + n, Func(f), elf.STB_GLOBAL}, symbol{n, Func(f), elf.STB_WEAK})
	}
	nsyms := len(syms) + 1 // with the null symbol

	// String table: "", soname, version, symbol names.
	var strtab bytes.Buffer
	strtab.WriteByte(0)
	str := func(s string) uint32 {
		off := uint32(strtab.Len())
		strtab.WriteString(s)
		strtab.WriteByte(0)
		return off
	}
	sonameOff, versionOff := str(SOName), str(Version)
	nameOff := make([]uint32, len(syms))
	for i, s := range syms {
		nameOff[i] = str(s.name)
	}

	// Layout: header, program headers, then each table 8-aligned.
	const (
		ehdrSize = 64
		phdrSize = 56
		shdrSize = 64
		nphdrs   = 2
	)
	off := ehdrSize + nphdrs*phdrSize
	place := func(size int) int {
		off = (off + 7) &^ 7
		at := off
		off += size
		return at
	}
	hashOff := place(4 * (2 + 1 + nsyms)) // nbucket, nchain, one bucket, chains
	dynsymOff := place(24 * nsyms)
	versymOff := place(2 * nsyms)
	verdefOff := place(2 * (20 + 8))
	dynamic := []elf.Dyn64{}
	dynOff := place(16 * 10) // entries filled below: 9 + DT_NULL
	dynstrOff := place(strtab.Len())

	shstr := []string{"", ".hash", ".dynsym", ".gnu.version", ".gnu.version_d", ".dynamic", ".dynstr", ".text", ".shstrtab"}
	var shstrtab bytes.Buffer
	shName := map[string]uint32{}
	for _, s := range shstr {
		shName[s] = uint32(shstrtab.Len())
		shstrtab.WriteString(s)
		shstrtab.WriteByte(0)
	}
	shstrOff := place(shstrtab.Len())
	loadEnd := off
	shOff := place(shdrSize * len(shstr))

	b := make([]byte, off)
	le := binary.LittleEndian
	put := func(at int, v any) {
		var w bytes.Buffer
		binary.Write(&w, le, v)
		copy(b[at:], w.Bytes())
	}

	// ELF header: a 64-bit little-endian x86-64 shared object.
	h := elf.Header64{
		Type: uint16(elf.ET_DYN), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Phoff: ehdrSize, Shoff: uint64(shOff), Ehsize: ehdrSize,
		Phentsize: phdrSize, Phnum: nphdrs, Shentsize: shdrSize, Shnum: uint16(len(shstr)),
		Shstrndx: uint16(len(shstr) - 1),
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION], h.Ident[elf.EI_OSABI] = byte(elf.EV_CURRENT), byte(elf.ELFOSABI_NONE)
	put(0, h)

	// One PT_LOAD at vaddr 0 covering the tables, and PT_DYNAMIC.
	put(ehdrSize, elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X),
		Off: 0, Vaddr: 0, Paddr: 0, Filesz: uint64(loadEnd), Memsz: uint64(loadEnd), Align: 4096})
	put(ehdrSize+phdrSize, elf.Prog64{Type: uint32(elf.PT_DYNAMIC), Flags: uint32(elf.PF_R),
		Off: uint64(dynOff), Vaddr: uint64(dynOff), Paddr: uint64(dynOff),
		Filesz: 16 * 10, Memsz: 16 * 10, Align: 8})

	// SysV hash table with one bucket: every lookup walks the whole
	// (short) chain, so the hash values never matter.
	put(hashOff, []uint32{1, uint32(nsyms), uint32(nsyms - 1)})
	for i := 0; i < nsyms; i++ {
		put(hashOff+12+4*i, uint32(max(i-1, 0)))
	}

	// Symbols. Values stay 0 here; st_shndx names .text so that no
	// loader takes them for undefined (0) or absolute (SHN_ABS, which
	// glibc would not relocate).
	const textIndex = 7
	var img Image
	for i, s := range syms {
		at := dynsymOff + 24*(i+1)
		put(at, elf.Sym64{Name: nameOff[i], Info: elf.ST_INFO(s.bind, elf.STT_FUNC), Shndx: textIndex})
		img.ValueFields[s.fn] = append(img.ValueFields[s.fn], at+8)
	}

	// Versions: index 1 is the object itself (VER_FLG_BASE, named by its
	// soname), index 2 is LINUX_2.6, which every symbol has.
	put(versymOff, uint16(0))
	for i := 1; i < nsyms; i++ {
		put(versymOff+2*i, uint16(2))
	}
	put(verdefOff, elf64Verdef{Version: 1, Flags: 1, Ndx: 1, Cnt: 1, Hash: Hash(SOName), Aux: 20, Next: 28})
	put(verdefOff+20, elf64Verdaux{Name: sonameOff})
	put(verdefOff+28, elf64Verdef{Version: 1, Ndx: 2, Cnt: 1, Hash: Hash(Version), Aux: 20})
	put(verdefOff+48, elf64Verdaux{Name: versionOff})

	dynamic = append(dynamic,
		elf.Dyn64{Tag: int64(elf.DT_HASH), Val: uint64(hashOff)},
		elf.Dyn64{Tag: int64(elf.DT_STRTAB), Val: uint64(dynstrOff)},
		elf.Dyn64{Tag: int64(elf.DT_SYMTAB), Val: uint64(dynsymOff)},
		elf.Dyn64{Tag: int64(elf.DT_STRSZ), Val: uint64(strtab.Len())},
		elf.Dyn64{Tag: int64(elf.DT_SYMENT), Val: 24},
		elf.Dyn64{Tag: int64(elf.DT_SONAME), Val: uint64(sonameOff)},
		elf.Dyn64{Tag: int64(elf.DT_VERSYM), Val: uint64(versymOff)},
		elf.Dyn64{Tag: int64(elf.DT_VERDEF), Val: uint64(verdefOff)},
		elf.Dyn64{Tag: int64(elf.DT_VERDEFNUM), Val: 2},
		elf.Dyn64{Tag: int64(elf.DT_NULL)},
	)
	put(dynOff, dynamic)
	copy(b[dynstrOff:], strtab.Bytes())
	copy(b[shstrOff:], shstrtab.Bytes())

	// Section headers, for tools.
	sec := func(i int, name string, typ elf.SectionType, flags elf.SectionFlag, at, size, link, info, align, entsize int) {
		put(shOff+shdrSize*i, elf.Section64{Name: shName[name], Type: uint32(typ), Flags: uint64(flags),
			Addr: uint64(at), Off: uint64(at), Size: uint64(size), Link: uint32(link), Info: uint32(info),
			Addralign: uint64(align), Entsize: uint64(entsize)})
	}
	const dynstrIndex = 6
	sec(1, ".hash", elf.SHT_HASH, elf.SHF_ALLOC, hashOff, 4*(3+nsyms), 2, 0, 4, 4)
	sec(2, ".dynsym", elf.SHT_DYNSYM, elf.SHF_ALLOC, dynsymOff, 24*nsyms, dynstrIndex, 1, 8, 24)
	sec(3, ".gnu.version", elf.SHT_GNU_VERSYM, elf.SHF_ALLOC, versymOff, 2*nsyms, 2, 0, 2, 2)
	sec(4, ".gnu.version_d", elf.SHT_GNU_VERDEF, elf.SHF_ALLOC, verdefOff, 56, dynstrIndex, 2, 8, 0)
	sec(5, ".dynamic", elf.SHT_DYNAMIC, elf.SHF_ALLOC|elf.SHF_WRITE, dynOff, 160, dynstrIndex, 0, 8, 16)
	sec(dynstrIndex, ".dynstr", elf.SHT_STRTAB, elf.SHF_ALLOC, dynstrOff, strtab.Len(), 0, 0, 1, 0)
	sec(textIndex, ".text", elf.SHT_PROGBITS, elf.SHF_ALLOC|elf.SHF_EXECINSTR, loadEnd, 0, 0, 0, 16, 0)
	sec(8, ".shstrtab", elf.SHT_STRTAB, 0, shstrOff, shstrtab.Len(), 0, 0, 1, 0)

	img.Bytes = b
	return img
}

type elf64Verdef struct {
	Version, Flags, Ndx, Cnt uint16
	Hash, Aux, Next          uint32
}

type elf64Verdaux struct {
	Name, Next uint32
}

// Hash is the SysV ELF hash (the version tables' vd_hash).
func Hash(name string) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		h = h<<4 + uint32(name[i])
		g := h & 0xf0000000
		if g != 0 {
			h ^= g >> 24
		}
		h &^= g
	}
	return h
}

// GoSource renders img as the Go file kernel/vdso_image.go: the bytes
// as 64-bit words (so the array is 8-byte aligned, as the ELF
// structures inside must be) and the value fields' offsets.
func GoSource(img Image, pkg string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by elfload/vdso/gen; DO NOT EDIT.\n\npackage %s\n\n", pkg)
	b.WriteString("// vdsoImage is the vDSO ELF image (package gosv/elfload/vdso).\n")
	words := (len(img.Bytes) + 7) / 8
	fmt.Fprintf(&b, "var vdsoImage = [%d]uint64{", words)
	padded := make([]byte, 8*words)
	copy(padded, img.Bytes)
	for i := 0; i < words; i++ {
		if i%4 == 0 {
			b.WriteString("\n\t")
		} else {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%#016x,", binary.LittleEndian.Uint64(padded[8*i:]))
	}
	b.WriteString("\n}\n\n")
	b.WriteString("// vdsoValueFields are, per vdso.Func, the byte offsets in vdsoImage of\n// the st_value fields of the function's symbols.\n")
	fmt.Fprintf(&b, "var vdsoValueFields = [%d][%d]uint16{\n", NumFuncs, len(img.ValueFields[0]))
	for _, fields := range img.ValueFields {
		b.WriteString("\t{")
		for i, off := range fields {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%d", off)
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	out, err := format.Source(b.Bytes())
	if err != nil {
		panic(err)
	}
	return out
}
