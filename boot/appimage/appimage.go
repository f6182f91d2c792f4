// Package appimage builds the boot file system of one application: a
// newc cpio archive (the initrd the kernel reads with vfs/bootfs) holding
// the program, the few files every Linux program expects, mount points,
// extra files and trees, and the default command line.
//
// Archives are deterministic: entries sorted by path, every ancestor
// directory present, owner root, inode numbers 1, 2, ... in archive
// order. Files from the host keep their modification times (web servers
// send them as Last-Modified and answer If-Modified-Since from them; a
// constant time would make clients keep stale copies across images),
// clamped to Options.SourceDateEpoch when set, as reproducible builds
// do; generated entries have mtime 0. The same inputs give the same
// bytes.
package appimage

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"

	"gosv/boot/cmdline"
)

// CmdlinePath is the guest path of the default application command line:
// the program and its arguments as kernel command line words (see
// Quote), used when the kernel command line names no program.
const CmdlinePath = "/etc/gosv/cmdline"

// Options describe an application image.
type Options struct {
	// Program is the host path of the program (required).
	Program string
	// Name is its guest path; default /bin/<base name of Program>. A
	// name without a slash means /bin/<Name>.
	Name string
	// Files are extra files: host file -> guest path.
	Files []Mapping
	// Dirs are extra trees: host directory -> guest directory (symbolic
	// links inside are kept as links).
	Dirs []Mapping
	// Args are the program's default arguments.
	Args []string
	// SourceDateEpoch, when positive, caps every modification time (in
	// seconds since 1970; cmd/gosv takes it from $SOURCE_DATE_EPOCH).
	SourceDateEpoch int64
}

// Mapping maps a host path to a guest path.
type Mapping struct {
	Host, Guest string
}

// ParseMapping parses "HOST:GUEST" (split at the last colon); GUEST must
// be absolute.
func ParseMapping(s string) (Mapping, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return Mapping{}, fmt.Errorf("%q: want HOSTPATH:GUESTPATH", s)
	}
	m := Mapping{Host: s[:i], Guest: s[i+1:]}
	if !strings.HasPrefix(m.Guest, "/") {
		return Mapping{}, fmt.Errorf("%q: guest path %q must be absolute", s, m.Guest)
	}
	return m, nil
}

// Default files. Networking rewrites /etc/resolv.conf at boot.
var defaultFiles = []struct {
	path, data string
}{
	{"/etc/hosts", "127.0.0.1 localhost\n::1 localhost\n"},
	{"/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"},
	{"/etc/group", "root:x:0:\n"},
	{"/etc/nsswitch.conf", "hosts: files dns\n"},
	{"/etc/resolv.conf", "#\n"},
}

// Default directories: /tmp, and mount points.
var defaultDirs = []struct {
	path string
	mode uint32
}{
	{"/tmp", 0o1777},
	{"/root", 0o700},
	{"/dev", 0o755},
	{"/proc", 0o555},
	{"/sys", 0o555},
}

const (
	sIFREG = 0o100000
	sIFDIR = 0o040000
	sIFLNK = 0o120000
	sIFMT  = 0o170000

	maxSize = 1<<32 - 1 // newc's file size field
)

// node is one archive entry.
type node struct {
	mode     uint32 // Linux mode
	data     []byte // contents or link target
	origin   string // for messages
	mtime    int64  // seconds since 1970
	implicit bool   // a parent directory nobody asked for
	builtin  bool   // a default a user entry may replace
}

type image struct {
	nodes map[string]*node // clean absolute guest path -> entry
}

