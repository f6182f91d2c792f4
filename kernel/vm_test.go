package kernel

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// Host tests of the address space's vma list. They only call the list
// operations, which never touch page tables (as.pt stays nil): mmap,
// munmap, mprotect, madvise, populate, access and unmap are for the
// in-kernel self-tests.

const (
	vmRW = protRead | protWrite
	vmRO = protRead
)

// vmPage is the address of user page n.
func vmPage(n uintptr) uintptr { return userMin + n*pageSize }

// vmaSpaceOf returns a fresh address space holding exactly vs (which must
// be sorted and disjoint), set up without insert.
func vmaSpaceOf(vs ...vma) *addressSpace {
	as := new(addressSpace)
	as.n = copy(as.list[:], vs)
	return as
}

func vmasOf(as *addressSpace) []vma {
	return append([]vma(nil), as.list[:as.n]...)
}

// fmtVMA formats a vma for messages.
func fmtVMA(v vma) string {
	return fmt.Sprintf("[%#x-%#x prot=%d flags=%d]", v.start, v.end, v.prot, v.flags)
}

// vmaDiff describes the difference between two vma lists in "-want
// +got" form, one line per differing element; "" if they are equal.
func vmaDiff(want, got []vma) string {
	var b strings.Builder
	for i := 0; i < max(len(want), len(got)); i++ {
		switch {
		case i >= len(want):
			fmt.Fprintf(&b, "+\t[%d] %s\n", i, fmtVMA(got[i]))
		case i >= len(got):
			fmt.Fprintf(&b, "-\t[%d] %s\n", i, fmtVMA(want[i]))
		case want[i] != got[i]:
			fmt.Fprintf(&b, "-\t[%d] %s\n+\t[%d] %s\n", i, fmtVMA(want[i]), i, fmtVMA(got[i]))
		}
	}
	return b.String()
}

// checkVMAList verifies the list invariants: every vma non-empty, sorted,
// disjoint, and n within bounds.
func checkVMAList(t *testing.T, as *addressSpace) {
	t.Helper()
	if as.n < 0 || as.n > maxVMAs {
		t.Fatalf("n = %d", as.n)
	}
	for i := 0; i < as.n; i++ {
		v := as.list[i]
		if v.start >= v.end {
			t.Fatalf("vma %d %#x is empty", i, v)
		}
		if i > 0 && as.list[i-1].end > v.start {
			t.Fatalf("vma %d %#x overlaps or precedes vma %d %#x", i, v, i-1, as.list[i-1])
		}
	}
}

