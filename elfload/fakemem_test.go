package elfload

import (
	"errors"
	"fmt"
	"sort"
)

// fakeMem is a Memory for tests: a sorted list of mappings with their
// protections, and a sparse map of the 4 KiB pages written so far (the
// others read as zero). Mapping a terabyte costs nothing, so the fuzzer
// can ask for one.
//
// It is strict: arguments the loader should never pass (unaligned
// addresses, writes or protects on unmapped memory, writes to memory
// already protected) are errors, and the first one is kept in misuse for
// the tests to report.
type fakeMem struct {
	vmas   []fakeVMA
	pages  map[uint64]*[fakePage]byte // by page number
	misuse error
	// failAt, when positive, makes the failAt-th Map, Protect, Unmap or
	// Write call (counting from 1) fail, to test Load's cleanup.
	failAt, calls int
}

type fakeVMA struct {
	start, end uint64
	prot       Prot
}

const (
	fakePage    = 4096
	fakeMmapTop = 0x7f0000000000 // gosv's mmap searches down from here
	fakeMmapMin = 0x10000
)

var errInjected = errors.New("injected failure")

func newFakeMem() *fakeMem { return &fakeMem{pages: map[uint64]*[fakePage]byte{}} }

func (m *fakeMem) bad(format string, args ...any) error {
	err := fmt.Errorf("fakeMem: "+format, args...)
	if m.misuse == nil {
		m.misuse = err
	}
	return err
}

func (m *fakeMem) tick() error {
	m.calls++
	if m.failAt > 0 && m.calls == m.failAt {
		return errInjected
	}
	return nil
}

// checkRange validates a page-aligned, non-empty, non-wrapping range.
func (m *fakeMem) checkRange(op string, addr, size uint64) error {
	end := addr + size
	if addr%fakePage != 0 || size%fakePage != 0 || size == 0 || end < addr || end > UserTop {
		return m.bad("%s(%#x, %#x): bad range", op, addr, size)
	}
	return nil
}

// overlaps reports whether anything is mapped in [lo, hi).
func (m *fakeMem) overlaps(lo, hi uint64) bool {
	for _, v := range m.vmas {
		if v.start < hi && lo < v.end {
			return true
		}
	}
	return false
}

// covered reports whether all of [lo, hi) is mapped.
func (m *fakeMem) covered(lo, hi uint64) bool {
	for _, v := range m.vmas { // sorted
		if v.end <= lo {
			continue
		}
		if v.start > lo {
			return false
		}
		lo = v.end
		if lo >= hi {
			return true
		}
	}
	return lo >= hi
}

// carve removes [lo, hi) from the mappings (not the data).
func (m *fakeMem) carve(lo, hi uint64) {
	var out []fakeVMA
	for _, v := range m.vmas {
		if v.end <= lo || v.start >= hi {
			out = append(out, v)
			continue
		}
		if v.start < lo {
			out = append(out, fakeVMA{v.start, lo, v.prot})
		}
		if v.end > hi {
			out = append(out, fakeVMA{hi, v.end, v.prot})
		}
	}
	m.vmas = out
}

func (m *fakeMem) insert(v fakeVMA) {
	m.vmas = append(m.vmas, v)
	sort.Slice(m.vmas, func(i, j int) bool { return m.vmas[i].start < m.vmas[j].start })
}

// dropData forgets written pages in [lo, hi).
func (m *fakeMem) dropData(lo, hi uint64) {
	for pn := range m.pages {
		if a := pn * fakePage; a >= lo && a < hi {
			delete(m.pages, pn)
		}
	}
}

