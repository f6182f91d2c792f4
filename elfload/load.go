package elfload

import (
	"errors"
	"fmt"
	"sort"
)

// Defaults for Args fields left zero.
const (
	DefaultPageSize  = 4096
	DefaultStackSize = 8 << 20
	// DefaultPIEBase is where Linux (without ASLR) puts ET_DYN programs:
	// 2/3 of the 47-bit user address space, page-aligned.
	DefaultPIEBase = 0x555555554000
	// DefaultStackTop is the end of the stack, as on Linux without ASLR
	// (the last user page stays unmapped).
	DefaultStackTop = 0x7ffffffff000
	// MaxArgStrlen bounds one argument or environment string, NUL
	// included (Linux's MAX_ARG_STRLEN).
	MaxArgStrlen = 32 * 4096
)

// Args says what to load and how.
type Args struct {
	// Exe is the program; ExePath its path as given to execve (it
	// becomes AT_EXECFN and names the program's Segments).
	Exe     File
	ExePath string
	// Argv and Envv become the program's arguments and environment.
	// An empty Argv gets one empty string, as Linux does since 5.18.
	Argv, Envv []string
	// OpenInterp opens PT_INTERP's path. Nil: dynamically linked
	// programs are refused with ErrNotExecutable.
	OpenInterp func(path string) (File, error)
	// Mem is the address space.
	Mem Memory
	// Random is the 16 bytes AT_RANDOM points at (the kernel supplies
	// them; libc seeds its stack protector and pointer guard from them).
	Random [16]byte
	// HWCap and HWCap2 become AT_HWCAP and AT_HWCAP2.
	HWCap, HWCap2 uint64
	// MinSigStackSize is AT_MINSIGSTKSZ, the most stack the kernel's
	// signal frames take; zero leaves the entry out.
	MinSigStackSize uint64
	// SysinfoEhdr is the vDSO's address, AT_SYSINFO_EHDR; zero leaves
	// the entry out (libc and Go then make clock system calls).
	SysinfoEhdr uint64
	// PageSize is AT_PAGESZ and the mapping granularity: a power of two
	// from 4 KiB to 1 GiB. Zero means DefaultPageSize.
	PageSize uint64
	// StackSize is the size of the initial stack mapping, a page
	// multiple of at least 64 KiB; zero means DefaultStackSize. A guard
	// page with no access is mapped below it. Arguments and environment
	// may take a quarter of it.
	StackSize uint64
	// StackTop is where the stack ends, a hint passed to Map; zero means
	// DefaultStackTop (rounded down to the page size).
	StackTop uint64
	// PIEBase is where an ET_DYN program's lowest page goes, a hint
	// passed to Map; zero means DefaultPIEBase (rounded down to the page
	// size).
	PIEBase uint64
	// InterpBase is where the interpreter's lowest page goes, a hint
	// passed to Map; zero lets Map choose.
	InterpBase uint64
	// Forbidden lists ranges no segment may overlap (the kernel image,
	// the null-pointer guard area).
	Forbidden []Range
}

// Auxiliary vector types (include/uapi/linux/auxvec.h).
const (
	AT_NULL        = 0
	AT_PHDR        = 3
	AT_PHENT       = 4
	AT_PHNUM       = 5
	AT_PAGESZ      = 6
	AT_BASE        = 7
	AT_FLAGS       = 8
	AT_ENTRY       = 9
	AT_UID         = 11
	AT_EUID        = 12
	AT_GID         = 13
	AT_EGID        = 14
	AT_PLATFORM    = 15
	AT_HWCAP       = 16
	AT_CLKTCK      = 17
	AT_SECURE      = 23
	AT_RANDOM      = 25
	AT_HWCAP2      = 26
	AT_MINSIGSTKSZ = 51
	AT_EXECFN      = 31
	// AT_SYSINFO_EHDR is the vDSO's ELF header.
	AT_SYSINFO_EHDR = 33
)

