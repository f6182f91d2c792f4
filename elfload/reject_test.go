package elfload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

var le = binary.LittleEndian

// phIndex returns the index of img's n-th program header of type typ.
func phIndex(img []byte, typ uint32, n int) int {
	num := int(le.Uint16(img[offPhnum:]))
	phoff := le.Uint64(img[offPhoff:])
	for i := 0; i < num; i++ {
		if le.Uint32(img[phoff+uint64(i)*phdrSize:]) == typ {
			if n == 0 {
				return i
			}
			n--
		}
	}
	panic("no such program header")
}

// ph returns program header i of img, for in-place mutation.
func ph(img []byte, i int) []byte {
	return img[le.Uint64(img[offPhoff:])+uint64(i)*phdrSize:][:phdrSize]
}

// load returns img's n-th PT_LOAD header.
func load(img []byte, n int) []byte { return ph(img, phIndex(img, ptLoad, n)) }

// TestReject feeds ParseHeader broken files, made by mutating a real Go
// program and the hand-made ones: each must fail with ErrNotExecutable
// and a message saying why.
func TestReject(t *testing.T) {
	goImg := readBin(t, binGoStatic.get(t))
	bases := map[string]func() []byte{
		"go":   func() []byte { return bytes.Clone(goImg) },
		"exec": func() []byte { return smallExec().build() },
		"pie":  func() []byte { return smallPIE().build() },
		"dyn":  func() []byte { return smallDyn().build() },
	}
	interpWith := func(data []byte) []byte {
		e := smallDyn()
		e.segs[1].data = data
		return e.build()
	}
	cases := []struct {
		name, base string
		mut        func(b []byte) []byte
		want       string // in the message; "" means it must load
	}{
		{"magic", "go", func(b []byte) []byte { b[1] = 'X'; return b }, "bad ELF magic"},
		{"class32", "go", func(b []byte) []byte { b[4] = 1; return b }, "ELF class 1 (32-bit)"},
		{"class3", "go", func(b []byte) []byte { b[4] = 3; return b }, "ELF class 3,"},
		{"big-endian", "go", func(b []byte) []byte { b[5] = 2; return b }, "want little-endian"},
		{"ident-version", "go", func(b []byte) []byte { b[6] = 2; return b }, "identification version 2"},
		{"osabi", "go", func(b []byte) []byte { b[7] = 9; return b }, "OS ABI 9"},
		{"osabi-gnu", "exec", func(b []byte) []byte { b[7] = 3; return b }, ""},
		{"ET_REL", "go", func(b []byte) []byte { le.PutUint16(b[offType:], 1); return b }, "relocatable object (ET_REL)"},
		{"ET_CORE", "go", func(b []byte) []byte { le.PutUint16(b[offType:], 4); return b }, "core dump (ET_CORE)"},
		{"ET_NONE", "go", func(b []byte) []byte { le.PutUint16(b[offType:], 0); return b }, "e_type 0, want"},
		{"i386", "go", func(b []byte) []byte { le.PutUint16(b[offMachine:], 3); return b }, "machine 3, want EM_X86_64"},
		{"aarch64", "go", func(b []byte) []byte { le.PutUint16(b[offMachine:], 183); return b }, "machine 183,"},
		{"e_version", "go", func(b []byte) []byte { le.PutUint32(b[offVersion:], 0); return b }, "e_version 0"},
		{"phentsize", "go", func(b []byte) []byte { le.PutUint16(b[offPhentsize:], 32); return b }, "e_phentsize 32"},
		{"phnum-0", "go", func(b []byte) []byte { le.PutUint16(b[offPhnum:], 0); return b }, "no program headers"},
		{"phnum-xnum", "go", func(b []byte) []byte { le.PutUint16(b[offPhnum:], 0xffff); return b }, "PN_XNUM"},
		{"phnum-129", "go", func(b []byte) []byte { le.PutUint16(b[offPhnum:], 129); return b }, "129 program headers, more than 128"},
		{"phoff-outside", "go", func(b []byte) []byte { le.PutUint64(b[offPhoff:], uint64(len(b)-100)); return b }, "truncated: program headers"},
		{"phoff-wraps", "go", func(b []byte) []byte { le.PutUint64(b[offPhoff:], ^uint64(0)-8); return b }, "truncated: program headers"},
		{"empty-file", "go", func(b []byte) []byte { return b[:0] }, "truncated: 0 bytes"},
		{"short-header", "go", func(b []byte) []byte { return b[:40] }, "truncated: 40 bytes"},
		{"truncated-load", "go", func(b []byte) []byte { return b[:len(b)/2] }, "truncated: PT_LOAD"},
		{"filesz>memsz", "go", func(b []byte) []byte {
			p := load(b, 2)
			le.PutUint64(p[phMemsz:], le.Uint64(p[phFilesz:])-1)
			return b
		}, "exceeds p_memsz"},
		{"load-offset-wraps", "go", func(b []byte) []byte {
			p := load(b, 1)
			le.PutUint64(p[phOff:], ^uint64(0)-0xfff)
			return b
		}, "truncated: PT_LOAD 3"},
		{"memsz-wraps", "go", func(b []byte) []byte { le.PutUint64(load(b, 2)[phMemsz:], ^uint64(0)); return b }, "beyond the user address space"},
		{"vaddr-kernel-half", "exec", func(b []byte) []byte {
			p := load(b, 1)
			le.PutUint64(p[phVaddr:], 0xffff800000002000)
			return b
		}, "beyond the user address space"},
		{"vaddr-offset-congruence", "go", func(b []byte) []byte {
			p := load(b, 1)
			le.PutUint64(p[phVaddr:], le.Uint64(p[phVaddr:])+0x10)
			return b
		}, "differ modulo the page size"},
		{"page-0", "exec", func(b []byte) []byte {
			p := load(b, 0)
			le.PutUint64(p[phVaddr:], 0)
			le.PutUint64(b[offEntry:], 0x10)
			return b
		}, "would map page 0"},
		{"unsorted", "go", func(b []byte) []byte { le.PutUint64(load(b, 1)[phVaddr:], 0x300000); return b }, "not sorted"},
		{"overlap", "go", func(b []byte) []byte {
			p0, p1 := load(b, 0), load(b, 1)
			end := le.Uint64(p0[phVaddr:]) + le.Uint64(p0[phMemsz:])
			le.PutUint64(p1[phVaddr:], end&^0xfff) // congruent with offset 0x9f000
			return b
		}, "segments overlap"},
		{"no-load", "go", func(b []byte) []byte {
			for i := 0; i < 3; i++ {
				le.PutUint32(load(b, 0)[phType:], 4) // PT_NOTE
			}
			return b
		}, "no loadable"},
		{"only-empty-loads", "exec", func(b []byte) []byte {
			for i := 0; i < 2; i++ {
				le.PutUint64(load(b, i)[phFilesz:], 0)
				le.PutUint64(load(b, i)[phMemsz:], 0)
			}
			return b
		}, "no loadable"},
		{"span", "pie", func(b []byte) []byte {
			p := load(b, 2)
			le.PutUint64(p[phVaddr:], 1<<40+le.Uint64(p[phVaddr:]))
			return b
		}, "span 0x10000007000 bytes, more than 0x10000000000"},
		{"entry-outside", "go", func(b []byte) []byte { le.PutUint64(b[offEntry:], 0x300000); return b }, "entry point 0x300000"},
		{"entry-in-data", "exec", func(b []byte) []byte { le.PutUint64(b[offEntry:], 0x402000); return b }, "entry point 0x402000 is not inside an executable"},
		{"entry-in-bss", "exec", func(b []byte) []byte {
			le.PutUint64(load(b, 0)[phMemsz:], 0x800)
			le.PutUint64(b[offEntry:], 0x401400)
			return b
		}, "entry point 0x401400"},
		{"entry-pie-absolute", "pie", func(b []byte) []byte { le.PutUint64(b[offEntry:], DefaultPIEBase+0x1020); return b }, "entry point 0x555555555020"},
		{"interp-unterminated", "dyn", func(b []byte) []byte { return interpWith([]byte("/lib/ld.so")) }, "not NUL-terminated"},
		{"interp-inner-nul", "dyn", func(b []byte) []byte { return interpWith([]byte("/lib\x00ld.so\x00")) }, "has a NUL inside"},
		{"interp-empty", "dyn", func(b []byte) []byte { return interpWith([]byte{0}) }, "PT_INTERP path is empty"},
		{"interp-long", "dyn", func(b []byte) []byte {
			return interpWith(append(bytes.Repeat([]byte("a"), 4096), 0))
		}, "4097 bytes is longer than 4096"},
		{"interp-max", "dyn", func(b []byte) []byte {
			return interpWith(append(bytes.Repeat([]byte("a"), 4095), 0))
		}, "dynamically linked"}, // accepted by ParseHeader; no OpenInterp
		{"interp-outside", "dyn", func(b []byte) []byte {
			le.PutUint64(ph(b, phIndex(b, ptInterp, 0))[phOff:], uint64(len(b)))
			return b
		}, "truncated: PT_INTERP"},
		{"two-interps", "dyn", func(b []byte) []byte {
			e := smallDyn()
			e.segs = append(e.segs, tseg{typ: ptInterp, flags: pfR, vaddr: 0x800, data: []byte("/x\x00")})
			return e.build()
		}, "more than one PT_INTERP"},
		{"phdr-outside", "pie", func(b []byte) []byte {
			le.PutUint64(ph(b, phIndex(b, ptPhdr, 0))[phVaddr:], 0x100000)
			return b
		}, "PT_PHDR at 0x100000 is not inside"},
		{"two-phdrs", "go", func(b []byte) []byte {
			le.PutUint32(ph(b, phIndex(b, 4, 0))[phType:], ptPhdr) // the PT_NOTE
			return b
		}, "more than one PT_PHDR"},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.mut(bases[tc.base]())
			_, err := Load(testArgs(img, newFakeMem(), nil))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNotExecutable) {
				t.Fatalf("Load: %v, want ErrNotExecutable", err)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != "/bin/prog" {
				t.Errorf("Load: %#v is not a FormatError naming the file", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: %v\nwant a message containing %q", err, tc.want)
			}
			if other, dup := seen[err.Error()]; dup && !strings.HasPrefix(tc.name, "interp-") {
				t.Logf("same message as %s: %v", other, err)
			}
			seen[err.Error()] = tc.name
			t.Log(err)
		})
	}
}

