// Package vfstest has helpers for testing file systems: a textual dump
// of a tree and a "(-want +got)" line diff.
package vfstest

import (
	"fmt"
	"io"
	"strings"

	"gosv/vfs"
)

// Dump lists the tree under root, one line per node in Readdir order:
//
//	/dir/ 040755 nlink=2
//	/dir/file 0100644 nlink=1 size=5 "hello"
//	/dir/link 0120777 -> target
//	/dev/null 020666 rdev=0x103
//
// File contents longer than 64 bytes are abbreviated.
func Dump(root vfs.Node) ([]string, error) {
	var lines []string
	var walk func(p string, n vfs.Node) error
	walk = func(p string, n vfs.Node) error {
		st, err := n.Stat()
		if err != nil {
			return fmt.Errorf("%s: stat: %w", p, err)
		}
		switch {
		case st.IsDir():
			lines = append(lines, fmt.Sprintf("%s/ %#o nlink=%d", strings.TrimSuffix(p, "/"), st.Mode, st.Nlink))
			ents, err := n.Readdir()
			if err != nil {
				return fmt.Errorf("%s: readdir: %w", p, err)
			}
			for _, e := range ents {
				c, err := n.Lookup(e.Name)
				if err != nil {
					return fmt.Errorf("%s: lookup %q: %w", p, e.Name, err)
				}
				cst, err := c.Stat()
				if err != nil {
					return err
				}
				if cst.Ino != e.Ino || vfs.DirentType(cst.Mode) != e.Type {
					return fmt.Errorf("%s: entry %+v disagrees with stat %+v", p, e, cst)
				}
				if err := walk(strings.TrimSuffix(p, "/")+"/"+e.Name, c); err != nil {
					return err
				}
			}
		case st.IsSymlink():
			t, err := n.Readlink()
			if err != nil {
				return fmt.Errorf("%s: readlink: %w", p, err)
			}
			lines = append(lines, fmt.Sprintf("%s %#o -> %s", p, st.Mode, t))
		case st.IsRegular():
			data := make([]byte, st.Size)
			k, err := n.ReadAt(data, 0)
			if err != nil && !(err == io.EOF && k == len(data)) {
				return fmt.Errorf("%s: read: %d of %d bytes: %w", p, k, len(data), err)
			}
			s := string(data)
			if len(s) > 64 {
				s = s[:64] + "..."
			}
			lines = append(lines, fmt.Sprintf("%s %#o nlink=%d size=%d %q", p, st.Mode, st.Nlink, st.Size, s))
		default:
			lines = append(lines, fmt.Sprintf("%s %#o rdev=%#x", p, st.Mode, st.Rdev))
		}
		return nil
	}
	err := walk("/", root)
	return lines, err
}

// Diff returns a line diff of want and got ("-" only in want, "+" only in
// got, "  " in both), or "" if they are equal.
func Diff(want, got []string) string {
	if len(want) == len(got) {
		same := true
		for i := range want {
			if want[i] != got[i] {
				same = false
				break
			}
		}
		if same {
			return ""
		}
	}
	n, m := len(want), len(got)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if want[i] == got[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && want[i] == got[j]:
			b.WriteString("  " + want[i] + "\n")
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			b.WriteString("+ " + got[j] + "\n")
			j++
		default:
			b.WriteString("- " + want[i] + "\n")
			i++
		}
	}
	return b.String()
}