// AuxEntry is one auxiliary vector entry.
type AuxEntry struct{ Type, Value uint64 }

// Result describes the loaded program.
type Result struct {
	// Entry is where the first thread starts: the interpreter's entry
	// point for a dynamically linked program, else the program's.
	Entry uint64
	// StackPointer is the initial RSP: 16-byte aligned, pointing at argc.
	// All other registers start at zero (RDX, the atexit pointer,
	// included).
	StackPointer uint64
	// Brk is the initial program break: the page-aligned end of the
	// program's highest PT_LOAD.
	Brk uint64
	// Phdr, Phent and Phnum locate the program's program headers in
	// memory (AT_PHDR, AT_PHENT, AT_PHNUM). If no segment holds them,
	// Load puts a copy on the stack.
	Phdr, Phent, Phnum uint64
	// ExeEntry is the program's entry point (AT_ENTRY), relocated.
	ExeEntry uint64
	// LoadBias is what was added to the program's addresses (0 for
	// ET_EXEC).
	LoadBias uint64
	// Interp is PT_INTERP's path, "" for a static program; InterpBase
	// is the interpreter's load bias (AT_BASE), 0 without one.
	Interp     string
	InterpBase uint64
	// ExecStack records that PT_GNU_STACK asked for an executable
	// stack; the stack is read-write regardless.
	ExecStack bool
	// StackStart and StackEnd bound the stack mapping (guard page
	// excluded). ArgStart, ArgEnd, EnvStart and EnvEnd bound the argv
	// and envp strings on it (/proc/self/cmdline and environ).
	StackStart, StackEnd uint64
	ArgStart, ArgEnd     uint64
	EnvStart, EnvEnd     uint64
	Auxv                 []AuxEntry
	// Segments is everything Load mapped, by ascending address.
	Segments []Segment
}

// loader holds one Load's state.
type loader struct {
	a      *Args
	ps     uint64
	mapped []Range // to unmap on failure
	segs   []Segment
}

// image is a loaded ELF file.
type image struct {
	h    *Header
	bias uint64
}

// Load maps the program a.Exe (and its interpreter, if it names one)
// into a.Mem and builds its initial stack. On failure it unmaps what it
// mapped.
func Load(a Args) (res *Result, err error) {
	if err := a.setDefaults(); err != nil {
		return nil, err
	}
	l := &loader{a: &a, ps: a.PageSize}
	defer func() {
		if err != nil {
			l.undo()
			res = nil
		}
	}()

	exe, err := l.load(a.Exe, a.ExePath, a.PIEBase, false)
	if err != nil {
		return nil, err
	}
	res = &Result{
		Entry:     exe.h.Entry + exe.bias,
		ExeEntry:  exe.h.Entry + exe.bias,
		LoadBias:  exe.bias,
		Phent:     phdrSize,
		Phnum:     uint64(len(exe.h.Progs)),
		ExecStack: exe.h.ExecStack,
		Interp:    exe.h.Interp,
	}
	res.Brk = exe.h.End + exe.bias
	if res.Brk%l.ps != 0 {
		res.Brk, _ = pageUp(res.Brk, l.ps) // below UserTop
	}

	if exe.h.Interp != "" {
		if a.OpenInterp == nil {
			return nil, &FormatError{File: short(a.ExePath), Reason: fmt.Sprintf("dynamically linked (interpreter %s), and no interpreter can be opened", short(exe.h.Interp))}
		}
		f, err := a.OpenInterp(exe.h.Interp)
		if err != nil {
			return nil, fmt.Errorf("elfload: opening interpreter %s: %w", short(exe.h.Interp), err)
		}
		interp, err := l.load(f, exe.h.Interp, a.InterpBase, true)
		if err != nil {
			return nil, err
		}
		res.Entry = interp.h.Entry + interp.bias
		res.InterpBase = interp.bias
	}

	// AT_PHDR: PT_PHDR, else the PT_LOAD holding the table, else a copy
	// on the stack (phdrCopy).
	var phdrCopy []byte
	tabSize := uint64(len(exe.h.Progs)) * phdrSize
	switch {
	case exe.h.HasPhdr:
		res.Phdr = exe.h.PhdrVaddr + exe.bias
	default:
		found := false
		for _, p := range exe.h.Loads {
			if p.Off <= exe.h.Phoff && exe.h.Phoff-p.Off+tabSize <= p.Filesz {
				res.Phdr = exe.h.Phoff - p.Off + p.Vaddr + exe.bias
				found = true
				break
			}
		}
		if !found {
			phdrCopy = make([]byte, tabSize)
			if err := readFull(a.Exe, phdrCopy, int64(exe.h.Phoff)); err != nil {
				return nil, err
			}
		}
	}

	if err := l.buildStack(res, phdrCopy); err != nil {
		return nil, err
	}
	sort.Slice(l.segs, func(i, j int) bool { return l.segs[i].Start < l.segs[j].Start })
	res.Segments = l.segs
	return res, nil
}

