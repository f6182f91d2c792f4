package bootinfo

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// Test memory is a byte slice standing for physical memory from 0.

func put32(m Memory, addr uint64, v uint32) { binary.LittleEndian.PutUint32(m[addr:], v) }
func put64(m Memory, addr uint64, v uint64) { binary.LittleEndian.PutUint64(m[addr:], v) }

// putString stores s followed by a NUL.
func putString(m Memory, addr uint64, s string) {
	copy(m[addr:], s)
	m[addr+uint64(len(s))] = 0
}

// PVH test layout: every structure at a fixed address in pvhMemSize bytes.
const (
	pvhMemSize    = 0x10000
	pvhInfo       = 0x1000
	pvhCmdline    = 0x2000 // up to 0x2000 bytes
	pvhModlist    = 0x4000
	pvhModCmdline = 0x5000 // module i's command line at +i*0x200
	pvhMemmap     = 0x8000
)

type pvhModule struct {
	paddr, size uint64
	cmdline     string // "" = cmdline_paddr 0
}

type pvhSpec struct {
	version, flags uint32
	cmdline        string // "" = cmdline_paddr 0
	rsdp           uint64
	modules        []pvhModule
	memmap         []Region // nil = memmap_paddr 0, memmap_entries 0
}

// buildPVH lays out an hvm_start_info and everything it points to.
func buildPVH(s pvhSpec) Memory {
	m := make(Memory, pvhMemSize)
	put32(m, pvhInfo+0, pvhMagic)
	put32(m, pvhInfo+4, s.version)
	put32(m, pvhInfo+8, s.flags)
	put32(m, pvhInfo+12, uint32(len(s.modules)))
	if len(s.modules) > 0 {
		put64(m, pvhInfo+16, pvhModlist)
	}
	if s.cmdline != "" {
		put64(m, pvhInfo+24, pvhCmdline)
		putString(m, pvhCmdline, s.cmdline)
	}
	put64(m, pvhInfo+32, s.rsdp)
	if s.memmap != nil {
		put64(m, pvhInfo+40, pvhMemmap)
		put32(m, pvhInfo+48, uint32(len(s.memmap)))
	}
	for i, mod := range s.modules {
		e := pvhModlist + uint64(i)*32
		put64(m, e+0, mod.paddr)
		put64(m, e+8, mod.size)
		if mod.cmdline != "" {
			c := pvhModCmdline + uint64(i)*0x200
			put64(m, e+16, c)
			putString(m, c, mod.cmdline)
		}
		put64(m, e+24, 0xdeadbeef) // reserved: ignored
	}
	for i, r := range s.memmap {
		e := pvhMemmap + uint64(i)*24
		put64(m, e+0, r.Base)
		put64(m, e+8, r.Size)
		put32(m, e+16, r.Type)
		put32(m, e+20, 0xdeadbeef) // reserved: ignored
	}
	return m
}

// microvmMap is shaped like QEMU microvm's E820 table: not sorted, and
// ending in an all-zero entry.
var microvmMap = []Region{
	{Base: 0x100000, Size: 0x7ff00000, Type: RegionRAM},
	{Base: 0, Size: 0x9fc00, Type: RegionRAM},
	{Base: 0xfeffc000, Size: 0x4000, Type: RegionReserved},
	{Base: 0x9fc00, Size: 0x400, Type: RegionReserved},
	{Base: 0xe0000, Size: 0x20000, Type: RegionACPI},
	{},
}

// microvmRegions is microvmMap as Parse reports it: in order, without the
// empty entry.
var microvmRegions = microvmMap[:len(microvmMap)-1]

var simpleMap = []Region{{Base: 0, Size: 0x8000000, Type: RegionRAM}}

// Multiboot2 test layout.
const (
	mb2MemSize = 0x20000
	mb2Info    = 0x1000
)

type mb2Tag struct {
	typ  uint32
	body []byte
	size uint32 // 0 = 8+len(body)
}

func cmdlineTag(s string) mb2Tag { return mb2Tag{typ: mb2TagCmdline, body: append([]byte(s), 0)} }

func moduleTag(start, end uint32, cmdline string) mb2Tag {
	b := binary.LittleEndian.AppendUint32(nil, start)
	b = binary.LittleEndian.AppendUint32(b, end)
	return mb2Tag{typ: mb2TagModule, body: append(append(b, cmdline...), 0)}
}

// mmapTag builds a memory map tag with entries entrySize bytes apart.
func mmapTag(entrySize uint32, rs []Region) mb2Tag {
	b := binary.LittleEndian.AppendUint32(nil, entrySize)
	b = binary.LittleEndian.AppendUint32(b, 0) // entry_version
	for _, r := range rs {
		e := make([]byte, max(entrySize, 24))
		binary.LittleEndian.PutUint64(e[0:], r.Base)
		binary.LittleEndian.PutUint64(e[8:], r.Size)
		binary.LittleEndian.PutUint32(e[16:], r.Type)
		b = append(b, e[:entrySize]...)
	}
	return mb2Tag{typ: mb2TagMmap, body: b}
}