// Build returns the archive.
func Build(o Options) ([]byte, error) {
	if o.Program == "" {
		return nil, fmt.Errorf("appimage: no program")
	}
	name := o.Name
	if name == "" {
		name = "/bin/" + filepath.Base(o.Program)
	} else if !strings.Contains(name, "/") {
		name = "/bin/" + name
	}
	if !strings.HasPrefix(name, "/") {
		return nil, fmt.Errorf("appimage: program name %q must be an absolute guest path", name)
	}
	name = path.Clean(name)
	line, err := Quote(append([]string{name}, o.Args...))
	if err != nil {
		return nil, fmt.Errorf("appimage: command line: %w", err)
	}

	im := &image{nodes: map[string]*node{"/": {mode: sIFDIR | 0o755, origin: "root"}}}
	for _, d := range defaultDirs {
		if err := im.add(d.path, &node{mode: sIFDIR | d.mode, origin: "default", builtin: true}); err != nil {
			return nil, err
		}
	}
	for _, f := range defaultFiles {
		if err := im.add(f.path, &node{mode: sIFREG | 0o644, data: []byte(f.data), origin: "default", builtin: true}); err != nil {
			return nil, err
		}
	}
	prog, err := readFile(o.Program)
	if err != nil {
		return nil, fmt.Errorf("appimage: program: %w", err)
	}
	if err := im.add(name, &node{mode: sIFREG | 0o755, data: prog, origin: "program " + o.Program, mtime: modTime(o.Program)}); err != nil {
		return nil, err
	}
	for _, m := range o.Files {
		data, err := readFile(m.Host)
		if err != nil {
			return nil, fmt.Errorf("appimage: -file %s: %w", m.Host, err)
		}
		fi, _ := os.Stat(m.Host)
		if err := im.add(m.Guest, &node{mode: sIFREG | perm(fi.Mode()), data: data, origin: "file " + m.Host, mtime: fi.ModTime().Unix()}); err != nil {
			return nil, err
		}
	}
	for _, m := range o.Dirs {
		if err := im.addTree(m); err != nil {
			return nil, err
		}
	}
	if err := im.add(CmdlinePath, &node{mode: sIFREG | 0o644, data: []byte(line + "\n"), origin: "command line"}); err != nil {
		return nil, err
	}
	return im.write(o.SourceDateEpoch)
}

// modTime is a host file's modification time (following links), 0 if
// it cannot be read (readFile reports that).
func modTime(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.ModTime().Unix()
}

// readFile reads a regular file (following symbolic links).
func readFile(p string) ([]byte, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%v)", p, fi.Mode().Type())
	}
	if fi.Size() > maxSize {
		return nil, fmt.Errorf("%s: %d bytes is over the cpio (newc) limit of 4 GiB", p, fi.Size())
	}
	return os.ReadFile(p)
}

// perm converts Go permission bits to Linux ones.
func perm(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

// addTree adds a host directory tree under a guest directory.
func (im *image) addTree(m Mapping) error {
	fi, err := os.Stat(m.Host)
	if err != nil {
		return fmt.Errorf("appimage: -dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("appimage: -dir %s: not a directory", m.Host)
	}
	return filepath.WalkDir(m.Host, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("appimage: -dir: %w", err)
		}
		rel, err := filepath.Rel(m.Host, p)
		if err != nil {
			return err
		}
		guest := path.Join(m.Guest, filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("appimage: -dir: %w", err)
		}
		n := &node{origin: "dir " + m.Host, mtime: info.ModTime().Unix()}
		switch {
		case p == m.Host || d.IsDir():
			n.mode = sIFDIR | perm(info.Mode())
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("appimage: -dir: %w", err)
			}
			n.mode, n.data = sIFLNK|0o777, []byte(target)
		case d.Type().IsRegular():
			data, err := readFile(p)
			if err != nil {
				return fmt.Errorf("appimage: -dir: %w", err)
			}
			n.mode, n.data = sIFREG|perm(info.Mode()), data
		default:
			return fmt.Errorf("appimage: -dir: %s: unsupported file type %v", p, d.Type())
		}
		return im.add(guest, n)
	})
}