func (a *Args) setDefaults() error {
	if a.Exe == nil || a.Mem == nil {
		return fmt.Errorf("elfload: no executable or no memory: %w", ErrInvalid)
	}
	if a.PageSize == 0 {
		a.PageSize = DefaultPageSize
	}
	ps := a.PageSize
	if ps&(ps-1) != 0 || ps < minPageSize || ps > 1<<30 {
		return fmt.Errorf("elfload: page size %#x: %w", ps, ErrInvalid)
	}
	if a.StackSize == 0 {
		a.StackSize = DefaultStackSize
	}
	if a.StackSize%ps != 0 || a.StackSize < 64<<10 || a.StackSize > 1<<40 {
		return fmt.Errorf("elfload: stack size %#x: %w", a.StackSize, ErrInvalid)
	}
	if a.StackTop == 0 {
		a.StackTop = pageDown(DefaultStackTop, ps)
	}
	if a.PIEBase == 0 {
		a.PIEBase = pageDown(DefaultPIEBase, ps)
	}
	for _, v := range []uint64{a.StackTop, a.PIEBase, a.InterpBase} {
		if v%ps != 0 || v > UserTop {
			return fmt.Errorf("elfload: address %#x is not a page-aligned user address: %w", v, ErrInvalid)
		}
	}
	for _, r := range a.Forbidden {
		if r.Start >= r.End {
			return fmt.Errorf("elfload: empty forbidden range %#x-%#x: %w", r.Start, r.End, ErrInvalid)
		}
	}
	return nil
}

// undo unmaps everything Load mapped.
func (l *loader) undo() {
	for i := len(l.mapped) - 1; i >= 0; i-- {
		r := l.mapped[i]
		l.a.Mem.Unmap(r.Start, r.End-r.Start) // best effort
	}
	l.mapped = nil
}

// group is a run of PT_LOAD segments whose page ranges touch or overlap:
// mapped with one Map call.
type group struct {
	start, end uint64 // page-aligned, unrelocated
	loads      []ProgHeader
}

// groups merges h's non-empty PT_LOAD page ranges (at page size ps).
func groups(h *Header, ps uint64) []group {
	var gs []group
	for _, p := range h.Loads {
		if p.Memsz == 0 {
			continue
		}
		lo := pageDown(p.Vaddr, ps)
		hi, _ := pageUp(p.Vaddr+p.Memsz, ps) // checked by ParseHeader
		if n := len(gs); n > 0 && lo <= gs[n-1].end {
			g := &gs[n-1]
			g.end = max(g.end, hi)
			g.loads = append(g.loads, p)
			continue
		}
		gs = append(gs, group{start: lo, end: hi, loads: []ProgHeader{p}})
	}
	return gs
}

