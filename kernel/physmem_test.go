package kernel

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// Host tests of the page allocator's range bookkeeping. They call only
// addRange, reserve and alloc while the free list and limbo are empty:
// alloc then carves from the ranges without touching memory (it calls
// reclaimLocked, which returns at once when limboHead is 0). free,
// allocZeroed and retire write through the direct map and are for the
// in-kernel self-tests.

const physMiB = 1 << 20

// rangesOf returns the non-empty ranges, sorted.
func rangesOf(p *physAllocator) []physRange {
	var rs []physRange
	for _, r := range p.ranges[:p.nranges] {
		if r.start < r.end {
			rs = append(rs, r)
		}
	}
	slices.SortFunc(rs, func(a, b physRange) int {
		return int(a.start>>pageShift) - int(b.start>>pageShift)
	})
	return rs
}

// fmtRange formats a range for messages.
func fmtRange(r physRange) string { return fmt.Sprintf("[%#x-%#x)", r.start, r.end) }

func rangeDiff(want, got []physRange) string {
	var b strings.Builder
	for i := 0; i < max(len(want), len(got)); i++ {
		switch {
		case i >= len(want):
			fmt.Fprintf(&b, "+\t%s\n", fmtRange(got[i]))
		case i >= len(got):
			fmt.Fprintf(&b, "-\t%s\n", fmtRange(want[i]))
		case want[i] != got[i]:
			fmt.Fprintf(&b, "-\t%s\n+\t%s\n", fmtRange(want[i]), fmtRange(got[i]))
		}
	}
	return b.String()
}

// checkCounts verifies that freePages and totalPages both equal the
// pages in the ranges (true until the first alloc).
func checkCounts(t *testing.T, p *physAllocator) {
	t.Helper()
	var n uint64
	for _, r := range rangesOf(p) {
		n += (r.end - r.start) / pageSize
	}
	if p.freePages != n || p.totalPages != n {
		t.Errorf("freePages = %d, totalPages = %d; the ranges hold %d pages", p.freePages, p.totalPages, n)
	}
}

func TestAddRange(t *testing.T) {
	tests := []struct {
		name       string
		start, end uint64
		want       []physRange
	}{
		{"aligned", 0x1000, 0x3000, []physRange{{0x1000, 0x3000}}},
		{"unaligned, rounded inward", 0x1001, 0x3fff, []physRange{{0x2000, 0x3000}}},
		{"start unaligned", 0x100, 0x3000, []physRange{{0x1000, 0x3000}}},
		{"end unaligned", 0x1000, 0x2fff, []physRange{{0x1000, 0x2000}}},
		{"less than a page after rounding", 0x1001, 0x1fff, nil},
		{"exactly one page, unaligned both ends", 0xfff, 0x2001, []physRange{{0x1000, 0x2000}}},
		{"empty", 0x5000, 0x5000, nil},
		{"reversed", 0x5000, 0x1000, nil},
		{"page 0", 0, pageSize, []physRange{{0, pageSize}}},
		{"high memory", 4 << 30, 8 << 30, []physRange{{4 << 30, 8 << 30}}},
	}
	for _, tc := range tests {
		p := new(physAllocator)
		p.addRange(tc.start, tc.end)
		if d := rangeDiff(tc.want, rangesOf(p)); d != "" {
			t.Errorf("%s: addRange(%#x, %#x) (-want +got):\n%s", tc.name, tc.start, tc.end, d)
		}
		if tc.want == nil && p.nranges != 0 {
			t.Errorf("%s: nranges = %d for an empty range", tc.name, p.nranges)
		}
		checkCounts(t, p)
	}

	// Ranges accumulate; past maxPhysRanges they are dropped whole.
	p := new(physAllocator)
	for i := range maxPhysRanges + 2 {
		p.addRange(uint64(i)*physMiB, uint64(i)*physMiB+2*pageSize)
	}
	if p.nranges != maxPhysRanges || p.totalPages != 2*maxPhysRanges {
		t.Errorf("after %d ranges: nranges = %d, totalPages = %d", maxPhysRanges+2, p.nranges, p.totalPages)
	}
	checkCounts(t, p)
}

