package pci

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

// logPorts is a Ports that logs accesses and reads a fixed value.
type logPorts struct{ log []string }

func (p *logPorts) In32(port uint16) uint32 {
	p.log = append(p.log, fmt.Sprintf("in %#x", port))
	return 0xdeadbeef
}

func (p *logPorts) Out32(port uint16, v uint32) {
	p.log = append(p.log, fmt.Sprintf("out %#x %#x", port, v))
}

func TestPortIOAddresses(t *testing.T) {
	tests := []struct {
		bus, dev, fn uint8
		off          uint16
		addr         string // CONFIG_ADDRESS, or "" for no access
	}{
		{0, 0, 0, 0, "0x80000000"},
		{0, 2, 0, 0x10, "0x80001010"},
		{0x12, 31, 7, 0xfc, "0x8012fffc"},
		{0xff, 0, 1, 0x3e, "0x80ff013c"}, // low bits ignored
		{0, 0, 0, 0x100, ""},             // extended space: ECAM only
		{0, 32, 0, 0, ""},
		{0, 0, 8, 0, ""},
	}
	for _, tt := range tests {
		p := &logPorts{}
		c := NewPortIO(p)
		got := c.Read32(tt.bus, tt.dev, tt.fn, tt.off)
		c.Write32(tt.bus, tt.dev, tt.fn, tt.off, 0x55)
		var want []string
		wantV := ^uint32(0)
		if tt.addr != "" {
			want = []string{"out 0xcf8 " + tt.addr, "in 0xcfc", "out 0xcf8 " + tt.addr, "out 0xcfc 0x55"}
			wantV = 0xdeadbeef
		}
		if !reflect.DeepEqual(p.log, want) || got != wantV {
			t.Errorf("%02x:%02x.%d+%#x: read %#x, accesses %q; want %#x, %q",
				tt.bus, tt.dev, tt.fn, tt.off, got, p.log, wantV, want)
		}
	}
}

// TestPortIOConcurrent checks that goroutines using PortIO at once each
// get their own function's registers: the address and data accesses of
// one read are not interleaved with another's. Run with -race, it also
// checks PortIO serialises the port accesses.
func TestPortIOConcurrent(t *testing.T) {
	f := newFakeSpace()
	for dev := range uint8(8) {
		f.add(0, dev, 0, VendorIntel, 0x1000+uint16(dev), ccEthernet, 0, HeaderGeneral)
	}
	c := NewPortIO(&fakePorts{cs: f})
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for dev := range uint8(8) {
		wg.Go(func() {
			for range 2000 {
				if id := Read16(c, 0, dev, 0, regDeviceID); id != 0x1000+uint16(dev) {
					errs <- fmt.Sprintf("device %d read ID %#x", dev, id)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestReadHelpers(t *testing.T) {
	f := newFakeSpace()
	x := f.add(0, 1, 0, VendorIntel, 0x1234, ccEthernet, 0, HeaderGeneral)
	x.put32(0x40, 0x44332211)
	for _, tt := range []struct {
		off uint16
		r16 uint16
		r8  uint8
	}{{0x40, 0x2211, 0x11}, {0x41, 0x2211, 0x22}, {0x42, 0x4433, 0x33}, {0x43, 0x4433, 0x44}} {
		if got := Read16(f, 0, 1, 0, tt.off); got != tt.r16 {
			t.Errorf("Read16(%#x) = %#x, want %#x", tt.off, got, tt.r16)
		}
		if got := Read8(f, 0, 1, 0, tt.off); got != tt.r8 {
			t.Errorf("Read8(%#x) = %#x, want %#x", tt.off, got, tt.r8)
		}
	}
	if got := Read16(f, 0, 9, 0, 0); got != 0xffff {
		t.Errorf("Read16 of a missing function = %#x", got)
	}
}

func TestCommandHelpers(t *testing.T) {
	const parityError = 1 << 15 // a write-1-to-clear status bit
	f := newFakeSpace()
	f.add(0, 2, 0, VendorVirtio, DeviceVirtioNet, ccEthernet, 1, HeaderGeneral).status(parityError)
	d := &Device{Dev: 2}
	steps := []struct {
		name string
		do   func()
		want uint16
	}{
		{"EnableMemory", func() { EnableMemory(f, d) }, CommandMemory},
		{"EnableMemory again", func() { EnableMemory(f, d) }, CommandMemory},
		{"EnableIO", func() { EnableIO(f, d) }, CommandMemory | CommandIO},
		{"SetBusMaster on", func() { SetBusMaster(f, d, true) }, CommandMemory | CommandIO | CommandBusMaster},
		{"DisableINTx", func() { DisableINTx(f, d) }, CommandMemory | CommandIO | CommandBusMaster | CommandINTxDisable},
		{"SetBusMaster off", func() { SetBusMaster(f, d, false) }, CommandMemory | CommandIO | CommandINTxDisable},
	}
	for _, s := range steps {
		writes := f.writes
		s.do()
		if got := Read16(f, 0, 2, 0, regCommand); got != s.want {
			t.Errorf("after %s: command %#x, want %#x", s.name, got, s.want)
		}
		if got := Read16(f, 0, 2, 0, regStatus); got != parityError {
			t.Errorf("after %s: status %#x, want the error bit kept (%#x)", s.name, got, parityError)
		}
		if s.name == "EnableMemory again" && f.writes != writes {
			t.Errorf("EnableMemory wrote an unchanged command register")
		}
	}
}
