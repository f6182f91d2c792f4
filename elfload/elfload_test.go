package elfload

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// binDir holds the test programs, built once per test run (lazily).
var binDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "elfload-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// testBin is a test program: how to build it, once.
type testBin struct {
	name string
	cmd  []string // the build command; "$OUT" is the output path
	env  []string
	gcc  bool // needs gcc: skip when it is missing
	once sync.Once
	path string
	err  error
}

var (
	binGoStatic = &testBin{name: "go-static", env: []string{"CGO_ENABLED=0"},
		cmd: []string{"go", "build", "-o", "$OUT", "./testdata/goprog"}}
	binGoPIE = &testBin{name: "go-pie", env: []string{"CGO_ENABLED=0"},
		cmd: []string{"go", "build", "-buildmode=pie", "-ldflags=-linkmode=internal", "-o", "$OUT", "./testdata/goprog"}}
	binCStatic = &testBin{name: "c-static", gcc: true,
		cmd: []string{"gcc", "-O1", "-static", "-o", "$OUT", "testdata/cprog.c"}}
	binCStaticPIE = &testBin{name: "c-static-pie", gcc: true,
		cmd: []string{"gcc", "-O1", "-static-pie", "-o", "$OUT", "testdata/cprog.c"}}
	binCDynamic = &testBin{name: "c-dynamic", gcc: true,
		cmd: []string{"gcc", "-O1", "-o", "$OUT", "testdata/cprog.c"}}
	binRunner = &testBin{name: "runner", env: []string{"CGO_ENABLED=0"},
		cmd: []string{"go", "build", "-buildmode=pie", "-o", "$OUT", "./testdata/runner"}}
)

// get builds b (once) and returns its path, skipping the test when the
// toolchain is missing.
func (b *testBin) get(t testing.TB) string {
	t.Helper()
	if testing.Short() && b.gcc {
		t.Skip("-short: not building C programs")
	}
	if _, err := exec.LookPath(b.cmd[0]); err != nil {
		t.Skipf("%s not available: %v", b.cmd[0], err)
	}
	b.once.Do(func() {
		out := filepath.Join(binDir, b.name)
		args := make([]string, len(b.cmd))
		for i, a := range b.cmd {
			args[i] = strings.ReplaceAll(a, "$OUT", out)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), b.env...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, msg)
			return
		}
		b.path = out
	})
	if b.err != nil {
		if b.gcc {
			t.Skipf("cannot build %s: %v", b.name, b.err)
		}
		t.Fatalf("cannot build %s: %v", b.name, b.err)
	}
	return b.path
}