// load parses f and maps its PT_LOAD segments: ET_EXEC at their
// addresses, ET_DYN wherever Map puts them given hint.
func (l *loader) load(f File, name string, hint uint64, isInterp bool) (*image, error) {
	what := short(name)
	if isInterp {
		what = "interpreter " + what
	}
	h, err := ParseHeader(f, f.Size())
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.File = what
		}
		return nil, err
	}
	if isInterp {
		if h.Type != etDyn {
			return nil, &FormatError{File: what, Reason: "interpreter is not ET_DYN"}
		}
		if h.Interp != "" {
			return nil, &FormatError{File: what, Reason: "interpreter itself names an interpreter (" + h.Interp + ")"}
		}
	}
	ps := l.ps
	if ps > minPageSize {
		for i, p := range h.Loads {
			if p.Vaddr%ps != p.Off%ps {
				return nil, &FormatError{File: what, Reason: fmt.Sprintf("PT_LOAD %d: p_vaddr %#x and p_offset %#x differ modulo the %#x page size", i, p.Vaddr, p.Off, ps)}
			}
			if h.Type == etExec && p.Memsz > 0 && p.Vaddr < ps {
				return nil, &FormatError{File: what, Reason: fmt.Sprintf("PT_LOAD %d at %#x would map page 0 (page size %#x)", i, p.Vaddr, ps)}
			}
		}
	}
	gs := groups(h, ps)
	img := &image{h: h}
	mem := l.a.Mem

	if h.Type == etExec {
		for _, g := range gs {
			if err := l.checkForbidden(g.start, g.end); err != nil {
				return nil, err
			}
		}
		for _, g := range gs {
			if _, err := l.mapFixed(g.start, g.end-g.start, what); err != nil {
				return nil, err
			}
		}
	} else {
		first, end := gs[0].start, gs[len(gs)-1].end
		span := end - first
		at, err := mem.Map(hint, span, false)
		if err != nil {
			return nil, fmt.Errorf("elfload: %s: mapping %#x bytes: %w", what, span, err)
		}
		l.mapped = append(l.mapped, Range{Start: at, End: at + span})
		if top, ok := add(at, span); at%ps != 0 || !ok || top > UserTop {
			return nil, fmt.Errorf("elfload: %s: Map returned %#x for %#x bytes: not a page-aligned user range", what, at, span)
		}
		img.bias = at - first
		for _, g := range gs {
			if err := l.checkForbidden(g.start+img.bias, g.end+img.bias); err != nil {
				return nil, err
			}
		}
		// Give back the holes between groups, then track the groups.
		l.mapped = l.mapped[:len(l.mapped)-1]
		for i := 1; i < len(gs); i++ {
			lo, hi := gs[i-1].end+img.bias, gs[i].start+img.bias
			if err := mem.Unmap(lo, hi-lo); err != nil {
				l.mapped = append(l.mapped, Range{Start: at, End: at + span})
				return nil, fmt.Errorf("elfload: %s: unmapping hole %#x-%#x: %w", what, lo, hi, err)
			}
		}
		for _, g := range gs {
			l.mapped = append(l.mapped, Range{Start: g.start + img.bias, End: g.end + img.bias})
		}
	}

	if err := l.copyData(f, h, img.bias, what); err != nil {
		return nil, err
	}
	for _, g := range gs {
		if err := l.protect(g, img.bias, name, what); err != nil {
			return nil, err
		}
	}
	return img, nil
}

// short abbreviates a path for an error message.
func short(s string) string {
	if len(s) > 200 {
		return s[:100] + "..." + s[len(s)-97:]
	}
	return s
}

// mapFixed maps [addr, addr+size) exactly there and records it.
func (l *loader) mapFixed(addr, size uint64, what string) (uint64, error) {
	got, err := l.a.Mem.Map(addr, size, true)
	if err != nil {
		return 0, fmt.Errorf("elfload: %s: mapping %#x-%#x: %w", what, addr, addr+size, err)
	}
	l.mapped = append(l.mapped, Range{Start: got, End: got + size})
	if got != addr {
		return 0, fmt.Errorf("elfload: %s: fixed Map of %#x returned %#x", what, addr, got)
	}
	return got, nil
}

