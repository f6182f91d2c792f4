package vdso

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"
)

// TestDebugELFReads checks the image is a well-formed shared object:
// debug/elf (like readelf) lists each function under both names, with
// version LINUX_2.6.
func TestDebugELFReads(t *testing.T) {
	img := Build()
	f, err := elf.NewFile(bytes.NewReader(img.Bytes))
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != elf.ET_DYN || f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		t.Errorf("header: %v %v %v", f.Type, f.Machine, f.Class)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range syms {
		got[s.Name] = s.Version
	}
	for _, n := range []string{"__vdso_clock_gettime", "clock_gettime", "__vdso_gettimeofday", "gettimeofday", "__vdso_time", "time"} {
		if got[n] != Version {
			t.Errorf("symbol %s has version %q, want %q (all: %v)", n, got[n], Version, got)
		}
	}
	if libs, err := f.DynString(elf.DT_SONAME); err != nil || len(libs) != 1 || libs[0] != SOName {
		t.Errorf("DT_SONAME = %v, %v", libs, err)
	}
}

// lookup finds a versioned symbol the way the runtime loaders do (Go's
// runtime/vdso_linux.go, musl's __vdsosym): from the program headers to
// the dynamic table, then the hash table's chains, checking type,
// binding, section and version. It returns the symbol's address if the
// image were at base.
func lookup(t *testing.T, b []byte, base uint64, name, version string) (uint64, bool) {
	le := binary.LittleEndian
	phoff, phnum := le.Uint64(b[32:]), int(le.Uint16(b[56:]))
	var loadOffset uint64
	dyn := -1
	found := false
	for i := 0; i < phnum; i++ {
		p := b[phoff+uint64(i)*56:]
		switch elf.ProgType(le.Uint32(p)) {
		case elf.PT_LOAD:
			if !found {
				found = true
				loadOffset = base + le.Uint64(p[8:]) - le.Uint64(p[16:])
			}
		case elf.PT_DYNAMIC:
			dyn = int(le.Uint64(p[8:]))
		}
	}
	if !found || dyn < 0 {
		t.Fatal("no PT_LOAD or PT_DYNAMIC")
	}
	at := func(addr uint64) []byte { return b[addr+loadOffset-base:] }
	var strtab, symtab, hash, versym, verdef []byte
	for d := b[dyn:]; elf.DynTag(le.Uint64(d)) != elf.DT_NULL; d = d[16:] {
		v := le.Uint64(d[8:])
		switch elf.DynTag(le.Uint64(d)) {
		case elf.DT_STRTAB:
			strtab = at(v)
		case elf.DT_SYMTAB:
			symtab = at(v)
		case elf.DT_HASH:
			hash = at(v)
		case elf.DT_VERSYM:
			versym = at(v)
		case elf.DT_VERDEF:
			verdef = at(v)
		}
	}
	if strtab == nil || symtab == nil || hash == nil || versym == nil || verdef == nil {
		t.Fatal("dynamic table lacks a table the loaders need")
	}
	cstr := func(off uint32) string {
		s := strtab[off:]
		return string(s[:bytes.IndexByte(s, 0)])
	}
	// The version index of the wanted version (musl, Go: by name, Go
	// also by hash; the object's own VER_FLG_BASE entry never matches).
	want := -1
	for d := verdef; ; {
		flags, ndx, h := le.Uint16(d[2:]), le.Uint16(d[4:]), le.Uint32(d[8:])
		aux := d[le.Uint32(d[12:]):]
		if flags&1 == 0 && h == Hash(version) && cstr(le.Uint32(aux)) == version {
			want = int(ndx & 0x7fff)
		}
		next := le.Uint32(d[16:])
		if next == 0 {
			break
		}
		d = d[next:]
	}
	if want < 0 {
		t.Fatalf("version %s not defined", version)
	}
	nbucket := le.Uint32(hash)
	bucketOf := func(i uint32) uint32 { return le.Uint32(hash[8+4*i:]) }
	chainOf := func(i uint32) uint32 { return le.Uint32(hash[8+4*nbucket+4*i:]) }
	for k := uint32(0); k < nbucket; k++ {
		for i := bucketOf(k); i != 0; i = chainOf(i) {
			s := symtab[24*i:]
			info, shndx := s[4], le.Uint16(s[6:])
			typ, bind := elf.ST_TYPE(info), elf.ST_BIND(info)
			if typ != elf.STT_FUNC || bind != elf.STB_GLOBAL && bind != elf.STB_WEAK || shndx == 0 || shndx == uint16(elf.SHN_ABS) {
				continue
			}
			if cstr(le.Uint32(s)) != name || int(le.Uint16(versym[2*i:])&0x7fff) != want {
				continue
			}
			return loadOffset + le.Uint64(s[8:]), true
		}
	}
	return 0, false
}

// TestLoadersFindFilledInSymbols fills in the values as the kernel does
// at boot and looks every symbol up as Go's runtime and musl do.
func TestLoadersFindFilledInSymbols(t *testing.T) {
	img := Build()
	const base = 0x4000123450
	addr := [NumFuncs]uint64{ClockGettime: 0x4000001000, Gettimeofday: 0x4000002000, Time: 0x4000003000}
	for f, fields := range img.ValueFields {
		if len(fields) != 2 {
			t.Fatalf("function %d has %d symbols, want 2", f, len(fields))
		}
		for _, off := range fields {
			binary.LittleEndian.PutUint64(img.Bytes[off:], addr[f]-base)
		}
	}
	for f, n := range names {
		for _, sym := range []string{"__vdso_" + n, n} {
			got, ok := lookup(t, img.Bytes, base, sym, Version)
			if !ok || got != addr[f] {
				t.Errorf("%s: found %v at %#x, want %#x", sym, ok, got, addr[f])
			}
		}
	}
	if _, ok := lookup(t, img.Bytes, base, "__vdso_getcpu", Version); ok {
		t.Error("found __vdso_getcpu, which the image does not export")
	}
}

func TestHash(t *testing.T) {
	// Go's runtime compares against this constant for LINUX_2.6.
	if h := Hash("LINUX_2.6"); h != 0x3ae75f6 {
		t.Errorf("Hash(LINUX_2.6) = %#x, want 0x3ae75f6", h)
	}
}