// TestMessagesDistinct: the distinct failures the brief names (wrong
// class, wrong machine, truncation, overlap) read differently.
func TestMessagesDistinct(t *testing.T) {
	base := smallExec().build()
	msgs := map[string]bool{}
	for _, mut := range []func(b []byte) []byte{
		func(b []byte) []byte { b[4] = 1; return b },
		func(b []byte) []byte { le.PutUint16(b[offMachine:], 3); return b },
		func(b []byte) []byte { return b[:0x1050] },
		func(b []byte) []byte { le.PutUint64(load(b, 1)[phVaddr:], 0x401000); return b },
	} {
		img := mut(bytes.Clone(base))
		_, err := ParseHeader(bytes.NewReader(img), int64(len(img)))
		if err == nil {
			t.Fatal("accepted")
		}
		// Strip the numbers: the wording must differ.
		words := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return -1
			}
			return r
		}, err.Error())
		if msgs[words] {
			t.Errorf("message %q repeats", err)
		}
		msgs[words] = true
	}
}

func TestForbidden(t *testing.T) {
	kernel := Range{Start: 0x4000000000, End: 0x4040000000, Name: "the kernel"}
	// An ET_EXEC linked into the kernel's range.
	e := smallExec()
	e.segs[1].vaddr = 0x4000000000
	mem := newFakeMem()
	a := testArgs(e.build(), mem, nil)
	a.Forbidden = []Range{{Start: 0, End: 0x10000}, kernel}
	_, err := Load(a)
	const want = "elfload: segment 0x4000000000-0x4000003000 overlaps the kernel at 0x4000000000-0x4040000000: address range in use"
	if !errors.Is(err, ErrCollision) || err.Error() != want {
		t.Errorf("Load: %v\nwant %s", err, want)
	}
	if b := mem.mappedBytes(); b != 0 {
		t.Errorf("%#x bytes left mapped", b)
	}

	// Page 0-0xffff reserved, unnamed.
	e = smallExec()
	e.segs[0].vaddr, e.entry = 0x1000, 0x1000
	a = testArgs(e.build(), newFakeMem(), nil)
	a.Forbidden = []Range{{Start: 0, End: 0x10000}}
	if _, err := Load(a); !errors.Is(err, ErrCollision) || !strings.Contains(err.Error(), "overlaps a reserved range at 0x0-0x10000") {
		t.Errorf("Load: %v", err)
	}

	// ET_DYN and the stack are checked where they land.
	for _, r := range []Range{
		{Start: DefaultPIEBase + 0x5000, End: DefaultPIEBase + 0x6000},
		{Start: DefaultStackTop - 0x1000, End: DefaultStackTop},
	} {
		mem := newFakeMem()
		a := testArgs(smallPIE().build(), mem, nil)
		a.Forbidden = []Range{r}
		if _, err := Load(a); !errors.Is(err, ErrCollision) {
			t.Errorf("forbidden %#x-%#x: Load: %v", r.Start, r.End, err)
		}
		if b := mem.mappedBytes(); b != 0 {
			t.Errorf("%#x bytes left mapped", b)
		}
	}
}

