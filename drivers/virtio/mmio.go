package virtio

import "fmt"

// virtio-mmio registers (4.2.2; legacy version 1: 4.2.4).
// The MMIO interrupt registers (4.2.2): reading the status and writing
// its bits back to the acknowledgement register lowers the interrupt.
// Exported for a kernel that acknowledges in its interrupt handler.
const (
	MMIOInterruptStatus = 0x060
	MMIOInterruptACK    = 0x064
)

const (
	mmioMagic             = 0x000 // "virt"
	mmioVersion           = 0x004 // 1 legacy, 2 modern
	mmioDeviceID          = 0x008
	mmioVendorID          = 0x00c
	mmioDeviceFeatures    = 0x010
	mmioDeviceFeaturesSel = 0x014
	mmioDriverFeatures    = 0x020
	mmioDriverFeaturesSel = 0x024
	mmioGuestPageSize     = 0x028 // legacy
	mmioQueueSel          = 0x030
	mmioQueueNumMax       = 0x034
	mmioQueueNum          = 0x038
	mmioQueueAlign        = 0x03c // legacy
	mmioQueuePFN          = 0x040 // legacy
	mmioQueueReady        = 0x044
	mmioQueueNotify       = 0x050
	mmioInterruptStatus   = MMIOInterruptStatus
	mmioInterruptACK      = MMIOInterruptACK
	mmioStatus            = 0x070
	mmioQueueDescLow      = 0x080
	mmioQueueDescHigh     = 0x084
	mmioQueueDriverLow    = 0x090
	mmioQueueDriverHigh   = 0x094
	mmioQueueDeviceLow    = 0x0a0
	mmioQueueDeviceHigh   = 0x0a4
	mmioConfigGeneration  = 0x0fc
	mmioConfig            = 0x100

	mmioMagicValue = 0x74726976
)

// MMIO is the virtio-mmio transport, version 2 or legacy version 1. Its
// Regs is the device's register window, which the boot sequence finds
// on the kernel command line (virtio_mmio.device=) or in ACPI.
type MMIO struct {
	r       Regs
	sized   SizedRegs // r, when it allows 8- and 16-bit accesses
	version uint32
	devType DeviceType
	qsize   uint16 // size of the selected queue (legacy layout check)
}

var _ Transport = (*MMIO)(nil)

// NewMMIO checks the magic value and version of a virtio-mmio window and
// returns its transport. A window with device ID 0 is a placeholder
// without a device: ErrNoDevice. If r also implements SizedRegs, the
// device configuration is accessed at field widths as 4.2.2.2 asks;
// otherwise through the 32-bit words that contain the fields.
func NewMMIO(r Regs) (*MMIO, error) {
	if m := r.Read32(mmioMagic); m != mmioMagicValue {
		return nil, fmt.Errorf("%w %#x", ErrBadMagic, m)
	}
	v := r.Read32(mmioVersion)
	if v != 1 && v != 2 {
		return nil, fmt.Errorf("%w: mmio version %d", ErrBadVersion, v)
	}
	id := r.Read32(mmioDeviceID)
	if id == 0 {
		return nil, ErrNoDevice
	}
	t := &MMIO{r: r, version: v, devType: DeviceType(id)}
	t.sized, _ = r.(SizedRegs)
	return t, nil
}

// Version is the register layout version: 1 (legacy) or 2.
func (t *MMIO) Version() uint32 { return t.version }

// VendorID is the device's vendor.
func (t *MMIO) VendorID() uint32 { return t.r.Read32(mmioVendorID) }

func (t *MMIO) DeviceType() DeviceType { return t.devType }
func (t *MMIO) Legacy() bool           { return t.version == 1 }

func (t *MMIO) DeviceFeatures() uint64 {
	t.r.Write32(mmioDeviceFeaturesSel, 0)
	lo := t.r.Read32(mmioDeviceFeatures)
	t.r.Write32(mmioDeviceFeaturesSel, 1)
	hi := t.r.Read32(mmioDeviceFeatures)
	return uint64(hi)<<32 | uint64(lo)
}

