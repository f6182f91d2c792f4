package kimage

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const (
	testKV = 0x4000000000
	testPB = 0x200000
)

var testLayout = Layout{KVBase: testKV, PBase: testPB, EntrySymbol: "main.main"}

var goKernelOnce struct {
	sync.Once
	data []byte
	err  error
}

// goKernel builds a tiny Go program linked like the kernel. main.main stands
// in for the entry symbol, which only the real kernel has. The build runs
// once per test binary; the bytes outlive the temporary directory.
func goKernel(tb testing.TB) []byte {
	tb.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		tb.Skip("go command not found:", err)
	}
	o := &goKernelOnce
	o.Do(func() {
		dir := tb.TempDir()
		src := "package main\n\nfunc main() { println(\"hello\") }\n"
		if o.err = os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); o.err != nil {
			return
		}
		if o.err = os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module tiny\n\ngo 1.26\n"), 0o644); o.err != nil {
			return
		}
		bin := filepath.Join(dir, "kernel.elf")
		cmd := exec.Command(goTool, "build", "-ldflags=-T 0x4000001000 -R 0x200000", "-o", bin, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			o.err = &buildError{err, out}
			return
		}
		o.data, o.err = os.ReadFile(bin)
	})
	if o.err != nil {
		tb.Fatal(o.err)
	}
	return o.data
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + string(e.out) }

// Where tinyELF puts a GNU note that no header refers to, for tests to add
// a PT_NOTE of their own.
const otherNoteOff, otherNoteLen = 0x220, 20

// tinyELF returns a minimal kernel-like ELF: the Go build-id note in its own
// PT_NOTE, one PT_LOAD holding the headers and 16 bytes of code, and a symbol
// table. Like an assembly entry point called from Go, main.main.abi0 is the
// code at 0x240 and main.main a wrapper at 0x248. edit, if not nil, may
// change the program headers.
func tinyELF(edit func([]elf.Prog64) []elf.Prog64) []byte {
	const (
		noteOff  = 0x200
		codeOff  = 0x240
		symOff   = 0x280
		strOff   = 0x2d0
		shstrOff = 0x2f0
		shOff    = 0x340
	)
	strtab := "\x00main.main\x00main.main.abi0\x00"
	shstr := "\x00.note.go.buildid\x00.text\x00.symtab\x00.strtab\x00.shstrtab\x00"
	name := func(s string) uint32 { return uint32(strings.Index(shstr, s+"\x00")) }

	progs := []elf.Prog64{
		{Type: uint32(elf.PT_NOTE), Flags: uint32(elf.PF_R), Off: noteOff, Vaddr: testKV + noteOff,
			Paddr: testKV + noteOff, Filesz: 24, Memsz: 24, Align: 4},
		{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X), Off: 0, Vaddr: testKV,
			Paddr: testKV, Filesz: codeOff + 16, Memsz: 0x1000, Align: SegmentAlign},
	}
	if edit != nil {
		progs = edit(progs)
	}
	sects := []elf.Section64{
		{},
		{Name: name(".note.go.buildid"), Type: uint32(elf.SHT_NOTE), Flags: uint64(elf.SHF_ALLOC),
			Addr: testKV + noteOff, Off: noteOff, Size: 24, Addralign: 4},
		{Name: name(".text"), Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC | elf.SHF_EXECINSTR),
			Addr: testKV + codeOff, Off: codeOff, Size: 16, Addralign: 16},
		{Name: name(".symtab"), Type: uint32(elf.SHT_SYMTAB), Off: symOff, Size: 3 * 24, Link: 4, Info: 1,
			Addralign: 8, Entsize: 24},
		{Name: name(".strtab"), Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(len(strtab)), Addralign: 1},
		{Name: name(".shstrtab"), Type: uint32(elf.SHT_STRTAB), Off: shstrOff, Size: uint64(len(shstr)), Addralign: 1},
	}
	hdr := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Entry: testKV + codeOff, Phoff: 64, Shoff: shOff, Ehsize: 64,
		Phentsize: phdrSize, Phnum: uint16(len(progs)),
		Shentsize: shdrSize, Shnum: uint16(len(sects)), Shstrndx: 5,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)

	b := make([]byte, shOff+len(sects)*shdrSize)
	put := func(off int, v any) {
		if _, err := binary.Encode(b[off:], le, v); err != nil {
			panic(err)
		}
	}
	put(0, hdr)
	put(64, progs)
	put(noteOff, []uint32{4, 8, goBuildIDType})
	copy(b[noteOff+12:], "Go\x00\x00abcdefgh")
	put(otherNoteOff, []uint32{4, 4, 3}) // NT_GNU_BUILD_ID
	copy(b[otherNoteOff+12:], "GNU\x00\x01\x02\x03\x04")
	copy(b[codeOff:], bytes.Repeat([]byte{0xcc}, 16))
	fn := elf.ST_INFO(elf.STB_GLOBAL, elf.STT_FUNC)
	put(symOff+24, elf.Sym64{Name: 1, Info: fn, Shndx: 2, Value: testKV + codeOff + 8, Size: 8})
	put(symOff+48, elf.Sym64{Name: 11, Info: fn, Shndx: 2, Value: testKV + codeOff, Size: 8})
	copy(b[strOff:], strtab)
	copy(b[shstrOff:], shstr)
	put(shOff, sects)
	return b
}

