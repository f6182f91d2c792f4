package bench

import (
	"io"

	"github.com/u-root/u-root/pkg/cpio"
)

// InitScript is the Linux baseline's /init, run by busybox's shell. It
// prints the LINUXINIT marker with the guest's uptime, then the kernel's
// own "Run /init as init process" line with its printk timestamp (the
// command line's "quiet" keeps that line off the console, but it is in the
// kernel's log buffer), and powers the VM off through ACPI.
const InitScript = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
read up idle < /proc/uptime
echo "LINUXINIT $up"
/bin/busybox dmesg | /bin/busybox grep -m1 'Run /init as init process'
/bin/busybox poweroff -f
`

// AppInitScript is the /init of the Linux baseline for the application
// benchmark: it runs /bin/appbench first thing, prints its exit status
// after LinuxAppMarker and powers the VM off through ACPI.
const AppInitScript = `#!/bin/busybox sh
/bin/` + AppName + `
echo "LINUXAPP status $?"
/bin/busybox poweroff -f
`

// WriteInitramfs writes the baseline's initramfs, a newc cpio archive with
// /bin/busybox, /init (InitScript), an empty /proc and the /dev/console
// node the kernel opens for init's standard streams. The records carry no
// time stamps or owners, so equal inputs give equal archives.
func WriteInitramfs(w io.Writer, busybox []byte) error {
	return writeInitramfs(w, busybox, InitScript)
}

// WriteAppInitramfs writes the baseline's initramfs for the application
// benchmark: as WriteInitramfs, with the benchmark program as
// /bin/appbench and AppInitScript as /init.
func WriteAppInitramfs(w io.Writer, busybox, program []byte) error {
	return writeInitramfs(w, busybox, AppInitScript,
		cpio.StaticRecord(program, cpio.Info{Name: "bin/" + AppName, Mode: cpio.S_IFREG | 0o755}))
}

func writeInitramfs(w io.Writer, busybox []byte, init string, extra ...cpio.Record) error {
	rw := cpio.Newc.Writer(w)
	recs := []cpio.Record{
		cpio.Directory("bin", 0o755),
		cpio.Directory("dev", 0o755),
		cpio.Directory("proc", 0o755),
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.StaticRecord(busybox, cpio.Info{Name: "bin/busybox", Mode: cpio.S_IFREG | 0o755}),
	}
	recs = append(recs, extra...)
	recs = append(recs, cpio.StaticFile("init", init, 0o755))
	for i := range recs {
		recs[i] = cpio.MakeReproducible(recs[i])
	}
	if err := cpio.WriteRecordsAndDirs(rw, recs); err != nil {
		return err
	}
	return cpio.WriteTrailer(rw)
}
