package elfload

import (
	"bytes"
	"debug/elf"
	"errors"
	"strings"
	"testing"
)

// Compact variants of the hand-made programs for the fuzzers' seeds:
// under 512 bytes each, with explicit file offsets instead of page
// padding. The fuzzer mutates and minimises whole inputs, so small seeds
// mean more executions.
func compactExec() []byte {
	return (&telf{typ: etExec, entry: 0x401100, segs: []tseg{
		{typ: ptLoad, flags: pfR | pfX, vaddr: 0x401100, off: 0x100, data: pattern(0x40, 1)},
		{typ: ptLoad, flags: pfR | pfW, vaddr: 0x402140, off: 0x140, data: pattern(0x20, 2), memsz: 0x2000},
		{typ: ptGNUStack, flags: pfR | pfW},
	}}).build()
}

func compactPIE(interp bool) []byte {
	segs := []tseg{
		{typ: ptPhdr, flags: pfR, vaddr: 0x40, phdr: true},
		{typ: ptLoad, flags: pfR, vaddr: 0, headers: true},
		{typ: ptLoad, flags: pfR | pfX, vaddr: 0x1180, off: 0x180, data: pattern(0x40, 3)},
		{typ: ptLoad, flags: pfR | pfW, vaddr: 0x21c0, off: 0x1c0, data: pattern(0x10, 4), memsz: 0x100},
	}
	if interp {
		segs = append(segs[:1], append([]tseg{{typ: ptInterp, flags: pfR, vaddr: 0x160, off: 0x160, data: []byte("/lib/ld.so\x00")}}, segs[1:]...)...)
	}
	return (&telf{typ: etDyn, entry: 0x1180, segs: segs}).build()
}

func compactInterp() []byte {
	return (&telf{typ: etDyn, entry: 0x1100, segs: []tseg{
		{typ: ptLoad, flags: pfR, vaddr: 0, headers: true},
		{typ: ptLoad, flags: pfR | pfX, vaddr: 0x1100, off: 0x100, data: pattern(0x40, 5)},
		{typ: ptLoad, flags: pfR | pfW, vaddr: 0x2140, off: 0x140, data: pattern(8, 6), memsz: 0x100},
	}}).build()
}

func fuzzSeeds() [][]byte {
	return [][]byte{compactExec(), compactPIE(false), compactPIE(true), compactInterp()}
}

// TestFuzzSeeds checks that the seeds load.
func TestFuzzSeeds(t *testing.T) {
	for i, s := range fuzzSeeds() {
		if len(s) > 512 {
			t.Errorf("seed %d is %d bytes", i, len(s))
		}
		mem := newFakeMem()
		a := testArgs(s, mem, map[string][]byte{"/lib/ld.so": compactInterp()})
		res := mustLoad(t, a)
		checkImage(t, mem, referenceLoads(t, "", s), s, res.LoadBias)
		checkStack(t, mem, a, res, phdrTable(s))
		checkSegments(t, mem, res)
	}
}

// FuzzParseHeader: ParseHeader never panics, and what it accepts keeps
// the promises Load relies on; it agrees with debug/elf on the program
// headers whenever debug/elf can read the file too.
func FuzzParseHeader(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !errors.Is(err, ErrNotExecutable) {
				t.Fatalf("error %v does not wrap ErrNotExecutable", err)
			}
			return
		}
		size := uint64(len(data))
		if n := len(h.Progs); n < 1 || n > MaxPhnum {
			t.Fatalf("%d program headers accepted", n)
		}
		if h.Type != etExec && h.Type != etDyn {
			t.Fatalf("type %d accepted", h.Type)
		}
		if len(h.Loads) == 0 || h.First >= h.End || h.End-h.First >= MaxSpan || h.End > UserTop {
			t.Fatalf("loads %d, span %#x-%#x", len(h.Loads), h.First, h.End)
		}
		var prevEnd uint64
		entryOK := false
		for i, p := range h.Loads {
			if p.Filesz > p.Memsz || p.Off+p.Filesz < p.Off || p.Off+p.Filesz > size ||
				p.Vaddr+p.Memsz < p.Vaddr || p.Vaddr+p.Memsz > UserTop || p.Vaddr%4096 != p.Off%4096 {
				t.Fatalf("PT_LOAD %d accepted: %+v", i, p)
			}
			if p.Vaddr < prevEnd {
				t.Fatalf("PT_LOAD %d overlaps or is unsorted: %+v", i, p)
			}
			if h.Type == etExec && p.Memsz > 0 && p.Vaddr < 4096 {
				t.Fatalf("page 0 accepted: %+v", p)
			}
			prevEnd = p.Vaddr + p.Memsz
			if p.Flags&pfX != 0 && h.Entry >= p.Vaddr && h.Entry < p.Vaddr+p.Filesz {
				entryOK = true
			}
		}
		if !entryOK {
			t.Fatalf("entry %#x accepted", h.Entry)
		}
		if len(h.Interp) >= MaxInterpPath || strings.IndexByte(h.Interp, 0) >= 0 {
			t.Fatalf("interpreter %q accepted", h.Interp)
		}
		ef, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			return // section headers etc., which ParseHeader ignores
		}
		if len(ef.Progs) != len(h.Progs) {
			t.Fatalf("debug/elf: %d program headers, ParseHeader %d", len(ef.Progs), len(h.Progs))
		}
		for i, p := range ef.Progs {
			q := h.Progs[i]
			if uint32(p.Type) != q.Type || uint32(p.Flags) != q.Flags || p.Off != q.Off ||
				p.Vaddr != q.Vaddr || p.Filesz != q.Filesz || p.Memsz != q.Memsz {
				t.Fatalf("program header %d: debug/elf %+v, ParseHeader %+v", i, p.ProgHeader, q)
			}
		}
		if uint16(ef.Type) != h.Type || ef.Entry != h.Entry {
			t.Fatalf("debug/elf type %v entry %#x", ef.Type, ef.Entry)
		}
	})
}

