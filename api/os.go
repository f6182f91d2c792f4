package api

import "time"

// dateLayout is OSv's strftime "%a %b %d %H:%M:%S %Z %Y".
const dateLayout = "Mon Jan 02 15:04:05 MST 2006"

// maxHostname is Linux's HOST_NAME_MAX.
const maxHostname = 64

func osRoutes(sys OS) []route {
	return []route{
		{"GET", "/os/name", func(*request) (any, error) { return Name, nil }},
		{"GET", "/os/version", func(*request) (any, error) { return sys.Version(), nil }},
		{"GET", "/os/vendor", func(*request) (any, error) { return Vendor, nil }},
		{"GET", "/os/uptime", func(*request) (any, error) { return int64(sys.Uptime() / time.Second), nil }},
		{"GET", "/os/date", func(*request) (any, error) { return sys.Now().Format(dateLayout), nil }},
		{"GET", "/os/memory/total", func(*request) (any, error) { total, _ := sys.Memory(); return total, nil }},
		{"GET", "/os/memory/free", func(*request) (any, error) { _, free := sys.Memory(); return free, nil }},
		{"GET", "/os/dmesg", func(*request) (any, error) { return sys.Dmesg(), nil }},
		{"GET", "/os/hostname", func(*request) (any, error) { return sys.Hostname(), nil }},
		{"POST", "/os/hostname", func(r *request) (any, error) { return setHostname(sys, r) }},
		{"GET", "/os/cmdline", func(*request) (any, error) { return sys.Cmdline(), nil }},
		{"GET", "/os/threads", func(*request) (any, error) { return threads(sys), nil }},
		{"GET", "/os/stats/", func(*request) (any, error) { return sys.Counters(), nil }},
		{"POST", "/os/poweroff", func(r *request) (any, error) { r.after = sys.PowerOff; return "", nil }},
		{"POST", "/os/shutdown", func(r *request) (any, error) { r.after = sys.PowerOff; return "", nil }},
		{"POST", "/os/reboot", func(r *request) (any, error) { r.after = sys.Reboot; return "", nil }},
	}
}

func setHostname(sys OS, r *request) (any, error) {
	name, err := r.queryParam("name")
	if err != nil {
		return nil, err
	}
	if !validHostname(name) {
		return nil, badRequest("invalid host name %q: want 1 to %d letters, digits, '-' or '.'", name, maxHostname)
	}
	if err := sys.SetHostname(name); err != nil {
		return nil, err
	}
	return "", nil
}

// validHostname accepts RFC 1123 characters only, which every resolver
// and shell prompt copes with; Linux itself would take any bytes.
func validHostname(s string) bool {
	if s == "" || len(s) > maxHostname {
		return false
	}
	for _, c := range []byte(s) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// threadJSON and threadsJSON are OSv's Thread and Threads models.
type threadJSON struct {
	ID          int     `json:"id"`
	Name        string  `json:"name"`
	CPU         int     `json:"cpu"`
	Status      string  `json:"status"`
	CPUms       int64   `json:"cpu_ms"`
	Switches    uint64  `json:"switches"`
	Migrations  uint64  `json:"migrations"`
	Preemptions uint64  `json:"preemptions"`
	Priority    float64 `json:"priority"`
	StackSize   uint64  `json:"stack_size"`
	Wait        string  `json:"wait"` // gosv's addition
}

type threadsJSON struct {
	List   []threadJSON `json:"list"`
	TimeMS int64        `json:"time_ms"` // wall clock, ms since the epoch
}

func threads(sys OS) threadsJSON {
	out := threadsJSON{List: []threadJSON{}, TimeMS: sys.Now().UnixMilli()}
	for _, t := range sys.Threads() {
		out.List = append(out.List, threadJSON{
			ID: t.ID, Name: t.Name, CPU: t.CPU, Status: t.Status,
			CPUms: t.CPUTime.Milliseconds(), Switches: t.Switches,
			Migrations: t.Migrations, Preemptions: t.Preemptions,
			Priority: t.Priority, StackSize: t.StackSize, Wait: t.Wait,
		})
	}
	return out
}
