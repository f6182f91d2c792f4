package virtio

// Legacy PCI registers in I/O BAR 0 (4.1.4.10).
const (
	legacyDeviceFeatures = 0x00 // 32
	legacyGuestFeatures  = 0x04 // 32
	legacyQueuePFN       = 0x08 // 32
	legacyQueueSize      = 0x0c // 16, read-only
	legacyQueueSelect    = 0x0e // 16
	legacyQueueNotify    = 0x10 // 16
	legacyDeviceStatus   = 0x12 // 8
	legacyISR            = 0x13 // 8
	legacyMSIXConfig     = 0x14 // 16, only with MSI-X enabled
	legacyMSIXQueue      = 0x16 // 16, only with MSI-X enabled
	legacyConfig         = 0x14 // device configuration without MSI-X
	legacyConfigMSIX     = 0x18 // device configuration with MSI-X
)

// PCILegacy is the legacy (virtio 0.9.5) PCI transport, through I/O BAR
// 0. Transitional devices offer it next to the modern one; gosv uses it
// only for hypervisors that have nothing newer.
type PCILegacy struct {
	r       SizedRegs
	devType DeviceType
	msix    bool
	config  uint32
}

var _ Transport = (*PCILegacy)(nil)

// NewPCILegacy returns the transport for the I/O BAR r of a legacy device
// of type t. msix tells whether MSI-X is enabled on the function, which
// moves the device configuration from 0x14 to 0x18.
func NewPCILegacy(t DeviceType, r SizedRegs, msix bool) *PCILegacy {
	p := &PCILegacy{r: r, devType: t, msix: msix, config: legacyConfig}
	if msix {
		p.config = legacyConfigMSIX
	}
	return p
}

// SetConfigVector and SetQueueVector route interrupts to MSI-X vectors,
// as on PCIModern; they do nothing unless MSI-X is enabled.
func (p *PCILegacy) SetConfigVector(v uint16) uint16 {
	if !p.msix {
		return NoVector
	}
	p.r.Write16(legacyMSIXConfig, v)
	return p.r.Read16(legacyMSIXConfig)
}

func (p *PCILegacy) SetQueueVector(v uint16) uint16 {
	if !p.msix {
		return NoVector
	}
	p.r.Write16(legacyMSIXQueue, v)
	return p.r.Read16(legacyMSIXQueue)
}

func (p *PCILegacy) DeviceType() DeviceType { return p.devType }
func (p *PCILegacy) Legacy() bool           { return true }

func (p *PCILegacy) DeviceFeatures() uint64 {
	return uint64(p.r.Read32(legacyDeviceFeatures))
}

// SetDriverFeatures keeps the low 32 bits: legacy devices have no more.
func (p *PCILegacy) SetDriverFeatures(f uint64) {
	p.r.Write32(legacyGuestFeatures, uint32(f))
}

func (p *PCILegacy) Status() uint8        { return p.r.Read8(legacyDeviceStatus) }
func (p *PCILegacy) SetStatus(s uint8)    { p.r.Write8(legacyDeviceStatus, s) }
func (p *PCILegacy) SelectQueue(q uint16) { p.r.Write16(legacyQueueSelect, q) }

// QueueMaxSize is the device's fixed queue size; 0 for a size beyond
// MaxQueueSize, which cannot be used.
func (p *PCILegacy) QueueMaxSize() uint16 {
	n := p.r.Read16(legacyQueueSize)
	if n > MaxQueueSize {
		return 0
	}
	return n
}

// SetQueueSize only accepts the device's own size.
func (p *PCILegacy) SetQueueSize(n uint16) error {
	if n != p.QueueMaxSize() {
		return ErrQueueSizeFixed
	}
	return nil
}

func (p *PCILegacy) SetQueueAddrs(desc, driver, device uint64) error {
	pfn, err := legacyPFN(p.QueueMaxSize(), desc, driver, device)
	if err != nil {
		return err
	}
	p.r.Write32(legacyQueuePFN, pfn)
	return nil
}

// EnableQueue does nothing: writing the address activated the queue.
func (p *PCILegacy) EnableQueue() {}

func (p *PCILegacy) Notify(q uint16)         { p.r.Write16(legacyQueueNotify, q) }
func (p *PCILegacy) InterruptStatus() uint32 { return uint32(p.r.Read8(legacyISR)) }
func (p *PCILegacy) AckInterrupt(uint32)     {}
func (p *PCILegacy) ConfigGeneration() uint32 {
	return 0
}

func (p *PCILegacy) ReadConfig(off int, b []byte)  { sizedRead(p.r, p.config, off, b) }
func (p *PCILegacy) WriteConfig(off int, b []byte) { sizedWrite(p.r, p.config, off, b) }

// legacyPFN checks that a queue of n entries follows the legacy layout
// (2.7.2) and returns the page frame number legacy transports take.
func legacyPFN(n uint16, desc, driver, device uint64) (uint32, error) {
	l, err := RingLayout(n, true)
	if err != nil {
		return 0, err
	}
	if desc%LegacyAlign != 0 || driver != desc+uint64(l.Avail) ||
		device != desc+uint64(l.Used) || desc/LegacyAlign > 0xffffffff {
		return 0, ErrLegacyLayout
	}
	return uint32(desc / LegacyAlign), nil
}
