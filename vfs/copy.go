package vfs

import (
	"errors"
	"io"
	"syscall"
)

// maxCopyFile bounds the size of a file CopyTree copies: it is meant
// for small configuration trees such as /etc.
const maxCopyFile = 1 << 20

// CopyTree copies the directory src into dst, a directory of a writable
// file system: subdirectories, regular files (up to 1 MiB each) and
// symbolic links, with their permission bits. Other node types are
// skipped. It is how the kernel makes an image's read-only /etc writable
// (and adds the resolv.conf the network configuration writes).
func CopyTree(dst, src Node) error {
	dw, ok := dst.(DirWriter)
	if !ok {
		return syscall.EROFS
	}
	ents, err := src.Readdir()
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name == "." || e.Name == ".." {
			continue
		}
		n, err := src.Lookup(e.Name)
		if err != nil {
			return err
		}
		st, err := n.Stat()
		if err != nil {
			return err
		}
		perm := st.Mode &^ S_IFMT
		switch st.Mode & S_IFMT {
		case S_IFDIR:
			d, err := dw.Mkdir(e.Name, perm)
			if err != nil {
				return err
			}
			if err := CopyTree(d, n); err != nil {
				return err
			}
		case S_IFLNK:
			target, err := n.Readlink()
			if err != nil {
				return err
			}
			if _, err := dw.Symlink(e.Name, target); err != nil {
				return err
			}
		case S_IFREG:
			if st.Size > maxCopyFile {
				return syscall.EFBIG
			}
			b := make([]byte, st.Size)
			if k, err := n.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF) && int64(k) == st.Size) {
				return err
			}
			if err := WriteFile(dw, e.Name, perm, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteFile creates name in dir (which must not have it) with data.
func WriteFile(dir DirWriter, name string, perm uint32, data []byte) error {
	f, err := dir.Create(name, perm)
	if err != nil {
		return err
	}
	w, ok := f.(Writer)
	if !ok {
		return syscall.EROFS
	}
	_, err = w.WriteAt(data, 0)
	return err
}
