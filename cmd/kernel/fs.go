package main

import (
	"sync/atomic"

	"gosv/api"
	"gosv/kernel"
	"gosv/vfs"
	"gosv/vfs/ramfs"
)

// mountEtc mounts a writable /etc: a copy of the image's /etc (if it has
// one) plus the resolv.conf the network configuration produced, which
// applications' resolvers read.
func mountEtc(fs *vfs.FS, image vfs.Node, resolvConf []byte) error {
	etc := ramfs.New()
	if src, err := image.Lookup("etc"); err == nil {
		if st, err := src.Stat(); err == nil && st.IsDir() {
			if err := vfs.CopyTree(etc, src); err != nil {
				return err
			}
		}
	}
	dw := etc.(vfs.DirWriter)
	if len(resolvConf) > 0 {
		dw.Unlink("resolv.conf") // the image's, if any, is replaced
		if err := vfs.WriteFile(dw, "resolv.conf", 0o644, resolvConf); err != nil {
			return err
		}
	}
	return fs.Mount("/etc", etc)
}

type mountInfo struct {
	fs        *vfs.FS
	imageSize uint64
}

// mounted is the application's file system, once there is one.
var mounted atomic.Pointer[mountInfo]

// mountedFilesystems reports usage for the REST API's /fs/df: the boot
// image is full by construction; in-memory file systems share RAM.
func mountedFilesystems() ([]api.FS, error) {
	m := mounted.Load()
	if m == nil {
		return nil, nil
	}
	total, free := kernel.MemoryStats()
	var out []api.FS
	for _, p := range m.fs.Mounts() {
		f := api.FS{Mount: p, BlockSize: 4096, Files: 1 << 20, FilesFree: 1 << 20}
		switch p {
		case "/":
			f.Device, f.Type = "initrd", "bootfs"
			f.Blocks = (m.imageSize + 4095) / 4096
			f.FilesFree = 0
		default:
			f.Device, f.Type = "ramfs", "ramfs"
			f.Blocks, f.BlocksFree = total/4096, free/4096
		}
		out = append(out, f)
	}
	return out, nil
}