func TestInsert(t *testing.T) {
	tests := []struct {
		name       string
		before     []vma
		start, end uintptr
		prot, fl   uint32
		want       []vma
	}{
		{"into empty", nil, vmPage(1), vmPage(3), vmRW, 0,
			[]vma{{vmPage(1), vmPage(3), vmRW, 0}}},
		{"before, not adjacent", []vma{{vmPage(5), vmPage(6), vmRW, 0}}, vmPage(1), vmPage(3), vmRW, 0,
			[]vma{{vmPage(1), vmPage(3), vmRW, 0}, {vmPage(5), vmPage(6), vmRW, 0}}},
		{"after, not adjacent", []vma{{vmPage(1), vmPage(2), vmRW, 0}}, vmPage(3), vmPage(4), vmRW, 0,
			[]vma{{vmPage(1), vmPage(2), vmRW, 0}, {vmPage(3), vmPage(4), vmRW, 0}}},
		{"between", []vma{{vmPage(1), vmPage(2), vmRW, 0}, {vmPage(8), vmPage(9), vmRW, 0}}, vmPage(4), vmPage(5), vmRO, 0,
			[]vma{{vmPage(1), vmPage(2), vmRW, 0}, {vmPage(4), vmPage(5), vmRO, 0}, {vmPage(8), vmPage(9), vmRW, 0}}},
		{"merges with previous", []vma{{vmPage(1), vmPage(2), vmRW, 0}, {vmPage(8), vmPage(9), vmRW, 0}}, vmPage(2), vmPage(4), vmRW, 0,
			[]vma{{vmPage(1), vmPage(4), vmRW, 0}, {vmPage(8), vmPage(9), vmRW, 0}}},
		{"merges with next", []vma{{vmPage(1), vmPage(2), vmRW, 0}, {vmPage(8), vmPage(9), vmRW, 0}}, vmPage(5), vmPage(8), vmRW, 0,
			[]vma{{vmPage(1), vmPage(2), vmRW, 0}, {vmPage(5), vmPage(9), vmRW, 0}}},
		{"merges with both", []vma{{0, vmPage(0), vmRW, 0}, {vmPage(1), vmPage(2), vmRW, 0}, {vmPage(4), vmPage(9), vmRW, 0}, {vmPage(10), vmPage(11), vmRW, 0}},
			vmPage(2), vmPage(4), vmRW, 0,
			[]vma{{0, vmPage(0), vmRW, 0}, {vmPage(1), vmPage(9), vmRW, 0}, {vmPage(10), vmPage(11), vmRW, 0}}},
		{"previous differs in prot", []vma{{vmPage(1), vmPage(2), vmRO, 0}, {vmPage(4), vmPage(5), vmRW, 0}}, vmPage(2), vmPage(4), vmRW, 0,
			[]vma{{vmPage(1), vmPage(2), vmRO, 0}, {vmPage(2), vmPage(5), vmRW, 0}}},
		{"next differs in prot", []vma{{vmPage(1), vmPage(2), vmRW, 0}, {vmPage(4), vmPage(5), vmRO, 0}}, vmPage(2), vmPage(4), vmRW, 0,
			[]vma{{vmPage(1), vmPage(4), vmRW, 0}, {vmPage(4), vmPage(5), vmRO, 0}}},
		{"neighbours differ in flags", []vma{{vmPage(1), vmPage(2), vmRW, vmaKernel}, {vmPage(4), vmPage(5), vmRW, vmaKernel}}, vmPage(2), vmPage(4), vmRW, 0,
			[]vma{{vmPage(1), vmPage(2), vmRW, vmaKernel}, {vmPage(2), vmPage(4), vmRW, 0}, {vmPage(4), vmPage(5), vmRW, vmaKernel}}},
		{"kernel vmas merge with each other", []vma{{vmPage(1), vmPage(2), vmRW, vmaKernel}}, vmPage(2), vmPage(3), vmRW, vmaKernel,
			[]vma{{vmPage(1), vmPage(3), vmRW, vmaKernel}}},
		{"no prot merges with no prot", []vma{{vmPage(1), vmPage(2), 0, 0}}, vmPage(0), vmPage(1), 0, 0,
			[]vma{{vmPage(0), vmPage(2), 0, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			as := vmaSpaceOf(tc.before...)
			if !as.insert(tc.start, tc.end, tc.prot, tc.fl) {
				t.Fatal("insert = false")
			}
			checkVMAList(t, as)
			if d := vmaDiff(tc.want, vmasOf(as)); d != "" {
				t.Errorf("vmas after insert(%#x, %#x) (-want +got):\n%s", tc.start, tc.end, d)
			}
		})
	}
}

// fullVMASpace has maxVMAs one-page vmas with a one-page gap after each,
// alternating prot so that none could merge.
func fullVMASpace() *addressSpace {
	as := new(addressSpace)
	for i := range as.list {
		p := uint32(vmRW)
		if i%2 == 1 {
			p = vmRO
		}
		as.list[i] = vma{vmPage(uintptr(2 * i)), vmPage(uintptr(2*i + 1)), p, 0}
	}
	as.n = maxVMAs
	return as
}

func TestInsertFull(t *testing.T) {
	as := fullVMASpace()
	// Page 1 lies between vma 0 (vmRW) and vma 1 (vmRO).
	if as.insert(vmPage(1), vmPage(2), protExec, 0) {
		t.Errorf("insert of an unmergeable vma into a full list = true")
	}
	if as.n != maxVMAs {
		t.Errorf("n = %d after a failed insert", as.n)
	}
	if !as.insert(vmPage(1), vmPage(2), vmRW, 0) {
		t.Errorf("insert merging with the previous vma into a full list = false")
	}
	if got, want := as.list[0], (vma{vmPage(0), vmPage(2), vmRW, 0}); got != want {
		t.Errorf("list[0] = %#x, want %#x", got, want)
	}
	if !as.insert(vmPage(3), vmPage(4), vmRW, 0) { // merges with vma 2 (vmRW, page 4)
		t.Errorf("insert merging with the next vma into a full list = false")
	}
	if got, want := as.list[2], (vma{vmPage(3), vmPage(5), vmRW, 0}); got != want {
		t.Errorf("list[2] = %#x, want %#x", got, want)
	}
	// Bridging two vmRW vmas frees a slot.
	as = fullVMASpace()
	as.list[1].prot = vmRW
	if !as.insert(vmPage(1), vmPage(2), vmRW, 0) || as.n != maxVMAs-1 {
		t.Errorf("bridging insert: n = %d, want %d", as.n, maxVMAs-1)
	}
	if got, want := as.list[0], (vma{vmPage(0), vmPage(3), vmRW, 0}); got != want {
		t.Errorf("list[0] = %#x, want %#x", got, want)
	}
	checkVMAList(t, as)
	if !as.insert(vmPage(2*maxVMAs+5), vmPage(2*maxVMAs+6), protExec, 0) || as.n != maxVMAs {
		t.Errorf("insert into the freed slot failed: n = %d", as.n)
	}
	checkVMAList(t, as)
}

func TestSplit(t *testing.T) {
	base := []vma{{vmPage(1), vmPage(4), vmRW, 0}, {vmPage(6), vmPage(8), vmRO, vmaKernel}}
	tests := []struct {
		name string
		addr uintptr
		want []vma
	}{
		{"inside the first", vmPage(2), []vma{{vmPage(1), vmPage(2), vmRW, 0}, {vmPage(2), vmPage(4), vmRW, 0}, {vmPage(6), vmPage(8), vmRO, vmaKernel}}},
		{"inside the last keeps prot and flags", vmPage(7), []vma{{vmPage(1), vmPage(4), vmRW, 0}, {vmPage(6), vmPage(7), vmRO, vmaKernel}, {vmPage(7), vmPage(8), vmRO, vmaKernel}}},
		{"not page aligned", vmPage(2) + 1, []vma{{vmPage(1), vmPage(2) + 1, vmRW, 0}, {vmPage(2) + 1, vmPage(4), vmRW, 0}, {vmPage(6), vmPage(8), vmRO, vmaKernel}}},
		{"at a start", vmPage(1), base},
		{"at an end", vmPage(4), base},
		{"in a gap", vmPage(5), base},
		{"below all", 0, base},
		{"above all", vmPage(100), base},
		{"at the last end", vmPage(8), base},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			as := vmaSpaceOf(base...)
			if !as.split(tc.addr) {
				t.Fatal("split = false")
			}
			checkVMAList(t, as)
			if d := vmaDiff(tc.want, vmasOf(as)); d != "" {
				t.Errorf("vmas after split(%#x) (-want +got):\n%s", tc.addr, d)
			}
		})
	}

	as := fullVMASpace()
	if as.split(vmPage(0) + pageSize/2) {
		t.Errorf("split inside a vma of a full list = true")
	}
	if as.n != maxVMAs || as.list[0] != (vma{vmPage(0), vmPage(1), vmRW, 0}) {
		t.Errorf("failed split changed the list: n = %d, list[0] = %#x", as.n, as.list[0])
	}
	if !as.split(vmPage(1)) || !as.split(vmPage(2)) || !as.split(vmPage(1)+1) {
		t.Errorf("split at a boundary or in a gap of a full list = false")
	}
	checkVMAList(t, as)
}

