package hw

import (
	"sync/atomic"
	"unsafe"

	"gosv/arch/amd64"
	"gosv/drivers/pci"
	"gosv/drivers/virtio"
	"gosv/kernel"
)

// ptrAt turns a kernel address of device memory into a pointer (the
// double conversion tells vet the address is not Go-managed).
func ptrAt(addr uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&addr))
}

// MMIO is a window of memory-mapped device registers. Accesses go
// through sync/atomic so the compiler neither merges nor drops them; the
// mapping is uncached, so the CPU does not either.
type MMIO struct {
	base uintptr
	size uint32
}

var (
	_ virtio.SizedRegs = MMIO{}
	_ pci.Memory       = PhysMemory{}
)

// MapMMIO maps size bytes of device memory at physical address pa.
func MapMMIO(pa, size uint64) (MMIO, error) {
	va, err := kernel.MapDeviceMemory(pa, size)
	if err != nil {
		return MMIO{}, err
	}
	return MMIO{base: va, size: uint32(size)}, nil
}

// Sub returns the part of m from off, n bytes long (clamped to m).
func (m MMIO) Sub(off, n uint32) MMIO {
	if off > m.size {
		off = m.size
	}
	if n > m.size-off {
		n = m.size - off
	}
	return MMIO{base: m.base + uintptr(off), size: n}
}

// ok reports whether a w-byte access at off stays in the window; others
// read as all ones and are dropped, as on a bus with nothing there.
func (m MMIO) ok(off, w uint32) bool { return off <= m.size && w <= m.size-off }

func (m MMIO) Read32(off uint32) uint32 {
	if !m.ok(off, 4) {
		return ^uint32(0)
	}
	return atomic.LoadUint32((*uint32)(ptrAt(m.base + uintptr(off))))
}

func (m MMIO) Write32(off, v uint32) {
	if m.ok(off, 4) {
		atomic.StoreUint32((*uint32)(ptrAt(m.base+uintptr(off))), v)
	}
}

// Read16, Write16, Read8 and Write8 use plain accesses of their width
// (sync/atomic has none): each is one MOV, done in a function the
// compiler cannot fold away since the pointer comes from ptrAt.
func (m MMIO) Read16(off uint32) uint16 {
	if !m.ok(off, 2) {
		return ^uint16(0)
	}
	return *(*uint16)(ptrAt(m.base + uintptr(off)))
}

func (m MMIO) Write16(off uint32, v uint16) {
	if m.ok(off, 2) {
		*(*uint16)(ptrAt(m.base + uintptr(off))) = v
	}
}

func (m MMIO) Read8(off uint32) uint8 {
	if !m.ok(off, 1) {
		return ^uint8(0)
	}
	return *(*uint8)(ptrAt(m.base + uintptr(off)))
}

func (m MMIO) Write8(off uint32, v uint8) {
	if m.ok(off, 1) {
		*(*uint8)(ptrAt(m.base + uintptr(off))) = v
	}
}

// IOPorts is a range of x86 I/O ports (a legacy PCI I/O BAR).
type IOPorts struct {
	base uint16
	size uint32
}

var _ virtio.SizedRegs = IOPorts{}

// NewIOPorts returns the n ports from base.
func NewIOPorts(base uint16, n uint32) IOPorts { return IOPorts{base: base, size: n} }

func (p IOPorts) ok(off, w uint32) bool { return off <= p.size && w <= p.size-off }

func (p IOPorts) Read32(off uint32) uint32 {
	if !p.ok(off, 4) {
		return ^uint32(0)
	}
	return amd64.Inl(p.base + uint16(off))
}

func (p IOPorts) Write32(off, v uint32) {
	if p.ok(off, 4) {
		amd64.Outl(p.base+uint16(off), v)
	}
}

func (p IOPorts) Read16(off uint32) uint16 {
	if !p.ok(off, 2) {
		return ^uint16(0)
	}
	return amd64.Inw(p.base + uint16(off))
}

func (p IOPorts) Write16(off uint32, v uint16) {
	if p.ok(off, 2) {
		amd64.Outw(p.base+uint16(off), v)
	}
}

func (p IOPorts) Read8(off uint32) uint8 {
	if !p.ok(off, 1) {
		return ^uint8(0)
	}
	return amd64.Inb(p.base + uint16(off))
}

func (p IOPorts) Write8(off uint32, v uint8) {
	if p.ok(off, 1) {
		amd64.Outb(p.base+uint16(off), v)
	}
}

// Ports is 32-bit port I/O for PCI configuration mechanism #1.
type Ports struct{}

var _ pci.Ports = Ports{}

func (Ports) In32(port uint16) uint32     { return amd64.Inl(port) }
func (Ports) Out32(port uint16, v uint32) { amd64.Outl(port, v) }

// PhysMemory is 32-bit access to device memory by physical address, for
// ECAM configuration space and MSI-X tables. Each access maps (once) the
// page it falls in.
type PhysMemory struct{}

func (PhysMemory) Read32(addr uint64) uint32 {
	va, err := kernel.MapDeviceMemory(addr, 4)
	if err != nil {
		return ^uint32(0)
	}
	return atomic.LoadUint32((*uint32)(ptrAt(va)))
}

func (PhysMemory) Write32(addr uint64, v uint32) {
	if va, err := kernel.MapDeviceMemory(addr, 4); err == nil {
		atomic.StoreUint32((*uint32)(ptrAt(va)), v)
	}
}