// TestCollision: a fixed segment over an existing mapping fails, and
// Load leaves the address space as it found it.
func TestCollision(t *testing.T) {
	mem := newFakeMem()
	mem.Map(0x404000, 0x1000, true)
	_, err := Load(testArgs(smallExec().build(), mem, nil))
	if !errors.Is(err, ErrCollision) {
		t.Fatalf("Load: %v", err)
	}
	if len(mem.vmas) != 1 || mem.vmas[0] != (fakeVMA{0x404000, 0x405000, ProtRead | ProtWrite}) {
		t.Errorf("memory after a failed Load: %v", mem.vmas)
	}
}

func TestInterpErrors(t *testing.T) {
	dyn := smallDyn().build()
	garbage := []byte("#!/bin/sh\necho not an ELF file\n" + strings.Repeat("x", 100))
	for _, tc := range []struct {
		name    string
		interps map[string][]byte
		is      error
		want    string
	}{
		{"no-OpenInterp", nil, ErrNotExecutable, "/bin/prog: not a loadable executable: dynamically linked (interpreter /lib/ld.so)"},
		{"missing", map[string][]byte{}, fs.ErrNotExist, "opening interpreter /lib/ld.so"},
		{"garbage", map[string][]byte{"/lib/ld.so": garbage}, ErrNotExecutable, "interpreter /lib/ld.so: not a loadable executable: bad ELF magic"},
		{"exec", map[string][]byte{"/lib/ld.so": smallExec().build()}, ErrNotExecutable, "interpreter is not ET_DYN"},
		{"nested", map[string][]byte{"/lib/ld.so": dyn}, ErrNotExecutable, "interpreter itself names an interpreter (/lib/ld.so)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := newFakeMem()
			_, err := Load(testArgs(dyn, mem, tc.interps))
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: %v\nwant %v containing %q", err, tc.is, tc.want)
			}
			if b := mem.mappedBytes(); b != 0 {
				t.Errorf("%#x bytes left mapped", b)
			}
		})
	}
}

