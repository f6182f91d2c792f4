package kernel

import (
	"bufio"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"gosv/boot/kbuild"
)

// The kernel layout is written down three times: layout.go for Go,
// layout_amd64.h for the assembly, and boot/kbuild for the linker. These
// tests only read constants and source files, so they run on the host.

// readDefines returns the numeric #defines in a header.
func readDefines(t *testing.T, path string) map[string]uint64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defs := make(map[string]uint64)
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "#define" {
			continue
		}
		if len(fields) < 3 {
			t.Errorf("%s:%d: #define without a value: %q", path, line, sc.Text())
			continue
		}
		name, val := fields[1], fields[2]
		if len(fields) > 3 && !strings.HasPrefix(fields[3], "//") {
			t.Errorf("%s:%d: %s is not a plain number: %q", path, line, name, sc.Text())
			continue
		}
		v, err := strconv.ParseUint(val, 0, 64)
		if err != nil {
			t.Errorf("%s:%d: %s: %v", path, line, name, err)
			continue
		}
		if _, dup := defs[name]; dup {
			t.Errorf("%s:%d: %s defined twice", path, line, name)
		}
		defs[name] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return defs
}

func TestLayoutHeaderMatchesGo(t *testing.T) {
	want := map[string]uint64{
		"KVBASE":           kernelVirtBase,
		"PBASE":            kernelPhysBase,
		"KOFFSET":          kernelOffset,
		"KMAPPED_PAGES":    kernelMappedBytes / hugePage,
		"DIRECTBASE":       directBase,
		"CPU_SELF":         cpuOffSelf,
		"CPU_SYSCALLSTACK": cpuOffSyscallStack,
		"CPU_SCRATCH":      cpuOffScratch,
		"CPU_KERNELFS":     cpuOffKernelFS,
		"CPU_DEPTH":        cpuOffDepth,
		"CPU_RETRIP":       cpuOffRetRIP,
		"CPU_RETRSP":       cpuOffRetRSP,
		"CTX_FRAME":        ctxOffFrame,
		"CTX_PARTIAL":      ctxOffPartial,
		"PARTIAL_SYSCALL":  partialSyscall,
		"PARTIAL_TRAP":     partialTrap,
		"VEC_SYSCALL":      vecSyscall,
		"BOOTSTACK_SIZE":   bootStackSize,
	}
	got := readDefines(t, "layout_amd64.h")
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("layout_amd64.h does not define %s (layout.go: %#x)", name, w)
		case g != w:
			t.Errorf("layout_amd64.h: %s = %#x, layout.go says %#x", name, g, w)
		}
	}
	for name, g := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("layout_amd64.h defines %s = %#x, which this test does not check against layout.go", name, g)
		}
	}
}

// TestLayoutInvariants checks relations the boot stub relies on.
func TestLayoutInvariants(t *testing.T) {
	if kernelOffset != kernelVirtBase-kernelPhysBase {
		t.Errorf("kernelOffset = %#x, want kernelVirtBase-kernelPhysBase = %#x", kernelOffset, kernelVirtBase-kernelPhysBase)
	}
	if kernelMappedBytes%hugePage != 0 {
		t.Errorf("kernelMappedBytes %#x is not a whole number of 2 MiB pages", kernelMappedBytes)
	}
	// The stub maps the image with one page directory.
	if n := kernelMappedBytes / hugePage; n < 1 || n > 512 {
		t.Errorf("kernelMappedBytes is %d 2 MiB pages, want 1..512", n)
	}
	for name, v := range map[string]uint64{
		"kernelVirtBase": kernelVirtBase, "kernelPhysBase": kernelPhysBase, "directBase": directBase,
	} {
		if v%hugePage != 0 {
			t.Errorf("%s = %#x is not 2 MiB aligned", name, v)
		}
	}
	if hugePage != 2<<20 || pageSize != 1<<pageShift {
		t.Errorf("hugePage = %#x, pageSize = %#x, pageShift = %d", hugePage, pageSize, pageShift)
	}
	if got := unsafe.Sizeof(bootStack); got != bootStackSize {
		t.Errorf("bootStack is %d bytes, bootStackSize %d", got, bootStackSize)
	}
	// Offsets the assembly uses into Go structures.
	for _, c := range []struct {
		name      string
		off, want uintptr
	}{
		{"cpuLocal.self", unsafe.Offsetof(cpuLocal{}.self), cpuOffSelf},
		{"cpuLocal.syscallStack", unsafe.Offsetof(cpuLocal{}.syscallStack), cpuOffSyscallStack},
		{"cpuLocal.scratch", unsafe.Offsetof(cpuLocal{}.scratch), cpuOffScratch},
		{"cpuLocal.kernelFS", unsafe.Offsetof(cpuLocal{}.kernelFS), cpuOffKernelFS},
		{"cpuLocal.depth", unsafe.Offsetof(cpuLocal{}.depth), cpuOffDepth},
		{"Context.Frame", unsafe.Offsetof(Context{}.Frame), ctxOffFrame},
		{"Context.partial", unsafe.Offsetof(Context{}.partial), ctxOffPartial},
	} {
		if c.off != c.want {
			t.Errorf("offset of %s = %d, layout.go says %d", c.name, c.off, c.want)
		}
	}
}

func TestLayoutMatchesKbuild(t *testing.T) {
	if kbuild.KernelVirtBase != kernelVirtBase {
		t.Errorf("kbuild.KernelVirtBase = %#x, kernelVirtBase = %#x", kbuild.KernelVirtBase, kernelVirtBase)
	}
	if kbuild.KernelPhysBase != kernelPhysBase {
		t.Errorf("kbuild.KernelPhysBase = %#x, kernelPhysBase = %#x", kbuild.KernelPhysBase, kernelPhysBase)
	}

	// EntrySymbol is "<import path>.<function>": the path must be this
	// package's, and the function a TEXT symbol of entry_amd64.s.
	i := strings.LastIndex(kbuild.EntrySymbol, ".")
	if i < 0 {
		t.Fatalf("kbuild.EntrySymbol %q has no package qualifier", kbuild.EntrySymbol)
	}
	pkg, fn := kbuild.EntrySymbol[:i], kbuild.EntrySymbol[i+1:]
	if self := reflect.TypeFor[Context]().PkgPath(); pkg != self {
		t.Errorf("kbuild.EntrySymbol %q is in package %q, want %q", kbuild.EntrySymbol, pkg, self)
	}
	src, err := os.ReadFile("entry_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^TEXT\s+·` + regexp.QuoteMeta(fn) + `\(SB\)`)
	if !text.Match(src) {
		t.Errorf("entry_amd64.s has no TEXT ·%s(SB) for kbuild.EntrySymbol %q", fn, kbuild.EntrySymbol)
	}
}
