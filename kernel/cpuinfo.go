package kernel

import (
	"encoding/binary"

	"gosv/arch/amd64"
)

// cpuFeatures is what CPUID says about the machine, read once at boot.
type cpuFeatures struct {
	maxLeaf           uint32
	vendor            [12]byte
	brand             [48]byte
	hypervisor        string
	hypervisorMaxLeaf uint32
	kvmClock          bool
	rdrand, rdseed    bool
	x2apic            bool
	tscDeadline       bool
	pdpe1gb           bool
	fsgsbase          bool
	// flags lists the feature names for /hardware/processor/flags.
	leaf1ECX, leaf1EDX, leaf7EBX, leaf7ECX, extECX, extEDX uint32
}

var cpu cpuFeatures

// Hypervisor signatures in CPUID 0x40000000 (EBX, ECX, EDX).
var hypervisorNames = [...]struct{ sig, name string }{
	{"KVMKVMKVM\x00\x00\x00", "KVM"},
	{"XenVMMXenVMM", "Xen"},
	{"VMwareVMware", "VMware"},
	{"Microsoft Hv", "Hyper-V"},
	{"TCGTCGTCGTCG", "QEMU TCG"},
	{"VBoxVBoxVBox", "VirtualBox"},
	{" lrpepyh  vr", "Parallels"},
	{"ACRNACRNACRN", "ACRN"},
}

func detectCPU() {
	var b, c, d uint32
	cpu.maxLeaf, b, c, d = amd64.CPUID(0, 0)
	binary.LittleEndian.PutUint32(cpu.vendor[0:], b)
	binary.LittleEndian.PutUint32(cpu.vendor[4:], d)
	binary.LittleEndian.PutUint32(cpu.vendor[8:], c)
	_, _, cpu.leaf1ECX, cpu.leaf1EDX = amd64.CPUID(1, 0)
	if cpu.maxLeaf >= 7 {
		_, cpu.leaf7EBX, cpu.leaf7ECX, _ = amd64.CPUID(7, 0)
	}
	if max, _, _, _ := amd64.CPUID(0x80000000, 0); max >= 0x80000001 {
		_, _, cpu.extECX, cpu.extEDX = amd64.CPUID(0x80000001, 0)
		if max >= 0x80000004 {
			for i := uint32(0); i < 3; i++ {
				a, b, c, d := amd64.CPUID(0x80000002+i, 0)
				binary.LittleEndian.PutUint32(cpu.brand[16*i:], a)
				binary.LittleEndian.PutUint32(cpu.brand[16*i+4:], b)
				binary.LittleEndian.PutUint32(cpu.brand[16*i+8:], c)
				binary.LittleEndian.PutUint32(cpu.brand[16*i+12:], d)
			}
		}
	}
	cpu.rdrand = cpu.leaf1ECX&(1<<30) != 0
	cpu.x2apic = cpu.leaf1ECX&(1<<21) != 0
	cpu.tscDeadline = cpu.leaf1ECX&(1<<24) != 0
	cpu.rdseed = cpu.leaf7EBX&(1<<18) != 0
	cpu.fsgsbase = cpu.leaf7EBX&(1<<0) != 0
	cpu.pdpe1gb = cpu.extEDX&(1<<26) != 0

	cpu.hypervisor = "none"
	if cpu.leaf1ECX&(1<<31) == 0 {
		return
	}
	// Xen may put its leaves at 0x40000100 etc. when it also
	// emulates another hypervisor's interface: scan in 0x100 steps.
	for base := uint32(0x40000000); base < 0x40010000; base += 0x100 {
		max, b, c, d := amd64.CPUID(base, 0)
		var sig [12]byte
		binary.LittleEndian.PutUint32(sig[0:], b)
		binary.LittleEndian.PutUint32(sig[4:], c)
		binary.LittleEndian.PutUint32(sig[8:], d)
		for _, h := range hypervisorNames {
			if string(sig[:]) == h.sig {
				cpu.hypervisor = h.name
				cpu.hypervisorMaxLeaf = max
				if h.name == "KVM" && max >= base+1 {
					eax, _, _, _ := amd64.CPUID(base+1, 0)
					cpu.kvmClock = eax&(1<<3) != 0 // KVM_FEATURE_CLOCKSOURCE2
				}
				return
			}
		}
		if base == 0x40000000 && max < 0x40000000 {
			break
		}
	}
	cpu.hypervisor = "unknown"
}

// haveFSGSBase says RDFSBASE/WRFSBASE are enabled (CR4.FSGSBASE); the
// trap path (trap_amd64.s) uses them instead of the FS_BASE MSR.
var haveFSGSBase bool

const cr4FSGSBase = 1 << 16

// enableFSGSBase turns on the FS/GS base instructions on this CPU when
// the CPU has them.
func enableFSGSBase() {
	if cpu.fsgsbase {
		amd64.WriteCR4(amd64.ReadCR4() | cr4FSGSBase)
		haveFSGSBase = true
	}
}

// Hypervisor names the hypervisor found through CPUID.
func Hypervisor() string { return cpu.hypervisor }

// CPUCount is the number of CPUs running.
func CPUCount() int { return cpuCount }