func acpiTag(typ uint32, n int) mb2Tag {
	b := make([]byte, n)
	copy(b, "RSD PTR ")
	return mb2Tag{typ: typ, body: b}
}

var endTag = mb2Tag{typ: mb2TagEnd}

// mb2Blob is a Multiboot2 information structure placed in memory.
type mb2Blob struct {
	mem   Memory
	total uint64
	// body[i] is the address of tag i's body (just past type and size).
	body []uint64
}

// buildMB2 places the tags 8-aligned at mb2Info. It adds no end tag:
// callers list endTag themselves, so that they can leave it out.
func buildMB2(tags ...mb2Tag) mb2Blob {
	m := make(Memory, mb2MemSize)
	var bodies []uint64
	off := uint64(8)
	for _, t := range tags {
		size := t.size
		if size == 0 {
			size = uint32(8 + len(t.body))
		}
		put32(m, mb2Info+off, t.typ)
		put32(m, mb2Info+off+4, size)
		copy(m[mb2Info+off+8:], t.body)
		bodies = append(bodies, mb2Info+off+8)
		off += (8 + uint64(len(t.body)) + 7) &^ 7
	}
	put32(m, mb2Info, uint32(off))
	return mb2Blob{mem: m, total: off, body: bodies}
}

// mb2Example is a GRUB-like structure: every tag gosv reads, plus one it
// does not (boot loader name).
func mb2Example() mb2Blob {
	return buildMB2(
		cmdlineTag("console=ttyS0 init=/bin/sh"),
		mb2Tag{typ: 2, body: []byte("GRUB 2.12\x00")},
		moduleTag(0x800000, 0x900000, "/initrd.cpio"),
		moduleTag(0x900000, 0x900800, ""),
		mmapTag(24, microvmMap),
		acpiTag(mb2TagACPIOld, 20),
		acpiTag(mb2TagACPINew, 36),
		endTag,
	)
}

// view is the observable content of an Info, for comparison.
type view struct {
	Protocol                 Protocol
	InfoAddr, InfoSize       uint64
	CmdlineAddr, CmdlineSize uint64
	RSDP                     uint64
	Cmdline                  string
	Regions                  []Region
	Modules                  []modView
	Truncated                bool
}

type modView struct {
	Base, Size uint64
	Cmdline    string
}

func viewOf(in *Info) view {
	v := view{
		Protocol:    in.Protocol,
		InfoAddr:    in.InfoAddr,
		InfoSize:    in.InfoSize,
		CmdlineAddr: in.CmdlineAddr,
		CmdlineSize: in.CmdlineSize,
		RSDP:        in.RSDP,
		Cmdline:     string(in.Cmdline()),
		Regions:     append([]Region(nil), in.Regions[:in.NRegions]...),
		Truncated:   in.Truncated,
	}
	for i := 0; i < in.NModules; i++ {
		m := &in.Modules[i]
		v.Modules = append(v.Modules, modView{m.Base, m.Size, string(m.Cmdline())})
	}
	return v
}

// diff reports the differences between two views, one line per field or
// element, in "-want +got" form; "" if they are equal.
func diff(want, got view) string {
	var b strings.Builder
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	for i := 0; i < wv.NumField(); i++ {
		name := wv.Type().Field(i).Name
		w, g := wv.Field(i), gv.Field(i)
		if reflect.DeepEqual(w.Interface(), g.Interface()) {
			continue
		}
		if w.Kind() != reflect.Slice {
			fmt.Fprintf(&b, "  %s:\n-\t%s\n+\t%s\n", name, short(w.Interface()), short(g.Interface()))
			continue
		}
		for j := 0; j < max(w.Len(), g.Len()); j++ {
			var we, ge any
			if j < w.Len() {
				we = w.Index(j).Interface()
			}
			if j < g.Len() {
				ge = g.Index(j).Interface()
			}
			if reflect.DeepEqual(we, ge) {
				continue
			}
			fmt.Fprintf(&b, "  %s[%d]:\n", name, j)
			if we != nil {
				fmt.Fprintf(&b, "-\t%+v\n", we)
			}
			if ge != nil {
				fmt.Fprintf(&b, "+\t%+v\n", ge)
			}
		}
	}
	return b.String()
}

