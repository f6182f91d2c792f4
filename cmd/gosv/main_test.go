package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gosv/vfs"
	"gosv/vfs/bootfs"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "hello")
	if err := os.WriteFile(prog, []byte("\x7fELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "app.cpio")
	tests := []struct {
		args   []string
		status int
		stderr string // substring
	}{
		{nil, 2, "usage: gosv COMMAND"},
		{[]string{"frob"}, 2, `unknown command "frob"`},
		{[]string{"help"}, 0, "commands:"},
		{[]string{"--help"}, 0, "commands:"},
		{[]string{"help", "build"}, 0, "/etc/gosv/cmdline"},
		{[]string{"help", "frob"}, 2, `unknown command "frob"`},
		{[]string{"build"}, 2, "gosv build: no PROGRAM given\nusage: gosv build"},
		{[]string{"build", "-h"}, 0, "usage: gosv build [flags] PROGRAM"},
		{[]string{"build", "a", "b"}, 2, "one PROGRAM wanted"},
		{[]string{"build", "-bogus", prog}, 2, "flag provided but not defined: -bogus"},
		{[]string{"build", "-file", "x", prog}, 2, "want HOSTPATH:GUESTPATH"},
		{[]string{"build", "-cmdline", `"open`, prog}, 2, "-cmdline: command line has an unterminated quote"},
		{[]string{"build", "-o", out, filepath.Join(dir, "missing")}, 1, "no such file or directory"},
		{[]string{"build", "-o", filepath.Join(dir, "nodir", "x.cpio"), prog}, 1, "nodir"},
		{[]string{"build", "-o", out, "-cmdline", `-v "a b"`, prog, "-name", "/sbin/hi"}, 0, ""},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		status := run(tt.args, &stderr)
		if status != tt.status || !strings.Contains(stderr.String(), tt.stderr) {
			t.Errorf("gosv %q: status %d, stderr:\n%s\nwant status %d, stderr containing %q", tt.args, status, stderr.String(), tt.status, tt.stderr)
		}
	}

	archive, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	root, err := bootfs.New(archive)
	if err != nil {
		t.Fatal(err)
	}
	var f vfs.FS
	if err := f.Mount("/", root); err != nil {
		t.Fatal(err)
	}
	n, err := f.Resolve("/", "/etc/gosv/cmdline", true)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	k, _ := n.ReadAt(buf, 0)
	if got, want := string(buf[:k]), "/sbin/hi -v \"a b\"\n"; got != want {
		t.Errorf("command line %q, want %q", got, want)
	}
	if _, err := f.Resolve("/", "/sbin/hi", true); err != nil {
		t.Errorf("program: %v", err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("output mode %v, %v", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".app.cpio.*")); len(left) > 0 {
		t.Errorf("temporary files left: %q", left)
	}
}
