// Package elfload places an unmodified Linux x86-64 ELF program into
// gosv's single address space and builds its initial stack: the work of
// Linux's binfmt_elf for execve.
//
// # Design
//
// Load is the one entry point: Args says what to load (the program, its
// argv and envp, AT_RANDOM's bytes, the hardware capabilities) and
// through what (a Memory, a way to open the interpreter); Result says
// where the first thread starts, its stack pointer, the initial program
// break and every mapping made (for /proc/self/maps). The package is
// ordinary Go: the kernel calls it from a goroutine, not from trap
// context, so it may allocate.
//
// All address-space changes go through the four-method Memory interface
// (Map, Protect, Unmap, Write) and all reads through io.ReaderAt, so the
// whole loader runs and is tested on the host: the tests load real Go
// and C programs, built by the host toolchain, into a fake address space
// and read back every byte of the result, and one test runs them.
//
// Validation is strict and comes first. ParseHeader (separate so it can
// be fuzzed) checks the ELF header and program headers: class, byte
// order, version, machine, type, header sizes, bounded counts, every
// offset and size against the file with overflow-checked arithmetic,
// PT_LOAD order and overlap, page congruence of p_vaddr and p_offset,
// the entry point, PT_INTERP. A failure wraps ErrNotExecutable in a
// FormatError whose message says what is wrong, for the kernel to log
// before it returns ENOEXEC. After that, loading is plain arithmetic.
//
// # Placement
//
//   - ET_EXEC goes at its link addresses (fixed mappings: a collision is
//     an error, never a replacement).
//   - ET_DYN goes where Map puts it given a hint: Args.PIEBase for the
//     program (0x555555554000, as Linux without ASLR), Args.InterpBase
//     or Map's choice for the interpreter. The whole span is reserved
//     with one Map, then holes between segments are unmapped.
//   - A program with PT_INTERP gets its interpreter (which must be
//     ET_DYN without PT_INTERP) loaded too, and starts there.
//
// Segments whose pages touch are mapped as one range; a page shared by
// two segments gets the union of their permissions. Only each segment's
// file bytes are copied; everything else is zero (bss). Args.Forbidden
// (the kernel image) may not be overlapped.
//
// # Stack
//
// The stack (Args.StackSize, 8 MiB by default, with a no-access guard
// page below) is laid out as Linux does it: strings at the top, then
// AT_PLATFORM and AT_RANDOM's bytes, then the auxiliary vector, envp,
// argv and argc at a 16-byte aligned stack pointer. See buildStack.
//
// AT_SYSINFO_EHDR is given when Args.SysinfoEhdr is (the kernel's vDSO,
// package gosv/elfload/vdso).
//
// AT_MINSIGSTKSZ is given when Args.MinSigStackSize is.
//
// Not done (yet): address
// randomisation, shebang scripts, and mapping file pages rather than
// copying them.
package elfload
