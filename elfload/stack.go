package elfload

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// platform is AT_PLATFORM's string.
const platform = "x86_64"

// buildStack maps the stack and writes the initial process stack the
// System V x86-64 ABI (section 3.4.1) describes, laid out as Linux's
// create_elf_tables does. From the top down:
//
//	8 zero bytes                  end marker
//	argv strings, envp strings, AT_EXECFN string   (in that order, upwards)
//	"x86_64\0"                    AT_PLATFORM
//	16 random bytes               AT_RANDOM (16-byte aligned)
//	program headers               only when no segment holds them (8-byte aligned)
//	padding                       so that RSP ends up 16-byte aligned
//	auxv pairs, AT_NULL pair
//	envp pointers, NULL
//	argv pointers, NULL
//	argc                          <- RSP
func (l *loader) buildStack(res *Result, phdrCopy []byte) error {
	a := l.a
	argv := a.Argv
	if len(argv) == 0 {
		argv = []string{""}
	}
	// Check the strings before mapping anything.
	if strings.IndexByte(a.ExePath, 0) >= 0 {
		return fmt.Errorf("elfload: executable path %.40q contains a NUL: %w", a.ExePath, ErrInvalid)
	}
	if len(a.ExePath)+1 > MaxArgStrlen {
		return fmt.Errorf("elfload: a %d-byte executable path is longer than %d: %w", len(a.ExePath)+1, MaxArgStrlen, ErrArgsTooLong)
	}
	limit := a.StackSize / 4
	total := uint64(len(a.ExePath)) + 1 + 8*2 // the path, and the two NULL pointers
	for _, list := range [][]string{argv, a.Envv} {
		for _, s := range list {
			if strings.IndexByte(s, 0) >= 0 {
				return fmt.Errorf("elfload: argument or environment string %.40q contains a NUL: %w", s, ErrInvalid)
			}
			n := uint64(len(s)) + 1
			if n > MaxArgStrlen {
				return fmt.Errorf("elfload: a %d-byte argument or environment string is longer than %d: %w", n, MaxArgStrlen, ErrArgsTooLong)
			}
			total += n + 8 // the string and its pointer
			if total > limit {
				break
			}
		}
	}
	if total > limit {
		return fmt.Errorf("elfload: arguments and environment exceed %d bytes: %w", limit, ErrArgsTooLong)
	}

	// Map the stack with a guard page below it.
	ps := l.ps
	size := a.StackSize + ps
	hint := uint64(0)
	if a.StackTop >= size {
		hint = a.StackTop - size
	}
	base, err := a.Mem.Map(hint, size, false)
	if err != nil {
		return fmt.Errorf("elfload: mapping the %#x-byte stack: %w", size, err)
	}
	l.mapped = append(l.mapped, Range{Start: base, End: base + size})
	if top, ok := add(base, size); base%ps != 0 || !ok || top > UserTop {
		return fmt.Errorf("elfload: Map returned %#x for the %#x-byte stack: not a page-aligned user range", base, size)
	}
	if err := l.checkForbidden(base, base+size); err != nil {
		return err
	}
	if err := a.Mem.Protect(base, ps, 0); err != nil {
		return fmt.Errorf("elfload: protecting the stack guard page: %w", err)
	}
	l.segs = append(l.segs,
		Segment{Start: base, End: base + ps},
		Segment{Start: base + ps, End: base + size, Prot: ProtRead | ProtWrite, Name: "[stack]"})
	res.StackStart, res.StackEnd = base+ps, base+size
	top := base + size

	// Lay out the strings and blobs downwards from top.
	var strs strings.Builder
	for _, s := range argv {
		strs.WriteString(s)
		strs.WriteByte(0)
	}
	argLen := strs.Len()
	for _, s := range a.Envv {
		strs.WriteString(s)
		strs.WriteByte(0)
	}
	envLen := strs.Len() - argLen
	strs.WriteString(a.ExePath)
	strs.WriteByte(0)
	strAddr := top - 8 - uint64(strs.Len())
	platAddr := strAddr - uint64(len(platform)+1)
	randAddr := (platAddr - 16) &^ 15
	low := randAddr
	phdrAddr := res.Phdr
	if phdrCopy != nil {
		low = (low - uint64(len(phdrCopy))) &^ 7
		phdrAddr = low
	}

	res.Auxv = []AuxEntry{
		{AT_HWCAP, a.HWCap},
		{AT_PAGESZ, ps},
		{AT_CLKTCK, 100},
		{AT_PHDR, phdrAddr},
		{AT_PHENT, phdrSize},
		{AT_PHNUM, res.Phnum},
		{AT_BASE, res.InterpBase},
		{AT_FLAGS, 0},
		{AT_ENTRY, res.ExeEntry},
		{AT_UID, 0},
		{AT_EUID, 0},
		{AT_GID, 0},
		{AT_EGID, 0},
		{AT_SECURE, 0},
		{AT_RANDOM, randAddr},
		{AT_HWCAP2, a.HWCap2},
		{AT_EXECFN, strAddr + uint64(argLen+envLen)},
		{AT_PLATFORM, platAddr},
	}
	if a.SysinfoEhdr != 0 {
		res.Auxv = append(res.Auxv, AuxEntry{AT_SYSINFO_EHDR, a.SysinfoEhdr})
	}
	if a.MinSigStackSize != 0 {
		res.Auxv = append(res.Auxv, AuxEntry{AT_MINSIGSTKSZ, a.MinSigStackSize})
	}
	res.Auxv = append(res.Auxv, AuxEntry{AT_NULL, 0})
	words := 1 + len(argv) + 1 + len(a.Envv) + 1 + 2*len(res.Auxv)
	sp := (low - 8*uint64(words)) &^ 15
	if sp < res.StackStart+ps { // leave at least a page to run on
		return fmt.Errorf("elfload: arguments and environment do not fit the %#x-byte stack: %w", a.StackSize, ErrArgsTooLong)
	}
	res.Phdr = phdrAddr
	res.StackPointer = sp
	res.ArgStart, res.ArgEnd = strAddr, strAddr+uint64(argLen)
	res.EnvStart, res.EnvEnd = res.ArgEnd, res.ArgEnd+uint64(envLen)

	// Fill a buffer for [sp, top) and write it once.
	buf := make([]byte, top-sp)
	at := func(addr uint64) []byte { return buf[addr-sp:] }
	copy(at(strAddr), strs.String())
	copy(at(platAddr), platform)
	copy(at(randAddr), a.Random[:])
	if phdrCopy != nil {
		copy(at(phdrAddr), phdrCopy)
	}
	le := binary.LittleEndian
	w := sp
	put := func(v uint64) {
		le.PutUint64(at(w), v)
		w += 8
	}
	put(uint64(len(argv)))
	p := strAddr
	for _, list := range [][]string{argv, a.Envv} {
		for _, s := range list {
			put(p)
			p += uint64(len(s)) + 1
		}
		put(0)
	}
	for _, e := range res.Auxv {
		put(e.Type)
		put(e.Value)
	}
	if err := a.Mem.Write(sp, buf); err != nil {
		return fmt.Errorf("elfload: writing the initial stack at %#x: %w", sp, err)
	}
	return nil
}
