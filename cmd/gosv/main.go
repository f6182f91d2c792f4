// Command gosv is the gosv user tool.
//
// Usage:
//
//	gosv build [-o app.cpio] [-name /bin/NAME] [-file HOSTPATH:GUESTPATH]...
//	           [-dir HOSTDIR:GUESTDIR]... [-cmdline "ARGS"] PROGRAM
//	gosv help [COMMAND]
//
// build writes the boot file system of one application, a newc cpio
// archive to pass to the kernel as its initrd (gosvrun -initrd, or
// `make run APP=PROGRAM ARGS="..."`). See gosv/boot/appimage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gosv/boot/appimage"
)

// command is one subcommand.
type command struct {
	name, args, short string
	run               func(args []string, stderr io.Writer) error
}

var commands []command

func init() {
	commands = []command{
		{"build", "[-o app.cpio] [-name /bin/NAME] [-file HOST:GUEST]... [-dir HOST:GUEST]... [-cmdline \"ARGS\"] PROGRAM",
			"write an application's boot file system (a newc cpio initrd)", runBuild},
		{"help", "[COMMAND]", "show help", runHelp},
	}
}

// usageError is an error the usage line follows; exit status 2.
type usageError struct {
	cmd string
	msg string
}

func (e *usageError) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	if name == "-h" || name == "-help" || name == "--help" {
		name = "help"
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "gosv: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(args[1:], stderr)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "gosv %s: %s\n", ue.cmd, ue.msg)
		fmt.Fprintf(stderr, "usage: gosv %s %s\n(gosv help %s for more)\n", c.name, c.args, c.name)
		return 2
	default:
		fmt.Fprintf(stderr, "gosv %s: %v\n", c.name, err)
		return 1
	}
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: gosv COMMAND [arguments]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.short)
	}
	fmt.Fprintf(w, "\ngosv help COMMAND describes one.\n")
}

func runHelp(args []string, w io.Writer) error {
	if len(args) == 0 {
		usage(w)
		return nil
	}
	if len(args) > 1 || lookup(args[0]) == nil {
		return &usageError{"help", fmt.Sprintf("unknown command %q", strings.Join(args, " "))}
	}
	if args[0] == "build" {
		fs, _ := buildFlags(w)
		fmt.Fprint(w, buildHelp)
		fs.PrintDefaults()
		return nil
	}
	c := lookup(args[0])
	fmt.Fprintf(w, "usage: gosv %s %s\n\n%s\n", c.name, c.args, c.short)
	return nil
}

const buildHelp = `usage: gosv build [flags] PROGRAM

Build writes the boot file system of one application: a newc cpio
archive for the kernel's initrd. It holds

  /bin/NAME            PROGRAM (mode 0755), or the -name path
  /etc/hosts, /etc/passwd, /etc/group, /etc/nsswitch.conf, /etc/resolv.conf
  /tmp (1777), /root, /dev, /proc, /sys
  /etc/gosv/cmdline    the default command line: "/bin/NAME ARGS", used
                       when the kernel command line names no program
  -file and -dir entries (they may replace the default /etc files)

-cmdline words follow the kernel command line's quoting: spaces separate
words, double quotes group them, and \" and \\ are escapes inside quotes.
The archive is deterministic: the same inputs give the same bytes. Files
keep their modification times; SOURCE_DATE_EPOCH (seconds) caps them, as
reproducible builds expect.

Example:

  gosv build -o build/app.cpio -file ./config.json:/etc/app.json \
      -cmdline "-config /etc/app.json" ./myserver

flags:
`

// listFlag collects a repeatable HOST:GUEST flag.
type listFlag []appimage.Mapping

func (l *listFlag) String() string { return "" }
func (l *listFlag) Set(s string) error {
	m, err := appimage.ParseMapping(s)
	if err != nil {
		return err
	}
	*l = append(*l, m)
	return nil
}

type buildConfig struct {
	out, name, cmdline string
	files, dirs        listFlag
}

func buildFlags(w io.Writer) (*flag.FlagSet, *buildConfig) {
	c := &buildConfig{}
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.StringVar(&c.out, "o", "app.cpio", "output `file`")
	fs.StringVar(&c.name, "name", "", "guest `path` of the program (default /bin/ + its base name)")
	fs.Var(&c.files, "file", "add the host file as `HOSTPATH:GUESTPATH` (repeatable)")
	fs.Var(&c.dirs, "dir", "add the host tree as `HOSTDIR:GUESTDIR` (repeatable)")
	fs.StringVar(&c.cmdline, "cmdline", "", "default program `arguments`")
	return fs, c
}

func runBuild(args []string, stderr io.Writer) error {
	fs, c := buildFlags(io.Discard)
	fs.Usage = func() {}
	// Flags may come before and after PROGRAM.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				_ = runHelp([]string{"build"}, stderr)
				return err
			}
			return &usageError{"build", err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	switch len(pos) {
	case 0:
		return &usageError{"build", "no PROGRAM given"}
	case 1:
	default:
		return &usageError{"build", fmt.Sprintf("one PROGRAM wanted, got %q (put its arguments in -cmdline)", pos)}
	}
	argv, err := appimage.SplitArgs(c.cmdline)
	if err != nil {
		return &usageError{"build", "-cmdline: " + err.Error()}
	}
	epoch, err := sourceDateEpoch(os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}
	data, err := appimage.Build(appimage.Options{
		Program: pos[0], Name: c.name, Files: c.files, Dirs: c.dirs, Args: argv, SourceDateEpoch: epoch,
	})
	if err != nil {
		return err
	}
	return writeFile(c.out, data)
}

// sourceDateEpoch parses $SOURCE_DATE_EPOCH (reproducible-builds.org):
// unset means no cap on file times.
func sourceDateEpoch(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want a positive number of seconds since 1970", v)
	}
	return n, nil
}

// writeFile replaces the output atomically.
func writeFile(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
