package virtio

import (
	"context"
	"errors"
	"strconv"
)

// Regs is a window of device registers accessed 32 bits at a time at byte
// offsets: a virtio-mmio region.
type Regs interface {
	Read32(off uint32) uint32
	Write32(off uint32, v uint32)
}

// SizedRegs is a window of registers accessible at 8, 16 and 32 bits:
// I/O ports (legacy PCI) or a PCI memory BAR region (modern PCI), whose
// fields must be accessed at their own width (4.1.3.1).
type SizedRegs interface {
	Regs
	Read8(off uint32) uint8
	Write8(off uint32, v uint8)
	Read16(off uint32) uint16
	Write16(off uint32, v uint16)
}

// Device status bits (2.1).
const (
	StatusAcknowledge = 1
	StatusDriver      = 2
	StatusDriverOK    = 4
	StatusFeaturesOK  = 8
	StatusNeedsReset  = 64
	StatusFailed      = 128
)

// Reserved feature bit numbers (6). A feature set is a uint64 with bit n
// set for feature n.
const (
	FeatureAnyLayout      = 27 // legacy: headers need not have their own descriptor
	FeatureIndirectDesc   = 28
	FeatureEventIdx       = 29
	FeatureVersion1       = 32
	FeatureAccessPlatform = 33
)

// Interrupt status bits, in the MMIO InterruptStatus register and the PCI
// ISR (4.1.4.5, 4.2.2).
const (
	InterruptQueue  = 1 // a used buffer was returned
	InterruptConfig = 2 // the device configuration changed
)

// DeviceType is a virtio device ID (5).
type DeviceType uint32

// Device types used by gosv.
const (
	DeviceNet     DeviceType = 1
	DeviceBlock   DeviceType = 2
	DeviceConsole DeviceType = 3
	DeviceRNG     DeviceType = 4
	DeviceVsock   DeviceType = 19
)

func (t DeviceType) String() string {
	switch t {
	case DeviceNet:
		return "net"
	case DeviceBlock:
		return "block"
	case DeviceConsole:
		return "console"
	case DeviceRNG:
		return "rng"
	case DeviceVsock:
		return "vsock"
	}
	return "type " + strconv.FormatUint(uint64(t), 10)
}

// Notifier tells the device that a queue has new available buffers.
type Notifier interface {
	Notify(queue uint16)
}

// Transport is one way of reaching a device's registers: MMIO, PCIModern
// or PCILegacy. Its methods are the bus-specific parts of 3.1.1 and of
// the queue setup of 4.1.5.1.3 and 4.2.3.2; Device runs the sequence.
//
// Queue methods act on the queue chosen by the last SelectQueue. A
// Transport is not safe for concurrent use during setup; afterwards
// Notify, InterruptStatus and AckInterrupt may be called from any
// goroutine.
type Transport interface {
	Notifier

	// DeviceType is the kind of device behind the transport.
	DeviceType() DeviceType
	// Legacy reports a pre-1.0 device: 32 feature bits, no FEATURES_OK,
	// and queues in the legacy layout at one page-aligned address
	// (2.7.2).
	Legacy() bool

	// DeviceFeatures reads all 64 feature bits the device offers (32 on
	// legacy transports).
	DeviceFeatures() uint64
	// SetDriverFeatures writes the features the driver accepts.
	SetDriverFeatures(f uint64)

	// Status reads the device status; SetStatus writes it (0 resets).
	Status() uint8
	SetStatus(s uint8)

	// SelectQueue chooses the queue the following calls configure.
	SelectQueue(q uint16)
	// QueueMaxSize is the largest size the device supports for the
	// queue, 0 if the queue does not exist.
	QueueMaxSize() uint16
	// SetQueueSize sets the queue's size. It fails with
	// ErrQueueSizeFixed on transports whose queue size the driver
	// cannot change (legacy PCI) unless n is QueueMaxSize.
	SetQueueSize(n uint16) error
	// SetQueueAddrs gives the physical addresses of the descriptor
	// table, the available (driver) ring and the used (device) ring.
	// Legacy transports take one page frame number and fail with
	// ErrLegacyLayout unless the three follow the legacy layout.
	SetQueueAddrs(desc, driver, device uint64) error
	// EnableQueue makes the queue live (QueueReady, queue_enable; on
	// legacy transports the address write already did).
	EnableQueue()

	// InterruptStatus reads the interrupt status bits. On PCI the read
	// also clears them.
	InterruptStatus() uint32
	// AckInterrupt acknowledges the bits InterruptStatus returned (a
	// register write on MMIO, nothing on PCI).
	AckInterrupt(bits uint32)

	// ReadConfig and WriteConfig access the device-specific
	// configuration at byte offset off. A 2-, 4- or 8-byte p is one
	// field accessed at its width (8-byte fields as two 32-bit halves,
	// low first); any other length is a byte array accessed a byte at a
	// time (4.1.3.1, 4.2.2.2). Device.ReadConfig retries across
	// generation changes.
	ReadConfig(off int, p []byte)
	WriteConfig(off int, p []byte)
	// ConfigGeneration changes whenever the device changes its
	// configuration (2.5.1); legacy transports always return 0.
	ConfigGeneration() uint32
}

// Errors from transports.
var (
	ErrBadMagic       = errors.New("virtio: bad magic value")
	ErrBadVersion     = errors.New("virtio: unsupported transport version")
	ErrNoDevice       = errors.New("virtio: no device behind the transport")
	ErrQueueSizeFixed = errors.New("virtio: queue size is fixed by the device")
	ErrLegacyLayout   = errors.New("virtio: queue addresses do not follow the legacy layout")
)

// configWidth splits a configuration access of n bytes at off into
// accesses of width w (see Transport.ReadConfig).
func configWidth(off, n int) int {
	switch {
	case (n == 4 || n == 8) && off%4 == 0:
		return 4
	case n == 2 && off%2 == 0:
		return 2
	}
	return 1
}

// sizedRead and sizedWrite implement ReadConfig and WriteConfig over
// SizedRegs, with the configuration at base.
func sizedRead(r SizedRegs, base uint32, off int, p []byte) {
	w := configWidth(off, len(p))
	for i := 0; i < len(p); i += w {
		o := base + uint32(off+i)
		switch w {
		case 4:
			le.PutUint32(p[i:], r.Read32(o))
		case 2:
			le.PutUint16(p[i:], r.Read16(o))
		default:
			p[i] = r.Read8(o)
		}
	}
}

func sizedWrite(r SizedRegs, base uint32, off int, p []byte) {
	w := configWidth(off, len(p))
	for i := 0; i < len(p); i += w {
		o := base + uint32(off+i)
		switch w {
		case 4:
			r.Write32(o, le.Uint32(p[i:]))
		case 2:
			r.Write16(o, le.Uint16(p[i:]))
		default:
			r.Write8(o, p[i])
		}
	}
}

// IRQ is the interrupt the boot sequence routed to a device: an MSI-X
// vector or a (possibly shared, level-triggered) I/O APIC line.
type IRQ interface {
	// Wait blocks until the interrupt fired since the previous Wait, or
	// ctx ends.
	Wait(ctx context.Context) error
	// Unmask re-enables a level-triggered line, which the kernel masks
	// when it fires; the driver calls it after reading the device's
	// interrupt status (which lowers the line). A no-op for MSI-X and
	// edge-triggered lines.
	Unmask()
}