func readBin(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// load runs Load on exe (and interp, for PT_INTERP) with a fresh
// fakeMem and the test arguments.
func testArgs(exe []byte, mem *fakeMem, interps map[string][]byte) Args {
	a := Args{
		Exe:             bytes.NewReader(exe),
		ExePath:         "/bin/prog",
		Argv:            []string{"prog", "-x", "", "arg with spaces"},
		Envv:            []string{"HOME=/", "GOSV_VAR=hello", "EMPTY="},
		Mem:             mem,
		HWCap:           0x178bfbff,
		HWCap2:          0x2,
		SysinfoEhdr:     0x4000123000,
		MinSigStackSize: 1408,
	}
	for i := range a.Random {
		a.Random[i] = byte(0xa0 + i)
	}
	if interps != nil {
		a.OpenInterp = func(path string) (File, error) {
			b, ok := interps[path]
			if !ok {
				return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
			}
			return bytes.NewReader(b), nil
		}
	}
	return a
}

func mustLoad(t *testing.T, a Args) *Result {
	t.Helper()
	res, err := Load(a)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if m := a.Mem.(*fakeMem); m.misuse != nil {
		t.Fatalf("Load misused Memory: %v", m.misuse)
	}
	return res
}

// refLoad is a PT_LOAD as a reference tool (readelf, or debug/elf)
// reports it.
type refLoad struct {
	off, vaddr, filesz, memsz uint64
	prot                      Prot
}

// readelfLoads parses `readelf -lW`'s LOAD lines.
var readelfLoad = regexp.MustCompile(`(?m)^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+([RWE ]+?)\s+0x[0-9a-f]+\s*$`)

// referenceLoads returns the PT_LOAD segments of the file at path (or
// of img) according to readelf when it is installed, checked against
// debug/elf, and according to debug/elf otherwise.
func referenceLoads(t *testing.T, path string, img []byte) []refLoad {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("debug/elf: %v", err)
	}
	var std []refLoad
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		var prot Prot
		if p.Flags&elf.PF_R != 0 {
			prot |= ProtRead
		}
		if p.Flags&elf.PF_W != 0 {
			prot |= ProtWrite
		}
		if p.Flags&elf.PF_X != 0 {
			prot |= ProtExec
		}
		std = append(std, refLoad{p.Off, p.Vaddr, p.Filesz, p.Memsz, prot})
	}
	if path == "" {
		return std
	}
	if _, err := exec.LookPath("readelf"); err != nil {
		return std
	}
	out, err := exec.Command("readelf", "-lW", path).Output()
	if err != nil {
		t.Fatalf("readelf: %v", err)
	}
	var re []refLoad
	for _, m := range readelfLoad.FindAllStringSubmatch(string(out), -1) {
		var v [4]uint64
		for i := range v {
			v[i], _ = strconv.ParseUint(m[i+1], 0, 64)
		}
		var prot Prot
		for _, c := range m[5] {
			switch c {
			case 'R':
				prot |= ProtRead
			case 'W':
				prot |= ProtWrite
			case 'E':
				prot |= ProtExec
			}
		}
		re = append(re, refLoad{v[0], v[1], v[2], v[3], prot})
	}
	if fmt.Sprint(re) != fmt.Sprint(std) {
		t.Fatalf("readelf and debug/elf disagree:\n%v\n%v", re, std)
	}
	return re
}

// checkImage checks that img's PT_LOAD segments are in mem at bias:
// file bytes, zero bss, protections.
func checkImage(t *testing.T, mem *fakeMem, loads []refLoad, img []byte, bias uint64) {
	t.Helper()
	for i, p := range loads {
		got, err := mem.read(p.vaddr+bias, p.filesz)
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if !bytes.Equal(got, img[p.off:p.off+p.filesz]) {
			t.Errorf("segment %d at %#x: file bytes differ", i, p.vaddr+bias)
		}
		bss, err := mem.read(p.vaddr+bias+p.filesz, p.memsz-p.filesz)
		if err != nil {
			t.Fatalf("segment %d bss: %v", i, err)
		}
		if n := bytes.IndexFunc(bss, func(r rune) bool { return r != 0 }); n >= 0 {
			t.Errorf("segment %d: bss byte at %#x is not zero", i, p.vaddr+bias+p.filesz+uint64(n))
		}
		for pg := pageDown(p.vaddr, fakePage); pg < p.vaddr+p.memsz; pg += fakePage {
			prot, ok := mem.prot(pg + bias)
			if !ok {
				t.Fatalf("segment %d: page %#x not mapped", i, pg+bias)
			}
			shared := false
			for j, q := range loads {
				if j != i && pageDown(q.vaddr, fakePage) <= pg && pg < q.vaddr+q.memsz {
					shared = true
				}
			}
			if prot != p.prot && !(shared && prot&p.prot == p.prot) {
				t.Errorf("segment %d: page %#x is %v, want %v", i, pg+bias, prot, p.prot)
			}
		}
	}
}

// stackView is the initial stack read back from memory.
type stackView struct {
	argc       uint64
	argv, envp []string
	argvPtrs   []uint64
	auxv       []AuxEntry
	aux        map[uint64]uint64
}

func readCString(t *testing.T, mem *fakeMem, addr uint64) string {
	t.Helper()
	var s []byte
	for {
		b, err := mem.read(addr, 1)
		if err != nil {
			t.Fatalf("string at %#x: %v", addr, err)
		}
		if b[0] == 0 {
			return string(s)
		}
		s = append(s, b[0])
		addr++
		if len(s) > 1<<20 {
			t.Fatalf("unterminated string")
		}
	}
}

