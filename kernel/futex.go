package kernel

// Futexes: one address space, so a futex is identified by its virtual
// address alone (private and shared futexes are the same thing here).
// Waiters hang off hash buckets in FIFO order, each bucket with its own
// lock: the Go runtime's threads each sleep on a futex of their own, so
// one lock for all made unrelated wakes and sleeps on the two CPUs
// spin against each other.

const (
	futexWait        = 0
	futexWake        = 1
	futexRequeue     = 3
	futexCmpRequeue  = 4
	futexWakeOp      = 5
	futexWaitBitset  = 9
	futexWakeBitset  = 10
	futexPrivateFlag = 128
	futexClockRT     = 256
	futexCmdMask     = ^(futexPrivateFlag | futexClockRT)
	futexBitsetAny   = 0xffffffff

	futexBuckets = 64
)

type futexBucket struct {
	lock       spinLock
	head, tail int32
}

var futexTable [futexBuckets]futexBucket

// initFutexTable empties the buckets (called by start64, before any
// thread exists).
func initFutexTable() {
	for i := range futexTable {
		futexTable[i].head, futexTable[i].tail = noThread, noThread
	}
}

func futexHash(addr uintptr) *futexBucket {
	return &futexTable[(addr>>2^addr>>12)%futexBuckets]
}

// futexWaitOn blocks thread i on addr if *addr still equals val.
func futexWaitOn(c *cpuLocal, i int32, f *Frame, addr uintptr, val uint32, bitset uint32, deadline int64) int64 {
	if addr&3 != 0 {
		return -int64(EINVAL)
	}
	if bitset == 0 {
		return -int64(EINVAL)
	}
	if !space.access(addr, 4, false) {
		return -int64(EFAULT)
	}
	b := futexHash(addr)
	b.lock.lock()
	defer b.lock.unlock()
	if *(*uint32)(ptrAt(addr)) != val {
		return -int64(EAGAIN)
	}
	t := &threads[i]
	t.futexAddr = addr
	t.futexBitset = bitset
	t.next = noThread
	if b.tail == noThread {
		b.head = i
	} else {
		threads[b.tail].next = i
	}
	b.tail = i
	c.sched.block(i, f, waitFutex, deadline, 0, -int64(ETIMEDOUT))
	return sysBlocked
}

// futexWakeUp wakes up to n waiters on addr whose bitset matches.
func futexWakeUp(addr uintptr, n int, bitset uint32) int {
	b := futexHash(addr)
	b.lock.lock()
	defer b.lock.unlock()
	woken := 0
	prev := int32(noThread)
	for i := b.head; i != noThread && woken < n; {
		t := &threads[i]
		next := t.next
		if t.futexAddr == addr && t.futexBitset&bitset != 0 {
			unlinkFutex(b, prev, i)
			t.futexAddr = 0
			if wake(i, 0) {
				woken++
			}
		} else {
			prev = i
		}
		i = next
	}
	return woken
}

func unlinkFutex(b *futexBucket, prev, i int32) {
	next := threads[i].next
	if prev == noThread {
		b.head = next
	} else {
		threads[prev].next = next
	}
	if b.tail == i {
		b.tail = prev
	}
	threads[i].next = noThread
}

// futexCancel removes a thread from its futex queue (timeout, signal).
func futexCancel(i int32) {
	t := &threads[i]
	addr := t.futexAddr
	if addr == 0 {
		return
	}
	b := futexHash(addr)
	b.lock.lock()
	defer b.lock.unlock()
	if t.futexAddr != addr {
		return // woken meanwhile (futexAddr only changes under b.lock)
	}
	prev := int32(noThread)
	for j := b.head; j != noThread; j = threads[j].next {
		if j == i {
			unlinkFutex(b, prev, i)
			break
		}
		prev = j
	}
	t.futexAddr = 0
}
