// Package virtio is the driver side of virtio devices: transports, split
// virtqueues and the device initialization sequence. It follows the
// Virtual I/O Device (VIRTIO) Version 1.2 specification (OASIS, 2022);
// section numbers below refer to it.
//
//   - Device status, feature bits, reset and configuration space: 2.1,
//     2.2, 2.4, 2.5 (configuration generation, 2.5.1); reserved feature
//     bits (VERSION_1, INDIRECT_DESC, EVENT_IDX, ACCESS_PLATFORM): 6.
//   - Split virtqueues: 2.7. Layout and alignment 2.7 and 2.7.2 (legacy
//     layout), descriptors 2.7.5, indirect descriptors 2.7.5.3, available
//     ring 2.7.6, used ring 2.7.8, notification suppression 2.7.7 and
//     2.7.10, supplying and receiving buffers 2.7.13 and 2.7.14.
//   - Initialization: 3.1.1 (and 3.1.2 for legacy devices).
//   - Transports: virtio over PCI 4.1 (common configuration 4.1.4.3,
//     notifications 4.1.4.4, ISR 4.1.4.5, legacy I/O layout 4.1.4.10,
//     initialization 4.1.5); virtio over MMIO 4.2 (registers 4.2.2,
//     initialization 4.2.3, legacy version 1 registers 4.2.4).
//   - Network device: 5.1 (feature bits 5.1.3, configuration 5.1.4, the
//     packet header 5.1.6, receive buffers 5.1.6.3, mergeable buffers
//     5.1.6.4). Net is the driver (nic.Device).
//   - Entropy device: 5.4. RNG is the driver.
//
// Drivers are ordinary Go code in goroutines. Everything that touches
// hardware comes in through interfaces the boot sequence passes in: Regs
// and SizedRegs for registers (MMIO windows, PCI BAR regions, I/O ports)
// and DMA for physically contiguous memory, and IRQ for the interrupt
// (nil: the driver polls). Tests drive the code with fake devices working
// on a byte arena: ring devices, virtio-mmio registers, and a virtio-net
// and an entropy device behind them.
//
// The ring code assumes it may access the rings' 16-bit index fields
// through the aligned 32-bit words that contain them, with sync/atomic;
// every such word is either shared with a field of the same owner or with
// padding (see Queue).
package virtio