func readStack(t *testing.T, mem *fakeMem, sp uint64) *stackView {
	t.Helper()
	word := func(a uint64) uint64 {
		b, err := mem.read(a, 8)
		if err != nil {
			t.Fatalf("stack word %#x: %v", a, err)
		}
		return binary.LittleEndian.Uint64(b)
	}
	v := &stackView{argc: word(sp), aux: map[uint64]uint64{}}
	a := sp + 8
	for i := uint64(0); i < v.argc; i++ {
		p := word(a)
		v.argvPtrs = append(v.argvPtrs, p)
		v.argv = append(v.argv, readCString(t, mem, p))
		a += 8
	}
	if word(a) != 0 {
		t.Fatalf("argv[argc] is not NULL")
	}
	for a += 8; word(a) != 0; a += 8 {
		v.envp = append(v.envp, readCString(t, mem, word(a)))
	}
	for a += 8; ; a += 16 {
		e := AuxEntry{word(a), word(a + 8)}
		v.auxv = append(v.auxv, e)
		if _, dup := v.aux[e.Type]; dup {
			t.Errorf("auxv type %d appears twice", e.Type)
		}
		v.aux[e.Type] = e.Value
		if e.Type == AT_NULL {
			break
		}
		if len(v.auxv) > 64 {
			t.Fatalf("auxv not terminated")
		}
	}
	return v
}

// checkStack reads the stack back and checks it against a and res.
// phdrs is the program's program header table as in the file.
func checkStack(t *testing.T, mem *fakeMem, a Args, res *Result, phdrs []byte) *stackView {
	t.Helper()
	sp := res.StackPointer
	if sp%16 != 0 {
		t.Errorf("stack pointer %#x is not 16-byte aligned", sp)
	}
	if sp < res.StackStart || sp >= res.StackEnd {
		t.Fatalf("stack pointer %#x outside the stack %#x-%#x", sp, res.StackStart, res.StackEnd)
	}
	if p, _ := mem.prot(res.StackStart); p != ProtRead|ProtWrite {
		t.Errorf("stack is %v", p)
	}
	if p, ok := mem.prot(res.StackStart - fakePage); !ok || p != 0 {
		t.Errorf("stack guard page: mapped %v, %v", ok, p)
	}
	top, _ := mem.read(res.StackEnd-8, 8)
	if !bytes.Equal(top, make([]byte, 8)) {
		t.Errorf("stack does not end with 8 zero bytes: %x", top)
	}
	v := readStack(t, mem, sp)
	wantArgv := a.Argv
	if len(wantArgv) == 0 {
		wantArgv = []string{""}
	}
	if fmt.Sprintf("%q", v.argv) != fmt.Sprintf("%q", wantArgv) || v.argc != uint64(len(wantArgv)) {
		t.Errorf("argc %d argv %q, want %q", v.argc, v.argv, wantArgv)
	}
	if fmt.Sprintf("%q", v.envp) != fmt.Sprintf("%q", a.Envv) {
		t.Errorf("envp %q, want %q", v.envp, a.Envv)
	}
	// Strings: argv then envp, contiguous, in [ArgStart, EnvEnd).
	if len(v.argvPtrs) > 0 && v.argvPtrs[0] != res.ArgStart {
		t.Errorf("argv[0] at %#x, ArgStart %#x", v.argvPtrs[0], res.ArgStart)
	}
	args, _ := mem.read(res.ArgStart, res.ArgEnd-res.ArgStart)
	if want := strings.Join(wantArgv, "\x00") + "\x00"; string(args) != want {
		t.Errorf("[ArgStart, ArgEnd) = %q, want %q", args, want)
	}
	env, _ := mem.read(res.EnvStart, res.EnvEnd-res.EnvStart)
	if want := strings.Join(a.Envv, "\x00") + "\x00"; len(a.Envv) > 0 && string(env) != want {
		t.Errorf("[EnvStart, EnvEnd) = %q, want %q", env, want)
	}

	pagesz := a.PageSize
	if pagesz == 0 {
		pagesz = 4096
	}
	want := map[uint64]uint64{
		AT_PHDR: res.Phdr, AT_PHENT: 56, AT_PHNUM: res.Phnum, AT_PAGESZ: pagesz,
		AT_BASE: res.InterpBase, AT_FLAGS: 0, AT_ENTRY: res.ExeEntry,
		AT_UID: 0, AT_EUID: 0, AT_GID: 0, AT_EGID: 0, AT_SECURE: 0,
		AT_HWCAP: a.HWCap, AT_HWCAP2: a.HWCap2, AT_CLKTCK: 100, AT_NULL: 0,
	}
	if a.SysinfoEhdr != 0 {
		want[AT_SYSINFO_EHDR] = a.SysinfoEhdr
	}
	if a.MinSigStackSize != 0 {
		want[AT_MINSIGSTKSZ] = a.MinSigStackSize
	}
	for typ, val := range want {
		if got, ok := v.aux[typ]; !ok || got != val {
			t.Errorf("auxv[%d] = %#x (present %v), want %#x", typ, got, ok, val)
		}
	}
	if len(v.aux) != len(want)+3 {
		t.Errorf("auxv has %d entries: %v", len(v.aux), v.auxv)
	}
	if last := v.auxv[len(v.auxv)-1]; last.Type != AT_NULL {
		t.Errorf("auxv does not end with AT_NULL")
	}
	if fmt.Sprint(v.auxv) != fmt.Sprint(res.Auxv) {
		t.Errorf("stack auxv %v, Result.Auxv %v", v.auxv, res.Auxv)
	}
	rnd, err := mem.read(v.aux[AT_RANDOM], 16)
	if err != nil || !bytes.Equal(rnd, a.Random[:]) {
		t.Errorf("AT_RANDOM %#x: %x (%v), want %x", v.aux[AT_RANDOM], rnd, err, a.Random)
	}
	if s := readCString(t, mem, v.aux[AT_EXECFN]); s != a.ExePath {
		t.Errorf("AT_EXECFN = %q, want %q", s, a.ExePath)
	}
	if s := readCString(t, mem, v.aux[AT_PLATFORM]); s != "x86_64" {
		t.Errorf("AT_PLATFORM = %q", s)
	}
	for _, typ := range []uint64{AT_RANDOM, AT_EXECFN, AT_PLATFORM} {
		if p := v.aux[typ]; p <= sp || p >= res.StackEnd {
			t.Errorf("auxv[%d] = %#x is not on the stack above RSP", typ, p)
		}
	}
	// AT_PHDR points at the program headers.
	got, err := mem.read(res.Phdr, uint64(len(phdrs)))
	if err != nil || !bytes.Equal(got, phdrs) {
		t.Errorf("AT_PHDR %#x does not hold the program headers (%v)", res.Phdr, err)
	}
	return v
}

