// Package bootfs is the read-only file system of the boot archive: a newc
// cpio archive in memory (the initrd), read with u-root's cpio reader.
//
// File contents are slices of the archive, never copies, so the archive
// must stay valid and unmodified for as long as the file system is used
// (the kernel's boot modules stay mapped forever).
//
// Archive semantics follow Linux's initramfs unpacking:
//
//   - Names are relative to the root ("./a", "/a" and "a" are the same);
//     "." describes the root directory itself.
//   - Missing parent directories are created implicitly (mode 0755).
//   - A later entry with the same name replaces the earlier one (last
//     wins); a directory replacing a directory keeps its children.
//   - Regular files with nlink >= 2 and the same inode and device numbers
//     are hard links of one file. Its data is the last non-empty body
//     among them, which covers both writers' conventions (GNU cpio puts
//     the data on the last link, u-root on the first).
//   - The "TRAILER!!!" entry ends the archive; what follows is ignored.
//     An archive that ends without it is truncated: an error.
//
// Inode numbers are assigned in archive order (the root is 1), so they
// are stable for a given archive. Malformed archives are reported with
// the offset of the bad record.
package bootfs

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"gosv/vfs"
)

// newc header: magic and 13 fields of 8 hex digits.
const (
	headerLen = 6 + 13*8
	magic     = "070701"
	// Field offsets in the header.
	offFileSize = 6 + 6*8
	offNameSize = 6 + 11*8
)

// New reads a newc cpio archive and returns its root directory.
func New(archive []byte) (vfs.Node, error) {
	b := &builder{archive: archive, links: map[linkKey]*node{}}
	b.root = b.newNode(vfs.S_IFDIR | 0o755)
	if err := b.read(); err != nil {
		return nil, err
	}
	b.finish(b.root)
	return b.root, nil
}

// A FormatError describes a malformed archive.
type FormatError struct {
	Offset int64  // offset of the record in the archive
	Name   string // the record's name, if known
	Msg    string
}

func (e *FormatError) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("bootfs: bad cpio archive: record %q at offset %d: %s", e.Name, e.Offset, e.Msg)
	}
	return fmt.Sprintf("bootfs: bad cpio archive: record at offset %d: %s", e.Offset, e.Msg)
}

// Unwrap makes errors.Is(err, syscall.EINVAL) hold, and vfs.Errno give
// EINVAL.
func (e *FormatError) Unwrap() error { return syscall.EINVAL }

type linkKey struct {
	ino, major, minor uint64
}

type builder struct {
	archive []byte
	root    *node
	ino     uint64
	links   map[linkKey]*node
}

func (b *builder) newNode(mode uint32) *node {
	b.ino++
	n := &node{ino: b.ino, mode: mode}
	if mode&vfs.S_IFMT == vfs.S_IFDIR {
		n.children = map[string]*node{}
	}
	return n
}

// hexField decodes the 8-digit header field at off of the header at pos.
func (b *builder) hexField(pos int64, off int) (uint32, bool) {
	var v [4]byte
	if _, err := hex.Decode(v[:], b.archive[pos+int64(off):pos+int64(off)+8]); err != nil {
		return 0, false
	}
	return uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3]), true
}

// check validates the record header at pos against the archive's bounds
// before u-root's reader sees it (the reader allocates the name length
// it reads and trusts the file size). It returns where the data starts
// and its length.
func (b *builder) check(pos int64) (dataPos, size int64, err error) {
	fail := func(format string, args ...any) (int64, int64, error) {
		return 0, 0, &FormatError{Offset: pos, Msg: fmt.Sprintf(format, args...)}
	}
	total := int64(len(b.archive))
	switch {
	case pos >= total:
		return fail("archive ends without a %s record (truncated?)", trailer)
	case total-pos < headerLen:
		return fail("truncated header (%d of %d bytes)", total-pos, headerLen)
	}
	if m := b.archive[pos : pos+6]; string(m) != magic {
		if string(m) == "070702" {
			return fail("newc with checksums (070702) is not supported; write plain newc (070701)")
		}
		return fail("bad magic %q, want %q (newc)", m, magic)
	}
	for i := 0; i < 13; i++ {
		if _, ok := b.hexField(pos, 6+i*8); !ok {
			return fail("header field %d is not hexadecimal (decoding hex %q)", i, b.archive[pos+6+int64(i)*8:pos+14+int64(i)*8])
		}
	}
	nameSize, ok1 := b.hexField(pos, offNameSize)
	fileSize, ok2 := b.hexField(pos, offFileSize)
	switch {
	case !ok1 || !ok2:
		return fail("header field is not hexadecimal")
	case nameSize == 0:
		return fail("empty name")
	case nameSize > vfs.PathMax:
		return fail("name of %d bytes is longer than %d", nameSize, vfs.PathMax)
	case int64(nameSize) > total-pos-headerLen:
		return fail("name runs past the end of the archive")
	}
	name := b.archive[pos+headerLen : pos+headerLen+int64(nameSize)]
	if name[len(name)-1] != 0 {
		return fail("name is not NUL-terminated")
	}
	if bytes.IndexByte(name[:len(name)-1], 0) >= 0 {
		return fail("name contains a NUL byte")
	}
	dataPos = round4(pos + headerLen + int64(nameSize))
	if int64(fileSize) > total-dataPos {
		return 0, 0, &FormatError{Offset: pos, Name: string(name[:len(name)-1]),
			Msg: fmt.Sprintf("data of %d bytes runs past the end of the archive", fileSize)}
	}
	return dataPos, int64(fileSize), nil
}