func (m *fakeMem) Map(addr, size uint64, fixed bool) (uint64, error) {
	if err := m.tick(); err != nil {
		return 0, err
	}
	if fixed || addr != 0 {
		if err := m.checkRange("Map", addr, size); err != nil {
			return 0, err
		}
	} else if err := m.checkRange("Map", fakeMmapMin, size); err != nil {
		return 0, err
	}
	if fixed {
		if m.overlaps(addr, addr+size) {
			return 0, fmt.Errorf("fakeMem: Map %#x-%#x: %w", addr, addr+size, ErrCollision)
		}
	} else if addr == 0 || addr < fakeMmapMin || m.overlaps(addr, addr+size) {
		// Search down from fakeMmapTop, as gosv's mmap does.
		if size > fakeMmapTop-fakeMmapMin {
			return 0, fmt.Errorf("fakeMem: no room for %#x bytes", size)
		}
		addr = fakeMmapTop - size
		for {
			moved := false
			for i := len(m.vmas) - 1; i >= 0; i-- {
				v := m.vmas[i]
				if v.start < addr+size && addr < v.end {
					if v.start < fakeMmapMin+size {
						return 0, fmt.Errorf("fakeMem: no room for %#x bytes", size)
					}
					addr = v.start - size
					moved = true
				}
			}
			if !moved {
				break
			}
		}
	}
	m.dropData(addr, addr+size)
	m.insert(fakeVMA{addr, addr + size, ProtRead | ProtWrite})
	return addr, nil
}

func (m *fakeMem) Protect(addr, size uint64, prot Prot) error {
	if err := m.tick(); err != nil {
		return err
	}
	if err := m.checkRange("Protect", addr, size); err != nil {
		return err
	}
	if prot&^(ProtRead|ProtWrite|ProtExec) != 0 {
		return m.bad("Protect(%#x, %#x, %#x): bad prot", addr, size, prot)
	}
	if !m.covered(addr, addr+size) {
		return m.bad("Protect(%#x, %#x): not mapped", addr, size)
	}
	m.carve(addr, addr+size)
	m.insert(fakeVMA{addr, addr + size, prot})
	return nil
}

func (m *fakeMem) Unmap(addr, size uint64) error {
	if err := m.tick(); err != nil {
		return err
	}
	if err := m.checkRange("Unmap", addr, size); err != nil {
		return err
	}
	m.carve(addr, addr+size)
	m.dropData(addr, addr+size)
	return nil
}

func (m *fakeMem) Write(addr uint64, b []byte) error {
	if err := m.tick(); err != nil {
		return err
	}
	if len(b) == 0 {
		return nil
	}
	end := addr + uint64(len(b))
	if end < addr || !m.covered(pageDown(addr, fakePage), end) {
		return m.bad("Write(%#x, %d bytes): not mapped", addr, len(b))
	}
	for _, v := range m.vmas {
		if v.start < end && addr < v.end && v.prot != ProtRead|ProtWrite {
			return m.bad("Write(%#x, %d bytes): memory at %#x is %v", addr, len(b), max(addr, v.start), v.prot)
		}
	}
	for len(b) > 0 {
		pn, off := addr/fakePage, addr%fakePage
		p := m.pages[pn]
		if p == nil {
			p = new([fakePage]byte)
			m.pages[pn] = p
		}
		n := copy(p[off:], b)
		b = b[n:]
		addr += uint64(n)
	}
	return nil
}

// read returns n bytes at addr, which must be mapped (any protection).
func (m *fakeMem) read(addr, n uint64) ([]byte, error) {
	end := addr + n
	if end < addr || !m.covered(pageDown(addr, fakePage), end) {
		return nil, fmt.Errorf("read %#x+%#x: not mapped", addr, n)
	}
	out := make([]byte, 0, n)
	for addr < end {
		pn, off := addr/fakePage, addr%fakePage
		k := min(fakePage-off, end-addr)
		if p := m.pages[pn]; p != nil {
			out = append(out, p[off:off+k]...)
		} else {
			out = append(out, make([]byte, k)...)
		}
		addr += k
	}
	return out, nil
}

// prot returns the protection at addr and whether it is mapped.
func (m *fakeMem) prot(addr uint64) (Prot, bool) {
	for _, v := range m.vmas {
		if addr >= v.start && addr < v.end {
			return v.prot, true
		}
	}
	return 0, false
}

// mappedBytes is the total size mapped.
func (m *fakeMem) mappedBytes() uint64 {
	var n uint64
	for _, v := range m.vmas {
		n += v.end - v.start
	}
	return n
}