// checkSegments checks Result.Segments against the memory: sorted,
// disjoint, protections as listed, and everything mapped listed.
func checkSegments(t *testing.T, mem *fakeMem, res *Result) {
	t.Helper()
	var total uint64
	for i, s := range res.Segments {
		if s.Start >= s.End || s.Start%fakePage != 0 || s.End%fakePage != 0 {
			t.Errorf("segment %d %#x-%#x malformed", i, s.Start, s.End)
		}
		if i > 0 && s.Start < res.Segments[i-1].End {
			t.Errorf("segments %d and %d overlap or are unsorted", i-1, i)
		}
		for _, a := range []uint64{s.Start, s.End - fakePage} {
			if p, ok := mem.prot(a); !ok || p != s.Prot {
				t.Errorf("segment %d %#x-%#x %v: page %#x is %v (mapped %v)", i, s.Start, s.End, s.Prot, a, p, ok)
			}
		}
		total += s.End - s.Start
	}
	if m := mem.mappedBytes(); m != total {
		t.Errorf("Segments cover %#x bytes, memory has %#x mapped", total, m)
	}
}

// phdrTable returns img's program header table.
func phdrTable(img []byte) []byte {
	phoff := binary.LittleEndian.Uint64(img[offPhoff:])
	n := uint64(binary.LittleEndian.Uint16(img[offPhnum:]))
	return img[phoff : phoff+n*phdrSize]
}

// fileEntry returns e_entry.
func fileEntry(img []byte) uint64 { return binary.LittleEndian.Uint64(img[offEntry:]) }

