package api

import "strings"

func fsRoutes(sys Filesystems) []route {
	return []route{
		{"GET", "/fs/df/", func(*request) (any, error) { return df(sys, "") }},
		// OSv's mount parameter keeps the leading slash: /fs/df/data
		// asks for the file system mounted on /data. /fs/df/%2F asks
		// for the root.
		{"GET", "/fs/df/{mount...}", func(r *request) (any, error) { return df(sys, "/"+strings.TrimLeft(r.params["mount"], "/")) }},
	}
}

// dfStatJSON is OSv's DFStat model.
type dfStatJSON struct {
	Filesystem string `json:"filesystem"`
	Mount      string `json:"mount"`
	BTotal     uint64 `json:"btotal"`
	BFree      uint64 `json:"bfree"`
	FTotal     uint64 `json:"ftotal"`
	FFree      uint64 `json:"ffree"`
	BlockSize  uint64 `json:"blocksize"`
}

// df lists the file systems, or only the one mounted on mount; like
// OSv's it answers a list either way.
func df(sys Filesystems, mount string) (any, error) {
	all, err := sys.Filesystems()
	if err != nil {
		return nil, err
	}
	out := []dfStatJSON{}
	for _, f := range all {
		if mount == "" || f.Mount == mount {
			out = append(out, dfStatJSON{f.Device, f.Mount, f.Blocks, f.BlocksFree, f.Files, f.FilesFree, f.BlockSize})
		}
	}
	if mount != "" && len(out) == 0 {
		return nil, notFound("no file system mounted on %q", mount)
	}
	return out, nil
}
