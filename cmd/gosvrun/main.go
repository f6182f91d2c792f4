// Command gosvrun boots a gosv kernel image under QEMU, streaming its serial
// console to stdout, and exits with the status the guest reported.
//
// Usage:
//
//	gosvrun -kernel gosv.elf [-append "..."] [-machine microvm|q35|pc] [-accel auto|kvm|tcg]
//
// The accelerator defaults to $GOSV_ACCEL, else auto (KVM only if this
// kernel is seen to run under it). The exit status is the guest status
// (0 if the guest powered off without one), or 1 if QEMU failed or timed out.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"gosv/boot/qemu"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var cfg qemu.Config
	var extra listFlag
	flag.StringVar(&cfg.Kernel, "kernel", "", "kernel ELF `image` (required)")
	flag.StringVar(&cfg.Initrd, "initrd", "", "initial ramdisk `file`")
	flag.StringVar(&cfg.Cmdline, "append", "", "kernel command `line`")
	flag.StringVar(&cfg.Machine, "machine", "microvm", "QEMU machine: microvm, q35 or pc")
	flag.StringVar(&cfg.Accel, "accel", "", "accelerator: auto, kvm or tcg (default $"+qemu.EnvAccel+", else auto)")
	flag.IntVar(&cfg.MemoryMB, "m", 128, "guest memory in `MiB`")
	flag.IntVar(&cfg.CPUs, "smp", 1, "number of vCPUs")
	flag.DurationVar(&cfg.Timeout, "timeout", 60*time.Second, "kill QEMU after this long")
	flag.Var(&extra, "extra", "extra QEMU `argument` (repeatable)")
	verbose := flag.Bool("v", false, "print the QEMU command line")
	netMode := flag.String("net", "none", "network: none, user (QEMU user networking; see -fwd) or tap:IFNAME")
	var fwds listFlag
	flag.Var(&fwds, "fwd", "with -net user, forward host `port:guestport` on 127.0.0.1 (repeatable)")
	transport := flag.String("nic", "", "virtio-net transport: pci, pci-modern, pci-legacy, mmio, mmio-v2 (default: mmio on microvm, pci elsewhere)")
	flag.Parse()
	switch {
	case *netMode == "none":
	case *netMode == "user":
		n := qemu.NIC{Transport: *transport}
		for _, f := range fwds {
			host, guest, ok := strings.Cut(f, ":")
			if !ok {
				fmt.Fprintf(os.Stderr, "gosvrun: -fwd wants HOSTPORT:GUESTPORT, got %q\n", f)
				os.Exit(2)
			}
			n.HostForward = append(n.HostForward, "tcp:127.0.0.1:"+host+"-:"+guest)
		}
		cfg.NICs = []qemu.NIC{n}
	case strings.HasPrefix(*netMode, "tap:"):
		cfg.NICs = []qemu.NIC{{Tap: strings.TrimPrefix(*netMode, "tap:"), Transport: *transport}}
	default:
		fmt.Fprintf(os.Stderr, "gosvrun: -net wants none, user or tap:IFNAME, got %q\n", *netMode)
		os.Exit(2)
	}
	if cfg.Kernel == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	cfg.ExtraArgs = extra
	cfg.Console = os.Stdout
	cfg.Stderr = os.Stderr
	cfg.OnStart = func(accel, reason string, args []string) {
		fmt.Fprintf(os.Stderr, "gosvrun: accelerator %s (%s)\n", accel, reason)
		if *verbose {
			fmt.Fprintf(os.Stderr, "gosvrun: %s\n", shellJoin(args))
		}
	}

	// On Ctrl-C, stop QEMU through the context and still report.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := qemu.Run(ctx, cfg)

	var qe *qemu.Error
	switch {
	case errors.As(err, &qe):
		// The serial output and QEMU's messages were already shown live.
		fmt.Fprintf(os.Stderr, "gosvrun: QEMU %s (accel %s)\n", qe.Msg, res.Accel)
		os.Exit(1)
	case err != nil:
		fmt.Fprintf(os.Stderr, "gosvrun: %v\n", err)
		os.Exit(1)
	}
	how := ""
	if !res.Exited {
		how = ", powered off"
	}
	fmt.Fprintf(os.Stderr, "gosvrun: guest status %d (%s, %v%s)\n",
		res.GuestStatus, res.Accel, res.Elapsed.Round(time.Millisecond), how)
	os.Exit(res.GuestStatus)
}

// shellJoin quotes args so the printed command line can be pasted into a shell.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsFunc(a, func(r rune) bool {
			return !strings.ContainsRune("+-./,:=_@%", r) && !('a' <= r && r <= 'z' ||
				'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
		}) {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		quoted[i] = a
	}
	return strings.Join(quoted, " ")
}