// checkProgram loads the real program at path (and its interpreter from
// the host) and checks everything.
func checkProgram(t *testing.T, path string, wantType elf.Type, wantInterp bool) {
	img := readBin(t, path)
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != wantType {
		t.Skipf("%s is %v, want %v", path, f.Type, wantType)
	}
	var interpPath string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			p.ReadAt(b, 0)
			interpPath = string(bytes.TrimRight(b, "\x00"))
		}
	}
	if (interpPath != "") != wantInterp {
		t.Skipf("%s: interpreter %q", path, interpPath)
	}
	mem := newFakeMem()
	interps := map[string][]byte{}
	var interpImg []byte
	if interpPath != "" {
		interpImg, err = os.ReadFile(interpPath)
		if err != nil {
			t.Skipf("host interpreter: %v", err)
		}
		interps[interpPath] = interpImg
	}
	a := testArgs(img, mem, interps)
	a.ExePath = path
	res := mustLoad(t, a)

	loads := referenceLoads(t, path, img)
	var bias uint64
	if wantType == elf.ET_DYN {
		bias = DefaultPIEBase - pageDown(loads[0].vaddr, 4096)
	}
	if res.LoadBias != bias {
		t.Errorf("LoadBias = %#x, want %#x", res.LoadBias, bias)
	}
	checkImage(t, mem, loads, img, bias)
	if want := fileEntry(img) + bias; res.ExeEntry != want {
		t.Errorf("ExeEntry = %#x, want %#x", res.ExeEntry, want)
	}
	last := loads[len(loads)-1]
	if want := (last.vaddr + last.memsz + bias + 4095) &^ 4095; res.Brk != want {
		t.Errorf("Brk = %#x, want %#x", res.Brk, want)
	}
	if interpPath != "" {
		iloads := referenceLoads(t, interpPath, interpImg)
		if res.InterpBase == 0 || res.InterpBase%4096 != 0 {
			t.Fatalf("InterpBase = %#x", res.InterpBase)
		}
		checkImage(t, mem, iloads, interpImg, res.InterpBase)
		if want := fileEntry(interpImg) + res.InterpBase; res.Entry != want {
			t.Errorf("Entry = %#x, want the interpreter's %#x", res.Entry, want)
		}
		if res.Interp != interpPath {
			t.Errorf("Interp = %q", res.Interp)
		}
	} else if res.Entry != res.ExeEntry || res.InterpBase != 0 {
		t.Errorf("Entry %#x ExeEntry %#x InterpBase %#x", res.Entry, res.ExeEntry, res.InterpBase)
	}
	// The program headers, as PT_PHDR or the first segment place them.
	if res.Phnum != uint64(len(f.Progs)) || res.Phent != 56 {
		t.Errorf("Phnum %d Phent %d", res.Phnum, res.Phent)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_PHDR && res.Phdr != p.Vaddr+bias {
			t.Errorf("Phdr = %#x, want PT_PHDR's %#x", res.Phdr, p.Vaddr+bias)
		}
	}
	checkStack(t, mem, a, res, phdrTable(img))
	checkSegments(t, mem, res)
	for _, s := range res.Segments {
		t.Logf("%#x-%#x %v %#x %s", s.Start, s.End, s.Prot, s.Offset, s.Name)
	}
}

func TestGoStatic(t *testing.T) {
	checkProgram(t, binGoStatic.get(t), elf.ET_EXEC, false)
}

// TestGoPIE loads a Go PIE. The Go linker makes PIEs that ask for the
// dynamic linker (for their relocations) even without cgo: ET_DYN with
// PT_INTERP, linked at 0x400000.
func TestGoPIE(t *testing.T) {
	checkProgram(t, binGoPIE.get(t), elf.ET_DYN, true)
}

func TestCStatic(t *testing.T) {
	checkProgram(t, binCStatic.get(t), elf.ET_EXEC, false)
}

// TestStaticPIE loads a static-PIE: ET_DYN without PT_INTERP. Go cannot
// make one with its internal linker (TestGoPIE), so it comes from gcc.
func TestStaticPIE(t *testing.T) {
	checkProgram(t, binCStaticPIE.get(t), elf.ET_DYN, false)
}

