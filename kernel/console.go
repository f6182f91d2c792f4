package kernel

import (
	"sync/atomic"

	"gosv/arch/amd64"
)

// The console is COM1, a 16550 UART driven by polling: output must work
// before interrupts, in trap handlers and while the machine is dying.
// Everything written to it is also kept in the kernel log (dmesg).

const (
	com1         = 0x3f8
	uartData     = 0
	uartIER      = 1
	uartFCR      = 2
	uartLCR      = 3
	uartMCR      = 4
	uartLSR      = 5
	lsrTxEmpty   = 1 << 5
	lcrDLAB      = 1 << 7
	lcr8N1       = 0x03
	debugconPort = 0xe9
)

var (
	consoleLock spinLock
	// useDebugcon mirrors the console to port 0xE9 (Xen PVH guests have no
	// UART; QEMU's -debugcon shows it).
	useDebugcon bool
	uartPresent bool
)

// initConsole programs COM1 for 115200 8N1 and checks it exists through
// the scratch register.
func initConsole() {
	amd64.Outb(com1+7, 0x5a)
	uartPresent = amd64.Inb(com1+7) == 0x5a
	amd64.Outb(com1+uartIER, 0)
	amd64.Outb(com1+uartLCR, lcrDLAB)
	amd64.Outb(com1+0, 1) // divisor 1: 115200 baud
	amd64.Outb(com1+1, 0)
	amd64.Outb(com1+uartLCR, lcr8N1)
	amd64.Outb(com1+uartFCR, 0xc7) // FIFO on, cleared
	amd64.Outb(com1+uartMCR, 0x03) // DTR, RTS
}

func uartPut(c byte) {
	if uartPresent {
		for i := 0; i < 100000 && amd64.Inb(com1+uartLSR)&lsrTxEmpty == 0; i++ {
			amd64.Pause()
		}
		amd64.Outb(com1+uartData, c)
	}
	if useDebugcon {
		amd64.Outb(debugconPort, c)
	}
}

// consoleWrite writes b to the console and the kernel log. Callers run
// with interrupts off (trap handlers, early boot).
func consoleWrite(b []byte) {
	consoleLock.lock()
	for _, c := range b {
		if c == '\n' {
			uartPut('\r')
		}
		uartPut(c)
	}
	dmesg.append(b)
	consoleLock.unlock()
}

func consoleWriteString(s string) {
	consoleLock.lock()
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			uartPut('\r')
		}
		uartPut(s[i])
	}
	dmesg.appendString(s)
	consoleLock.unlock()
}

// kernelLog is the in-memory log behind /os/dmesg: a ring of the last
// logSize bytes written to the console.
type kernelLog struct {
	buf   [64 << 10]byte
	total uint64 // bytes ever written; buf holds the last len(buf)
}

var dmesg kernelLog

func (l *kernelLog) append(b []byte) {
	for _, c := range b {
		l.buf[l.total%uint64(len(l.buf))] = c
		l.total++
	}
}

func (l *kernelLog) appendString(s string) {
	for i := 0; i < len(s); i++ {
		l.buf[l.total%uint64(len(l.buf))] = s[i]
		l.total++
	}
}

// Dmesg returns a copy of the kernel log. It runs in ordinary Go code.
func Dmesg() []byte {
	was := disableInterrupts()
	consoleLock.lock()
	n := dmesg.total
	size := uint64(len(dmesg.buf))
	var out []byte
	if n <= size {
		out = append(out, dmesg.buf[:n]...)
	} else {
		start := n % size
		out = append(out, dmesg.buf[start:]...)
		out = append(out, dmesg.buf[:start]...)
	}
	consoleLock.unlock()
	restoreInterrupts(was)
	return out
}

// line formats one log line without allocating, for code that runs where
// the Go heap cannot be used.
type line struct {
	buf [240]byte
	n   int
}

func (l *line) s(s string) *line {
	for i := 0; i < len(s) && l.n < len(l.buf); i++ {
		l.buf[l.n] = s[i]
		l.n++
	}
	return l
}

func (l *line) b(b []byte) *line {
	for i := 0; i < len(b) && l.n < len(l.buf); i++ {
		l.buf[l.n] = b[i]
		l.n++
	}
	return l
}

func (l *line) c(c byte) *line {
	if l.n < len(l.buf) {
		l.buf[l.n] = c
		l.n++
	}
	return l
}

// x appends v in hex with a 0x prefix.
func (l *line) x(v uint64) *line {
	const digits = "0123456789abcdef"
	var tmp [16]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = digits[v&15]
		v >>= 4
		if v == 0 {
			break
		}
	}
	l.s("0x")
	return l.b(tmp[i:])
}

// d appends v in decimal.
func (l *line) d(v int64) *line {
	if v < 0 {
		l.c('-')
		return l.u(uint64(-v))
	}
	return l.u(uint64(v))
}

func (l *line) u(v uint64) *line {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return l.b(tmp[i:])
}

// print writes the line followed by a newline.
func (l *line) print() {
	l.c('\n')
	consoleWrite(l.buf[:l.n])
	l.n = 0
}

// spinLock protects data touched from trap handlers. Holders run with
// interrupts off, so a lock is only ever contended across CPUs and is
// held for a short, bounded time.
type spinLock struct{ v atomic.Uint32 }

func (s *spinLock) lock() {
	for !s.v.CompareAndSwap(0, 1) {
		amd64.Pause()
	}
}

func (s *spinLock) unlock() { s.v.Store(0) }

// disableInterrupts turns interrupts off and says whether they were on.
func disableInterrupts() bool {
	was := amd64.Flags()&amd64.FlagIF != 0
	amd64.CLI()
	return was
}

func restoreInterrupts(was bool) {
	if was {
		amd64.STI()
	}
}
