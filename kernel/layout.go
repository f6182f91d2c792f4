package kernel

// Memory layout; layout_amd64.h holds the same values for the assembly
// and layout_test.go checks they agree. docs/memory-map.md explains them.
const (
	// kernelVirtBase is where the image is linked (-T kernelVirtBase+0x1000).
	// It sits at 256 GiB so that everything an unmodified Linux program
	// expects (0x400000 upwards, far past 4 GiB) stays free.
	kernelVirtBase = 0x4000000000
	// kernelPhysBase is the physical load address of the image.
	kernelPhysBase = 0x200000
	// kernelOffset converts a physical image address to its virtual one.
	kernelOffset = kernelVirtBase - kernelPhysBase
	// kernelMappedBytes is how much of the image the boot stub maps.
	kernelMappedBytes = 32 << 21
	// directBase maps all physical memory (PML4 slot 256, the start of
	// the canonical upper half).
	directBase = 0xffff800000000000

	// userMin and userMax bound the addresses mmap hands out: above the
	// zero page, below the end of the lower canonical half.
	userMin = 0x10000
	userMax = 0x7ffffffff000

	// mmapTop is where mmap starts looking for space without a hint,
	// growing down, as Linux does.
	mmapTop = 0x7f0000000000

	bootStackSize = 65536

	pageSize  = 4096
	pageShift = 12
	hugePage  = 2 << 20
)

// Per-CPU block offsets used by trap_amd64.s (see cpuLocal).
const (
	cpuOffSelf         = 0
	cpuOffSyscallStack = 8
	cpuOffScratch      = 16
	cpuOffKernelFS     = 24
	cpuOffDepth        = 32
	cpuOffRetRIP       = 40
	cpuOffRetRSP       = 48
	ctxOffPartial      = fpuStateSize
	ctxOffFrame        = fpuStateSize + 8
	partialSyscall     = partialX87 | partialAVX
	partialTrap        = partialAVX
	vecSyscall         = 256
)