func TestCDynamic(t *testing.T) {
	checkProgram(t, binCDynamic.get(t), elf.ET_DYN, true)
}

// TestSmall loads the hand-made programs and checks them the same way.
func TestSmall(t *testing.T) {
	for _, tc := range []struct {
		name   string
		e      *telf
		bias   uint64
		phdr   uint64 // expected AT_PHDR; 0: a copy on the stack
		interp bool
	}{
		{"exec-phdrs-nowhere", smallExec(), 0, 0, false},
		{"exec-shared-page", smallExecHdr(), 0, 0x400040, false},
		{"static-pie", smallPIE(), DefaultPIEBase, DefaultPIEBase + 0x40, false},
		{"dynamic", smallDyn(), DefaultPIEBase, DefaultPIEBase + 0x40, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.e.build()
			interp := smallInterp().build()
			mem := newFakeMem()
			a := testArgs(img, mem, map[string][]byte{"/lib/ld.so": interp})
			res := mustLoad(t, a)
			checkImage(t, mem, referenceLoads(t, "", img), img, tc.bias)
			if res.LoadBias != tc.bias {
				t.Errorf("LoadBias = %#x, want %#x", res.LoadBias, tc.bias)
			}
			if tc.phdr != 0 && res.Phdr != tc.phdr {
				t.Errorf("Phdr = %#x, want %#x", res.Phdr, tc.phdr)
			}
			if tc.phdr == 0 && (res.Phdr < res.StackPointer || res.Phdr >= res.StackEnd) {
				t.Errorf("Phdr = %#x, want a copy on the stack", res.Phdr)
			}
			if tc.interp {
				checkImage(t, mem, referenceLoads(t, "", interp), interp, res.InterpBase)
				if res.Entry != res.InterpBase+0x1000 {
					t.Errorf("Entry = %#x, want the interpreter's", res.Entry)
				}
			} else if res.Entry != tc.e.entry+tc.bias {
				t.Errorf("Entry = %#x, want %#x", res.Entry, tc.e.entry+tc.bias)
			}
			checkStack(t, mem, a, res, phdrTable(img))
			checkSegments(t, mem, res)
		})
	}
}

// TestSharedPage checks the page shared by code and data: one mapping,
// both segments' bytes, both permissions, and the segment list.
func TestSharedPage(t *testing.T) {
	mem := newFakeMem()
	img := smallExecHdr().build()
	res := mustLoad(t, testArgs(img, mem, nil))
	want := []Segment{
		{0x400000, 0x401000, ProtRead, "/bin/prog", 0},
		{0x401000, 0x402000, ProtRead | ProtWrite | ProtExec, "/bin/prog", 0x1000},
		{0x402000, 0x403000, ProtRead | ProtWrite, "/bin/prog", 0x2000},
	}
	if got := res.Segments[:3]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Segments = %v, want %v", got, want)
	}
	if !res.ExecStack {
		t.Errorf("ExecStack not noted")
	}
	// bss past the data's file bytes, in the data's last page, is zero
	// although the file has 0xee bytes there.
	b, _ := mem.read(0x401800+0x900, 0x700)
	if !bytes.Equal(b, make([]byte, 0x700)) {
		t.Errorf("bss not zero")
	}
}

// TestBssPages checks a bss reaching pages past the file data: they are
// anonymous in the segment list.
func TestBssPages(t *testing.T) {
	mem := newFakeMem()
	res := mustLoad(t, testArgs(smallExec().build(), mem, nil))
	want := []Segment{
		{0x401000, 0x402000, ProtRead | ProtExec, "/bin/prog", 0x1000},
		{0x402000, 0x403000, ProtRead | ProtWrite, "/bin/prog", 0x2000},
		{0x403000, 0x405000, ProtRead | ProtWrite, "", 0},
	}
	if got := res.Segments[:3]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Segments = %v, want %v", got, want)
	}
	if res.Brk != 0x405000 {
		t.Errorf("Brk = %#x", res.Brk)
	}
	if res.ExecStack {
		t.Errorf("ExecStack set for a RW PT_GNU_STACK")
	}
}

