// Package hw adapts the machine to the interfaces drivers take
// (drivers/pci, drivers/virtio): device registers in memory and I/O port
// space, DMA memory and routed interrupts, over the kernel's device API
// (kernel/devapi.go). It is the only driver-side code that touches
// hardware directly; the boot sequence builds these values and passes
// them in.
package hw