func TestFindAndLookup(t *testing.T) {
	as := vmaSpaceOf(vma{vmPage(1), vmPage(3), vmRW, 0}, vma{vmPage(3), vmPage(4), vmRO, 0}, vma{vmPage(10), vmPage(12), vmRW, vmaKernel})
	tests := []struct {
		addr  uintptr
		find  int
		found int // index lookupVMA returns, -1 for none
	}{
		{0, 0, -1},
		{vmPage(0), 0, -1},
		{vmPage(1) - 1, 0, -1},
		{vmPage(1), 0, 0},
		{vmPage(2) + 7, 0, 0},
		{vmPage(3) - 1, 0, 0},
		{vmPage(3), 1, 1},
		{vmPage(4) - 1, 1, 1},
		{vmPage(4), 2, -1},
		{vmPage(9), 2, -1},
		{vmPage(10), 2, 2},
		{vmPage(12) - 1, 2, 2},
		{vmPage(12), 3, -1},
		{^uintptr(0), 3, -1},
	}
	for _, tc := range tests {
		if got := as.find(tc.addr); got != tc.find {
			t.Errorf("find(%#x) = %d, want %d", tc.addr, got, tc.find)
		}
		v, ok := as.lookupVMA(tc.addr)
		switch {
		case tc.found < 0 && (ok || v != nil):
			t.Errorf("lookupVMA(%#x) = %v, %v; want nil, false", tc.addr, v, ok)
		case tc.found >= 0 && (!ok || v != &as.list[tc.found]):
			t.Errorf("lookupVMA(%#x) = %p, %v; want &list[%d] = %p", tc.addr, v, ok, tc.found, &as.list[tc.found])
		}
	}
	// The returned pointer is the list entry itself.
	v, _ := as.lookupVMA(vmPage(3))
	v.prot = protExec
	if as.list[1].prot != protExec {
		t.Errorf("lookupVMA returned a copy")
	}

	empty := new(addressSpace)
	if i := empty.find(vmPage(1)); i != 0 {
		t.Errorf("find on an empty list = %d", i)
	}
	if v, ok := empty.lookupVMA(vmPage(1)); ok || v != nil {
		t.Errorf("lookupVMA on an empty list = %v, %v", v, ok)
	}
}