func short(v any) string {
	s := fmt.Sprintf("%#v", v)
	if len(s) > 80 {
		s = s[:60] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// checkClean fails if anything past NRegions or NModules is set: Parse
// must clear what a previous use of the Info left behind. (Bytes past the
// command line's length are not checked: a second Multiboot2 command line
// tag, shorter than the first, legitimately leaves some there.)
func checkClean(t *testing.T, in *Info) {
	t.Helper()
	for i := in.NRegions; i < MaxRegions; i++ {
		if in.Regions[i] != (Region{}) {
			t.Errorf("Regions[%d] = %+v past NRegions %d", i, in.Regions[i], in.NRegions)
		}
	}
	for i := in.NModules; i < MaxModules; i++ {
		if in.Modules[i] != (Module{}) {
			t.Errorf("Modules[%d] set past NModules %d", i, in.NModules)
		}
	}
}

// dirtyInfo returns an Info full of junk, as if used before.
func dirtyInfo() *Info {
	in := new(Info)
	*in = dirty
	return in
}

var dirty = func() (in Info) {
	in.Protocol = 99
	in.RSDP, in.InfoAddr, in.CmdlineAddr = 1, 2, 3
	for i := range in.Regions {
		in.Regions[i] = Region{Base: 1, Size: 1, Type: 1}
	}
	in.NRegions = 7
	for i := range in.Modules {
		in.Modules[i].Base = 1
		in.Modules[i].cmdline[0] = 'x'
		in.Modules[i].cmdlineLen = 1
	}
	in.NModules = 3
	for i := range in.cmdline {
		in.cmdline[i] = 'x'
	}
	in.cmdlineLen = 10
	in.Truncated = true
	return in
}()

type parseCase struct {
	name  string
	mem   Memory
	magic uint32
	info  uint64
	want  view  // checked when err is nil
	err   error // the exact constant expected
}

func runCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := dirtyInfo()
			err := Parse(tc.mem, tc.magic, tc.info, out)
			if err != tc.err {
				t.Fatalf("Parse error = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if d := diff(tc.want, viewOf(out)); d != "" {
				t.Errorf("Parse result mismatch (-want +got):\n%s", d)
			}
			checkClean(t, out)
		})
	}
}

// with returns m after applying the edits, for tests that corrupt one
// field of a valid structure.
func with(m Memory, edits ...func(Memory)) Memory {
	for _, e := range edits {
		e(m)
	}
	return m
}

func set32(addr uint64, v uint32) func(Memory) { return func(m Memory) { put32(m, addr, v) } }
func set64(addr uint64, v uint64) func(Memory) { return func(m Memory) { put64(m, addr, v) } }

func manyRegions(n int) []Region {
	rs := make([]Region, n)
	for i := range rs {
		rs[i] = Region{Base: uint64(i) << 21, Size: 1 << 21, Type: RegionRAM}
	}
	return rs
}

func manyPVHModules(n int) []pvhModule {
	ms := make([]pvhModule, n)
	for i := range ms {
		ms[i] = pvhModule{paddr: 0x1000000 + uint64(i)<<20, size: 0x1000, cmdline: fmt.Sprintf("mod%d", i)}
	}
	return ms
}

func modViews(ms []pvhModule) []modView {
	var vs []modView
	for _, m := range ms {
		vs = append(vs, modView{m.paddr, m.size, m.cmdline})
	}
	return vs
}