// TestHoles loads an ET_DYN with a hole between its segments: the hole
// is given back.
func TestHoles(t *testing.T) {
	e := smallPIE()
	e.segs[3].vaddr = 0x100000
	mem := newFakeMem()
	res := mustLoad(t, testArgs(e.build(), mem, nil))
	if _, ok := mem.prot(DefaultPIEBase + 0x2000); ok {
		t.Errorf("hole is mapped")
	}
	if _, ok := mem.prot(DefaultPIEBase + 0x100000); !ok {
		t.Errorf("data is not mapped")
	}
	checkSegments(t, mem, res)
}

// TestPlacement checks hints: PIEBase and InterpBase are honoured when
// free, and Map's choice is taken when not.
func TestPlacement(t *testing.T) {
	mem := newFakeMem()
	a := testArgs(smallDyn().build(), mem, map[string][]byte{"/lib/ld.so": smallInterp().build()})
	a.PIEBase = 0x10000000
	a.InterpBase = 0x20000000
	a.StackTop = 0x30000000
	a.StackSize = 1 << 20
	res := mustLoad(t, a)
	if res.LoadBias != 0x10000000 || res.InterpBase != 0x20000000 || res.StackEnd != 0x30000000 {
		t.Errorf("bias %#x interp %#x stack end %#x", res.LoadBias, res.InterpBase, res.StackEnd)
	}
	if res.StackEnd-res.StackStart != 1<<20 {
		t.Errorf("stack %#x-%#x", res.StackStart, res.StackEnd)
	}

	// Occupied hints: the fake searches down from 0x7f0000000000.
	mem = newFakeMem()
	mem.Map(DefaultPIEBase, 0x10000, true)
	mem.Map(DefaultStackTop-0x10000, 0x10000, true)
	a = testArgs(smallPIE().build(), mem, nil)
	res = mustLoad(t, a)
	if res.LoadBias == DefaultPIEBase || res.LoadBias%4096 != 0 {
		t.Errorf("LoadBias = %#x", res.LoadBias)
	}
	checkImage(t, mem, referenceLoads(t, "", smallPIE().build()), smallPIE().build(), res.LoadBias)
	checkStack(t, mem, a, res, phdrTable(smallPIE().build()))
}

// TestPageSize loads with 8 KiB pages: AT_PAGESZ follows, mappings are
// 8 KiB-aligned, and segments must be congruent modulo 8 KiB.
func TestPageSize(t *testing.T) {
	e := smallExec()
	e.segs[0].vaddr, e.segs[0].off = 0x403000, 0x1000
	e.segs[1].vaddr, e.segs[1].off = 0x406000, 0x2000
	e.entry = 0x403000
	img := e.build()
	mem := newFakeMem()
	a := testArgs(img, mem, nil)
	a.PageSize = 8192
	res := mustLoad(t, a)
	checkStack(t, mem, a, res, phdrTable(img))
	checkImage(t, mem, referenceLoads(t, "", img), img, 0)
	checkSegments(t, mem, res)
	for _, s := range res.Segments {
		if s.Start%8192 != 0 || s.End%8192 != 0 {
			t.Errorf("segment %#x-%#x not 8 KiB aligned", s.Start, s.End)
		}
	}
	if res.Brk%8192 != 0 {
		t.Errorf("Brk %#x", res.Brk)
	}

	// Congruent modulo 4 KiB, not 8 KiB.
	e.segs[1].vaddr = 0x407000
	a = testArgs(e.build(), newFakeMem(), nil)
	a.PageSize = 8192
	_, err := Load(a)
	if !errors.Is(err, ErrNotExecutable) || !strings.Contains(err.Error(), "modulo the 0x2000 page size") {
		t.Fatalf("incongruent modulo 8 KiB: %v", err)
	}

	// Page 0 is 8 KiB now: 0x1000 is in it.
	e = smallExec()
	e.segs[0].vaddr, e.segs[0].off, e.entry = 0x1000, 0x1000, 0x1000
	e.segs[1].vaddr, e.segs[1].off = 0x4000, 0x2000
	a = testArgs(e.build(), newFakeMem(), nil)
	if _, err := Load(a); err != nil {
		t.Fatalf("4 KiB pages: %v", err)
	}
	a = testArgs(e.build(), newFakeMem(), nil)
	a.PageSize = 8192
	if _, err := Load(a); !errors.Is(err, ErrNotExecutable) || !strings.Contains(err.Error(), "would map page 0 (page size 0x2000)") {
		t.Fatalf("page 0 with 8 KiB pages: %v", err)
	}
}