// FuzzLoad: Load never panics and never misuses Memory; a failure wraps
// one of the package's errors and leaves nothing mapped; a success
// leaves a consistent address space and a readable stack. Work is
// bounded by the input size (the fake memory maps terabytes for free).
func FuzzLoad(f *testing.F) {
	interp := compactInterp()
	for i, s := range fuzzSeeds() {
		f.Add(s, interp, uint8(i))
	}
	f.Add(compactPIE(true), []byte("#!/bin/sh\n"), uint8(0xe1))
	f.Add(compactPIE(true), compactPIE(true), uint8(0x13))
	f.Fuzz(func(t *testing.T, exe, interp []byte, sel uint8) {
		if len(exe) > 1<<16 || len(interp) > 1<<16 {
			return
		}
		mem := newFakeMem()
		a := Args{
			Exe:        bytes.NewReader(exe),
			ExePath:    "/fuzz",
			Argv:       []string{"fuzz", "a", "bc"}[:sel%4],
			Envv:       []string{"A=1", "B="}[:sel/4%3],
			OpenInterp: func(string) (File, error) { return bytes.NewReader(interp), nil },
			Mem:        mem,
			StackSize:  64 << 10,
			Forbidden: []Range{
				{Start: 0, End: 0x10000, Name: "the null guard"},
				{Start: 0x4000000000, End: 0x4040000000, Name: "the kernel"},
			},
		}
		if sel&0x20 != 0 {
			a.PageSize = 8192
		}
		if sel&0x40 != 0 {
			a.InterpBase = 0x7ff000000000
		}
		if sel&0x80 != 0 {
			a.PIEBase = 0x10000
		}
		res, err := Load(a)
		if mem.misuse != nil {
			t.Fatalf("Memory misused: %v (Load: %v)", mem.misuse, err)
		}
		if err != nil {
			if !errors.Is(err, ErrNotExecutable) && !errors.Is(err, ErrCollision) && !errors.Is(err, ErrArgsTooLong) {
				t.Fatalf("unexpected error %v", err)
			}
			if b := mem.mappedBytes(); b != 0 {
				t.Fatalf("failed Load (%v) left %#x bytes mapped: %v", err, b, mem.vmas)
			}
			return
		}
		checkSegments(t, mem, res)
		for _, s := range res.Segments {
			for _, r := range a.Forbidden {
				if s.Start < r.End && r.Start < s.End {
					t.Fatalf("segment %#x-%#x overlaps %s", s.Start, s.End, r.Name)
				}
			}
		}
		if p, ok := mem.prot(res.Entry); !ok || p&ProtExec == 0 {
			t.Fatalf("entry %#x is not executable (%v)", res.Entry, p)
		}
		if res.Brk%4096 != 0 || res.Brk < res.LoadBias {
			t.Fatalf("Brk %#x", res.Brk)
		}
		if res.StackPointer%16 != 0 || res.StackPointer < res.StackStart || res.StackPointer >= res.StackEnd {
			t.Fatalf("stack pointer %#x, stack %#x-%#x", res.StackPointer, res.StackStart, res.StackEnd)
		}
		v := readStack(t, mem, res.StackPointer)
		if want := max(len(a.Argv), 1); v.argc != uint64(want) || len(v.envp) != len(a.Envv) {
			t.Fatalf("argc %d envc %d", v.argc, len(v.envp))
		}
		if v.aux[AT_ENTRY] != res.ExeEntry || v.aux[AT_PHDR] != res.Phdr || v.aux[AT_BASE] != res.InterpBase {
			t.Fatalf("auxv %v, result %+v", v.auxv, res)
		}
		if _, err := mem.read(res.Phdr, res.Phnum*phdrSize); err != nil {
			t.Fatalf("AT_PHDR: %v", err)
		}
	})
}
