// Package bench holds the parts of the boot benchmark (cmd/gosvbench,
// `make bench`) that need no QEMU: parsing what the guests print, the
// statistics, the memory search, image sizes, the Linux baseline's
// initramfs and the Markdown report.
package bench

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Serial-console markers of the two guests.
const (
	// GosvMarker starts the line in which gosv reports its boot time.
	GosvMarker = "gosv: boot time "
	// LinuxMarker starts the line the baseline's /init prints first.
	LinuxMarker = "LINUXINIT "
)

var (
	gosvBootRE   = regexp.MustCompile(`gosv: boot time ([0-9]+(?:\.[0-9]+)?) ms`)
	gosvBannerRE = regexp.MustCompile(`(?m)^gosv \S+ on QEMU`)
	linuxInitRE  = regexp.MustCompile(`\[\s*([0-9]+\.[0-9]+)\] Run /init as init process`)
	linuxUpRE    = regexp.MustCompile(`LINUXINIT ([0-9]+(?:\.[0-9]+)?)`)
)

// GosvBootTime returns the boot time gosv printed: its TSC-measured guest
// time from the first instruction to Go main.
func GosvBootTime(serial string) (time.Duration, bool) {
	return parseSeconds(gosvBootRE, serial, time.Millisecond)
}

// GosvBanner reports whether serial holds gosv's banner line
// ("gosv VERSION on QEMU ...").
func GosvBanner(serial string) bool { return gosvBannerRE.MatchString(serial) }

// LinuxInitTime returns the printk timestamp of Linux's
// "Run /init as init process": the guest time from the start of the
// kernel's clock to starting init.
func LinuxInitTime(serial string) (time.Duration, bool) {
	return parseSeconds(linuxInitRE, serial, time.Second)
}

// LinuxUptime returns the /proc/uptime figure the baseline's init printed
// after "LINUXINIT".
func LinuxUptime(serial string) (time.Duration, bool) {
	return parseSeconds(linuxUpRE, serial, time.Second)
}

// parseSeconds finds re's first match and scales its number by unit.
func parseSeconds(re *regexp.Regexp, s string, unit time.Duration) (time.Duration, bool) {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(f * float64(unit)), true
}

var (
	dmesgTSCRE = regexp.MustCompile(`tsc: (?:Detected|Refined TSC clocksource calibration:) ([0-9]+(?:\.[0-9]+)?) MHz`)
	gosvTSCRE  = regexp.MustCompile(`gosv: clock tsc .*\(([0-9]+(?:\.[0-9]+)?) MHz TSC\)`)
)

// HostTSCkHz returns the TSC frequency a Linux kernel log (the host's
// dmesg) states, the refined calibration if there is one.
func HostTSCkHz(dmesg string) (int, bool) {
	m := dmesgTSCRE.FindAllStringSubmatch(dmesg, -1)
	if m == nil {
		return 0, false
	}
	return mhzToKHz(m[len(m)-1][1])
}

// GosvTSCkHz returns the TSC frequency gosv calibrated, from its
// "gosv: clock tsc ... (2115 MHz TSC)" line.
func GosvTSCkHz(serial string) (int, bool) {
	m := gosvTSCRE.FindStringSubmatch(serial)
	if m == nil {
		return 0, false
	}
	return mhzToKHz(m[1])
}

// RescaleTSC converts a time that was computed from TSC ticks at an
// assumed rate of fromKHz into the time those ticks take at toKHz.
func RescaleTSC(d time.Duration, fromKHz, toKHz int) time.Duration {
	if fromKHz <= 0 || toKHz <= 0 {
		return d
	}
	return time.Duration(float64(d) * float64(fromKHz) / float64(toKHz))
}

func mhzToKHz(s string) (int, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, false
	}
	return int(f*1000 + 0.5), true
}

// Summary is the spread of one measurement over the repetitions.
type Summary struct {
	N                int
	Min, Median, Max time.Duration
	Values           []time.Duration // in the order measured
}

// Summarize computes min, median (the mean of the middle two for an even
// count) and max. It returns the zero Summary for no values.
func Summarize(values []time.Duration) Summary {
	n, lo, med, hi := minMedianMax(values)
	if n == 0 {
		return Summary{}
	}
	return Summary{N: n, Min: lo, Median: med, Max: hi, Values: slices.Clone(values)}
}

// FloatSummary is the spread of a measurement that is not a time span,
// or a time too short for time.Duration's nanoseconds (such as ns per
// system call).
type FloatSummary struct {
	N                int
	Min, Median, Max float64
	Values           []float64 // in the order measured
}

// SummarizeFloats is Summarize for float64 values.
func SummarizeFloats(values []float64) FloatSummary {
	n, lo, med, hi := minMedianMax(values)
	if n == 0 {
		return FloatSummary{}
	}
	return FloatSummary{N: n, Min: lo, Median: med, Max: hi, Values: slices.Clone(values)}
}

