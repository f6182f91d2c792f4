package qprof

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The instruction-count profile comes from plugin/insncount.c, a QEMU TCG
// plugin that counts executed guest instructions per translation block.
// Unlike the monitor's samples it is exact: under TCG a vCPU's registers
// are only up to date where it left generated code, so sampled profiles
// pile up on MMIO accesses and helpers.

// BuildPlugin compiles the insncount plugin from source dir (the module's
// boot/qprof/plugin) into out with the C compiler cc ("cc" if empty).
func BuildPlugin(cc, dir, out string) error {
	if cc == "" {
		cc = "cc"
	}
	cmd := exec.Command(cc, "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-pthread",
		"-o", out, filepath.Join(dir, "insncount.c"))
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the insncount plugin: %v\n%s", err, b)
	}
	return nil
}

// PluginArgs returns QEMU's arguments to load plugin so that it writes its
// counts to out.
func PluginArgs(plugin, out string) []string {
	return []string{"-plugin", plugin + ",out=" + out}
}

// Block is one translation block: a guest start address, a length in
// instructions, and how many of them are of each costly kind.
type Block struct {
	Addr    uint64
	Insns   uint64
	Special Special
}

// Special counts instructions that cost far more than the rest under
// TCG, by kind (SpecialNames, in the plugin's order).
type Special [8]uint8

// SpecialNames name Special's counts.
var SpecialNames = [len(Special{})]string{"atomic", "pause", "rdtsc", "msr", "in/out", "hlt", "syscall/iret", "cpuid/cr/invlpg/sti"}

// Counts is how many times each block ran.
type Counts map[Block]uint64

// ReadCounts reads a snapshot the plugin wrote.
func ReadCounts(path string) (Counts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseCounts(f)
}

// ParseCounts parses the plugin's lines "<hex vaddr> <insns> <execs>",
// each optionally followed by the block's Special counts.
func ParseCounts(r io.Reader) (Counts, error) {
	c := Counts{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) != 3 && len(f) != 3+len(Special{}) {
			return nil, fmt.Errorf("line %d: want 3 or %d fields, have %d", line, 3+len(Special{}), len(f))
		}
		addr, err1 := strconv.ParseUint(f[0], 16, 64)
		insns, err2 := strconv.ParseUint(f[1], 10, 64)
		execs, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || insns == 0 {
			return nil, fmt.Errorf("line %d: malformed %q", line, sc.Text())
		}
		b := Block{Addr: addr, Insns: insns}
		for i, s := range f[3:] {
			n, err := strconv.ParseUint(s, 10, 8)
			if err != nil || n > insns {
				return nil, fmt.Errorf("line %d: malformed %q", line, sc.Text())
			}
			b.Special[i] = uint8(n)
		}
		c[b] += execs
	}
	return c, sc.Err()
}

// Since returns the executions in c that happened after earlier, an older
// snapshot of the same run.
func (c Counts) Since(earlier Counts) Counts {
	d := Counts{}
	for b, n := range c {
		if n > earlier[b] {
			d[b] = n - earlier[b]
		}
	}
	return d
}

// FuncCost is what the blocks of one function executed.
type FuncCost struct {
	Name    string
	Insns   uint64 // instructions
	Blocks  uint64 // translation blocks entered
	Special [len(Special{})]uint64
}

