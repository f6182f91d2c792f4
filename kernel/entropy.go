package kernel

import "sync/atomic"

// entropyPool holds random bytes from a hardware RNG device (virtio-rng),
// for getrandom on CPUs without RDRAND/RDSEED. A driver goroutine keeps it
// full (FeedEntropy); trap code takes 8 bytes at a time. Bytes are used
// once.
type entropyBuffer struct {
	lock spinLock
	buf  [4096]byte
	r, n uint32 // read position and bytes held
	fed  atomic.Uint64
	used atomic.Uint64
}

var entropyPool entropyBuffer

// take8 returns 8 pooled bytes. Interrupts must be off (trap context).
func (p *entropyBuffer) take8() (uint64, bool) {
	p.lock.lock()
	defer p.lock.unlock()
	if p.n < 8 {
		return 0, false
	}
	var v uint64
	for i := 0; i < 8; i++ {
		v |= uint64(p.buf[(p.r+uint32(i))%uint32(len(p.buf))]) << (8 * i)
	}
	p.r = (p.r + 8) % uint32(len(p.buf))
	p.n -= 8
	p.used.Add(8)
	return v, true
}

// FeedEntropy adds random bytes from a hardware RNG to the pool and
// returns how many it took (0 when full).
func FeedEntropy(b []byte) int {
	was := disableInterrupts()
	p := &entropyPool
	p.lock.lock()
	k := 0
	for ; k < len(b) && p.n < uint32(len(p.buf)); k++ {
		p.buf[(p.r+p.n)%uint32(len(p.buf))] = b[k]
		p.n++
	}
	p.fed.Add(uint64(k)) // before the bytes can be used: fed >= used
	p.lock.unlock()
	restoreInterrupts(was)
	return k
}

// EntropyWanted is how many bytes the pool has room for.
func EntropyWanted() int {
	was := disableInterrupts()
	p := &entropyPool
	p.lock.lock()
	n := len(p.buf) - int(p.n)
	p.lock.unlock()
	restoreInterrupts(was)
	return n
}

// EntropyStats reports the bytes fed to the pool and drawn from it.
func EntropyStats() (fed, used uint64) {
	return entropyPool.fed.Load(), entropyPool.used.Load()
}

// HasRDRAND reports whether getrandom is served by the CPU's generator.
func HasRDRAND() bool { return cpu.rdrand || cpu.rdseed }