// TestArgvEmpty: argc 0 becomes one empty argument, as on Linux.
func TestArgvEmpty(t *testing.T) {
	mem := newFakeMem()
	a := testArgs(smallExec().build(), mem, nil)
	a.Argv, a.Envv = nil, nil
	res := mustLoad(t, a)
	v := checkStack(t, mem, a, res, phdrTable(smallExec().build()))
	if v.argc != 1 || v.argv[0] != "" || len(v.envp) != 0 {
		t.Errorf("argc %d argv %q envp %q", v.argc, v.argv, v.envp)
	}
}

// TestStackLayout checks the alignment for every parity of the pointer
// count and string length, and the order of things on the stack.
func TestStackLayout(t *testing.T) {
	img := smallExecHdr().build()
	for n := 0; n < 4; n++ {
		for l := 0; l < 17; l++ {
			mem := newFakeMem()
			a := testArgs(img, mem, nil)
			a.Argv = a.Argv[:n]
			a.Envv = []string{strings.Repeat("e", l)}
			a.ExePath = strings.Repeat("p", 17-l)
			res := mustLoad(t, a)
			checkStack(t, mem, a, res, phdrTable(img))
			rnd := res.Auxv[14].Value
			if res.Auxv[14].Type != AT_RANDOM || rnd%16 != 0 {
				t.Errorf("AT_RANDOM at %#x", rnd)
			}
			// Strings sit right below the final 8 zero bytes, AT_EXECFN last.
			if execfn := res.Auxv[16].Value; execfn+uint64(len(a.ExePath))+1 != res.StackEnd-8 {
				t.Errorf("AT_EXECFN at %#x, stack end %#x", execfn, res.StackEnd)
			}
			if res.EnvEnd != res.Auxv[16].Value {
				t.Errorf("envp strings end at %#x, AT_EXECFN at %#x", res.EnvEnd, res.Auxv[16].Value)
			}
		}
	}
}

// TestUndo makes each Memory call fail in turn: Load must fail and
// leave nothing mapped.
func TestUndo(t *testing.T) {
	cases := map[string]func() (Args, *fakeMem){
		"exec": func() (Args, *fakeMem) {
			m := newFakeMem()
			return testArgs(smallExecHdr().build(), m, nil), m
		},
		"dynamic": func() (Args, *fakeMem) {
			m := newFakeMem()
			e := smallDyn()
			e.segs[4].vaddr = 0x100000 // a hole to unmap
			return testArgs(e.build(), m, map[string][]byte{"/lib/ld.so": smallInterp().build()}), m
		},
	}
	for name, mk := range cases {
		a, m := mk()
		mustLoad(t, a)
		n := m.calls
		for i := 1; i <= n; i++ {
			a, m := mk()
			m.failAt = i
			res, err := Load(a)
			if err == nil || res != nil {
				t.Fatalf("%s: call %d failing: Load returned %v, %v", name, i, res, err)
			}
			if !errors.Is(err, errInjected) {
				t.Errorf("%s: call %d failing: %v does not wrap the injected error", name, i, err)
			}
			if b := m.mappedBytes(); b != 0 {
				t.Errorf("%s: call %d failing: %#x bytes left mapped: %v", name, i, b, m.vmas)
			}
		}
	}
}

func TestNewFileAndProt(t *testing.T) {
	img := smallExec().build()
	mem := newFakeMem()
	a := testArgs(nil, mem, nil)
	a.Exe = NewFile(bytes.NewReader(img), int64(len(img)))
	mustLoad(t, a)
	for p, want := range map[Prot]string{0: "---", ProtRead: "r--", ProtRead | ProtExec: "r-x", ProtRead | ProtWrite | ProtExec: "rwx"} {
		if p.String() != want {
			t.Errorf("Prot(%d) = %q, want %q", p, p, want)
		}
	}
}
