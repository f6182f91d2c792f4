package kernel

import (
	"math/bits"

	"gosv/arch/amd64"
)

// Clocks. Monotonic time is the TSC scaled to nanoseconds. Its rate comes
// from kvmclock when the hypervisor offers it (KVM, Firecracker, EC2) and
// otherwise from counting TSC ticks across a known PIT interval, which
// works under TCG. Wall-clock time is the CMOS RTC (or kvmclock's wall
// clock) read once at boot plus monotonic time.

type clockSource struct {
	tsc0   uint64
	mult   uint64 // ns per tick << 32
	tscHz  uint64
	source string
	// wallAtBoot is the Unix time in ns at tsc0.
	wallAtBoot int64
}

var clock clockSource

// nanotime returns nanoseconds since the clock was initialised.
func nanotime() int64 {
	d := amd64.RDTSC() - clock.tsc0
	hi, lo := bits.Mul64(d, clock.mult)
	return int64(hi<<32 | lo>>32)
}

// walltime returns Unix time in nanoseconds.
func walltime() int64 { return clock.wallAtBoot + nanotime() }

// PIT (Intel 8254) channel 0 runs at 1.193182 MHz on every PC.
const (
	pitHz      = 1193182
	pitCommand = 0x43
	pitData0   = 0x40
)

// pitCount latches and reads channel 0's counter.
func pitCount() uint16 {
	amd64.Outb(pitCommand, 0x00) // latch channel 0
	lo := amd64.Inb(pitData0)
	hi := amd64.Inb(pitData0)
	return uint16(hi)<<8 | uint16(lo)
}

// measureTSCWithPIT counts TSC ticks (and LAPIC timer ticks, so that
// one window calibrates both) over ~2.5 ms of PIT time. 2.5 ms is ~3000
// PIT ticks: the rate comes out within about 0.05%, which is what a
// kernel clock needs between NTP corrections, at a quarter of the boot
// time a 10 ms window costs. It returns 0 if the PIT does not count.
func measureTSCWithPIT() (tscHz, lapicHz uint64) {
	// Channel 0, lobyte/hibyte, mode 0 (count down once), binary. The
	// PIC is masked so the terminal-count interrupt goes nowhere.
	amd64.Outb(pitCommand, 0x30)
	amd64.Outb(pitData0, 0xff)
	amd64.Outb(pitData0, 0xff)
	const wait = pitHz / 400
	lapicWrite(lapicLVTTimer, lvtMasked|vecTimer)
	lapicWrite(lapicTimerICR, 0xffffffff)
	start, t0, l0, ok := pitSample()
	if !ok {
		return 0, 0
	}
	for spins := 0; spins < 50_000_000; spins++ {
		now, t1, l1, ok := pitSample()
		if ok && start-now >= wait {
			elapsed := uint64(start - now)
			lapicWrite(lapicTimerICR, 0)
			return (t1 - t0) * pitHz / elapsed, uint64(l0-l1) * pitHz / elapsed
		}
	}
	return 0, 0
}

// pitSample reads the PIT counter together with the TSC and the LAPIC
// timer. The reads are bracketed by two TSC reads, and a sample whose
// bracket is wide (the vCPU was descheduled, or an emulated port access
// was slow) is rejected: pairing a PIT count with a TSC value taken much
// later is what makes a short calibration window inaccurate.
func pitSample() (pit uint16, tsc uint64, lapic uint32, ok bool) {
	for try := 0; try < 100; try++ {
		t1 := amd64.RDTSC()
		pit = pitCount()
		lapic = lapicRead(lapicTimerCCR)
		t2 := amd64.RDTSC()
		if t2-t1 < 200_000 { // ~0.1 ms at any plausible TSC rate
			return pit, t1 + (t2-t1)/2, lapic, true
		}
	}
	return 0, 0, 0, false
}

// initClock picks the clock source and calibrates it.
func initClock() {
	hz, source := kvmclockTSCHz()
	if hz == 0 {
		hz, source = cpuidTSCHz()
	}
	if hz == 0 {
		hz, lapicTimerHz = measureTSCWithPIT()
		source = "tsc (PIT-calibrated)"
	}
	if hz == 0 {
		hz, source = 1_000_000_000, "tsc (uncalibrated, assumed 1 GHz)"
	}
	clock.tscHz = hz
	clock.mult = (1_000_000_000 << 32) / hz
	clock.source = source
	clock.tsc0 = amd64.RDTSC()
	clock.wallAtBoot = rtcUnixSeconds() * 1_000_000_000
}

