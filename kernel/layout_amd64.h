// Kernel memory layout shared by the assembly and Go (layout.go must agree;
// layout_test.go checks). See docs/memory-map.md.

// Virtual base of the kernel image: the linker is told -T KVBASE+0x1000.
#define KVBASE 0x4000000000
// Physical address the image is loaded at (p_paddr = vaddr - KVBASE + PBASE).
#define PBASE 0x200000
// KVBASE - PBASE: add to a physical image address to get its virtual one.
#define KOFFSET 0x3FFFE00000
// Bytes of the image mapped by the boot stub (32 2 MiB pages).
#define KMAPPED_PAGES 32
// Start of the direct map of physical memory (PML4 slot 256).
#define DIRECTBASE 0xffff800000000000

// Per-CPU block offsets (cpuLocal in percpu.go), addressed through GS.
#define CPU_SELF 0
#define CPU_SYSCALLSTACK 8
#define CPU_SCRATCH 16
#define CPU_KERNELFS 24
#define CPU_DEPTH 32
#define CPU_RETRIP 40
#define CPU_RETRSP 48

// Trap context (Context in trap.go): the 832-byte XSAVE area (FXSAVE
// image first), the partial word, then Frame.
#define CTX_PARTIAL 832
#define CTX_FRAME 840
// Context.partial after a system-call entry (x87 and AVX live in the
// CPU) and after an interrupt or exception entry (AVX live).
#define PARTIAL_SYSCALL 3
#define PARTIAL_TRAP 2
// Vector number the syscall entry reports.
#define VEC_SYSCALL 256
// Size of the stack start64 runs on (bootStack in start.go).
#define BOOTSTACK_SIZE 65536
