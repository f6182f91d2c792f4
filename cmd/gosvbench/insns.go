package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gosv/boot/qemu"
	"gosv/boot/qprof"
)

// insnCounter reads the insncount plugin's snapshots around a measured
// run (the -insns flag). A nil *insnCounter does nothing.
type insnCounter struct {
	b      *netBench
	out    string
	kernel string // the guest's kernel image
	app    string // the application's host binary, if known
	before qprof.Counts
	err    error
}

// snapshotWait is how long to wait for the plugin's next snapshot (it
// writes one every second).
const snapshotWait = 1200 * time.Millisecond

// newInsnCounter adds the plugin to cfg.
func (b *netBench) newInsnCounter(cfg *qemu.Config) *insnCounter {
	c := &insnCounter{b: b, kernel: cfg.Kernel,
		out: filepath.Join(os.TempDir(), fmt.Sprintf("gosvbench-insns-%d.txt", os.Getpid()))}
	os.Remove(c.out)
	for prog, bin := range b.appSyms {
		if strings.Contains(cfg.Cmdline, prog) || strings.HasSuffix(cfg.Initrd, filepath.Base(bin)+".cpio") {
			c.app = bin
		}
	}
	cfg.ExtraArgs = append(cfg.ExtraArgs, qprof.PluginArgs(b.plugin, c.out)...)
	return c
}

// close removes the plugin's file.
func (c *insnCounter) close() {
	if c != nil {
		os.Remove(c.out)
	}
}

// start takes the snapshot the run is measured from.
func (c *insnCounter) start() {
	if c == nil {
		return
	}
	time.Sleep(snapshotWait)
	c.before, c.err = qprof.ReadCounts(c.out)
}

// report logs where the instructions since start went, per unit (a
// request, or a MB).
func (c *insnCounter) report(name string, units float64) {
	if c == nil {
		return
	}
	time.Sleep(snapshotWait)
	after, err := qprof.ReadCounts(c.out)
	if c.err != nil || err != nil || units <= 0 {
		logf("  instructions of %s: %v %v", name, c.err, err)
		return
	}
	var app *qprof.Symbols
	if c.app != "" {
		app, _ = qprof.LoadSymbols(c.app)
	}
	var namer func(uint64) string
	if c.kernel == c.b.linuxKernel {
		// Debian ships no symbols for its kernel (System.map is a stub):
		// the kernel's half of the address space is counted as a whole.
		appName := qprof.Namer(nil, app)
		namer = func(pc uint64) string {
			if pc >= 1<<63 {
				return "linux:kernel"
			}
			return appName(pc)
		}
	} else {
		ksyms, err := qprof.LoadSymbols(c.kernel)
		if err != nil {
			logf("  instructions of %s: %v", name, err)
		}
		namer = qprof.Namer(ksyms, app)
	}
	costs := after.Since(c.before).Attribute(namer)
	var out strings.Builder
	qprof.Report(&out, costs, 60, units)
	logf("  instructions of %s, per unit:\n%s", name, out.String())
	// All functions, for a closer look than the log's top list.
	out.Reset()
	qprof.Report(&out, costs, len(costs), units)
	file := filepath.Join(c.b.o.cache, "net", "insns-"+strings.ReplaceAll(name, " ", "-")+".txt")
	if err := os.WriteFile(file, []byte(out.String()), 0o644); err == nil {
		logf("  (every function in %s)", file)
	}
}
