// Package cmdline parses the gosv kernel command line, which has three
// parts, in order:
//
//	[loader parameters] [--gosv options] [application and its arguments]
//
// Loader parameters are Linux-style name=value words that hypervisors add
// on their own (Firecracker: "reboot=k panic=1 pci=off", QEMU microvm:
// "virtio_mmio.device=512@0xfeb00e00:12"). Options are OSv-style
// "--name=value" words. The first word that is neither starts the
// application's command line; "--" ends the options explicitly.
//
// Unknown options are errors with a message naming them: a typo must not
// boot a machine configured differently from what the user asked.
package cmdline

import (
	"fmt"
	"strconv"
	"strings"
)

// Options is a parsed command line.
type Options struct {
	// Test selects in-kernel self-tests ("all" or a comma list).
	Test []string
	// Probe asks the kernel to report status 0x5a at once (accelerator
	// probing by the runner).
	Probe bool
	// Env holds --env=NAME=VALUE settings in order.
	Env []string
	// Cwd is the application's working directory.
	Cwd string
	// Verbose turns on boot progress messages.
	Verbose bool
	// Hostname overrides the default host name.
	Hostname string
	// IP, Gateway and Nameservers configure networking statically.
	IP, Gateway string
	Nameservers []string
	// NoPCI skips PCI enumeration.
	NoPCI bool
	// IdlePoll, when set, is how many rounds an idle CPU polls for work
	// before halting (0: halt at once).
	IdlePoll    uint64
	IdlePollSet bool
	// VirtioMMIO lists virtio_mmio.device= loader parameters.
	VirtioMMIO []string
	// Loader holds the other loader parameters, unparsed.
	Loader []string
	// App is the application command line (program and arguments).
	App []string
}

// option describes one --name[=value] option.
type option struct {
	name     string
	hasValue bool
	help     string
	set      func(o *Options, v string) error
}

var options = []option{
	{"test", true, "run in-kernel self-tests: all or a comma-separated list", func(o *Options, v string) error {
		o.Test = append(o.Test, strings.Split(v, ",")...)
		return nil
	}},
	{"probe", false, "report status 0x5a and power off (used to test the accelerator)", func(o *Options, v string) error {
		o.Probe = true
		return nil
	}},
	{"env", true, "set NAME=VALUE in the application's environment", func(o *Options, v string) error {
		name, _, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return fmt.Errorf("--env wants NAME=VALUE, got %q", v)
		}
		o.Env = append(o.Env, v)
		return nil
	}},
	{"cwd", true, "working directory of the application", func(o *Options, v string) error {
		if !strings.HasPrefix(v, "/") {
			return fmt.Errorf("--cwd wants an absolute path, got %q", v)
		}
		o.Cwd = v
		return nil
	}},
	{"verbose", false, "print boot progress", func(o *Options, v string) error {
		o.Verbose = true
		return nil
	}},
	{"hostname", true, "host name", func(o *Options, v string) error {
		if v == "" || len(v) > 64 {
			return fmt.Errorf("--hostname wants 1 to 64 characters")
		}
		o.Hostname = v
		return nil
	}},
	{"ip", true, "static address: IFACE,ADDR,NETMASK (OSv style)", func(o *Options, v string) error {
		o.IP = v
		return nil
	}},
	{"defaultgw", true, "static default gateway", func(o *Options, v string) error {
		o.Gateway = v
		return nil
	}},
	{"nameserver", true, "DNS server (may repeat)", func(o *Options, v string) error {
		o.Nameservers = append(o.Nameservers, v)
		return nil
	}},
	{"nopci", false, "do not enumerate PCI", func(o *Options, v string) error {
		o.NoPCI = true
		return nil
	}},
	{"idle-poll", true, "rounds an idle CPU polls for work before halting (0: halt at once)", func(o *Options, v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fmt.Errorf("--idle-poll wants a number of rounds below 2^32, got %q", v)
		}
		o.IdlePoll, o.IdlePollSet = n, true
		return nil
	}},
}

// Parse splits the command line into words (double quotes group words,
// backslash escapes inside quotes) and interprets them.
func Parse(line string) (*Options, error) {
	words, err := Split(line)
	if err != nil {
		return nil, err
	}
	o := &Options{}
	i := 0
	for ; i < len(words) && !strings.HasPrefix(words[i], "-") && isLoaderParam(words[i]); i++ {
		if v, ok := strings.CutPrefix(words[i], "virtio_mmio.device="); ok {
			o.VirtioMMIO = append(o.VirtioMMIO, v)
		} else {
			o.Loader = append(o.Loader, words[i])
		}
	}
	for ; i < len(words); i++ {
		w := words[i]
		if w == "--" {
			i++
			break
		}
		if !strings.HasPrefix(w, "--") {
			if strings.HasPrefix(w, "-") {
				return nil, fmt.Errorf("unknown option %q: gosv options are written --name or --name=value (see --help)", w)
			}
			break
		}
		name, value, hasValue := strings.Cut(w[2:], "=")
		opt := lookup(name)
		if opt == nil {
			return nil, fmt.Errorf("unknown option %q; known options: %s", "--"+name, Known())
		}
		if opt.hasValue && !hasValue {
			return nil, fmt.Errorf("option --%s needs a value: --%s=VALUE", name, name)
		}
		if !opt.hasValue && hasValue {
			return nil, fmt.Errorf("option --%s takes no value", name)
		}
		if err := opt.set(o, value); err != nil {
			return nil, err
		}
	}
	if i < len(words) {
		o.App = words[i:]
	}
	return o, nil
}

// isLoaderParam reports whether w looks like a Linux kernel parameter
// (name=value, name.param=value or a bare lower-case word such as
// "quiet" followed by more parameters is not accepted: only name=value).
func isLoaderParam(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return !strings.Contains(w, "/")
}

func lookup(name string) *option {
	for i := range options {
		if options[i].name == name {
			return &options[i]
		}
	}
	return nil
}

// Known lists the option names for error messages.
func Known() string {
	var b strings.Builder
	for i, o := range options {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("--" + o.name)
	}
	return b.String()
}

// Help describes every option, one per line.
func Help() string {
	var b strings.Builder
	for _, o := range options {
		n := "--" + o.name
		if o.hasValue {
			n += "=VALUE"
		}
		fmt.Fprintf(&b, "  %-20s %s\n", n, o.help)
	}
	return b.String()
}

// Split breaks a command line into words at spaces and tabs. Double
// quotes group; inside them \" and \\ are escapes.
func Split(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\'):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			quoted = !quoted
			inWord = true
		case !quoted && (c == ' ' || c == '\t' || c == '\n'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c < 0x20 && c != '\t':
			return nil, fmt.Errorf("command line has control character %#x at byte %d", c, i)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("command line has an unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
