// Package qprof is a sampling profiler for a guest running under QEMU:
// it asks QEMU's monitor (QMP) for every vCPU's registers many times a
// second, walks the frame-pointer chain a few frames up, and counts
// where the guest was, by function of the kernel's ELF symbol table.
// It needs nothing from the guest, so it profiles the core, the
// kernel's Go runtime and the application alike; under TCG the monitor
// sees each vCPU between translation blocks, which is fine grain enough
// for a flat profile.
package qprof

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Monitor is a QMP connection that runs human monitor commands.
type Monitor struct {
	conn net.Conn
	r    *bufio.Reader
}

// Dial connects to a QMP socket (QEMU's -qmp unix:PATH,server=on,wait=off)
// and leaves capability negotiation.
func Dial(path string, timeout time.Duration) (*Monitor, error) {
	var conn net.Conn
	var err error
	for end := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		conn, err = net.Dial("unix", path)
		if err == nil || time.Now().After(end) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	m := &Monitor{conn: conn, r: bufio.NewReader(conn)}
	if _, err := m.r.ReadBytes('\n'); err != nil { // the greeting
		conn.Close()
		return nil, err
	}
	if _, err := m.execute(`{"execute":"qmp_capabilities"}`); err != nil {
		conn.Close()
		return nil, err
	}
	return m, nil
}

// Close ends the connection.
func (m *Monitor) Close() error { return m.conn.Close() }

// execute sends one QMP command and returns its "return" value, skipping
// asynchronous events.
func (m *Monitor) execute(cmd string) (json.RawMessage, error) {
	if _, err := io.WriteString(m.conn, cmd+"\n"); err != nil {
		return nil, err
	}
	for {
		line, err := m.r.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		var reply struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Desc string `json:"desc"`
			} `json:"error"`
		}
		if err := json.Unmarshal(line, &reply); err != nil {
			return nil, fmt.Errorf("qmp: %v in %q", err, line)
		}
		if reply.Error != nil {
			return nil, fmt.Errorf("qmp: %s", reply.Error.Desc)
		}
		if reply.Return != nil {
			return reply.Return, nil
		}
	}
}

// HMP runs a human monitor command and returns its output.
func (m *Monitor) HMP(command string) (string, error) {
	arg, _ := json.Marshal(command)
	ret, err := m.execute(`{"execute":"human-monitor-command","arguments":{"command-line":` + string(arg) + `}}`)
	if err != nil {
		return "", err
	}
	var s string
	err = json.Unmarshal(ret, &s)
	return s, err
}

// CPUState is what a sample needs of one vCPU.
type CPUState struct {
	RIP, RSP, RBP uint64
	Halted        bool
}

var regRE = regexp.MustCompile(`(RIP|RSP|RBP)=([0-9a-f]{16})`)

// ParseRegisters reads `info registers -a` output.
func ParseRegisters(out string) []CPUState {
	var cpus []CPUState
	for _, block := range strings.Split(out, "CPU#")[1:] {
		var s CPUState
		for _, m := range regRE.FindAllStringSubmatch(block, -1) {
			v, _ := strconv.ParseUint(m[2], 16, 64)
			switch m[1] {
			case "RIP":
				s.RIP = v
			case "RSP":
				s.RSP = v
			case "RBP":
				s.RBP = v
			}
		}
		s.Halted = strings.Contains(block, " HLT=1")
		cpus = append(cpus, s)
	}
	return cpus
}

// Symbols maps addresses to function names.
type Symbols struct {
	addrs, ends []uint64
	names       []string
}

// LoadSymbols reads the function symbols of an ELF file.
func LoadSymbols(path string) (*Symbols, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, err
	}
	sort.Slice(syms, func(i, j int) bool { return syms[i].Value < syms[j].Value })
	s := &Symbols{}
	for _, y := range syms {
		if elf.ST_TYPE(y.Info) != elf.STT_FUNC || y.Value == 0 {
			continue
		}
		s.addrs = append(s.addrs, y.Value)
		s.ends = append(s.ends, y.Value+max(y.Size, 1))
		s.names = append(s.names, y.Name)
	}
	return s, nil
}

