package acpi

import (
	"strings"
	"testing"
)

// fuzzOut holds FuzzParse's results: reusing them rather than allocating
// each time keeps the fuzzer fast.
var fuzzOut [2]Tables

// FuzzParse feeds Parse arbitrary memory and RSDP addresses. It must
// never panic or loop, and what it returns must respect the Tables
// limits.
func FuzzParse(f *testing.F) {
	// Seeds are compact (a few hundred bytes): the fuzzer minimises every
	// interesting input, which for 64 KiB layouts is slow.
	m, p := microvm(true)
	var in Tables
	if !Parse(m, p, &in) || viewOf(&in).CPUs == nil || !in.S5Found {
		f.Fatalf("microvm seed does not parse: %+v", viewOf(&in))
	}
	f.Add([]byte(m), p)
	f.Add([]byte(m), uint64(1)<<63) // the RSDP address taken as is
	f.Add(compactPC(), uint64(0))
	f.Add([]byte{}, uint64(0))
	f.Add([]byte(rsdp(2, 0, 0)), uint64(0))

	f.Fuzz(func(t *testing.T, mem []byte, addr uint64) {
		if addr>>63 == 0 {
			// Mostly point inside (or just past) the memory.
			addr %= uint64(len(mem)) + 40
		} else {
			addr &^= 1 << 63
		}
		out := &fuzzOut[0]
		ok := Parse(Memory(mem), addr, out)
		if out.NCPUs < 0 || out.NCPUs > MaxCPUs {
			t.Fatalf("NCPUs = %d, want 0..%d", out.NCPUs, MaxCPUs)
		}
		checkClean(t, out)
		if ok != out.Found {
			t.Errorf("Parse = %v but Found = %v", ok, out.Found)
		}
		if !ok && *out != (Tables{}) {
			t.Errorf("failed Parse left %+v", viewOf(out))
		}
		// Parsing is deterministic and independent of the Tables'
		// previous contents.
		again := &fuzzOut[1]
		*again = *dirty()
		if Parse(Memory(mem), addr, again) != ok || *again != *out {
			t.Fatalf("second Parse differs (-first +second):\n%s", diff(viewOf(out), viewOf(again)))
		}
		if a := FindRSDP(Memory(mem)); a != 0 && (a < 0xe0000 || a >= 0x100000 || a%16 != 0) {
			t.Errorf("FindRSDP = %#x", a)
		}
	})
}

// compactPC is the qemuPC system (RSDT, fixed-hardware FADT, _S5 with
// ZeroOp) packed from address 0.
func compactPC() []byte {
	im := newImage(0x400, 0x20)
	d := im.add(dsdt(s5Zero))
	ma := im.add(madt(lapic(0, 0, enabled), lapic(1, 1, 0), x2apic(0x100, enabled, 2), ioapic(0, ioapicBase, 0)))
	fa := im.add(fadt(fadtSpec{length: 244, dsdt: uint32(d), pm1a: 0x604}))
	r := im.add(rsdt(fa, ma))
	im.at(0, rsdp(0, uint32(r), 0))
	return im.used()
}

// FuzzTables fuzzes the contents of the MADT, FADT and DSDT behind valid
// headers and checksums, which FuzzParse's random memory rarely gets
// past. flags selects RSDT or XSDT (bit 0), whether the FADT's DSDT and
// X_DSDT fields are pointed at the DSDT (bits 1, 2) and whether the
// MADT is listed twice (bit 3).
func FuzzTables(f *testing.F) {
	entries := func(es ...[]byte) []byte {
		var b []byte
		for _, e := range es {
			b = append(b, e...)
		}
		return b
	}
	madtBody := madt(lapic(0, 0, enabled), x2apic(0x100, enabled, 1), ioapic(1, ioapicBase, 0))[36:]
	fadtBody := fadt(fadtSpec{pm1a: 0x604, flags: hwReducedACPI | resetRegSup,
		reset: GAS{1, 8, 0xcf9}, resetValue: 6, sleepCtl: GAS{1, 8, 0x600}})[36:]
	f.Add(madtBody, fadtBody, entries(s4, s5Byte), uint8(3))
	f.Add(madtBody, fadtBody[:80], entries(s5LongPkg), uint8(2))
	f.Add(madtBody[:8], []byte{}, entries(s5One, s5Ref), uint8(9))
	f.Add(entries(madtBody[:8], []byte{0, 0}), fadtBody, []byte{}, uint8(5))

	f.Fuzz(func(t *testing.T, madtBody, fadtBody, aml []byte, flags uint8) {
		im := newImage(0x1000+len(madtBody)+len(fadtBody)+len(aml)+200, 0x30)
		d := im.add(sdt("DSDT", 2, aml))
		fb := append([]byte(nil), fadtBody...)
		if flags&2 != 0 && len(fb) >= 8 {
			le.PutUint32(fb[4:], uint32(d))
		}
		if flags&4 != 0 && len(fb) >= 112 {
			le.PutUint64(fb[104:], d)
		}
		fa := im.add(sdt("FACP", 6, fb))
		ma := im.add(sdt("APIC", 5, madtBody))
		list := []uint64{fa, ma}
		if flags&8 != 0 {
			list = append(list, ma)
		}
		if flags&1 != 0 {
			im.at(0, rsdp(2, 0, im.add(xsdt(list...))))
		} else {
			im.at(0, rsdp(0, uint32(im.add(rsdt(list...))), 0))
		}

		out := &fuzzOut[0]
		if !Parse(im.m, 0, out) {
			t.Fatal("Parse failed on valid root tables")
		}
		checkClean(t, out)
		// Every CPU takes at least 8 bytes of MADT after its 8-byte
		// fixed part.
		n := max(len(madtBody)-8, 0) / 8
		if flags&8 != 0 {
			n *= 2
		}
		if out.NCPUs > min(n, MaxCPUs) {
			t.Errorf("NCPUs = %d from %d bytes of MADT", out.NCPUs, len(madtBody))
		}
		if out.S5Found && !strings.Contains(string(im.m), "_S5_") {
			t.Errorf("S5Found without _S5_ in memory")
		}
		again := &fuzzOut[1]
		*again = *dirty()
		if !Parse(im.m, 0, again) || *again != *out {
			t.Fatalf("second Parse differs (-first +second):\n%s", diff(viewOf(out), viewOf(again)))
		}
	})
}