func symbolValue(t *testing.T, in []byte, name string) uint64 {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("symbol %s not found", name)
	return 0
}

func TestConvertGoBinary(t *testing.T) {
	in := goKernel(t)
	orig := bytes.Clone(in)
	out, info, err := Convert(in, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in, orig) {
		t.Fatal("Convert modified its input")
	}
	if len(out) != len(in) {
		t.Fatalf("output is %d bytes, input %d", len(out), len(in))
	}
	entry := uint32(symbolValue(t, in, "main.main") - testKV + testPB)
	checkImage(t, in, out, entry)
	if info.Entry != entry || info.MB2Entry != entry {
		t.Errorf("Info entries %#x/%#x, want %#x", info.Entry, info.MB2Entry, entry)
	}
	if info.PhysStart != testPB || info.Span() > MaxImageSpan {
		t.Errorf("Info span %#x-%#x", info.PhysStart, info.PhysEnd)
	}
}

func TestConvertTinyELF(t *testing.T) {
	in := tinyELF(nil)
	out, info, err := Convert(in, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, in, out, testPB+0x240)
	if info.MB2Offset != 0xc0 {
		t.Errorf("Multiboot2 header at %#x, want 0xc0 (first 64-byte boundary after the program headers)", info.MB2Offset)
	}
}

