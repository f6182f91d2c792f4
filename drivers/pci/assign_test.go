package pci

import "testing"

func TestAssignBARs(t *testing.T) {
	f := newFakeSpace()
	f.add(0, 3, 0, 0x1af4, 0x1000, 0x020000, 0, HeaderGeneral).
		ioBAR(0, 0, 32, false).
		memBAR(1, 0, 4096, false, false).
		memBAR(4, 0, 16384, true, true)
	f.add(0, 4, 0, 0x1af4, 0x1041, 0x020000, 0, HeaderGeneral).
		memBAR(1, 0xc0000000, 4096, false, false) // firmware-assigned: kept
	f.add(1, 0, 0, 0x1af4, 0x1041, 0x020000, 0, HeaderGeneral).
		memBAR(0, 0, 4096, false, false) // behind a bridge: left alone
	devs := Scan(f)
	if err := AssignBARs(f, devs, Window{0xc0000000, 0xc0010000}, Window{0xc000, 0x10000}); err != nil {
		t.Fatalf("AssignBARs: %v", err)
	}
	// What the device now decodes must match what AssignBARs recorded.
	rescanned := Scan(f)
	seen := map[uint64]bool{}
	for i, d := range devs {
		for j, b := range d.BARs {
			if b.Size == 0 {
				continue
			}
			if got := rescanned[i].BARs[j].Addr; got != b.Addr {
				t.Errorf("%s BAR%d: recorded %#x, device decodes %#x", &d, j, b.Addr, got)
			}
			if d.Bus != 0 {
				if b.Addr != 0 {
					t.Errorf("%s BAR%d behind a bridge assigned %#x", &d, j, b.Addr)
				}
				continue
			}
			if b.Addr == 0 || b.Addr%b.Size != 0 {
				t.Errorf("%s BAR%d at %#x (size %#x): unassigned or misaligned", &d, j, b.Addr, b.Size)
			}
			if seen[b.Addr] {
				t.Errorf("%s BAR%d at %#x overlaps another", &d, j, b.Addr)
			}
			seen[b.Addr] = true
		}
	}
	if got := devs[0].BARs[4].Addr; got != 0xc0004000 {
		t.Errorf("16 KiB BAR at %#x, want 0xc0004000 (the first aligned slot after the assigned page)", got)
	}
	if got := devs[0].BARs[0].Addr; got != 0xc000 {
		t.Errorf("I/O BAR at %#x, want 0xc000", got)
	}
}

func TestAssignBARsNoSpace(t *testing.T) {
	f := newFakeSpace()
	f.add(0, 3, 0, 0x1af4, 0x1000, 0x020000, 0, HeaderGeneral).memBAR(1, 0, 1<<20, false, false)
	devs := Scan(f)
	if err := AssignBARs(f, devs, Window{0xc0000000, 0xc0001000}, Window{0xc000, 0x10000}); err != ErrNoSpace {
		t.Fatalf("AssignBARs = %v, want ErrNoSpace", err)
	}
	if devs[0].BARs[1].Addr != 0 {
		t.Errorf("BAR assigned %#x outside the window", devs[0].BARs[1].Addr)
	}
}
