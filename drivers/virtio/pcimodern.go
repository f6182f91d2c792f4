package virtio

import "fmt"

// Common configuration structure of a modern PCI device (4.1.4.3).
const (
	pciDeviceFeatureSelect = 0x00 // 32
	pciDeviceFeature       = 0x04 // 32
	pciDriverFeatureSelect = 0x08 // 32
	pciDriverFeature       = 0x0c // 32
	pciMSIXConfig          = 0x10 // 16
	pciNumQueues           = 0x12 // 16
	pciDeviceStatus        = 0x14 // 8
	pciConfigGeneration    = 0x15 // 8
	pciQueueSelect         = 0x16 // 16
	pciQueueSize           = 0x18 // 16
	pciQueueMSIXVector     = 0x1a // 16
	pciQueueEnable         = 0x1c // 16
	pciQueueNotifyOff      = 0x1e // 16
	pciQueueDesc           = 0x20 // 64
	pciQueueDriver         = 0x28 // 64
	pciQueueDevice         = 0x30 // 64

	pciCommonLen = 0x38
)

// PCI identification (4.1.2).
const (
	PCIVendor = 0x1af4
	// Modern devices have PCI device ID 0x1040 + device type;
	// transitional ones 0x1000-0x103f, with the type in the subsystem
	// device ID.
	pciModernBase       = 0x1040
	pciTransitionalBase = 0x1000
	pciTransitionalLast = 0x103f

	// NoVector in msix_config or queue_msix_vector: no MSI-X vector.
	NoVector = 0xffff
)

// PCIDeviceType returns the virtio device type of a PCI function with
// vendor PCIVendor, from its device and subsystem device IDs (4.1.2.1).
func PCIDeviceType(deviceID, subsystemID uint16) (DeviceType, bool) {
	switch {
	case deviceID >= pciModernBase && deviceID <= pciModernBase+0x3f:
		return DeviceType(deviceID - pciModernBase), true
	case deviceID >= pciTransitionalBase && deviceID <= pciTransitionalLast:
		return DeviceType(subsystemID), true
	}
	return 0, false
}

// PCIRegions are the structures a modern PCI device's vendor capabilities
// point at (4.1.4), each already mapped by the PCI code: cfg_type 1
// (common), 2 (notify, with its notify_off_multiplier), 3 (ISR) and 4
// (device-specific; nil if the device has none).
type PCIRegions struct {
	Common              SizedRegs
	Notify              SizedRegs
	NotifyOffMultiplier uint32
	ISR                 SizedRegs
	Device              SizedRegs
}

// PCIModern is the virtio 1.x PCI transport.
type PCIModern struct {
	reg       PCIRegions
	devType   DeviceType
	numQueues uint16
	notifyOff []uint32 // byte offset in Notify for each enabled queue
	selected  uint16
}

var _ Transport = (*PCIModern)(nil)

// NewPCIModern returns the transport for a modern PCI device of type t.
func NewPCIModern(t DeviceType, reg PCIRegions) (*PCIModern, error) {
	if reg.Common == nil || reg.Notify == nil || reg.ISR == nil {
		return nil, fmt.Errorf("virtio: pci: missing common, notify or ISR region")
	}
	p := &PCIModern{reg: reg, devType: t}
	p.numQueues = reg.Common.Read16(pciNumQueues)
	p.notifyOff = make([]uint32, p.numQueues)
	return p, nil
}

// NumQueues is the number of queues the device has.
func (p *PCIModern) NumQueues() uint16 { return p.numQueues }

// SetConfigVector routes configuration change interrupts to MSI-X vector
// v (or NoVector) and returns what the device accepted: NoVector means it
// could not allocate the vector (4.1.5.1.2).
func (p *PCIModern) SetConfigVector(v uint16) uint16 {
	p.reg.Common.Write16(pciMSIXConfig, v)
	return p.reg.Common.Read16(pciMSIXConfig)
}