func TestConvertKeepsOtherNotes(t *testing.T) {
	other := elf.Prog64{Type: uint32(elf.PT_NOTE), Flags: uint32(elf.PF_R), Off: otherNoteOff,
		Vaddr: testKV + otherNoteOff, Paddr: testKV + otherNoteOff, Filesz: otherNoteLen, Memsz: otherNoteLen, Align: 8}
	in := tinyELF(func(p []elf.Prog64) []elf.Prog64 { return append([]elf.Prog64{other}, p...) })
	out, info, err := Convert(in, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	p := f.Progs[0]
	if p.Off != other.Off || p.Filesz != other.Filesz || p.Align != other.Align || p.Paddr != testPB+otherNoteOff {
		t.Errorf("other PT_NOTE changed: %+v", p.ProgHeader)
	}
	if r := [2]int{otherNoteOff, otherNoteOff + otherNoteLen}; !bytes.Equal(out[r[0]:r[1]], in[r[0]:r[1]]) {
		t.Error("other note's bytes changed")
	}
	if info.NoteOffset != 0x200 || f.Progs[1].Filesz != pvhNoteSize {
		t.Errorf("PVH note at %#x, want the Go note's place 0x200", info.NoteOffset)
	}
}

// checkImage checks out, converted from in, independently of Inspect.
func checkImage(t *testing.T, in, out []byte, entry uint32) {
	t.Helper()
	fin, err := elf.NewFile(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Progs) != len(fin.Progs) {
		t.Fatalf("%d program headers, want %d", len(f.Progs), len(fin.Progs))
	}

	var noteOff, noteLen uint64
	for i, p := range f.Progs {
		if p.Vaddr != fin.Progs[i].Vaddr || p.Off != fin.Progs[i].Off {
			t.Errorf("phdr %d: vaddr/offset changed", i)
		}
		switch p.Type {
		case elf.PT_LOAD:
			if want := p.Vaddr - testKV + testPB; p.Paddr != want {
				t.Errorf("PT_LOAD %d: paddr %#x, want %#x", i, p.Paddr, want)
			}
		case elf.PT_NOTE:
			noteOff, noteLen = p.Off, fin.Progs[i].Filesz
			want := []byte{4, 0, 0, 0, 4, 0, 0, 0, 18, 0, 0, 0, 'X', 'e', 'n', 0, 0, 0, 0, 0}
			le.PutUint32(want[16:], entry)
			if got := out[p.Off : p.Off+20]; !bytes.Equal(got, want) {
				t.Errorf("note bytes % x, want % x", got, want)
			}
			if p.Filesz != 20 || p.Memsz != 20 || p.Align != 4 {
				t.Errorf("PT_NOTE filesz/memsz/align %d/%d/%d, want 20/20/4", p.Filesz, p.Memsz, p.Align)
			}
			if want := p.Vaddr - testKV + testPB; p.Paddr != want {
				t.Errorf("PT_NOTE paddr %#x, want %#x", p.Paddr, want)
			}
		}
	}
	if noteLen == 0 {
		t.Fatal("no PT_NOTE")
	}

	mb2 := -1
	for off := 0; off+16 <= 32<<10; off += 8 {
		if le.Uint32(out[off:]) == 0xE85250D6 {
			mb2 = off
			break
		}
	}
	if mb2 < 0 {
		t.Fatal("no Multiboot2 magic in the first 32 KiB at an 8-byte aligned offset")
	}
	h := out[mb2:]
	length := le.Uint32(h[8:])
	if sum := le.Uint32(h) + le.Uint32(h[4:]) + length + le.Uint32(h[12:]); sum != 0 || le.Uint32(h[4:]) != 0 {
		t.Errorf("Multiboot2 header: arch %d, checksum sum %#x", le.Uint32(h[4:]), sum)
	}
	if le.Uint16(h[16:]) != 3 || le.Uint32(h[20:]) != 12 || le.Uint32(h[24:]) != entry {
		t.Errorf("entry tag % x, want type 3 size 12 entry %#x", h[16:28], entry)
	}
	if end := h[length-8 : length]; le.Uint32(end) != 0 || le.Uint32(end[4:]) != 8 {
		t.Errorf("end tag % x, want type 0 flags 0 size 8", end)
	}

	// Only the headers, the note and the Multiboot2 header may change.
	var ehdr elf.Header64
	if _, err := binary.Decode(in, le, &ehdr); err != nil {
		t.Fatal(err)
	}
	allowed := [][2]uint64{
		{ehdr.Phoff, ehdr.Phoff + uint64(ehdr.Phnum)*phdrSize},
		{ehdr.Shoff, ehdr.Shoff + uint64(ehdr.Shnum)*shdrSize},
		{noteOff, noteOff + noteLen},
		{uint64(mb2), uint64(mb2) + uint64(length)},
	}
	for i := range out {
		if out[i] == in[i] {
			continue
		}
		ok := false
		for _, r := range allowed {
			ok = ok || uint64(i) >= r[0] && uint64(i) < r[1]
		}
		if !ok {
			t.Fatalf("byte %#x changed outside the headers", i)
		}
	}
}

func TestInspectRejectsUnconverted(t *testing.T) {
	if _, err := Inspect(bytes.NewReader(tinyELF(nil))); err == nil {
		t.Fatal("Inspect accepted an unconverted image")
	}
}

func TestConvertErrors(t *testing.T) {
	good := tinyELF(nil)
	patch := func(off int, v ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[off:], v)
		return b
	}
	converted, _, err := Convert(good, testLayout)
	if err != nil {
		t.Fatal(err)
	}
	second := func(p []elf.Prog64, extra elf.Prog64) []elf.Prog64 { return append(p, extra) }
	load := elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_W), Align: SegmentAlign}

	tests := []struct {
		name   string
		in     []byte
		layout Layout
		want   string
	}{
		{"empty", nil, testLayout, "ELF header"},
		{"truncated header", good[:40], testLayout, "ELF header"},
		{"truncated tables", good[:0x2c0], testLayout, ""},
		{"not ELF", patch(0, 'M', 'Z'), testLayout, "not an ELF"},
		{"ELF32", patch(elf.EI_CLASS, byte(elf.ELFCLASS32)), testLayout, "not ELF64"},
		{"big endian", patch(elf.EI_DATA, byte(elf.ELFDATA2MSB)), testLayout, "little endian"},
		{"i386 machine", patch(18, byte(elf.EM_386), 0), testLayout, "not x86-64"},
		{"shared object", patch(16, byte(elf.ET_DYN), 0), testLayout, "static executable"},
		{"no symbol", good, Layout{testKV, testPB, "main.nope"}, "not found"},
		{"no entry symbol", good, Layout{testKV, testPB, ""}, "no entry symbol"},
		{"pbase below 1 MiB", good, Layout{testKV - testPB, 0, "main.main"}, "1 MiB"},
		{"bases not 2 MiB apart", good, Layout{testKV, testPB + 0x1000, "main.main"}, "2 MiB"},
		{"vaddr below base", good, Layout{testKV + 0x200000, testPB, "main.main"}, "below kernel base"},
		{"already converted", converted, testLayout, "Go build-id"},
		{"no PT_LOAD", tinyELF(func(p []elf.Prog64) []elf.Prog64 { return p[:1] }), testLayout, "no PT_LOAD"},
		{"no note", tinyELF(func(p []elf.Prog64) []elf.Prog64 { return p[1:] }), testLayout, "Go build-id"},
		{"small align", tinyELF(func(p []elf.Prog64) []elf.Prog64 { p[1].Align = 0x1000; return p }), testLayout, "p_align"},
		{"filesz past EOF", tinyELF(func(p []elf.Prog64) []elf.Prog64 { p[1].Filesz = 0x10000; p[1].Memsz = 0x10000; return p }),
			testLayout, "past end of file"},
		{"overlap", tinyELF(func(p []elf.Prog64) []elf.Prog64 {
			l := load
			l.Vaddr, l.Memsz = testKV+0x800, 0x1000
			return second(p, l)
		}), testLayout, "overlap"},
		{"span over 64 MiB", tinyELF(func(p []elf.Prog64) []elf.Prog64 {
			l := load
			l.Vaddr, l.Memsz = testKV+MaxImageSpan, 0x1000
			return second(p, l)
		}), testLayout, "boot stub maps"},
		{"reaches 4 GiB", tinyELF(func(p []elf.Prog64) []elf.Prog64 {
			l := load
			l.Vaddr, l.Memsz = testKV+0xffc00000, 0x200000
			return second(p, l)
		}), testLayout, "4 GiB"},
		{"entry not executable", tinyELF(func(p []elf.Prog64) []elf.Prog64 { p[1].Flags = uint32(elf.PF_R); return p }),
			testLayout, "executable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Convert(tt.in, tt.layout)
			if err == nil {
				t.Fatal("Convert succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestConvertGoBinaryErrors(t *testing.T) {
	in := goKernel(t)
	flip := func(off int, v ...byte) []byte {
		b := bytes.Clone(in)
		copy(b[off:], v)
		return b
	}
	for name, b := range map[string][]byte{
		"truncated": in[:len(in)/2],
		"e_machine": flip(18, byte(elf.EM_386), 0),
		"ELF32":     flip(elf.EI_CLASS, byte(elf.ELFCLASS32)),
	} {
		if _, _, err := Convert(b, testLayout); err == nil {
			t.Errorf("%s: Convert succeeded", name)
		}
	}
}

func TestInspectErrors(t *testing.T) {
	out, info, err := Convert(tinyELF(nil), testLayout)
	if err != nil {
		t.Fatal(err)
	}
	patch := func(off int64, v uint32) []byte {
		b := bytes.Clone(out)
		le.PutUint32(b[off:], v)
		return b
	}
	const noteAlign = 64 + phAlign // p_align of program header 0, the PT_NOTE
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"bad checksum", patch(info.MB2Offset+12, 0), "no Multiboot2 header"},
		{"entry mismatch", patch(info.MB2Offset+24, info.Entry+1), "differs"},
		{"note align 8", patch(int64(noteAlign), 8), "p_align"},
		{"no Xen note", patch(info.NoteOffset+8, 17), "no PVH entry note"},
		{"address tag", patch(info.MB2Offset+32, mb2TagAddress), "address tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Inspect(bytes.NewReader(tt.in))
			if err == nil {
				t.Fatal("Inspect succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}
