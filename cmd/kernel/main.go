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
	"gosv/kernel/app"
	"gosv/kernel/selftest"
	netstack "gosv/net/stack"
	"gosv/vfs"
	"gosv/vfs/bootfs"
	"gosv/vfs/ramfs"
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
	if opts.IdlePollSet {
		kernel.SetIdlePoll(opts.IdlePoll)
	}
	printBanner(sinceEntry)
	if opts.Verbose {
		k, r := kernel.BootPhases()
		fmt.Printf("gosv: boot phases: kernel setup %v, Go runtime start %v\n", k, r)
		sc, pf, irq := kernel.TrapCounts()
		fmt.Printf("gosv: traps so far: %d system calls, %d page faults, %d timer interrupts\n", sc, pf, irq)
		for _, l := range kernel.BootMemoryMap() {
			fmt.Println("gosv:", l)
		}
	}

	nics := startDevices(opts)
	st, err := startNetwork(opts, nics, mountedFilesystems)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gosv: network: %v\n", err)
		kernel.PowerOff(statusBadCmdline)
	}

	if len(opts.Test) > 0 {
		failed := selftest.Run(os.Stdout, opts.Test)
		kernel.PowerOff(min(failed, 0x7f))
	}
	if err := runApplication(opts, st); err != nil {
		fmt.Fprintf(os.Stderr, "gosv: %v\n", err)
		kernel.PowerOff(1)
	}
	if len(nics) > 0 {
		// Like OSv with only its management API: serve until told to
		// power off (POST /os/poweroff).
		fmt.Println("gosv: no application configured; serving the REST API")
		select {}
	}
	fmt.Println("gosv: no application configured; powering off")
	kernel.PowerOff(0)
}

// runApplication mounts the boot filesystem and runs the application
// the command line (or the image's /etc/gosv/cmdline) names. It returns
// nil without doing anything when there is no application at all.
func runApplication(opts *cmdline.Options, st *netstack.Stack) error {
	archive := kernel.Module(0)
	if archive == nil {
		if len(opts.App) > 0 {
			return fmt.Errorf("cannot run %q: no application image (boot with the image as initrd, e.g. make run APP=...)", strings.Join(opts.App, " "))
		}
		return nil
	}
	root, err := bootfs.New(archive)
	if err != nil {
		return fmt.Errorf("application image: %w", err)
	}
	fs := &vfs.FS{}
	if err := fs.Mount("/", root); err != nil {
		return err
	}
	if err := fs.Mount("/tmp", ramfs.New()); err != nil {
		return err
	}
	if err := mountEtc(fs, root, st.ResolvConf()); err != nil {
		return err
	}
	mounted.Store(&mountInfo{fs: fs, imageSize: uint64(len(archive))})
	argv := opts.App
	if len(argv) == 0 {
		if argv, err = defaultCommand(fs); err != nil || len(argv) == 0 {
			return err
		}
	}
	serve, err := app.Start(app.Config{FS: fs, Argv: argv, Env: opts.Env, Cwd: opts.Cwd, Network: st.Netstack()})
	if err != nil {
		return err
	}
	if opts.Verbose {
		fmt.Printf("gosv: %s loaded %.2f ms after the first instruction\n", argv[0], kernel.SinceEntry().Seconds()*1000)
	}
	serve() // never returns: the application's exit powers off
	return nil
}

// defaultCommand reads the image's default command line.
func defaultCommand(fs *vfs.FS) ([]string, error) {
	n, err := fs.Resolve("/", "/etc/gosv/cmdline", true)
	if err != nil {
		return nil, nil // no default: nothing to run
	}
	st, err := n.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size)
	if _, err := n.ReadAt(b, 0); err != nil && len(b) > 0 && err.Error() != "EOF" {
		return nil, err
	}
	return cmdline.Split(strings.TrimSpace(string(b)))
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