// checkForbidden fails if [lo, hi) meets one of Args.Forbidden.
func (l *loader) checkForbidden(lo, hi uint64) error {
	for _, r := range l.a.Forbidden {
		if lo < r.End && r.Start < hi {
			name := r.Name
			if name == "" {
				name = "a reserved range"
			}
			return fmt.Errorf("elfload: segment %#x-%#x overlaps %s at %#x-%#x: %w", lo, hi, name, r.Start, r.End, ErrCollision)
		}
	}
	return nil
}

// copyChunk bounds the buffer copyData reads the file through.
const copyChunk = 1 << 20

// copyData writes each PT_LOAD's file bytes to memory; the rest of the
// pages stays zero, as Map left it.
func (l *loader) copyData(f File, h *Header, bias uint64, what string) error {
	var buf []byte
	for _, p := range h.Loads {
		for done := uint64(0); done < p.Filesz; {
			n := min(p.Filesz-done, copyChunk)
			if uint64(len(buf)) < n {
				buf = make([]byte, n)
			}
			b := buf[:n]
			if err := readFull(f, b, int64(p.Off+done)); err != nil {
				return fmt.Errorf("elfload: %s: %w", what, err)
			}
			if err := l.a.Mem.Write(p.Vaddr+bias+done, b); err != nil {
				return fmt.Errorf("elfload: %s: writing %#x bytes at %#x: %w", what, n, p.Vaddr+bias+done, err)
			}
			done += n
		}
	}
	return nil
}

// protect applies the segments' protections to group g and records its
// Segments. A page shared by two segments gets both segments'
// permissions (on Linux the later segment's mapping replaces the page,
// and its permissions win; the union keeps both segments usable).
// Pages holding file data are named after the file; pages past a
// segment's file data (bss) are anonymous.
func (l *loader) protect(g group, bias uint64, name, what string) error {
	ps := l.ps
	cuts := []uint64{g.start, g.end}
	for _, p := range g.loads {
		fileEnd, _ := pageUp(p.Vaddr+p.Filesz, ps)
		cuts = append(cuts, pageDown(p.Vaddr, ps), fileEnd)
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i] < cuts[j] })
	var out []Segment
	for i := 0; i+1 < len(cuts); i++ {
		lo, hi := cuts[i], cuts[i+1]
		if lo == hi || lo < g.start || hi > g.end {
			continue
		}
		s := Segment{Start: lo + bias, End: hi + bias}
		file := false
		for _, p := range g.loads {
			pEnd, _ := pageUp(p.Vaddr+p.Memsz, ps)
			if pageDown(p.Vaddr, ps) > lo || pEnd < hi {
				continue
			}
			s.Prot |= p.Prot()
			fileEnd, _ := pageUp(p.Vaddr+p.Filesz, ps)
			if !file && p.Filesz > 0 && lo < fileEnd {
				file = true
				s.Name = name
				s.Offset = pageDown(p.Off, ps) + (lo - pageDown(p.Vaddr, ps))
			}
		}
		if n := len(out); n > 0 {
			prev := &out[n-1]
			if prev.Prot == s.Prot && prev.Name == s.Name && prev.End == s.Start &&
				(s.Name == "" || prev.Offset+(prev.End-prev.Start) == s.Offset) {
				prev.End = s.End
				continue
			}
		}
		out = append(out, s)
	}
	for _, s := range out {
		if err := l.a.Mem.Protect(s.Start, s.End-s.Start, s.Prot); err != nil {
			return fmt.Errorf("elfload: %s: protecting %#x-%#x %v: %w", what, s.Start, s.End, s.Prot, err)
		}
	}
	l.segs = append(l.segs, out...)
	return nil
}