func TestOverlaps(t *testing.T) {
	as := vmaSpaceOf(vma{vmPage(2), vmPage(4), vmRW, 0}, vma{vmPage(6), vmPage(8), vmRW, vmaKernel}, vma{vmPage(8), vmPage(9), vmRO, 0})
	tests := []struct {
		start, end  uintptr
		any, kernel bool
	}{
		{vmPage(0), vmPage(2), false, false},
		{vmPage(0), vmPage(2) + 1, true, false},
		{vmPage(3), vmPage(5), true, false},
		{vmPage(4), vmPage(6), false, false},
		{vmPage(4), vmPage(6) + 1, true, true},
		{vmPage(7), vmPage(7) + 1, true, true},
		{vmPage(8), vmPage(10), true, false},
		{vmPage(7), vmPage(10), true, true},
		{vmPage(0), vmPage(100), true, true},
		{vmPage(9), vmPage(100), false, false},
		{vmPage(3), vmPage(4), true, false},
	}
	for _, tc := range tests {
		a, k := as.overlaps(tc.start, tc.end)
		if a != tc.any || k != tc.kernel {
			t.Errorf("overlaps(%#x, %#x) = %v, %v; want %v, %v", tc.start, tc.end, a, k, tc.any, tc.kernel)
		}
	}
}