// Attribute sums c by function, naming addresses as name does (for
// example Sampler.name's kernel-else-application lookup), most
// instructions first.
func (c Counts) Attribute(name func(pc uint64) string) []FuncCost {
	by := map[string]*FuncCost{}
	for b, n := range c {
		fn := name(b.Addr)
		fc := by[fn]
		if fc == nil {
			fc = &FuncCost{Name: fn}
			by[fn] = fc
		}
		fc.Insns += b.Insns * n
		fc.Blocks += n
		for i, k := range b.Special {
			fc.Special[i] += uint64(k) * n
		}
	}
	out := make([]FuncCost, 0, len(by))
	for _, fc := range by {
		out = append(out, *fc)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Insns != out[j].Insns {
			return out[i].Insns > out[j].Insns
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Namer names addresses by the kernel's symbols, else the application's
// (prefixed "app:"), else in hex.
func Namer(kernel, app *Symbols) func(pc uint64) string {
	s := &Sampler{Kernel: kernel, App: app}
	return s.name
}

// Group is the part of the system a function belongs to, for a
// coarse breakdown: the application, the Go runtime, gVisor's netstack,
// gosv's own packages (by import path), or the core. The idle threads'
// polling is a group of its own: it is spinning, not work, and under
// the counting plugin it is the costliest code there is.
func Group(fn string) string {
	if fn == "gosv/kernel.idleLoop" {
		return "idle polling"
	}
	if strings.HasPrefix(fn, "app:") {
		return "application"
	}
	if strings.HasPrefix(fn, "linux:") {
		return "Linux kernel"
	}
	switch {
	case strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/") ||
		strings.HasPrefix(fn, "sync.") || strings.HasPrefix(fn, "sync/") ||
		strings.HasPrefix(fn, "aeshash") || strings.HasPrefix(fn, "memeqbody") ||
		strings.HasPrefix(fn, "indexbytebody") || strings.HasPrefix(fn, "cmpbody"):
		return "Go runtime"
	case strings.HasPrefix(fn, "gvisor.dev/"):
		return "gVisor"
	case strings.HasPrefix(fn, "gosv/kernel."):
		return "gosv core"
	case strings.HasPrefix(fn, "gosv/"):
		fn = strings.TrimPrefix(fn, "gosv/")
		if i := strings.IndexAny(fn, ".("); i > 0 {
			fn = fn[:i]
		}
		if i := strings.LastIndexByte(fn, '.'); i > 0 {
			fn = fn[:i]
		}
		return "gosv/" + fn
	case strings.HasPrefix(fn, "0x"):
		return "unknown"
	}
	if i := strings.IndexByte(fn, '.'); i > 0 {
		pkg := fn[:i]
		if j := strings.LastIndexByte(pkg, '/'); j >= 0 && strings.Contains(pkg[:j], ".") {
			return pkg
		}
		return "std:" + pkg
	}
	return fn
}

// Report writes the top n functions, a breakdown by Group, and totals
// divided by per (such as the requests served; 1 for raw totals).
func Report(w io.Writer, costs []FuncCost, n int, per float64) {
	var insns, blocks uint64
	groups := map[string]uint64{}
	for _, fc := range costs {
		insns += fc.Insns
		blocks += fc.Blocks
		groups[Group(fc.Name)] += fc.Insns
	}
	fmt.Fprintf(w, "%.0f instructions and %.0f blocks per unit (%d units)\n",
		float64(insns)/per, float64(blocks)/per, int64(per))
	type kv struct {
		k string
		v uint64
	}
	var gs []kv
	for k, v := range groups {
		gs = append(gs, kv{k, v})
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].v > gs[j].v })
	for _, g := range gs {
		fmt.Fprintf(w, "  %10.0f %5.1f%%  %s\n", float64(g.v)/per, 100*float64(g.v)/float64(max(insns, 1)), g.k)
	}
	var special [len(Special{})]uint64
	for _, fc := range costs {
		for i, k := range fc.Special {
			special[i] += k
		}
	}
	fmt.Fprintf(w, "costly instructions per unit:")
	for i, k := range special {
		fmt.Fprintf(w, " %s %.1f", SpecialNames[i], float64(k)/per)
	}
	fmt.Fprintln(w)
	for i, name := range SpecialNames {
		if special[i] == 0 {
			continue
		}
		top := slices.Clone(costs)
		sort.SliceStable(top, func(a, b int) bool { return top[a].Special[i] > top[b].Special[i] })
		fmt.Fprintf(w, "  %s by function:", name)
		for _, fc := range top[:min(6, len(top))] {
			if fc.Special[i] > 0 {
				fmt.Fprintf(w, " %s %.2f,", fc.Name, float64(fc.Special[i])/per)
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "top functions (instructions/unit, %%, blocks/unit):\n")
	for i, fc := range costs {
		if i == n {
			break
		}
		fmt.Fprintf(w, "  %10.0f %5.1f%% %8.0f  %s\n", float64(fc.Insns)/per,
			100*float64(fc.Insns)/float64(max(insns, 1)), float64(fc.Blocks)/per, fc.Name)
	}
}
