package bootinfo

import (
	"encoding/binary"
	"testing"
)

// fuzzMagic turns the fuzzer's selector into EAX: the Multiboot2 magic,
// the PVH magic (EAX is undefined on PVH entry, so anything goes), zero,
// or an arbitrary value.
func fuzzMagic(sel uint32) uint32 {
	switch sel & 3 {
	case 0:
		return multiboot2Magic
	case 1:
		return pvhMagic
	case 2:
		return 0
	}
	return sel
}

// fuzzOut holds FuzzParse's results. Info is 10 KiB: reusing it rather
// than allocating each time keeps the fuzzer (and its minimiser) fast.
var fuzzOut [2]Info

// FuzzParse feeds Parse arbitrary memory. It must never panic, and what it
// accepts must respect the Info limits.
func FuzzParse(f *testing.F) {
	// Seeds are compact (a few hundred bytes): the fuzzer minimises every
	// interesting input, which for the tests' 64 KiB layouts takes
	// longer than the fuzzing itself.
	f.Add(uint32(2), uint64(0), compactPVH())
	f.Add(uint32(1), uint64(8), append(make([]byte, 8), compactPVH()...))
	ex := mb2Example()
	f.Add(uint32(0), uint64(0), []byte(ex.mem[mb2Info:mb2Info+ex.total]))
	small := buildMB2(cmdlineTag("x"), moduleTag(0x100000, 0x200000, "m"), mmapTag(24, simpleMap), endTag)
	f.Add(uint32(0), uint64(0), []byte(small.mem[mb2Info:mb2Info+small.total]))
	var in Info
	if err := Parse(compactPVH(), 0, 0, &in); err != nil || in.NModules != 2 || in.NRegions != len(microvmRegions) {
		f.Fatalf("compactPVH seed does not parse: %v, %+v", err, viewOf(&in))
	}
	f.Add(uint32(1), uint64(0), []byte{0x78, 0xc5, 0x6e, 0x33})
	f.Add(uint32(7), ^uint64(0), []byte{})

	f.Fuzz(func(t *testing.T, sel uint32, info uint64, mem []byte) {
		magic := fuzzMagic(sel)
		if sel&4 == 0 {
			// Mostly point inside (or just past) the memory.
			info %= uint64(len(mem)) + 8
		}
		out := &fuzzOut[0]
		*out = dirty
		err := Parse(Memory(mem), magic, info, out)
		if err != nil {
			switch err {
			case ErrUnknownProtocol, ErrUnreadable, ErrBadMemoryMap, ErrBadMultiboot2:
			default:
				t.Fatalf("Parse returned %#v, not one of the error constants", err)
			}
			return
		}
		switch {
		case magic == multiboot2Magic && out.Protocol != Multiboot2,
			magic != multiboot2Magic && out.Protocol != PVH:
			t.Fatalf("magic %#x parsed as %v", magic, out.Protocol)
		}
		if out.InfoAddr != info {
			t.Errorf("InfoAddr = %#x, want %#x", out.InfoAddr, info)
		}
		if out.NRegions < 1 || out.NRegions > MaxRegions {
			t.Fatalf("NRegions = %d on success, want 1..%d", out.NRegions, MaxRegions)
		}
		for i, r := range out.Regions[:out.NRegions] {
			if r.Size == 0 {
				t.Errorf("Regions[%d] = %+v has size 0", i, r)
			}
			if r.Base+r.Size != 0 && r.Base+r.Size < r.Base {
				t.Errorf("Regions[%d] = %+v wraps", i, r)
			}
		}
		if out.NModules < 0 || out.NModules > MaxModules {
			t.Fatalf("NModules = %d, want 0..%d", out.NModules, MaxModules)
		}
		for i := range out.Modules[:out.NModules] {
			if n := len(out.Modules[i].Cmdline()); n > maxModCmdline {
				t.Errorf("Modules[%d].Cmdline() is %d bytes", i, n)
			}
		}
		if n := len(out.Cmdline()); n > MaxCmdline {
			t.Errorf("Cmdline() is %d bytes, more than MaxCmdline", n)
		}
		checkClean(t, out)
		out.RAM()

		// Parsing is deterministic and independent of the Info's
		// previous contents.
		again := &fuzzOut[1]
		if err := Parse(Memory(mem), magic, info, again); err != nil {
			t.Fatalf("second Parse: %v", err)
		}
		if *again != *out {
			t.Fatalf("second Parse differs (-first +second):\n%s", diff(viewOf(out), viewOf(again)))
		}
	})
}

// compactPVH is a complete PVH boot information blob, info at 0 and
// everything it points to packed after it.
func compactPVH() []byte {
	const (
		modlist = 0x40 // 2 entries
		cmdline = 0x80 // 32 bytes
		modCmd  = 0xa0 // 16 bytes
		memmap  = 0xb0 // len(microvmMap) entries
	)
	m := make(Memory, memmap+24*len(microvmMap))
	le := binary.LittleEndian
	le.PutUint32(m[0:], pvhMagic)
	le.PutUint32(m[4:], 1)
	le.PutUint32(m[12:], 2)
	le.PutUint64(m[16:], modlist)
	le.PutUint64(m[24:], cmdline)
	le.PutUint64(m[32:], 0xf52e0)
	le.PutUint64(m[40:], memmap)
	le.PutUint32(m[48:], uint32(len(microvmMap)))
	le.PutUint64(m[modlist:], 0x3000000)
	le.PutUint64(m[modlist+8:], 0x1000)
	le.PutUint64(m[modlist+16:], modCmd)
	le.PutUint64(m[modlist+32:], 0x4000000)
	le.PutUint64(m[modlist+40:], 1)
	putString(m, cmdline, "console=ttyS0 quiet")
	putString(m, modCmd, "initrd")
	for i, r := range microvmMap {
		le.PutUint64(m[memmap+24*i:], r.Base)
		le.PutUint64(m[memmap+24*i+8:], r.Size)
		le.PutUint32(m[memmap+24*i+16:], r.Type)
	}
	return m
}