// SetQueueVector routes the selected queue's interrupts to MSI-X vector v
// and returns what the device accepted.
func (p *PCIModern) SetQueueVector(v uint16) uint16 {
	p.reg.Common.Write16(pciQueueMSIXVector, v)
	return p.reg.Common.Read16(pciQueueMSIXVector)
}

func (p *PCIModern) DeviceType() DeviceType { return p.devType }
func (p *PCIModern) Legacy() bool           { return false }

func (p *PCIModern) DeviceFeatures() uint64 {
	c := p.reg.Common
	c.Write32(pciDeviceFeatureSelect, 0)
	lo := c.Read32(pciDeviceFeature)
	c.Write32(pciDeviceFeatureSelect, 1)
	hi := c.Read32(pciDeviceFeature)
	return uint64(hi)<<32 | uint64(lo)
}

func (p *PCIModern) SetDriverFeatures(f uint64) {
	c := p.reg.Common
	c.Write32(pciDriverFeatureSelect, 0)
	c.Write32(pciDriverFeature, uint32(f))
	c.Write32(pciDriverFeatureSelect, 1)
	c.Write32(pciDriverFeature, uint32(f>>32))
}

func (p *PCIModern) Status() uint8     { return p.reg.Common.Read8(pciDeviceStatus) }
func (p *PCIModern) SetStatus(s uint8) { p.reg.Common.Write8(pciDeviceStatus, s) }

func (p *PCIModern) SelectQueue(q uint16) {
	p.reg.Common.Write16(pciQueueSelect, q)
	p.selected = q
}

func (p *PCIModern) QueueMaxSize() uint16 {
	if p.selected >= p.numQueues {
		return 0
	}
	n := p.reg.Common.Read16(pciQueueSize)
	if n > MaxQueueSize {
		n = MaxQueueSize
	}
	return n
}

func (p *PCIModern) SetQueueSize(n uint16) error {
	p.reg.Common.Write16(pciQueueSize, n)
	return nil
}

// SetQueueAddrs writes the 64-bit fields as two 32-bit halves, low first,
// which 4.1.3.1 allows.
func (p *PCIModern) SetQueueAddrs(desc, driver, device uint64) error {
	c := p.reg.Common
	for _, f := range [...]struct {
		off  uint32
		addr uint64
	}{{pciQueueDesc, desc}, {pciQueueDriver, driver}, {pciQueueDevice, device}} {
		c.Write32(f.off, uint32(f.addr))
		c.Write32(f.off+4, uint32(f.addr>>32))
	}
	return nil
}

// EnableQueue also records where the queue's notifications go
// (4.1.4.4): queue_notify_off * notify_off_multiplier into Notify.
func (p *PCIModern) EnableQueue() {
	c := p.reg.Common
	if p.selected < p.numQueues {
		p.notifyOff[p.selected] = uint32(c.Read16(pciQueueNotifyOff)) * p.reg.NotifyOffMultiplier
	}
	c.Write16(pciQueueEnable, 1)
}

// Notify writes the queue index, 16 bits, at the queue's notification
// address (without VIRTIO_F_NOTIFICATION_DATA, 4.1.5.2).
func (p *PCIModern) Notify(q uint16) {
	if int(q) < len(p.notifyOff) {
		p.reg.Notify.Write16(p.notifyOff[q], q)
	}
}

func (p *PCIModern) InterruptStatus() uint32 { return uint32(p.reg.ISR.Read8(0)) }
func (p *PCIModern) AckInterrupt(uint32)     {}

func (p *PCIModern) ConfigGeneration() uint32 {
	return uint32(p.reg.Common.Read8(pciConfigGeneration))
}

// ReadConfig reads zeros when the device has no configuration region.
func (p *PCIModern) ReadConfig(off int, b []byte) {
	if p.reg.Device == nil {
		clear(b)
		return
	}
	sizedRead(p.reg.Device, 0, off, b)
}

func (p *PCIModern) WriteConfig(off int, b []byte) {
	if p.reg.Device != nil {
		sizedWrite(p.reg.Device, 0, off, b)
	}
}