func TestParsePVH(t *testing.T) {
	long := strings.Repeat("a", MaxCmdline+100)
	exact := strings.Repeat("b", MaxCmdline)
	longMod := strings.Repeat("m", maxModCmdline+10)

	full := pvhSpec{
		version: 1,
		flags:   1, // SIF_PRIVILEGED-like bit: ignored
		cmdline: "console=ttyS0 quiet",
		rsdp:    0xf52e0,
		modules: []pvhModule{
			{paddr: 0x3000000, size: 0x123456, cmdline: "initrd root=/dev/ram0"},
			{paddr: 0x4000000, size: 0x1000},
		},
		memmap: microvmMap,
	}
	fullView := view{
		Protocol:    PVH,
		InfoAddr:    pvhInfo,
		InfoSize:    56,
		CmdlineAddr: pvhCmdline,
		CmdlineSize: uint64(len("console=ttyS0 quiet")) + 1,
		RSDP:        0xf52e0,
		Cmdline:     "console=ttyS0 quiet",
		Regions:     microvmRegions,
		Modules: []modView{
			{0x3000000, 0x123456, "initrd root=/dev/ram0"},
			{0x4000000, 0x1000, ""},
		},
	}
	minimal := view{Protocol: PVH, InfoAddr: pvhInfo, InfoSize: 56, Regions: simpleMap}

	cases := []parseCase{
		{
			name: "full microvm-style",
			mem:  buildPVH(full), info: pvhInfo,
			want: fullView,
		},
		{
			// EAX is undefined on PVH entry: anything but the Multiboot2
			// magic means "look for the PVH magic".
			name: "arbitrary EAX",
			mem:  buildPVH(full), magic: 0x12345678, info: pvhInfo,
			want: fullView,
		},
		{
			name: "minimal: no cmdline, modules or RSDP",
			mem:  buildPVH(pvhSpec{version: 1, memmap: simpleMap}), info: pvhInfo,
			want: minimal,
		},
		{
			name: "version 2 is read as 1",
			mem:  buildPVH(pvhSpec{version: 2, memmap: simpleMap}), info: pvhInfo,
			want: minimal,
		},
		{
			name: "info at the very end of memory",
			mem: func() Memory {
				m := buildPVH(pvhSpec{version: 1, memmap: simpleMap})
				copy(m[pvhMemSize-56:], m[pvhInfo:pvhInfo+56])
				return m
			}(),
			info: pvhMemSize - 56,
			want: view{Protocol: PVH, InfoAddr: pvhMemSize - 56, InfoSize: 56, Regions: simpleMap},
		},
		{
			name: "region that wraps is clamped",
			mem: buildPVH(pvhSpec{version: 1, memmap: []Region{
				{Base: 0xfffffffffffff000, Size: 0x2000, Type: RegionReserved},
				{Base: 0, Size: 0x1000, Type: RegionRAM},
			}}),
			info: pvhInfo,
			want: view{Protocol: PVH, InfoAddr: pvhInfo, InfoSize: 56, Regions: []Region{
				{Base: 0xfffffffffffff000, Size: 0x1000, Type: RegionReserved},
				{Base: 0, Size: 0x1000, Type: RegionRAM},
			}},
		},
		{
			name: "exactly MaxRegions",
			mem:  buildPVH(pvhSpec{version: 1, memmap: manyRegions(MaxRegions)}), info: pvhInfo,
			want: view{Protocol: PVH, InfoAddr: pvhInfo, InfoSize: 56, Regions: manyRegions(MaxRegions)},
		},
		{
			name: "too many regions",
			mem:  buildPVH(pvhSpec{version: 1, memmap: manyRegions(MaxRegions + 5)}), info: pvhInfo,
			want: view{Protocol: PVH, InfoAddr: pvhInfo, InfoSize: 56, Regions: manyRegions(MaxRegions), Truncated: true},
		},
		{
			name: "empty entries do not count towards MaxRegions",
			mem: buildPVH(pvhSpec{version: 1, memmap: append(
				append([]Region{{}, {Base: 5}}, manyRegions(MaxRegions)...), Region{})}),
			info: pvhInfo,
			want: view{Protocol: PVH, InfoAddr: pvhInfo, InfoSize: 56, Regions: manyRegions(MaxRegions)},
		},
		{
			name: "exactly MaxModules",
			mem:  buildPVH(pvhSpec{version: 1, memmap: simpleMap, modules: manyPVHModules(MaxModules)}), info: pvhInfo,
			want: view{Protocol: PVH, InfoAddr: pvhInfo, InfoSize: 56, Regions: simpleMap,
				Modules: modViews(manyPVHModules(MaxModules))},
		},
		{
			name: "too many modules",
			mem:  buildPVH(pvhSpec{version: 1, memmap: simpleMap, modules: manyPVHModules(MaxModules + 1)}), info: pvhInfo,
			want: view{Protocol: PVH, InfoAddr: pvhInfo, InfoSize: 56, Regions: simpleMap,
				Modules: modViews(manyPVHModules(MaxModules)), Truncated: true},
		},
		{
			name: "module count far too large stops at MaxModules",
			mem: with(buildPVH(pvhSpec{version: 1, memmap: simpleMap, modules: manyPVHModules(MaxModules)}),
				set32(pvhInfo+12, 0xffffffff)),
			info: pvhInfo,
			want: view{Protocol: PVH, InfoAddr: pvhInfo, InfoSize: 56, Regions: simpleMap,
				Modules: modViews(manyPVHModules(MaxModules)), Truncated: true},
		},
		{
			name: "long module command line is cut, silently",
			mem: buildPVH(pvhSpec{version: 1, memmap: simpleMap,
				modules: []pvhModule{{paddr: 0x100000, size: 1, cmdline: longMod}}}),
			info: pvhInfo,
			want: view{Protocol: PVH, InfoAddr: pvhInfo, InfoSize: 56, Regions: simpleMap,
				Modules: []modView{{0x100000, 1, longMod[:maxModCmdline]}}},
		},
		{
			name: "command line of exactly MaxCmdline",
			mem:  buildPVH(pvhSpec{version: 1, memmap: simpleMap, cmdline: exact}), info: pvhInfo,
			want: view{Protocol: PVH, InfoAddr: pvhInfo, InfoSize: 56, Regions: simpleMap,
				CmdlineAddr: pvhCmdline, CmdlineSize: MaxCmdline + 1, Cmdline: exact},
		},
		{
			name: "command line too long",
			mem:  buildPVH(pvhSpec{version: 1, memmap: simpleMap, cmdline: long}), info: pvhInfo,
			want: view{Protocol: PVH, InfoAddr: pvhInfo, InfoSize: 56, Regions: simpleMap,
				CmdlineAddr: pvhCmdline, CmdlineSize: MaxCmdline + 1, Cmdline: long[:MaxCmdline], Truncated: true},
		},
		{
			// A string that runs off the end of memory ends there.
			name: "command line without NUL at the end of memory",
			mem: func() Memory {
				m := buildPVH(pvhSpec{version: 1, memmap: simpleMap})
				put64(m, pvhInfo+24, pvhMemSize-3)
				copy(m[pvhMemSize-3:], "abc")
				return m
			}(),
			info: pvhInfo,
			want: view{Protocol: PVH, InfoAddr: pvhInfo, InfoSize: 56, Regions: simpleMap,
				CmdlineAddr: pvhMemSize - 3, CmdlineSize: 4, Cmdline: "abc"},
		},
		{
			// The command line is optional, so an unreadable one is
			// reported as empty rather than failing the boot.
			name: "command line pointer outside memory",
			mem: with(buildPVH(pvhSpec{version: 1, memmap: simpleMap}),
				set64(pvhInfo+24, 1<<40)),
			info: pvhInfo,
			want: view{Protocol: PVH, InfoAddr: pvhInfo, InfoSize: 56, Regions: simpleMap,
				CmdlineAddr: 1 << 40, CmdlineSize: 1},
		},
		{
			name: "module command line pointer outside memory",
			mem: with(buildPVH(pvhSpec{version: 1, memmap: simpleMap,
				modules: []pvhModule{{paddr: 0x100000, size: 1, cmdline: "x"}}}),
				set64(pvhModlist+16, 1<<63)),
			info: pvhInfo,
			want: view{Protocol: PVH, InfoAddr: pvhInfo, InfoSize: 56, Regions: simpleMap,
				Modules: []modView{{0x100000, 1, ""}}},
		},

		// Errors.
		{
			name: "version 0 has no memory map",
			mem:  buildPVH(pvhSpec{version: 0, memmap: simpleMap}), info: pvhInfo,
			err: ErrBadMemoryMap,
		},
		{
			name: "missing memmap",
			mem:  buildPVH(pvhSpec{version: 1, cmdline: "x"}), info: pvhInfo,
			err: ErrBadMemoryMap,
		},
		{
			name: "memmap_paddr 0",
			mem:  with(buildPVH(pvhSpec{version: 1, memmap: simpleMap}), set64(pvhInfo+40, 0)), info: pvhInfo,
			err: ErrBadMemoryMap,
		},
		{
			name: "memmap_entries 0",
			mem:  with(buildPVH(pvhSpec{version: 1, memmap: simpleMap}), set32(pvhInfo+48, 0)), info: pvhInfo,
			err: ErrBadMemoryMap,
		},
		{
			name: "memmap of empty entries only",
			mem:  buildPVH(pvhSpec{version: 1, memmap: []Region{{}, {Base: 0x1000, Type: RegionRAM}}}), info: pvhInfo,
			err: ErrBadMemoryMap,
		},
		{
			name: "no magic",
			mem:  make(Memory, pvhMemSize), info: pvhInfo,
			err: ErrUnknownProtocol,
		},
		{
			name: "wrong magic",
			mem:  with(buildPVH(full), set32(pvhInfo, pvhMagic^1)), info: pvhInfo,
			err: ErrUnknownProtocol,
		},
		{
			name: "info pointer outside memory",
			mem:  buildPVH(full), info: pvhMemSize,
			err: ErrUnreadable,
		},
		{
			name: "info pointer near 2^64",
			mem:  buildPVH(full), info: ^uint64(0) - 1,
			err: ErrUnreadable,
		},
		{
			name: "info truncated after the magic",
			mem:  buildPVH(full)[:pvhInfo+55], info: pvhInfo,
			err: ErrUnreadable,
		},
		{
			name: "modlist outside memory",
			mem:  with(buildPVH(full), set64(pvhInfo+16, pvhMemSize)), info: pvhInfo,
			err: ErrUnreadable,
		},
		{
			name: "modlist near 2^64",
			mem:  with(buildPVH(full), set64(pvhInfo+16, ^uint64(0)-8)), info: pvhInfo,
			err: ErrUnreadable,
		},
		{
			name: "last module entry runs off memory",
			mem:  with(buildPVH(full), set64(pvhInfo+16, pvhMemSize-40)), info: pvhInfo,
			err: ErrUnreadable,
		},
		{
			name: "memmap outside memory",
			mem:  with(buildPVH(full), set64(pvhInfo+40, 1<<40)), info: pvhInfo,
			err: ErrUnreadable,
		},
		{
			name: "memmap near 2^64",
			mem:  with(buildPVH(full), set64(pvhInfo+40, ^uint64(0)-16)), info: pvhInfo,
			err: ErrUnreadable,
		},
		{
			name: "memmap_entries runs off memory",
			mem:  with(buildPVH(full), set32(pvhInfo+48, 0xffffffff)), info: pvhInfo,
			err: ErrUnreadable,
		},
		{
			// The Multiboot2 magic in EAX decides, whatever is at EBX.
			name: "PVH structure with the Multiboot2 magic",
			mem:  buildPVH(full), magic: multiboot2Magic, info: pvhInfo,
			err: ErrBadMultiboot2,
		},
	}
	runCases(t, cases)
}