func TestFindFree(t *testing.T) {
	const top = userMin + 0x100*pageSize
	tests := []struct {
		name      string
		vmas      []vma
		size, top uintptr
		want      uintptr
		ok        bool
	}{
		{"empty, mmapTop", nil, pageSize, mmapTop, mmapTop - pageSize, true},
		{"empty, userMax", nil, 3 * pageSize, userMax, userMax - 3*pageSize, true},
		{"empty, exactly down to userMin", nil, 0x100 * pageSize, top, userMin, true},
		{"empty, one page too big", nil, 0x101 * pageSize, top, 0, false},
		{"top at userMin", nil, pageSize, userMin, 0, false},
		{"top below userMin", nil, pageSize, userMin - pageSize, 0, false},
		{"vma ending at top", []vma{{vmPage(0xf0), top, vmRW, 0}}, 2 * pageSize, top, vmPage(0xee), true},
		{"vma above top ignored", []vma{{top, top + pageSize, vmRW, 0}}, pageSize, top, top - pageSize, true},
		{"vma straddling top", []vma{{top - pageSize, top + pageSize, vmRW, 0}}, pageSize, top, top - 2*pageSize, true},
		{"vma straddling top, gap below too small", []vma{{vmPage(2), vmPage(3), vmRW, 0}, {top - pageSize, top + pageSize, vmRW, 0}},
			0xfd * pageSize, top, 0, false},
		{"highest gap that fits", []vma{{vmPage(10), vmPage(20), vmRW, 0}, {vmPage(22), vmPage(30), vmRW, 0}, {vmPage(31), top, vmRW, 0}},
			2 * pageSize, top, vmPage(20), true},
		{"exact fit", []vma{{vmPage(10), vmPage(20), vmRW, 0}, {vmPage(22), top, vmRW, 0}}, 2 * pageSize, top, vmPage(20), true},
		{"down to the gap above userMin", []vma{{vmPage(4), top, vmRW, 0}}, 4 * pageSize, top, userMin, true},
		{"full", []vma{{vmPage(0), top, vmRW, 0}}, pageSize, top, 0, false},
		{"gap above userMin too small", []vma{{vmPage(3), top, vmRW, 0}}, 4 * pageSize, top, 0, false},
		{"kernel vmas are in the way too", []vma{{vmPage(0x80), top, vmRW, vmaKernel}}, pageSize, top, vmPage(0x7f), true},
		{"vma below userMin", []vma{{pageSize, 2 * pageSize, vmRW, 0}, {vmPage(3), top, vmRW, 0}}, 4 * pageSize, top, 0, false},
		{"vma straddling userMin", []vma{{userMin - pageSize, userMin + pageSize, vmRW, 0}, {vmPage(4), top, vmRW, 0}},
			3 * pageSize, top, vmPage(1), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			as := vmaSpaceOf(tc.vmas...)
			got, ok := as.findFree(tc.size, tc.top)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("findFree(%#x, %#x) = %#x, %v; want %#x, %v", tc.size, tc.top, got, ok, tc.want, tc.ok)
			}
			if ok {
				if a, _ := as.overlaps(got, got+tc.size); a {
					t.Errorf("findFree returned [%#x, %#x), which is in use", got, got+tc.size)
				}
			}
		})
	}
}

func TestRemove(t *testing.T) {
	a, b, c := vma{vmPage(1), vmPage(2), vmRW, 0}, vma{vmPage(3), vmPage(4), vmRO, 0}, vma{vmPage(5), vmPage(6), vmRW, vmaKernel}
	tests := []struct {
		i    int
		want []vma
	}{
		{0, []vma{b, c}},
		{1, []vma{a, c}},
		{2, []vma{a, b}},
	}
	for _, tc := range tests {
		as := vmaSpaceOf(a, b, c)
		as.remove(tc.i)
		if d := vmaDiff(tc.want, vmasOf(as)); d != "" {
			t.Errorf("remove(%d) (-want +got):\n%s", tc.i, d)
		}
	}
	as := vmaSpaceOf(a)
	as.remove(0)
	if as.n != 0 {
		t.Errorf("n = %d after removing the only vma", as.n)
	}
	as = fullVMASpace()
	as.remove(maxVMAs - 1)
	as.remove(0)
	if as.n != maxVMAs-2 || as.list[0].start != vmPage(2) {
		t.Errorf("remove on a full list: n = %d, list[0] = %#x", as.n, as.list[0])
	}
}