// add enters n at guest path p, creating missing parents.
func (im *image) add(p string, n *node) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("appimage: guest path %q must be absolute", p)
	}
	p = path.Clean(p)
	for _, c := range strings.Split(p[1:], "/") {
		if len(c) > 255 {
			return fmt.Errorf("appimage: guest path %q: component longer than 255 bytes", p)
		}
	}
	if len(p) >= 4096 {
		return fmt.Errorf("appimage: guest path %.40q...: longer than 4095 bytes", p)
	}
	isDir := n.mode&sIFMT == sIFDIR
	if p == "/" {
		if !isDir {
			return fmt.Errorf("appimage: %s: cannot replace the root directory", n.origin)
		}
		return nil
	}
	// Parents.
	for d := path.Dir(p); ; d = path.Dir(d) {
		if e := im.nodes[d]; e != nil {
			if e.mode&sIFMT != sIFDIR {
				return fmt.Errorf("appimage: %s: %s needs directory %s, which is a file from %s", n.origin, p, d, e.origin)
			}
		} else {
			im.nodes[d] = &node{mode: sIFDIR | 0o755, origin: n.origin, implicit: true}
		}
		if d == "/" {
			break
		}
	}
	old := im.nodes[p]
	switch {
	case old == nil:
	case isDir && old.mode&sIFMT == sIFDIR:
		if old.implicit {
			break // an explicit directory sets the mode
		}
		return nil // directories merge; the first explicit mode stays
	case isDir || old.mode&sIFMT == sIFDIR:
		return fmt.Errorf("appimage: %s: %s conflicts with %s from %s", n.origin, p, kind(old.mode), old.origin)
	case p == CmdlinePath || !old.builtin:
		return fmt.Errorf("appimage: %s: %s is already in the image (from %s)", n.origin, p, old.origin)
	}
	im.nodes[p] = n
	return nil
}

func kind(mode uint32) string {
	switch mode & sIFMT {
	case sIFDIR:
		return "a directory"
	case sIFLNK:
		return "a symbolic link"
	}
	return "a file"
}

// write emits the archive.
func (im *image) write(epoch int64) ([]byte, error) {
	paths := make([]string, 0, len(im.nodes))
	subdirs := map[string]uint64{}
	for p, n := range im.nodes {
		if p != "/" {
			paths = append(paths, p)
			if n.mode&sIFMT == sIFDIR {
				subdirs[path.Dir(p)]++
			}
		}
	}
	slices.Sort(paths)
	paths = append([]string{"/"}, paths...)

	var buf bytes.Buffer
	w := cpio.Newc.Writer(&buf)
	for i, p := range paths {
		n := im.nodes[p]
		name := "."
		if p != "/" {
			name = p[1:]
		}
		mtime := max(n.mtime, 0)
		if epoch > 0 {
			mtime = min(mtime, epoch)
		}
		info := cpio.Info{Ino: uint64(i + 1), Mode: uint64(n.mode), NLink: 1, Name: name, MTime: uint64(mtime)}
		var rec cpio.Record
		if n.mode&sIFMT == sIFDIR {
			info.NLink = 2 + subdirs[p]
			rec = cpio.Record{Info: info}
		} else {
			rec = cpio.StaticRecord(n.data, info)
		}
		if err := w.WriteRecord(rec); err != nil {
			return nil, fmt.Errorf("appimage: %s: %w", p, err)
		}
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return nil, fmt.Errorf("appimage: %w", err)
	}
	return buf.Bytes(), nil
}

// Quote joins words into a line that gosv/boot/cmdline.Split turns back
// into the same words: a word is written in double quotes, with \ and "
// escaped, if it is empty or holds a space, tab, quote or backslash.
// Words with other control characters (newlines too) cannot be written:
// Split rejects them.
func Quote(words []string) (string, error) {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		for j := 0; j < len(w); j++ {
			if w[j] < 0x20 && w[j] != '\t' {
				return "", fmt.Errorf("word %q has control character %#x", w, w[j])
			}
		}
		if w != "" && !strings.ContainsAny(w, " \t\"\\") {
			b.WriteString(w)
			continue
		}
		b.WriteByte('"')
		for j := 0; j < len(w); j++ {
			if w[j] == '"' || w[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(w[j])
		}
		b.WriteByte('"')
	}
	return b.String(), nil
}

// SplitArgs splits a -cmdline string into words with the kernel command
// line's rules (cmdline.Split: spaces separate, double quotes group, \"
// and \\ escape inside quotes).
func SplitArgs(s string) ([]string, error) {
	return cmdline.Split(s)
}