func TestParseMultiboot2(t *testing.T) {
	ex := mb2Example()
	exView := view{
		Protocol:    Multiboot2,
		InfoAddr:    mb2Info,
		InfoSize:    ex.total,
		CmdlineAddr: ex.body[0],
		CmdlineSize: uint64(len("console=ttyS0 init=/bin/sh")) + 1,
		RSDP:        ex.body[6], // the ACPI 2.0 copy
		Cmdline:     "console=ttyS0 init=/bin/sh",
		Regions:     microvmRegions,
		Modules: []modView{
			{0x800000, 0x100000, "/initrd.cpio"},
			{0x900000, 0x800, ""},
		},
	}
	long := strings.Repeat("a", MaxCmdline+100)
	exact := strings.Repeat("b", MaxCmdline)

	cases := []parseCase{
		{name: "GRUB-like", mem: ex.mem, magic: multiboot2Magic, info: mb2Info, want: exView},
		func() parseCase {
			b := buildMB2(mmapTag(24, simpleMap), endTag)
			return parseCase{
				name: "memory map only", mem: b.mem, magic: multiboot2Magic, info: mb2Info,
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total, Regions: simpleMap},
			}
		}(),
		func() parseCase {
			b := buildMB2(acpiTag(mb2TagACPINew, 36), acpiTag(mb2TagACPIOld, 20), mmapTag(24, simpleMap), endTag)
			return parseCase{
				name: "new RSDP wins over a later old one", mem: b.mem, magic: multiboot2Magic, info: mb2Info,
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total, Regions: simpleMap, RSDP: b.body[0]},
			}
		}(),
		func() parseCase {
			b := buildMB2(acpiTag(mb2TagACPIOld, 20), mmapTag(24, simpleMap), endTag)
			return parseCase{
				name: "old RSDP only", mem: b.mem, magic: multiboot2Magic, info: mb2Info,
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total, Regions: simpleMap, RSDP: b.body[0]},
			}
		}(),
		func() parseCase {
			b := buildMB2(mmapTag(40, microvmMap), endTag)
			return parseCase{
				name: "larger mmap entry_size", mem: b.mem, magic: multiboot2Magic, info: mb2Info,
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total, Regions: microvmRegions},
			}
		}(),
		func() parseCase {
			// A partial entry at the end of the tag is not read.
			t := mmapTag(24, simpleMap)
			t.body = append(t.body, make([]byte, 20)...)
			t.body[len(t.body)-12] = 0xff // size of the partial entry
			b := buildMB2(t, endTag)
			return parseCase{
				name: "partial trailing mmap entry", mem: b.mem, magic: multiboot2Magic, info: mb2Info,
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total, Regions: simpleMap},
			}
		}(),
		func() parseCase {
			b := buildMB2(mmapTag(24, manyRegions(MaxRegions+3)), endTag)
			return parseCase{
				name: "too many regions", mem: b.mem, magic: multiboot2Magic, info: mb2Info,
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total,
					Regions: manyRegions(MaxRegions), Truncated: true},
			}
		}(),
		func() parseCase {
			rs := manyRegions(MaxRegions)
			b := buildMB2(mmapTag(24, rs[:100]), mmapTag(24, rs[100:]), endTag)
			return parseCase{
				name: "two mmap tags add up", mem: b.mem, magic: multiboot2Magic, info: mb2Info,
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total, Regions: rs},
			}
		}(),
		func() parseCase {
			var tags []mb2Tag
			var want []modView
			for i := 0; i < MaxModules+2; i++ {
				s := fmt.Sprintf("module %d", i)
				tags = append(tags, moduleTag(uint32(i)<<20, uint32(i)<<20+0x100, s))
				if i < MaxModules {
					want = append(want, modView{uint64(i) << 20, 0x100, s})
				}
			}
			b := buildMB2(append(tags, mmapTag(24, simpleMap), endTag)...)
			return parseCase{
				name: "too many modules", mem: b.mem, magic: multiboot2Magic, info: mb2Info,
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total,
					Regions: simpleMap, Modules: want, Truncated: true},
			}
		}(),
		func() parseCase {
			b := buildMB2(moduleTag(0x100000, 0x100000, ""), mmapTag(24, simpleMap), endTag)
			return parseCase{
				name: "empty module", mem: b.mem, magic: multiboot2Magic, info: mb2Info,
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total,
					Regions: simpleMap, Modules: []modView{{0x100000, 0, ""}}},
			}
		}(),
		func() parseCase {
			b := buildMB2(cmdlineTag(exact), mmapTag(24, simpleMap), endTag)
			return parseCase{
				name: "command line of exactly MaxCmdline", mem: b.mem, magic: multiboot2Magic, info: mb2Info,
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total, Regions: simpleMap,
					CmdlineAddr: b.body[0], CmdlineSize: MaxCmdline + 1, Cmdline: exact},
			}
		}(),
		func() parseCase {
			b := buildMB2(cmdlineTag(long), mmapTag(24, simpleMap), endTag)
			return parseCase{
				name: "command line too long", mem: b.mem, magic: multiboot2Magic, info: mb2Info,
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total, Regions: simpleMap,
					CmdlineAddr: b.body[0], CmdlineSize: uint64(len(long)) + 1, Cmdline: long[:MaxCmdline],
					Truncated: true},
			}
		}(),
		func() parseCase {
			// Truncated, once set by the memory map, must survive a
			// command line tag that fits.
			b := buildMB2(mmapTag(24, manyRegions(MaxRegions+1)), cmdlineTag("quiet"), endTag)
			return parseCase{
				name: "truncation before the command line tag", mem: b.mem, magic: multiboot2Magic, info: mb2Info,
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total,
					Regions: manyRegions(MaxRegions), CmdlineAddr: b.body[1], CmdlineSize: 6, Cmdline: "quiet",
					Truncated: true},
			}
		}(),
		func() parseCase {
			// The string is bounded by its tag even without a NUL: the
			// next tag's type byte (6) must not be read as text.
			b := buildMB2(mb2Tag{typ: mb2TagCmdline, body: []byte("abcdefgh")}, mmapTag(24, simpleMap), endTag)
			return parseCase{
				name: "command line without NUL", mem: b.mem, magic: multiboot2Magic, info: mb2Info,
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total, Regions: simpleMap,
					CmdlineAddr: b.body[0], CmdlineSize: 8, Cmdline: "abcdefgh"},
			}
		}(),
		func() parseCase {
			b := buildMB2(mmapTag(24, simpleMap), endTag)
			return parseCase{
				name: "tags after the end tag are ignored", magic: multiboot2Magic, info: mb2Info,
				mem: with(b.mem,
					set32(mb2Info, uint32(b.total)+16),
					set32(mb2Info+b.total, mb2TagCmdline), set32(mb2Info+b.total+4, 8)),
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total + 16, Regions: simpleMap},
			}
		}(),
		func() parseCase {
			b := buildMB2(mmapTag(24, simpleMap), endTag)
			return parseCase{
				name: "structure at the very end of memory", mem: b.mem[:mb2Info+b.total],
				magic: multiboot2Magic, info: mb2Info,
				want: view{Protocol: Multiboot2, InfoAddr: mb2Info, InfoSize: b.total, Regions: simpleMap},
			}
		}(),

		// Errors.
		{
			name: "info pointer outside memory", mem: ex.mem, magic: multiboot2Magic, info: mb2MemSize - 4,
			err: ErrUnreadable,
		},
		{
			name: "info pointer near 2^64", mem: ex.mem, magic: multiboot2Magic, info: ^uint64(0) - 2,
			err: ErrUnreadable,
		},
		{
			name: "structure runs off memory", mem: ex.mem[:mb2Info+ex.total-4], magic: multiboot2Magic, info: mb2Info,
			err: ErrUnreadable,
		},
		{
			name: "total_size too small", magic: multiboot2Magic, info: mb2Info,
			mem: with(buildMB2(endTag).mem, set32(mb2Info, 15)),
			err: ErrBadMultiboot2,
		},
		{
			name: "total_size too large", magic: multiboot2Magic, info: mb2Info,
			mem: with(mb2Example().mem, set32(mb2Info, mb2MaxInfo+8)),
			err: ErrBadMultiboot2,
		},
		{
			name: "zeroed memory", mem: make(Memory, mb2MemSize), magic: multiboot2Magic, info: mb2Info,
			err: ErrBadMultiboot2,
		},
		{
			name: "missing end tag", mem: buildMB2(cmdlineTag("x"), mmapTag(24, simpleMap)).mem,
			magic: multiboot2Magic, info: mb2Info,
			err: ErrBadMultiboot2,
		},
		func() parseCase {
			// The last tag's size runs past total_size.
			b := buildMB2(cmdlineTag("x"), mmapTag(24, simpleMap), endTag)
			return parseCase{
				name: "tag size past total_size", magic: multiboot2Magic, info: mb2Info,
				mem: with(b.mem, set32(b.body[1]-4, uint32(b.total))),
				err: ErrBadMultiboot2,
			}
		}(),
		func() parseCase {
			b := buildMB2(cmdlineTag("x"), mmapTag(24, simpleMap), endTag)
			return parseCase{
				name: "end tag size past total_size", magic: multiboot2Magic, info: mb2Info,
				mem: with(b.mem, set32(b.body[2]-4, 16)),
				err: ErrBadMultiboot2,
			}
		}(),
		func() parseCase {
			b := buildMB2(cmdlineTag("x"), mmapTag(24, simpleMap), endTag)
			return parseCase{
				name: "tag size 0x7fffffff", magic: multiboot2Magic, info: mb2Info,
				mem: with(b.mem, set32(b.body[0]-4, 0x7fffffff)),
				err: ErrBadMultiboot2,
			}
		}(),
		func() parseCase {
			b := buildMB2(cmdlineTag("x"), mmapTag(24, simpleMap), endTag)
			return parseCase{
				name: "tag size below 8", magic: multiboot2Magic, info: mb2Info,
				mem: with(b.mem, set32(b.body[0]-4, 4)),
				err: ErrBadMultiboot2,
			}
		}(),
		{
			name: "no memory map", mem: buildMB2(cmdlineTag("x"), endTag).mem, magic: multiboot2Magic, info: mb2Info,
			err: ErrBadMemoryMap,
		},
		{
			name: "memory map of empty entries", mem: buildMB2(mmapTag(24, []Region{{}, {Base: 1 << 20}}), endTag).mem,
			magic: multiboot2Magic, info: mb2Info,
			err: ErrBadMemoryMap,
		},
		{
			name: "mmap entry_size below 24", mem: buildMB2(mmapTag(16, simpleMap), endTag).mem,
			magic: multiboot2Magic, info: mb2Info,
			err: ErrBadMultiboot2,
		},
		{
			name: "mmap tag without its header", mem: buildMB2(mb2Tag{typ: mb2TagMmap, body: make([]byte, 4)}, endTag).mem,
			magic: multiboot2Magic, info: mb2Info,
			err: ErrBadMultiboot2,
		},
		{
			name: "module tag too short", mem: buildMB2(mb2Tag{typ: mb2TagModule, body: make([]byte, 7)}, mmapTag(24, simpleMap), endTag).mem,
			magic: multiboot2Magic, info: mb2Info,
			err: ErrBadMultiboot2,
		},
		{
			name: "module ends before it starts", mem: buildMB2(moduleTag(0x2000, 0x1000, ""), mmapTag(24, simpleMap), endTag).mem,
			magic: multiboot2Magic, info: mb2Info,
			err: ErrBadMultiboot2,
		},
		{
			// Without the Multiboot2 magic only the PVH magic is looked for.
			name: "Multiboot2 structure without the magic", mem: ex.mem, magic: 0, info: mb2Info,
			err: ErrUnknownProtocol,
		},
	}
	runCases(t, cases)
}