// cpuidTSCHz reads the TSC rate from CPUID leaf 0x15 (crystal ratio) or
// the hypervisor timing leaf 0x40000010, when present.
func cpuidTSCHz() (uint64, string) {
	if cpu.hypervisorMaxLeaf >= 0x40000010 {
		if khz, _, _, _ := amd64.CPUID(0x40000010, 0); khz != 0 {
			return uint64(khz) * 1000, "tsc (hypervisor timing leaf)"
		}
	}
	if cpu.maxLeaf >= 0x15 {
		den, num, crystal, _ := amd64.CPUID(0x15, 0)
		if den != 0 && num != 0 && crystal != 0 {
			return uint64(crystal) * uint64(num) / uint64(den), "tsc (CPUID 0x15)"
		}
	}
	return 0, ""
}

// kvmclock: a page the hypervisor keeps updated with the TSC scale
// (Documentation/virt/kvm/x86/msr.rst, pvclock_vcpu_time_info).
type pvclockTimeInfo struct {
	version        uint32
	_              uint32
	tscTimestamp   uint64
	systemTime     uint64
	tscToSystemMul uint32
	tscShift       int8
	flags          uint8
	_              [2]uint8
}

type pvclockWallClock struct {
	version uint32
	sec     uint32
	nsec    uint32
}

// kvmclockPage holds both structures (physical address); it is a whole
// page so neither crosses a page boundary, as the ABI requires.
var (
	kvmclockPage uint64
	kvmclockWall *pvclockWallClock
)

// kvmclockTSCHz enables kvmclock and derives the TSC rate from it.
func kvmclockTSCHz() (uint64, string) {
	if !cpu.kvmClock {
		return 0, ""
	}
	kvmclockPage = phys.allocZeroed()
	if kvmclockPage == 0 {
		return 0, ""
	}
	info := (*pvclockTimeInfo)(ptrAt(directBase + uintptr(kvmclockPage)))
	amd64.WRMSR(amd64.MSRKVMSystemTime, kvmclockPage|1)
	mul := uint64(info.tscToSystemMul)
	if mul == 0 {
		return 0, ""
	}
	// ns = ((tsc << shift) * mul) >> 32, so Hz = 1e9 * 2^32 / (mul << shift).
	hz := (uint64(1_000_000_000) << 32) / mul
	if s := info.tscShift; s >= 0 {
		hz >>= uint(s)
	} else {
		hz <<= uint(-s)
	}
	amd64.WRMSR(amd64.MSRKVMWallClock, kvmclockPage+64)
	kvmclockWall = (*pvclockWallClock)(ptrAt(directBase + uintptr(kvmclockPage) + 64))
	return hz, "kvmclock"
}

// rtcUnixSeconds reads the CMOS real-time clock, or kvmclock's wall
// clock when that was set up.
func rtcUnixSeconds() int64 {
	if kvmclockWall != nil && kvmclockWall.sec != 0 {
		return int64(kvmclockWall.sec)
	}
	read := func(reg byte) byte {
		amd64.Outb(0x70, reg)
		return amd64.Inb(0x71)
	}
	for i := 0; i < 1000 && read(0x0a)&0x80 != 0; i++ { // update in progress
	}
	sec, min, hour := read(0x00), read(0x02), read(0x04)
	day, mon, year := read(0x07), read(0x08), read(0x09)
	century := read(0x32)
	statusB := read(0x0b)
	if sec == 0xff && year == 0xff {
		return 0 // no RTC
	}
	if statusB&0x04 == 0 { // BCD
		bcd := func(v byte) byte { return v&0x0f + v>>4*10 }
		sec, min, day, mon, year, century = bcd(sec), bcd(min), bcd(day), bcd(mon), bcd(year), bcd(century)
		hour = bcd(hour&0x7f) | hour&0x80
	}
	if statusB&0x02 == 0 && hour&0x80 != 0 { // 12-hour clock, PM
		hour = (hour&0x7f + 12) % 24
	}
	y := int64(year) + 100*int64(century)
	if century == 0 || century == 0xff {
		y = 2000 + int64(year)
	}
	return unixSeconds(y, int64(mon), int64(day), int64(hour), int64(min), int64(sec))
}

// unixSeconds converts a civil UTC date to Unix time (days-from-civil).
func unixSeconds(y, m, d, hh, mm, ss int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	days := era*146097 + doe - 719468
	return days*86400 + hh*3600 + mm*60 + ss
}
