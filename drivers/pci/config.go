package pci

import "sync"

// ConfigSpace reads and writes configuration space registers of the
// function at bus:dev.fn. off is a byte offset; Read32 and Write32 ignore
// its low two bits. Functions that do not exist, and offsets the access
// method cannot reach, read as all ones and ignore writes (PCI 3.0
// section 6.1: a read of a missing function returns 0xFFFF as vendor ID).
//
// Implementations must be safe for use by several goroutines.
type ConfigSpace interface {
	Read32(bus, dev, fn uint8, off uint16) uint32
	Write32(bus, dev, fn uint8, off uint16, v uint32)
}

// Read16 reads the 16-bit register at off (bit 0 of off is ignored)
// through a 32-bit read.
func Read16(cs ConfigSpace, bus, dev, fn uint8, off uint16) uint16 {
	return uint16(cs.Read32(bus, dev, fn, off&^3) >> (8 * (off & 2)))
}

// Read8 reads the byte at off through a 32-bit read.
func Read8(cs ConfigSpace, bus, dev, fn uint8, off uint16) uint8 {
	return uint8(cs.Read32(bus, dev, fn, off&^3) >> (8 * (off & 3)))
}

// Configuration header registers (PCI 3.0 section 6.1, figure 6-1; the
// type 1 bridge header from PCI-to-PCI Bridge spec 1.2 section 3.2).
const (
	regVendorID        = 0x00 // 16 bits
	regDeviceID        = 0x02 // 16 bits
	regCommand         = 0x04 // 16 bits
	regStatus          = 0x06 // 16 bits
	regRevision        = 0x08 // revision, prog IF, subclass, class
	regHeaderType      = 0x0e
	regBAR0            = 0x10 // six (type 0) or two (type 1) dwords
	regBusNumbers      = 0x18 // type 1: primary, secondary, subordinate
	regSubsystemVendor = 0x2c // type 0: subsystem vendor and ID
	regCapPtr          = 0x34 // types 0 and 1
	regInterrupt       = 0x3c // line, pin
)

// Command register bits (PCI 3.0 section 6.2.2).
const (
	CommandIO          uint16 = 1 << 0  // respond to I/O space accesses
	CommandMemory      uint16 = 1 << 1  // respond to memory space accesses
	CommandBusMaster   uint16 = 1 << 2  // may issue memory requests (DMA, MSI)
	CommandINTxDisable uint16 = 1 << 10 // may not assert INTx
)

// Status register bits (PCI 3.0 section 6.2.3).
const (
	statusCapList uint16 = 1 << 4 // a capability list starts at regCapPtr
)

// Header type register (PCI 3.0 section 6.2.1): the layout of bytes
// 0x10-0x3f in bits 6:0, multi-function in bit 7.
const (
	HeaderGeneral       uint8 = 0x00 // type 0: an endpoint
	HeaderBridge        uint8 = 0x01 // type 1: a PCI-to-PCI bridge
	HeaderCardBus       uint8 = 0x02 // type 2: a CardBus bridge
	HeaderMultiFunction uint8 = 0x80 // functions 1-7 may exist
)

// setCommand sets and clears bits in the command register of d and
// returns its previous value. It writes the whole dword with the status
// half zero: the status bits are read-only or write-1-to-clear (PCI 3.0
// section 6.2.3), so zeros leave them as they are, where a
// read-modify-write would clear any error bit that happened to be set.
func setCommand(cs ConfigSpace, d *Device, set, clear uint16) uint16 {
	old := Read16(cs, d.Bus, d.Dev, d.Fn, regCommand)
	if v := old&^clear | set; v != old {
		cs.Write32(d.Bus, d.Dev, d.Fn, regCommand, uint32(v))
	}
	return old
}

// EnableIO lets d respond to accesses to its I/O BARs.
func EnableIO(cs ConfigSpace, d *Device) { setCommand(cs, d, CommandIO, 0) }

// EnableMemory lets d respond to accesses to its memory BARs.
func EnableMemory(cs ConfigSpace, d *Device) { setCommand(cs, d, CommandMemory, 0) }

// SetBusMaster lets d issue memory requests (DMA and MSI writes), or
// stops it.
func SetBusMaster(cs ConfigSpace, d *Device, on bool) {
	if on {
		setCommand(cs, d, CommandBusMaster, 0)
	} else {
		setCommand(cs, d, 0, CommandBusMaster)
	}
}

// DisableINTx stops d asserting its legacy interrupt pin.
func DisableINTx(cs ConfigSpace, d *Device) { setCommand(cs, d, CommandINTxDisable, 0) }

// Configuration mechanism #1 (PCI 3.0 section 3.2.2.3.2): the address of
// a dword goes to CONFIG_ADDRESS, then CONFIG_DATA reads or writes it.
const (
	portConfigAddress uint16 = 0xcf8
	portConfigData    uint16 = 0xcfc

	configEnable uint32 = 1 << 31 // bit 31 of CONFIG_ADDRESS
	configBus           = 16      // bits 23:16
	configDev           = 11      // bits 15:11
	configFn            = 8       // bits 10:8; register in 7:2
)

// Ports is 32-bit x86 port I/O (IN and OUT), as arch/amd64 provides it.
type Ports interface {
	In32(port uint16) uint32
	Out32(port uint16, v uint32)
}

// PortIO is configuration mechanism #1 over I/O ports 0xCF8 and 0xCFC.
// It reaches the first 256 bytes of each function's configuration space;
// offsets above read as all ones. Create it with NewPortIO.
type PortIO struct {
	ports Ports
	// mu keeps each address write and its data access together: the
	// address register is one for the whole machine.
	mu sync.Mutex
}

var _ ConfigSpace = (*PortIO)(nil)

// NewPortIO returns mechanism #1 over p.
func NewPortIO(p Ports) *PortIO { return &PortIO{ports: p} }

func portAddress(bus, dev, fn uint8, off uint16) (uint32, bool) {
	if dev >= 32 || fn >= 8 || off >= 256 {
		return 0, false
	}
	return configEnable | uint32(bus)<<configBus | uint32(dev)<<configDev |
		uint32(fn)<<configFn | uint32(off)&0xfc, true
}

// Read32 implements ConfigSpace.
func (c *PortIO) Read32(bus, dev, fn uint8, off uint16) uint32 {
	a, ok := portAddress(bus, dev, fn, off)
	if !ok {
		return ^uint32(0)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ports.Out32(portConfigAddress, a)
	return c.ports.In32(portConfigData)
}

// Write32 implements ConfigSpace.
func (c *PortIO) Write32(bus, dev, fn uint8, off uint16, v uint32) {
	a, ok := portAddress(bus, dev, fn, off)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ports.Out32(portConfigAddress, a)
	c.ports.Out32(portConfigData, v)
}