func round4(n int64) int64 { return (n + 3) &^ 3 }

// trailer names the record that ends a newc archive.
const trailer = "TRAILER!!!"

// record is one decoded newc header (the fields bootfs uses).
type record struct {
	Name                       string
	Ino, Mode, UID, GID, NLink uint64
	MTime, Major, Minor        uint64
	Rmajor, Rminor             uint64
}

// decode reads the header fields of the record at pos, which check has
// validated. The kernel decodes newc itself rather than through u-root's
// reader: that package links go-humanize and friends, whose package
// initialisers alone cost ~15 ms of boot under TCG (images are still
// written with u-root's cpio, on the host).
func (b *builder) decode(pos int64) record {
	f := func(i int) uint64 {
		v, _ := b.hexField(pos, 6+i*8)
		return uint64(v)
	}
	nameSize := f(11)
	name := b.archive[pos+headerLen : pos+headerLen+int64(nameSize)-1]
	return record{Name: string(name), Ino: f(0), Mode: f(1), UID: f(2), GID: f(3), NLink: f(4),
		MTime: f(5), Major: f(7), Minor: f(8), Rmajor: f(9), Rminor: f(10)}
}

func (b *builder) read() error {
	var pos int64
	for {
		dataPos, size, err := b.check(pos)
		if err != nil {
			return err
		}
		rec := b.decode(pos)
		if rec.Name == trailer {
			return nil
		}
		data := b.archive[dataPos : dataPos+size : dataPos+size]
		if err := b.add(rec, data); err != nil {
			return &FormatError{Offset: pos, Name: rec.Name, Msg: err.Error()}
		}
		pos = round4(dataPos + size)
	}
}

// add enters one record.
func (b *builder) add(info record, data []byte) error {
	mode := uint32(info.Mode)
	if uint64(mode) != info.Mode {
		return fmt.Errorf("mode %#o out of range", info.Mode)
	}
	typ := mode & vfs.S_IFMT
	switch typ {
	case vfs.S_IFDIR, vfs.S_IFCHR, vfs.S_IFBLK, vfs.S_IFIFO, vfs.S_IFSOCK:
		if len(data) != 0 {
			return fmt.Errorf("mode %#o has %d bytes of data", mode, len(data))
		}
	case vfs.S_IFLNK:
		switch {
		case len(data) == 0:
			return fmt.Errorf("symbolic link with an empty target")
		case len(data) >= vfs.PathMax:
			return fmt.Errorf("symbolic link target of %d bytes is too long", len(data))
		case bytes.IndexByte(data, 0) >= 0:
			return fmt.Errorf("symbolic link target contains a NUL byte")
		}
	case vfs.S_IFREG:
	default:
		return fmt.Errorf("unknown file type in mode %#o", mode)
	}

	// u-root's reader has already stripped leading slashes and cleaned
	// the name.
	name := path.Clean(strings.TrimLeft(info.Name, "/"))
	if name == ".." || strings.HasPrefix(name, "../") {
		return fmt.Errorf("name leaves the archive root")
	}
	mtime := time.Unix(int64(info.MTime), 0)
	if name == "." {
		if typ != vfs.S_IFDIR {
			return fmt.Errorf("the root must be a directory, not mode %#o", mode)
		}
		b.root.setMeta(mode, info, mtime)
		return nil
	}
	comps := strings.Split(name, "/")
	for _, c := range comps {
		if len(c) > vfs.NameMax {
			return fmt.Errorf("name component longer than %d bytes", vfs.NameMax)
		}
	}
	dir := b.root
	for _, c := range comps[:len(comps)-1] {
		next := dir.children[c]
		if next == nil {
			next = b.newNode(vfs.S_IFDIR | 0o755)
			next.mtime = mtime
			dir.children[c] = next
		} else if !next.isDir() {
			return fmt.Errorf("parent %q is not a directory", c)
		}
		dir = next
	}
	base := comps[len(comps)-1]
	old := dir.children[base]

	// A directory over a directory keeps its children.
	if typ == vfs.S_IFDIR && old != nil && old.isDir() {
		old.setMeta(mode, info, mtime)
		return nil
	}
	var n *node
	key := linkKey{info.Ino, info.Major, info.Minor}
	if typ == vfs.S_IFREG && info.NLink >= 2 {
		n = b.links[key]
	}
	if n == nil {
		n = b.newNode(typ)
		if typ == vfs.S_IFREG && info.NLink >= 2 {
			b.links[key] = n
		}
	}
	n.setMeta(mode, info, mtime)
	switch typ {
	case vfs.S_IFREG:
		if len(data) > 0 || n.data == nil {
			n.data = data
		}
	case vfs.S_IFLNK:
		n.target = string(data)
	case vfs.S_IFCHR, vfs.S_IFBLK:
		n.rdev = vfs.Mkdev(uint32(info.Rmajor), uint32(info.Rminor))
	}
	dir.children[base] = n
	return nil
}