func TestRAM(t *testing.T) {
	var in Info
	if err := Parse(buildPVH(pvhSpec{version: 1, memmap: microvmMap}), 0, pvhInfo, &in); err != nil {
		t.Fatal(err)
	}
	if got, want := in.RAM(), uint64(0x7ff00000+0x9fc00); got != want {
		t.Errorf("RAM() = %#x, want %#x", got, want)
	}
}

func TestStrings(t *testing.T) {
	for p, want := range map[Protocol]string{PVH: "PVH", Multiboot2: "Multiboot2", 0: "unknown", 9: "unknown"} {
		if got := p.String(); got != want {
			t.Errorf("Protocol(%d).String() = %q, want %q", p, got, want)
		}
	}
	var err error = ErrBadMemoryMap
	if err.Error() != string(ErrBadMemoryMap) {
		t.Errorf("Error() = %q", err.Error())
	}
}

// TestParseDoesNotAllocate: the kernel calls Parse before the Go runtime
// (and its heap) exists.
func TestParseDoesNotAllocate(t *testing.T) {
	pvh := buildPVH(pvhSpec{
		version: 1, cmdline: "console=ttyS0", rsdp: 0xf0000, memmap: microvmMap,
		modules: []pvhModule{{paddr: 0x100000, size: 1, cmdline: "initrd"}},
	})
	mb2 := mb2Example().mem
	bad := buildMB2(mmapTag(24, simpleMap)).mem // no end tag
	out := new(Info)
	for _, tc := range []struct {
		name  string
		mem   Memory
		magic uint32
		info  uint64
		err   error
	}{
		{"PVH", pvh, 0, pvhInfo, nil},
		{"Multiboot2", mb2, multiboot2Magic, mb2Info, nil},
		{"error", bad, multiboot2Magic, mb2Info, ErrBadMultiboot2},
		{"unknown", pvh, 0, 0, ErrUnknownProtocol},
	} {
		var err error
		allocs := testing.AllocsPerRun(100, func() {
			err = Parse(tc.mem, tc.magic, tc.info, out)
		})
		if err != tc.err {
			t.Errorf("%s: Parse error = %v, want %v", tc.name, err, tc.err)
		}
		if allocs != 0 {
			t.Errorf("%s: Parse allocates %v times per call, want 0", tc.name, allocs)
		}
	}
}