func TestBadArgs(t *testing.T) {
	img := smallExec().build()
	big := strings.Repeat("a", 100<<10)
	for _, tc := range []struct {
		name string
		mod  func(a *Args)
		is   error
	}{
		{"no-exe", func(a *Args) { a.Exe = nil }, ErrInvalid},
		{"no-mem", func(a *Args) { a.Mem = nil }, ErrInvalid},
		{"page-2k", func(a *Args) { a.PageSize = 2048 }, ErrInvalid},
		{"page-12k", func(a *Args) { a.PageSize = 12288 }, ErrInvalid},
		{"page-2g", func(a *Args) { a.PageSize = 2 << 30 }, ErrInvalid},
		{"stack-small", func(a *Args) { a.StackSize = 32 << 10 }, ErrInvalid},
		{"stack-unaligned", func(a *Args) { a.StackSize = 1<<20 + 1 }, ErrInvalid},
		{"pie-unaligned", func(a *Args) { a.PIEBase = 0x10000010 }, ErrInvalid},
		{"interp-base-high", func(a *Args) { a.InterpBase = 1 << 48 }, ErrInvalid},
		{"forbidden-empty", func(a *Args) { a.Forbidden = []Range{{Start: 5, End: 5}} }, ErrInvalid},
		{"argv-nul", func(a *Args) { a.Argv = []string{"a\x00b"} }, ErrInvalid},
		{"env-nul", func(a *Args) { a.Envv = []string{"A=\x00"} }, ErrInvalid},
		{"path-nul", func(a *Args) { a.ExePath = "/bin/\x00" }, ErrInvalid},
		{"arg-too-long", func(a *Args) { a.Argv = []string{strings.Repeat("a", MaxArgStrlen)} }, ErrArgsTooLong},
		{"path-too-long", func(a *Args) { a.ExePath = strings.Repeat("a", MaxArgStrlen) }, ErrArgsTooLong},
		{"path-over-quarter", func(a *Args) { a.StackSize = 64 << 10; a.ExePath = strings.Repeat("a", 20<<10) }, ErrArgsTooLong},
		{"args-too-long", func(a *Args) {
			a.Argv = nil
			for i := 0; i < 21; i++ { // 21 * 100 KiB > 2 MiB
				a.Argv = append(a.Argv, big)
			}
		}, ErrArgsTooLong},
		{"env-too-long-small-stack", func(a *Args) { a.StackSize = 64 << 10; a.Envv = []string{big[:16<<10]} }, ErrArgsTooLong},
		{"many-empty-args", func(a *Args) { a.StackSize = 64 << 10; a.Argv = make([]string, 2000) }, ErrArgsTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := newFakeMem()
			a := testArgs(img, mem, nil)
			tc.mod(&a)
			_, err := Load(a)
			if !errors.Is(err, tc.is) {
				t.Fatalf("Load: %v, want %v", err, tc.is)
			}
			if b := mem.mappedBytes(); b != 0 {
				t.Errorf("%#x bytes left mapped", b)
			}
			t.Log(err)
		})
	}

	// Just under the limits fits.
	mem := newFakeMem()
	a := testArgs(img, mem, nil)
	a.Argv = nil
	for i := 0; i < 20; i++ { // 20 * 100 KiB < 2 MiB
		a.Argv = append(a.Argv, big)
	}
	res := mustLoad(t, a)
	checkStack(t, mem, a, res, phdrTable(img))
	mem = newFakeMem()
	a = testArgs(img, mem, nil)
	a.StackSize = 64 << 10
	a.Argv = []string{big[:15<<10]}
	res = mustLoad(t, a)
	checkStack(t, mem, a, res, phdrTable(img))
}

// errReader fails every read.
type errReader struct{ size int64 }

var errIO = errors.New("disk on fire")

func (r errReader) ReadAt([]byte, int64) (int, error) { return 0, errIO }
func (r errReader) Size() int64                       { return r.size }

// shortReader claims a size but holds fewer bytes.
type shortReader struct {
	*bytes.Reader
	size int64
}

func (r shortReader) Size() int64 { return r.size }

func TestIOErrors(t *testing.T) {
	a := testArgs(nil, newFakeMem(), nil)
	a.Exe = errReader{1 << 20}
	if _, err := Load(a); !errors.Is(err, errIO) || errors.Is(err, ErrNotExecutable) {
		t.Errorf("Load: %v, want the I/O error", err)
	}
	img := smallExec().build()
	a = testArgs(img, newFakeMem(), nil)
	a.Exe = shortReader{bytes.NewReader(img[:0x1080]), int64(len(img))}
	mem := a.Mem.(*fakeMem)
	if _, err := Load(a); err == nil || errors.Is(err, ErrNotExecutable) {
		t.Errorf("Load of a file shorter than its size: %v", err)
	}
	if b := mem.mappedBytes(); b != 0 {
		t.Errorf("%#x bytes left mapped", b)
	}
}