func (n *node) setMeta(mode uint32, info record, mtime time.Time) {
	n.mode = mode
	n.uid, n.gid = uint32(info.UID), uint32(info.GID)
	n.mtime = mtime
}

// finish sorts directory entries and counts links, from the tree as it
// ended up (replaced entries no longer count).
func (b *builder) finish(root *node) {
	root.nlink = 2
	var walk func(d *node)
	walk = func(d *node) {
		d.entries = make([]entry, 0, len(d.children))
		for name, c := range d.children {
			d.entries = append(d.entries, entry{name, c})
		}
		slices.SortFunc(d.entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
		for _, e := range d.entries {
			if e.n.isDir() {
				d.nlink++
				e.n.nlink = 2
				walk(e.n)
			} else {
				e.n.nlink++
			}
		}
	}
	walk(root)
}

// node is a file of any type.
type node struct {
	ino      uint64
	mode     uint32
	nlink    uint64
	uid, gid uint32
	rdev     uint64
	mtime    time.Time

	data     []byte           // regular file: a slice of the archive
	target   string           // symbolic link
	children map[string]*node // directory
	entries  []entry          // directory, sorted by name
}

type entry struct {
	name string
	n    *node
}

var _ vfs.Node = (*node)(nil)

func (n *node) isDir() bool { return n.mode&vfs.S_IFMT == vfs.S_IFDIR }

// Stat implements vfs.Node.
func (n *node) Stat() (vfs.Stat, error) {
	st := vfs.Stat{
		Mode: n.mode, Ino: n.ino, Nlink: n.nlink, UID: n.uid, GID: n.gid, Rdev: n.rdev,
		Atime: n.mtime, Mtime: n.mtime, Ctime: n.mtime,
	}
	switch n.mode & vfs.S_IFMT {
	case vfs.S_IFREG:
		st.Size = int64(len(n.data))
	case vfs.S_IFLNK:
		st.Size = int64(len(n.target))
	case vfs.S_IFDIR:
		st.Size = 4096
	}
	return st, nil
}

// ReadAt implements vfs.Node.
func (n *node) ReadAt(p []byte, off int64) (int, error) {
	if n.mode&vfs.S_IFMT != vfs.S_IFREG {
		if n.isDir() {
			return 0, syscall.EISDIR
		}
		return 0, syscall.EINVAL
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if off >= int64(len(n.data)) {
		return 0, io.EOF
	}
	k := copy(p, n.data[off:])
	if k < len(p) {
		return k, io.EOF
	}
	return k, nil
}

// Bytes returns a regular file's contents: a slice of the archive, which
// the caller must not modify. It is nil for other types.
func (n *node) Bytes() []byte {
	if n.mode&vfs.S_IFMT != vfs.S_IFREG {
		return nil
	}
	return n.data
}

// Readdir implements vfs.Node: entries sorted by name.
func (n *node) Readdir() ([]vfs.Dirent, error) {
	if !n.isDir() {
		return nil, syscall.ENOTDIR
	}
	ents := make([]vfs.Dirent, len(n.entries))
	for i, e := range n.entries {
		ents[i] = vfs.Dirent{Name: e.name, Ino: e.n.ino, Type: vfs.DirentType(e.n.mode), Off: int64(i + 1)}
	}
	return ents, nil
}

// Lookup implements vfs.Node.
func (n *node) Lookup(name string) (vfs.Node, error) {
	if !n.isDir() {
		return nil, syscall.ENOTDIR
	}
	if c := n.children[name]; c != nil {
		return c, nil
	}
	return nil, syscall.ENOENT
}

// Readlink implements vfs.Node.
func (n *node) Readlink() (string, error) {
	if n.mode&vfs.S_IFMT != vfs.S_IFLNK {
		return "", syscall.EINVAL
	}
	return n.target, nil
}