func TestReserve(t *testing.T) {
	base := []physRange{{1 * physMiB, 2 * physMiB}, {4 * physMiB, 8 * physMiB}}
	tests := []struct {
		name       string
		start, end uint64
		want       []physRange
	}{
		{"head", 1 * physMiB, 1*physMiB + 0x3000, []physRange{{1*physMiB + 0x3000, 2 * physMiB}, {4 * physMiB, 8 * physMiB}}},
		{"head from below", 0, 1*physMiB + 0x3000, []physRange{{1*physMiB + 0x3000, 2 * physMiB}, {4 * physMiB, 8 * physMiB}}},
		{"tail", 8*physMiB - 0x2000, 8 * physMiB, []physRange{{1 * physMiB, 2 * physMiB}, {4 * physMiB, 8*physMiB - 0x2000}}},
		{"tail and beyond", 8*physMiB - 0x2000, 100 * physMiB, []physRange{{1 * physMiB, 2 * physMiB}, {4 * physMiB, 8*physMiB - 0x2000}}},
		{"middle", 5 * physMiB, 6 * physMiB, []physRange{{1 * physMiB, 2 * physMiB}, {4 * physMiB, 5 * physMiB}, {6 * physMiB, 8 * physMiB}}},
		{"middle, one page", 5 * physMiB, 5*physMiB + 1, []physRange{{1 * physMiB, 2 * physMiB}, {4 * physMiB, 5 * physMiB}, {5*physMiB + pageSize, 8 * physMiB}}},
		{"unaligned rounds outward", 5*physMiB + 0x10, 5*physMiB + 0x1010, []physRange{{1 * physMiB, 2 * physMiB}, {4 * physMiB, 5 * physMiB}, {5*physMiB + 0x2000, 8 * physMiB}}},
		{"whole first", 1 * physMiB, 2 * physMiB, []physRange{{4 * physMiB, 8 * physMiB}}},
		{"whole second", 4 * physMiB, 8 * physMiB, []physRange{{1 * physMiB, 2 * physMiB}}},
		{"whole, from outside", 3 * physMiB, 9 * physMiB, []physRange{{1 * physMiB, 2 * physMiB}}},
		{"everything", 0, 1 << 40, nil},
		{"tail of one, head of the other", 1*physMiB + 0x1000, 5 * physMiB, []physRange{{1 * physMiB, 1*physMiB + 0x1000}, {5 * physMiB, 8 * physMiB}}},
		{"in the gap", 2 * physMiB, 4 * physMiB, base},
		{"below", 0, 1 * physMiB, base},
		{"above", 8 * physMiB, 9 * physMiB, base},
		{"empty", 5 * physMiB, 5 * physMiB, base},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := new(physAllocator)
			for _, r := range base {
				p.addRange(r.start, r.end)
			}
			p.reserve(tc.start, tc.end)
			if d := rangeDiff(tc.want, rangesOf(p)); d != "" {
				t.Errorf("reserve(%#x, %#x) (-want +got):\n%s", tc.start, tc.end, d)
			}
			checkCounts(t, p)
		})
	}
}

func TestReserveMany(t *testing.T) {
	// Whole-range removal swaps the last range in; it must be examined
	// too.
	p := new(physAllocator)
	for i := range 8 {
		p.addRange(uint64(i)*physMiB, uint64(i)*physMiB+pageSize)
	}
	p.reserve(0, 8*physMiB)
	if p.nranges != 0 {
		t.Errorf("reserving everything left %#x", rangesOf(p))
	}
	checkCounts(t, p)

	// A middle split with the range array full: the pages above the
	// reservation are lost, and the counters must say so.
	p = new(physAllocator)
	for i := range maxPhysRanges {
		p.addRange(uint64(i)*physMiB, uint64(i)*physMiB+16*pageSize)
	}
	p.reserve(4*pageSize, 8*pageSize)
	checkCounts(t, p)
	if got := p.ranges[0]; got != (physRange{0, 4 * pageSize}) {
		t.Errorf("split range = %s", fmtRange(got))
	}
}

