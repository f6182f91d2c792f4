package app

import (
	"path"
	"time"

	"gosv/kernel"
	"gosv/kernel/appsys"
	"gosv/vfs"
	"gosv/vfs/procfs"
)

// procSource answers procfs's questions about the application from the
// kernel's state.
type procSource struct {
	fs      *vfs.FS
	server  *appsys.Server
	exe     string
	argv    []string
	env     []string
	started time.Duration
}

var _ procfs.Source = (*procSource)(nil)

func (p *procSource) ExePath() string     { return p.exe }
func (p *procSource) Cmdline() []string   { return p.argv }
func (p *procSource) Environ() []string   { return p.env }
func (p *procSource) Cwd() string         { return p.server.Cwd() }
func (p *procSource) PID() int            { return 1 }
func (p *procSource) Hostname() string    { return kernel.Hostname() }
func (p *procSource) LoadAvg() [3]float64 { return [3]float64{} }
func (p *procSource) StartTime() uint64   { return uint64(p.started / (10 * time.Millisecond)) }

func (p *procSource) Threads() []procfs.Thread {
	var out []procfs.Thread
	for _, t := range kernel.Threads() {
		if !t.App {
			continue
		}
		state := byte('S')
		if t.State == "running" || t.State == "runnable" {
			state = 'R'
		}
		ticks := uint64(t.CPUTime / (10 * time.Millisecond))
		out = append(out, procfs.Thread{TID: t.TID, State: state, UserTicks: ticks, CPU: t.CPU})
	}
	return out
}

func (p *procSource) Maps() []procfs.Mapping {
	var out []procfs.Mapping
	for _, m := range kernel.Mappings() {
		if m.Kernel {
			continue
		}
		perms := []byte("---p")
		if m.Read {
			perms[0] = 'r'
		}
		if m.Write {
			perms[1] = 'w'
		}
		if m.Exec {
			perms[2] = 'x'
		}
		out = append(out, procfs.Mapping{Start: m.Start, End: m.End, Perms: string(perms)})
	}
	return out
}

func (p *procSource) MemInfo() procfs.MemInfo {
	total, free := kernel.MemoryStats()
	return procfs.MemInfo{TotalKiB: total >> 10, FreeKiB: free >> 10, AvailableKiB: free >> 10}
}

func (p *procSource) CPUs() []procfs.CPU {
	d := kernel.DescribeCPU()
	n := kernel.CPUCount()
	out := make([]procfs.CPU, n)
	for i := range out {
		out[i] = procfs.CPU{Vendor: d.Vendor, Family: d.Family, Model: d.Model, ModelName: d.Brand,
			Stepping: d.Stepping, MHz: d.MHz, Flags: d.Flags, PhysicalID: 0, Siblings: n,
			CoreID: i, Cores: n, APICID: i, CLFlushSize: 64, CacheAlignment: 64,
			PhysBits: 40, VirtBits: 48, BogoMIPS: d.MHz * 2}
	}
	return out
}

func (p *procSource) Uptime() (up, idle time.Duration) { return kernel.Uptime(), 0 }

func (p *procSource) Mounts() []procfs.Mount {
	types := map[string]string{"/": "rootfs", "/tmp": "tmpfs", "/dev": "devtmpfs", "/proc": "proc", "/sys": "sysfs"}
	var out []procfs.Mount
	for _, m := range p.fs.Mounts() {
		typ := types[m]
		if typ == "" {
			typ = "tmpfs"
		}
		opts := "rw"
		if m == "/" {
			opts = "ro"
		}
		out = append(out, procfs.Mount{Device: typ, Path: m, Type: typ, Options: opts})
	}
	return out
}

func (p *procSource) FDs() []procfs.FD {
	var out []procfs.FD
	for _, fd := range kernel.AppFDs() {
		target := ""
		switch fd.Kind {
		case "console":
			target = "/dev/console"
		case "server":
			target = p.server.HandlePath(fd.Handle)
		default:
			target = "anon_inode:[" + fd.Kind + "]"
		}
		if target == "" {
			target = "anon_inode:[" + path.Base(fd.Kind) + "]"
		}
		out = append(out, procfs.FD{Num: fd.FD, Target: target})
	}
	return out
}
