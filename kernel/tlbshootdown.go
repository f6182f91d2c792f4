package kernel

import (
	"sync/atomic"

	"gosv/arch/amd64"
)

// TLB shootdown without waiting. When a mapping goes away, other CPUs
// may still hold it in their TLBs, so its frame must not be reused until
// each of them has flushed. Rather than interrupt every CPU and wait for
// answers (which deadlocks easily when the waiter holds a lock another
// CPU spins on), the unmapping CPU bumps a global epoch, parks the
// frames with that epoch, and sends an IPI that makes every CPU trap.
// Every trap flushes the TLB if the epoch moved and records the epoch
// it has seen; frames are reused once every online CPU has seen theirs.

var tlbEpoch atomic.Uint64

// pageBatch chains frames through their first word.
type pageBatch struct {
	head uint64
	n    int
}

func (b *pageBatch) add(pa uint64) {
	*(*uint64)(ptrAt(directBase + uintptr(pa))) = b.head
	b.head = pa
	b.n++
}

// finishUnmap returns unmapped frames to the allocator: at once with
// one CPU, after every CPU has flushed with several. changed says that
// mappings changed even if no frame was freed (mprotect).
func finishUnmap(b *pageBatch, changed bool) {
	if cpuCount == 1 {
		for pa := b.head; pa != 0; {
			next := *(*uint64)(ptrAt(directBase + uintptr(pa)))
			phys.free(pa)
			pa = next
		}
		return
	}
	if b.n == 0 && !changed {
		return
	}
	e := tlbEpoch.Add(1)
	flushTLB()
	thisCPU().tlbSeen.Store(e)
	if b.n > 0 {
		phys.retire(b.head, e)
	}
	// All-excluding-self shorthand, fixed delivery: every other CPU
	// traps and flushes.
	lapicWrite(lapicICRLow, 3<<18|vecWakeup)
}

// tlbCatchUp flushes this CPU's TLB if another CPU changed mappings
// since it last did. Called at the start of every trap.
func tlbCatchUp(c *cpuLocal) {
	if e := tlbEpoch.Load(); c.tlbSeen.Load() != e {
		flushTLB()
		c.tlbSeen.Store(e)
	}
}

func flushTLB() { amd64.WriteCR3(amd64.ReadCR3()) }

// minTLBSeen is the oldest epoch some online CPU has not flushed past.
func minTLBSeen() uint64 {
	m := ^uint64(0)
	for i := 0; i < cpuCount; i++ {
		if s := cpus[i].tlbSeen.Load(); s < m {
			m = s
		}
	}
	return m
}
