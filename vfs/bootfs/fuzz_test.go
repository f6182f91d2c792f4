package bootfs

import (
	"bytes"
	"io"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	"gosv/vfs"
)

func FuzzNew(f *testing.F) {
	f.Add(newc())
	f.Add(newc(file("a", "abc")))
	f.Add(newc(R{Name: ".", Mode: 0o40755}, dir("bin"), R{Name: "bin/app", Mode: 0o100755, Data: "\x7fELF\x02\x01\x01"},
		link("sh", "bin/app"), R{Name: "dev/null", Mode: 0o20666, RMajor: 1, RMinor: 3}))
	f.Add(newc(R{Name: "a", Mode: 0o100644, Ino: 7, NLink: 2}, R{Name: "b", Mode: 0o100644, Ino: 7, NLink: 2, Data: "x"}))
	f.Add(newc(file("f", "1"), dir("f"), file("f/g", "2"), file("f", "3")))
	f.Add(raw(file("a", "abc")))
	var b bytes.Buffer
	w := cpio.Newc.Writer(&b)
	_ = cpio.WriteRecordsAndDirs(w, []cpio.Record{cpio.StaticFile("x/y/z", "zzz", 0o600), cpio.Symlink("x/l", "../x")})
	_ = cpio.WriteTrailer(w)
	f.Add(b.Bytes())

	f.Fuzz(func(t *testing.T, archive []byte) {
		orig := bytes.Clone(archive)
		root, err := New(archive)
		if !bytes.Equal(orig, archive) {
			t.Fatalf("New modified the archive")
		}
		if err != nil {
			if vfs.Errno(err) != vfs.Errno(&FormatError{}) {
				t.Fatalf("error %v maps to errno %v", err, vfs.Errno(err))
			}
			return
		}
		// Walk everything, through the mount table as well.
		var fsys vfs.FS
		if err := fsys.Mount("/", root); err != nil {
			t.Fatal(err)
		}
		var walk func(p string, n vfs.Node, depth int)
		walk = func(p string, n vfs.Node, depth int) {
			st, err := n.Stat()
			if err != nil {
				t.Fatalf("%s: Stat: %v", p, err)
			}
			switch {
			case st.IsDir():
				ents, err := n.Readdir()
				if err != nil {
					t.Fatalf("%s: Readdir: %v", p, err)
				}
				for i, e := range ents {
					if i > 0 && ents[i-1].Name >= e.Name {
						t.Fatalf("%s: entries out of order: %q, %q", p, ents[i-1].Name, e.Name)
					}
					c, err := n.Lookup(e.Name)
					if err != nil {
						t.Fatalf("%s: Lookup(%q): %v", p, e.Name, err)
					}
					cp := p + "/" + e.Name
					if p == "/" {
						cp = "/" + e.Name
					}
					if r, err := fsys.Resolve("/", cp, false); err != nil || r != c {
						// Long paths may exceed PATH_MAX.
						if vfs.Errno(err) != 36 {
							t.Fatalf("Resolve(%q) = %v, %v; want the node", cp, r, err)
						}
					}
					walk(cp, c, depth+1)
				}
			case st.IsRegular():
				buf := make([]byte, st.Size+1)
				k, err := n.ReadAt(buf, 0)
				if int64(k) != st.Size || err != io.EOF {
					t.Fatalf("%s: ReadAt = %d, %v; want %d, EOF", p, k, err, st.Size)
				}
			case st.IsSymlink():
				if l, err := n.Readlink(); err != nil || int64(len(l)) != st.Size {
					t.Fatalf("%s: Readlink = %q, %v", p, l, err)
				}
			}
		}
		walk("/", root, 0)
	})
}
