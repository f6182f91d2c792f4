// Package pci finds and configures PCI devices for gosv's drivers:
// configuration space access, bus enumeration, BARs, capabilities, MSI-X
// tables, and the one table of which driver takes which device.
//
// Specifications, cited where each rule applies:
//
//   - PCI Local Bus Specification 3.0 ("PCI 3.0"): configuration
//     mechanism #1 (3.2.2.3.2), the configuration header (6.1, 6.2),
//     base address registers (6.2.5.1), the capability list (6.7) and
//     MSI-X (6.8.2).
//   - PCI-to-PCI Bridge Architecture Specification 1.2: the type 1
//     header's bus numbers (3.2.5.3-3.2.5.5).
//   - PCI Express Base Specification 4.0: the Enhanced Configuration
//     Access Mechanism, ECAM (7.2.2).
//   - PCI Firmware Specification 3.0: the ACPI MCFG table (4.1.2).
//   - Virtio 1.2: PCI device IDs (4.1.2) and the virtio structure
//     capabilities (4.1.4).
//   - Intel SDM volume 3A, "Message Signalled Interrupts" in the APIC
//     chapter: the x86 MSI address and data.
//
// Nothing here touches hardware by itself. Configuration space is reached
// through a ConfigSpace (PortIO over a Ports, or ECAM over a Memory) and
// device memory through a Memory, all built and passed in by the boot
// sequence, so everything in this package runs on the host against fakes.
// Drivers are ordinary Go code in goroutines; the package keeps no state
// besides the ID Table, which nothing changes at run time.
package pci
