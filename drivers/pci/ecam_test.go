package pci

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// qemuMCFG is the MCFG table QEMU 7.2 builds for q35: one region for
// buses 0-255 of segment 0 at 0xb0000000.
var qemuMCFG = []byte{
	0x4d, 0x43, 0x46, 0x47, 0x3c, 0x00, 0x00, 0x00, 0x01, 0x8c, 0x42, 0x4f, 0x43, 0x48, 0x53, 0x20,
	0x42, 0x58, 0x50, 0x43, 0x20, 0x20, 0x20, 0x20, 0x01, 0x00, 0x00, 0x00, 0x42, 0x58, 0x50, 0x43,
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xb0,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00,
}

// mcfg builds an MCFG table with the given entries and a correct
// length and checksum.
func mcfg(entries ...ECAMRegion) []byte {
	b := make([]byte, mcfgHeaderSize, mcfgHeaderSize+len(entries)*mcfgEntrySize)
	copy(b, "MCFG")
	b[8] = 1
	copy(b[10:], "GOSVTS")
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint64(b, e.Base)
		b = binary.LittleEndian.AppendUint16(b, e.Segment)
		b = append(b, e.StartBus, e.EndBus, 0, 0, 0, 0)
	}
	binary.LittleEndian.PutUint32(b[sdtLength:], uint32(len(b)))
	fixChecksum(b)
	return b
}

func fixChecksum(b []byte) {
	b[9] = 0
	var s byte
	for _, c := range b {
		s += c
	}
	b[9] = -s
}

// edit returns a copy of b changed by fn, with the checksum fixed
// unless keepSum.
func edit(b []byte, keepSum bool, fn func(b []byte) []byte) []byte {
	b = fn(slices.Clone(b))
	if !keepSum && len(b) >= 10 {
		fixChecksum(b)
	}
	return b
}

func TestParseMCFG(t *testing.T) {
	two := []ECAMRegion{
		{Base: 0xe0000000, Segment: 0, StartBus: 0, EndBus: 0x3f},
		{Base: 0x4_0000_0000, Segment: 1, StartBus: 0x80, EndBus: 0x80},
	}
	tests := []struct {
		name    string
		table   []byte
		want    []ECAMRegion
		wantErr error
	}{
		{"QEMU q35", qemuMCFG, []ECAMRegion{{Base: 0xb0000000, EndBus: 0xff}}, nil},
		{"two segments", mcfg(two...), two, nil},
		{"no entries", mcfg(), []ECAMRegion{}, nil},
		{"trailing bytes ignored", append(slices.Clone(qemuMCFG), 1, 2, 3), []ECAMRegion{{Base: 0xb0000000, EndBus: 0xff}}, nil},
		{"highest region", mcfg(ECAMRegion{Base: 1<<64 - 256<<20, EndBus: 0xff}), []ECAMRegion{{Base: 1<<64 - 256<<20, EndBus: 0xff}}, nil},

		{"empty", nil, nil, ErrMCFGSignature},
		{"other table", edit(qemuMCFG, false, func(b []byte) []byte { copy(b, "APIC"); return b }), nil, ErrMCFGSignature},
		{"short header", qemuMCFG[:43], nil, ErrMCFGLength},
		{"length past the data", qemuMCFG[:59], nil, ErrMCFGLength},
		{"length below the header", edit(qemuMCFG, false, func(b []byte) []byte { b[4] = 36; return b }), nil, ErrMCFGLength},
		{"partial entry", edit(qemuMCFG, false, func(b []byte) []byte { b[4] = 52; return b[:52] }), nil, ErrMCFGLength},
		{"huge length", edit(qemuMCFG, false, func(b []byte) []byte { b[7] = 0xff; return b }), nil, ErrMCFGLength},
		{"checksum", edit(qemuMCFG, true, func(b []byte) []byte { b[55] = 0x7f; return b }), nil, ErrMCFGChecksum},
		{"buses backwards", mcfg(ECAMRegion{Base: 0xb0000000, StartBus: 2, EndBus: 1}), nil, ErrMCFGEntry},
		{"region wraps", mcfg(ECAMRegion{Base: 1<<64 - 255<<20, EndBus: 0xff}), nil, ErrMCFGEntry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMCFG(tt.table)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(tt.want, got) {
				t.Errorf("regions (-want +got):\n-%+v\n+%+v", tt.want, got)
			}
		})
	}
}

func TestECAMRegion(t *testing.T) {
	r := ECAMRegion{Base: 0xe0000000, StartBus: 0x10, EndBus: 0x1f}
	if r.Start() != 0xe1000000 || r.Size() != 16<<20 {
		t.Errorf("Start, Size = %#x, %#x; want 0xe1000000, 16 MiB", r.Start(), r.Size())
	}
	if full := (ECAMRegion{EndBus: 0xff}); full.Size() != 256<<20 {
		t.Errorf("Size of buses 0-255 = %#x", full.Size())
	}
}

// logMem is a Memory that logs accesses and reads a fixed value.
type logMem struct{ log []string }

func (m *logMem) Read32(addr uint64) uint32 {
	m.log = append(m.log, fmt.Sprintf("r %#x", addr))
	return 0x12345678
}

func (m *logMem) Write32(addr uint64, v uint32) {
	m.log = append(m.log, fmt.Sprintf("w %#x %#x", addr, v))
}

func TestECAMAddresses(t *testing.T) {
	m := &logMem{}
	e := NewECAM(m, ECAMRegion{Base: 0xe0000000, StartBus: 0x10, EndBus: 0x1f})
	tests := []struct {
		bus, dev, fn uint8
		off          uint16
		want         string // the access, or "" for none
	}{
		{0x10, 0, 0, 0, "0xe1000000"},
		{0x10, 1, 2, 0x104, "0xe100a104"},
		{0x1f, 31, 7, 0xffc, "0xe1fffffc"},
		{0x12, 3, 0, 0x43, "0xe1218040"}, // low bits ignored
		{0x0f, 0, 0, 0, ""},              // below the region
		{0x20, 0, 0, 0, ""},              // above
		{0x10, 32, 0, 0, ""},
		{0x10, 0, 8, 0, ""},
		{0x10, 0, 0, 0x1000, ""},
	}
	for _, tt := range tests {
		m.log = nil
		got := e.Read32(tt.bus, tt.dev, tt.fn, tt.off)
		e.Write32(tt.bus, tt.dev, tt.fn, tt.off, 7)
		var want []string
		wantV := ^uint32(0)
		if tt.want != "" {
			want = []string{"r " + tt.want, "w " + tt.want + " 0x7"}
			wantV = 0x12345678
		}
		if !reflect.DeepEqual(m.log, want) || got != wantV {
			t.Errorf("%02x:%02x.%d+%#x: read %#x, accesses %q; want %#x, %q",
				tt.bus, tt.dev, tt.fn, tt.off, got, m.log, wantV, want)
		}
	}
}
