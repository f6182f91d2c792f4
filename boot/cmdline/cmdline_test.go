package cmdline

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		line string
		want Options
	}{
		{"", Options{}},
		{"--test=all", Options{Test: []string{"all"}}},
		{"--test=gc,maps --verbose", Options{Test: []string{"gc", "maps"}, Verbose: true}},
		{"reboot=k panic=1 virtio_mmio.device=4K@0xc0001000:5 --probe",
			Options{Loader: []string{"reboot=k", "panic=1"}, VirtioMMIO: []string{"4K@0xc0001000:5"}, Probe: true}},
		{`--env=A=1 --env="B=two words" --cwd=/tmp /app -x "y z"`,
			Options{Env: []string{"A=1", "B=two words"}, Cwd: "/tmp", App: []string{"/app", "-x", "y z"}}},
		{"--verbose -- --notanoption", Options{Verbose: true, App: []string{"--notanoption"}}},
		{"/hello a=b", Options{App: []string{"/hello", "a=b"}}},
		{"--ip=eth0,10.0.0.2,255.255.255.0 --defaultgw=10.0.0.1 --nameserver=1.1.1.1 --nameserver=8.8.8.8",
			Options{IP: "eth0,10.0.0.2,255.255.255.0", Gateway: "10.0.0.1", Nameservers: []string{"1.1.1.1", "8.8.8.8"}}},
		{"--idle-poll=0 /app", Options{IdlePoll: 0, IdlePollSet: true, App: []string{"/app"}}},
		{"--idle-poll=50000", Options{IdlePoll: 50000, IdlePollSet: true}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.line)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.line, err)
			continue
		}
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("Parse(%q):\n got  %+v\n want %+v", tt.line, *got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ line, wantSub string }{
		{"--bogus", `unknown option "--bogus"`},
		{"--test", "needs a value"},
		{"--probe=1", "takes no value"},
		{"--env=novalue", "NAME=VALUE"},
		{"--cwd=relative", "absolute"},
		{`--env="A=1`, "unterminated quote"},
		{"-x", "unknown option"},
		{"--hostname=" + strings.Repeat("h", 65), "1 to 64"},
		{"a\x01b", "control character"},
		{"--idle-poll=-1", "number of rounds"},
		{"--idle-poll=4294967296", "number of rounds"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.line)
		if err == nil || !strings.Contains(err.Error(), tt.wantSub) {
			t.Errorf("Parse(%q) error = %v, want it to contain %q", tt.line, err, tt.wantSub)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"--test=all", `--env="A=1 2" /x "y"`, "a=b --probe -- z", `"\\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		o, err := Parse(line)
		if err != nil {
			return
		}
		// Whatever parses must re-split consistently: no word of the
		// app command line is empty unless it was quoted.
		for _, e := range o.Env {
			if !strings.Contains(e, "=") {
				t.Fatalf("env entry %q without '='", e)
			}
		}
	})
}