func (t *MMIO) SetDriverFeatures(f uint64) {
	t.r.Write32(mmioDriverFeaturesSel, 0)
	t.r.Write32(mmioDriverFeatures, uint32(f))
	t.r.Write32(mmioDriverFeaturesSel, 1)
	t.r.Write32(mmioDriverFeatures, uint32(f>>32))
}

func (t *MMIO) Status() uint8     { return uint8(t.r.Read32(mmioStatus)) }
func (t *MMIO) SetStatus(s uint8) { t.r.Write32(mmioStatus, uint32(s)) }

func (t *MMIO) SelectQueue(q uint16) {
	t.r.Write32(mmioQueueSel, uint32(q))
	t.qsize = 0
}

func (t *MMIO) QueueMaxSize() uint16 {
	n := t.r.Read32(mmioQueueNumMax)
	if n > MaxQueueSize {
		n = MaxQueueSize
	}
	return uint16(n)
}

func (t *MMIO) SetQueueSize(n uint16) error {
	t.r.Write32(mmioQueueNum, uint32(n))
	t.qsize = n
	return nil
}

func (t *MMIO) SetQueueAddrs(desc, driver, device uint64) error {
	if t.version == 1 {
		pfn, err := legacyPFN(t.qsize, desc, driver, device)
		if err != nil {
			return err
		}
		t.r.Write32(mmioGuestPageSize, LegacyAlign)
		t.r.Write32(mmioQueueAlign, LegacyAlign)
		t.r.Write32(mmioQueuePFN, pfn)
		return nil
	}
	t.r.Write32(mmioQueueDescLow, uint32(desc))
	t.r.Write32(mmioQueueDescHigh, uint32(desc>>32))
	t.r.Write32(mmioQueueDriverLow, uint32(driver))
	t.r.Write32(mmioQueueDriverHigh, uint32(driver>>32))
	t.r.Write32(mmioQueueDeviceLow, uint32(device))
	t.r.Write32(mmioQueueDeviceHigh, uint32(device>>32))
	return nil
}

func (t *MMIO) EnableQueue() {
	if t.version != 1 {
		t.r.Write32(mmioQueueReady, 1)
	}
}

func (t *MMIO) Notify(q uint16)          { t.r.Write32(mmioQueueNotify, uint32(q)) }
func (t *MMIO) InterruptStatus() uint32  { return t.r.Read32(mmioInterruptStatus) }
func (t *MMIO) AckInterrupt(bits uint32) { t.r.Write32(mmioInterruptACK, bits) }

func (t *MMIO) ConfigGeneration() uint32 {
	if t.version == 1 {
		return 0
	}
	return t.r.Read32(mmioConfigGeneration)
}

func (t *MMIO) ReadConfig(off int, p []byte) {
	if t.sized != nil {
		sizedRead(t.sized, mmioConfig, off, p)
		return
	}
	w := configWidth(off, len(p))
	for i := 0; i < len(p); i += w {
		o := off + i
		v := t.r.Read32(mmioConfig + uint32(o&^3))
		v >>= 8 * uint(o&3)
		switch w {
		case 4:
			le.PutUint32(p[i:], v)
		case 2:
			le.PutUint16(p[i:], uint16(v))
		default:
			p[i] = byte(v)
		}
	}
}

// WriteConfig without SizedRegs merges narrow fields into their word
// (read-modify-write), which is only right for the few writable fields
// that share a word with nothing else the device changes.
func (t *MMIO) WriteConfig(off int, p []byte) {
	if t.sized != nil {
		sizedWrite(t.sized, mmioConfig, off, p)
		return
	}
	w := configWidth(off, len(p))
	for i := 0; i < len(p); i += w {
		o := off + i
		reg := mmioConfig + uint32(o&^3)
		if w == 4 {
			t.r.Write32(reg, le.Uint32(p[i:]))
			continue
		}
		shift := 8 * uint(o&3)
		mask := uint32(0xff)
		v := uint32(p[i])
		if w == 2 {
			mask, v = 0xffff, uint32(le.Uint16(p[i:]))
		}
		old := t.r.Read32(reg)
		t.r.Write32(reg, old&^(mask<<shift)|v<<shift)
	}
}