// TestListModel runs random list operations against a page-by-page model
// of the address space.
func TestListModel(t *testing.T) {
	const pages = 96
	type page struct {
		used        bool
		prot, flags uint32
	}
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 200; round++ {
		as := new(addressSpace)
		var model [pages]page
		pageOf := func(a uintptr) int { return int((a - userMin) / pageSize) }
		free := func(lo, hi int) bool {
			for p := lo; p < hi; p++ {
				if model[p].used {
					return false
				}
			}
			return true
		}
		for op := 0; op < 60; op++ {
			switch rng.Intn(5) {
			case 0, 1: // insert at a random free place
				lo := rng.Intn(pages)
				hi := lo + 1 + rng.Intn(6)
				if hi > pages || !free(lo, hi) {
					continue
				}
				prot, flags := uint32(rng.Intn(2)+1), uint32(0)
				if rng.Intn(8) == 0 {
					flags = vmaKernel
				}
				if !as.insert(vmPage(uintptr(lo)), vmPage(uintptr(hi)), prot, flags) {
					t.Fatal("insert failed")
				}
				for p := lo; p < hi; p++ {
					model[p] = page{true, prot, flags}
				}
			case 2: // insert where findFree says
				size := uintptr(1+rng.Intn(8)) * pageSize
				top := vmPage(uintptr(rng.Intn(pages + 1)))
				got, ok := as.findFree(size, top)
				want, wantOK := uintptr(0), false
				for hi := pageOf(top); hi-int(size/pageSize) >= 0; hi-- {
					if free(hi-int(size/pageSize), hi) {
						want, wantOK = vmPage(uintptr(hi))-size, true
						break
					}
				}
				if got != want || ok != wantOK {
					t.Fatalf("round %d: findFree(%#x, %#x) = %#x, %v; want %#x, %v\nvmas: %#x",
						round, size, top, got, ok, want, wantOK, vmasOf(as))
				}
				if ok {
					as.insert(got, got+size, vmRW, 0)
					for p := pageOf(got); p < pageOf(got+size); p++ {
						model[p] = page{true, vmRW, 0}
					}
				}
			case 3: // split anywhere
				if !as.split(vmPage(uintptr(rng.Intn(pages)))) {
					t.Fatal("split failed")
				}
			case 4: // remove a vma
				if as.n == 0 {
					continue
				}
				i := rng.Intn(as.n)
				for p := pageOf(as.list[i].start); p < pageOf(as.list[i].end); p++ {
					model[p] = page{}
				}
				as.remove(i)
			}
			checkVMAList(t, as)
			// The list describes the model exactly.
			for p := 0; p < pages; p++ {
				v, ok := as.lookupVMA(vmPage(uintptr(p)))
				m := model[p]
				if ok != m.used || ok && (v.prot != m.prot || v.flags != m.flags) {
					t.Fatalf("round %d op %d: page %d: lookupVMA = %v, %v; model %+v\nvmas: %#x",
						round, op, p, v, ok, m, vmasOf(as))
				}
				if a, k := as.overlaps(vmPage(uintptr(p)), vmPage(uintptr(p+1))); a != m.used || k != (m.flags&vmaKernel != 0) {
					t.Fatalf("page %d: overlaps = %v, %v; model %+v", p, a, k, m)
				}
			}
		}
	}
}