// TestReserveModel checks random addRange and reserve sequences against
// a page set.
func TestReserveModel(t *testing.T) {
	const pages = 256
	rng := rand.New(rand.NewSource(2))
	for round := 0; round < 500; round++ {
		p := new(physAllocator)
		var model [pages]bool
		for range 1 + rng.Intn(6) {
			// Page 0 is never given to the allocator (alloc's 0 means
			// "none"; the kernel keeps the low megabyte).
			lo := (1 + rng.Intn(pages-1)) * pageSize
			hi := min(lo+rng.Intn(40)*pageSize, pages*pageSize)
			// Keep added ranges disjoint, as the memory map is.
			overlap := false
			for a := lo; a < hi; a += pageSize {
				overlap = overlap || model[a/pageSize]
			}
			if overlap {
				continue
			}
			first := lo
			if rng.Intn(2) == 0 { // unaligned start: its page is lost
				p.addRange(uint64(lo)+1, uint64(hi))
				first += pageSize
			} else {
				p.addRange(uint64(lo), uint64(hi))
			}
			for a := first; a < hi; a += pageSize {
				model[a/pageSize] = true
			}
		}
		for range rng.Intn(8) {
			lo := uint64(rng.Intn(pages*pageSize + pageSize))
			hi := lo + uint64(rng.Intn(30*pageSize))
			p.reserve(lo, hi)
			for a := lo &^ (pageSize - 1); a < hi && a < pages*pageSize; a += pageSize {
				model[a/pageSize] = false
			}
		}
		checkCounts(t, p)
		var want []uint64
		for i, used := range model {
			if used {
				want = append(want, uint64(i)*pageSize)
			}
		}
		// alloc hands out exactly the model's pages, lowest first.
		var got []uint64
		for pa := p.alloc(); pa != 0; pa = p.alloc() {
			got = append(got, pa)
			if len(got) > pages {
				t.Fatal("alloc does not stop")
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: alloc sequence\n got %#x\nwant %#x", round, got, want)
		}
		if p.freePages != 0 {
			t.Errorf("round %d: freePages = %d after exhaustion", round, p.freePages)
		}
	}
}

func TestAlloc(t *testing.T) {
	p := new(physAllocator)
	if p.limboHead != 0 || p.freeList != 0 {
		t.Fatal("fresh allocator has a free list or limbo")
	}
	p.reclaimLocked() // returns at once with an empty limbo
	if pa := p.alloc(); pa != 0 {
		t.Fatalf("alloc from an empty allocator = %#x", pa)
	}

	// Ranges added out of order: the lowest is used first.
	p.addRange(8*physMiB, 8*physMiB+2*pageSize)
	p.addRange(1*physMiB, 1*physMiB+2*pageSize)
	p.addRange(4*physMiB, 4*physMiB+pageSize)
	want := []uint64{1 * physMiB, 1*physMiB + pageSize, 4 * physMiB, 8 * physMiB, 8*physMiB + pageSize, 0, 0}
	for i, w := range want {
		free := p.freePages
		pa := p.alloc()
		if pa != w {
			t.Fatalf("alloc #%d = %#x, want %#x", i, pa, w)
		}
		if pa != 0 && p.freePages != free-1 || pa == 0 && p.freePages != 0 {
			t.Errorf("alloc #%d: freePages %d -> %d", i, free, p.freePages)
		}
	}
	if p.totalPages != 5 {
		t.Errorf("totalPages = %d, want 5 (alloc does not change it)", p.totalPages)
	}
	if p.limboHead != 0 || p.freeList != 0 {
		t.Errorf("alloc set up a free list or limbo")
	}
}

func TestAllocLimit(t *testing.T) {
	p := new(physAllocator)
	p.addRange(3*physMiB, 3*physMiB+2*pageSize)
	p.addRange(1*physMiB-2*pageSize, 1*physMiB)
	p.addRange(2*physMiB, 2*physMiB+pageSize)
	p.limit = 2 * physMiB
	want := []uint64{1*physMiB - 2*pageSize, 1*physMiB - pageSize, 0}
	for i, w := range want {
		if pa := p.alloc(); pa != w {
			t.Fatalf("alloc #%d with limit %#x = %#x, want %#x", i, p.limit, pa, w)
		}
	}
	// A page ending exactly at the limit is allowed.
	p.limit = 2*physMiB + pageSize
	if pa := p.alloc(); pa != 2*physMiB {
		t.Fatalf("alloc with the limit at the page's end = %#x, want %#x", pa, 2*physMiB)
	}
	if pa := p.alloc(); pa != 0 {
		t.Fatalf("alloc beyond the limit = %#x", pa)
	}
	// Lifting the limit reaches high memory.
	p.limit = 0
	for i, w := range []uint64{3 * physMiB, 3*physMiB + pageSize, 0} {
		if pa := p.alloc(); pa != w {
			t.Fatalf("alloc #%d without limit = %#x, want %#x", i, pa, w)
		}
	}
	if p.freePages != 0 {
		t.Errorf("freePages = %d after exhaustion", p.freePages)
	}
}