// minMedianMax returns the count, min, median (the mean of the middle two for
// an even count) and max of values, without reordering them.
func minMedianMax[T ~int64 | ~float64](values []T) (n int, lo, med, hi T) {
	if len(values) == 0 {
		return 0, 0, 0, 0
	}
	s := slices.Clone(values)
	slices.Sort(s)
	n = len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return n, s[0], med, s[n-1]
}

// Ratio is a/b, or 0 when b is not positive.
func Ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Probe is one step of a memory search: a boot with MiB of memory and
// whether it passed.
type Probe struct {
	MiB int
	OK  bool
}

// MinPassing finds the smallest m in [lo, hi] for which ok(m) holds,
// assuming that once a size passes all larger ones do, by binary search.
// It checks hi first and fails if even hi does not pass. An error from ok
// stops the search. The probes made are returned in order.
func MinPassing(lo, hi int, ok func(mib int) (bool, error)) (int, []Probe, error) {
	if lo > hi || lo < 1 {
		return 0, nil, fmt.Errorf("bench: bad memory range [%d, %d]", lo, hi)
	}
	var probes []Probe
	try := func(m int) (bool, error) {
		pass, err := ok(m)
		if err == nil {
			probes = append(probes, Probe{m, pass})
		}
		return pass, err
	}
	pass, err := try(hi)
	if err != nil {
		return 0, probes, err
	}
	if !pass {
		return 0, probes, fmt.Errorf("bench: does not boot even with %d MiB", hi)
	}
	// Invariant: ok(hi) holds; every size below lo is known or assumed to fail.
	for lo < hi {
		mid := lo + (hi-lo)/2
		pass, err := try(mid)
		if err != nil {
			return 0, probes, err
		}
		if pass {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi, probes, nil
}

// ImageSize describes an ELF kernel image.
type ImageSize struct {
	File     int64  // bytes of the file
	LoadFile uint64 // bytes the PT_LOAD segments load from the file
	LoadMem  uint64 // bytes the PT_LOAD segments occupy in memory (with .bss)
}

// ELFSize measures the ELF image in r, which is size bytes long.
func ELFSize(r io.ReaderAt, size int64) (ImageSize, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return ImageSize{}, err
	}
	defer f.Close()
	s := ImageSize{File: size}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			s.LoadFile += p.Filesz
			s.LoadMem += p.Memsz
		}
	}
	if s.LoadFile == 0 && s.LoadMem == 0 {
		return s, errors.New("bench: ELF image has no PT_LOAD segment")
	}
	return s, nil
}

// LinuxImagePackage picks the versioned kernel package out of
// `apt-cache depends linux-image-cloud-amd64`, such as
// "linux-image-6.1.0-56-cloud-amd64".
func LinuxImagePackage(aptCacheDepends string) (string, error) {
	for _, line := range strings.Split(aptCacheDepends, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || f[0] != "Depends:" {
			continue
		}
		name := f[1]
		if strings.HasPrefix(name, "linux-image-") && strings.HasSuffix(name, "-cloud-amd64") &&
			name != "linux-image-cloud-amd64" && !strings.HasPrefix(name, "<") {
			return name, nil
		}
	}
	return "", errors.New("bench: apt-cache depends names no linux-image-<version>-cloud-amd64 (run apt-get update?)")
}

// CPUModel returns the first "model name" of /proc/cpuinfo.
func CPUModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// QEMUVersion extracts the version from `qemu-system-x86_64 --version`.
func QEMUVersion(out string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	line = strings.TrimSpace(line)
	if v, ok := strings.CutPrefix(line, "QEMU emulator version "); ok {
		return v
	}
	if line == "" {
		return "unknown"
	}
	return line
}

// MarkerClock is an io.Writer for a serial console that notes when a
// marker first appears in the stream, so the host can time how long the
// guest took to say it, even when the marker is split across writes.
type MarkerClock struct {
	Marker string
	Now    func() time.Time // time.Now if nil

	mu   sync.Mutex
	tail []byte
	at   time.Time
	seen bool
}

// Write implements io.Writer; it never fails.
func (m *MarkerClock) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen || m.Marker == "" {
		return len(p), nil
	}
	buf := append(m.tail, p...)
	if bytes.Contains(buf, []byte(m.Marker)) {
		now := time.Now
		if m.Now != nil {
			now = m.Now
		}
		m.at, m.seen, m.tail = now(), true, nil
		return len(p), nil
	}
	if keep := len(m.Marker) - 1; len(buf) > keep {
		buf = buf[len(buf)-keep:]
	}
	m.tail = slices.Clone(buf)
	return len(p), nil
}

// Seen returns when the marker first arrived.
func (m *MarkerClock) Seen() (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.at, m.seen
}

var speedupRE = regexp.MustCompile(`selftest: smp: \d+ CPUs, .*speedup ([0-9.]+)x`)

// ParseSpeedup reads the smp self-test's speed-up from serial output.
func ParseSpeedup(serial string) (float64, bool) {
	m := speedupRE.FindStringSubmatch(serial)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}
