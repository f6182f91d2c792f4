// Command kernel is the gosv kernel image: an ordinary Go program whose
// system calls are served by the gosv kernel linked into it. The
// assembly entry (kernel.entry32) builds the machine and starts the Go
// runtime; main is the first ordinary Go code, and carries the boot
// sequence on: command line, banner, then what the command line asks.
package main

import (
	"fmt"
	"os"
	"strings"

	"gosv/boot/cmdline"
	"gosv/kernel"
	"gosv/kernel/selftest"
)

// Statuses reported through isa-debug-exit (kernel/power.go has the
// ones the core reports itself).
const (
	statusBadCmdline = 0x72
	statusProbe      = 0x5a
)

func main() {
	sinceEntry := kernel.SinceEntry()
	opts, err := cmdline.Parse(kernel.Cmdline())
	if err != nil {
		fmt.Fprintf(os.Stderr, "gosv: bad command line %q: %v\n", kernel.Cmdline(), err)
		kernel.PowerOff(statusBadCmdline)
	}
	if opts.Probe {
		kernel.PowerOff(statusProbe)
	}
	if opts.Hostname != "" {
		kernel.SetHostname(opts.Hostname)
	}
	printBanner(sinceEntry)
	if opts.Verbose {
		k, r := kernel.BootPhases()
		fmt.Printf("gosv: boot phases: kernel setup %v, Go runtime start %v\n", k, r)
		sc, pf, irq := kernel.TrapCounts()
		fmt.Printf("gosv: traps so far: %d system calls, %d page faults, %d timer interrupts\n", sc, pf, irq)
	}

	if len(opts.Test) > 0 {
		failed := selftest.Run(os.Stdout, opts.Test)
		kernel.PowerOff(min(failed, 0x7f))
	}
	if len(opts.App) > 0 {
		fmt.Fprintf(os.Stderr, "gosv: running applications is not supported yet (asked for %q)\n", strings.Join(opts.App, " "))
		kernel.PowerOff(1)
	}
	fmt.Println("gosv: no application configured; powering off")
	kernel.PowerOff(0)
}

func printBanner(sinceEntry interface{ Seconds() float64 }) {
	total, free := kernel.MemoryStats()
	fmt.Printf("gosv %s on %s, %d CPU(s), %d MiB memory (%d MiB free), booted via %s\n",
		kernel.Version, kernel.Hypervisor(), kernel.CPUCount(), kernel.MemorySize()>>20, free>>20, kernel.BootProtocol())
	_ = total
	fmt.Printf("gosv: clock %s (%d MHz TSC)\n", kernel.ClockSource(), kernel.TSCHz()/1_000_000)
	fmt.Printf("gosv: command line: %q\n", kernel.Cmdline())
	fmt.Printf("gosv: boot time %.2f ms (first instruction to Go main)\n", sinceEntry.Seconds()*1000)
}