// Name returns the function containing pc, or "" if none does.
func (s *Symbols) Name(pc uint64) string {
	if s == nil {
		return ""
	}
	i := sort.Search(len(s.addrs), func(i int) bool { return s.addrs[i] > pc }) - 1
	if i < 0 || pc >= s.ends[i] {
		return ""
	}
	return s.names[i]
}

// Profile counts samples by leaf function and by call stack.
type Profile struct {
	Samples int
	Leaf    map[string]int
	Stacks  map[string]int
}

// Sampler takes samples from a monitor.
type Sampler struct {
	Mon       *Monitor
	Kernel    *Symbols // the kernel's symbols
	App       *Symbols // the application's, if known (static, non-PIE)
	Depth     int      // frames to walk above the leaf
	SkipIdle  bool     // leave out halted vCPUs
	Profile   Profile
	lastError error
}

// name names the function at pc: the kernel's, else the application's
// (prefixed "app:"). The kernel and the application share ring 0, so
// only the address tells them apart.
func (s *Sampler) name(pc uint64) string {
	if n := s.Kernel.Name(pc); n != "" {
		return n
	}
	if n := s.App.Name(pc); n != "" {
		return "app:" + n
	}
	return fmt.Sprintf("%#x", pc)
}

// readWords reads n 64-bit words at a virtual address of cpu.
func (s *Sampler) readWords(cpu int, addr uint64, n int) ([]uint64, error) {
	if _, err := s.Mon.HMP(fmt.Sprintf("cpu %d", cpu)); err != nil {
		return nil, err
	}
	out, err := s.Mon.HMP(fmt.Sprintf("x /%dgx %#x", n, addr))
	if err != nil {
		return nil, err
	}
	var words []uint64
	for _, line := range strings.Split(out, "\n") {
		_, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(rest) {
			v, err := strconv.ParseUint(strings.TrimPrefix(f, "0x"), 16, 64)
			if err != nil {
				return nil, fmt.Errorf("qprof: %q", line)
			}
			words = append(words, v)
		}
	}
	return words, nil
}

// Sample takes one sample of every vCPU.
func (s *Sampler) Sample() error {
	out, err := s.Mon.HMP("info registers -a")
	if err != nil {
		return err
	}
	if s.Profile.Leaf == nil {
		s.Profile.Leaf, s.Profile.Stacks = map[string]int{}, map[string]int{}
	}
	for cpu, st := range ParseRegisters(out) {
		if st.Halted && s.SkipIdle {
			continue
		}
		leaf := s.name(st.RIP)
		if st.Halted {
			leaf = "(idle)"
		}
		s.Profile.Samples++
		s.Profile.Leaf[leaf]++
		stack := []string{leaf}
		fp := st.RBP
		for d := 0; d < s.Depth && fp != 0 && !st.Halted; d++ {
			w, err := s.readWords(cpu, fp, 2)
			if err != nil || len(w) < 2 || w[1] == 0 {
				break
			}
			stack = append(stack, s.name(w[1]))
			if w[0] <= fp {
				break
			}
			fp = w[0]
		}
		s.Profile.Stacks[strings.Join(stack, " < ")]++
	}
	return nil
}

// Run samples every interval until stop is closed.
func (s *Sampler) Run(interval time.Duration, stop <-chan struct{}) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-t.C:
			if err := s.Sample(); err != nil {
				return err
			}
		}
	}
}

// Report writes the top n leaves and stacks.
func (p *Profile) Report(w io.Writer, n int) {
	for _, part := range []struct {
		title string
		m     map[string]int
	}{{"leaf functions", p.Leaf}, {"stacks", p.Stacks}} {
		fmt.Fprintf(w, "%d samples, top %s:\n", p.Samples, part.title)
		keys := make([]string, 0, len(part.m))
		for k := range part.m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return part.m[keys[i]] > part.m[keys[j]] })
		for i, k := range keys {
			if i == n {
				break
			}
			fmt.Fprintf(w, "%6d %5.1f%%  %s\n", part.m[k], 100*float64(part.m[k])/float64(p.Samples), k)
		}
	}
}
