package kernel

// Threads and the scheduler.
//
// A thread is a saved Context plus bookkeeping. Threads of the kernel's
// Go runtime (one per runtime M) and of the application are the same
// kind of thing. Each CPU has its own run queue and sleep list and
// schedules only its own threads; nothing here is global but the thread
// array itself. Switching threads is done at the end of a trap by
// copying Contexts (sched.finishTrap), so there is no separate
// context-switch path and no per-thread kernel stack: a blocking system
// call records what it waits for and the result it will return, and the
// thread is resumed later with that result in RAX.

const maxThreads = 256

type threadState uint8

const (
	threadFree threadState = iota
	threadRunnable
	threadRunning
	threadBlocked
	threadIdle
)

type waitReason uint8

const (
	waitNone waitReason = iota
	waitFutex
	waitSleep
	waitEpoll
)

type thread struct {
	ctx   Context
	state threadState
	wait  waitReason
	cpu   int32
	tid   int32
	// next links the thread into a run queue or a futex queue.
	next int32
	// sleepNext links it into its CPU's deadline-ordered sleep list.
	sleepNext int32
	deadline  int64 // monotonic ns, 0 = none
	// timeoutResult is what the blocked call returns if the deadline
	// passes first.
	timeoutResult int64
	futexAddr     uintptr
	futexBitset   uint32
	epollFD       int32

	sigMask    uint64
	sigPending uint64
	altStack   sigAltStack
	clearTID   uintptr
	syscallNr  uint64

	switches uint64
	cpuNanos int64
	lastRun  int64
}

var (
	threads  [maxThreads]thread
	threadMu spinLock
	nextTID  int32 = 1
)

const noThread = -1

// newThread claims a free slot, or returns noThread.
func newThread() int32 {
	threadMu.lock()
	defer threadMu.unlock()
	for i := range threads {
		if threads[i].state == threadFree {
			t := &threads[i]
			*t = thread{}
			t.state = threadBlocked // not runnable until the caller says
			t.tid = nextTID
			t.next, t.sleepNext = noThread, noThread
			nextTID++
			return int32(i)
		}
	}
	return noThread
}

// threadByTID finds a live thread.
func threadByTID(tid int32) (*thread, int32) {
	for i := range threads {
		if threads[i].state != threadFree && threads[i].state != threadIdle && threads[i].tid == tid {
			return &threads[i], int32(i)
		}
	}
	return nil, noThread
}

func threadIndex(t *thread) int32 {
	for i := range threads {
		if &threads[i] == t {
			return int32(i)
		}
	}
	return noThread
}

// scheduler is one CPU's run queue and sleep list.
type scheduler struct {
	current     int32
	idle        int32
	head, tail  int32
	runnable    int
	sleepers    int32
	sliceEnd    int64
	needResched bool
}

// timeSlice is how long a thread runs before another runnable thread on
// the same CPU gets a turn.
const timeSlice = 10_000_000 // 10 ms

func (s *scheduler) init(idle int32) {
	s.current, s.idle = idle, idle
	s.head, s.tail, s.sleepers = noThread, noThread, noThread
}

func (s *scheduler) enqueue(i int32) {
	t := &threads[i]
	t.state = threadRunnable
	t.next = noThread
	if s.tail == noThread {
		s.head = i
	} else {
		threads[s.tail].next = i
	}
	s.tail = i
	s.runnable++
}

func (s *scheduler) dequeue() int32 {
	i := s.head
	if i == noThread {
		return noThread
	}
	s.head = threads[i].next
	if s.head == noThread {
		s.tail = noThread
	}
	threads[i].next = noThread
	s.runnable--
	return i
}

// makeRunnable puts thread i on its CPU's run queue.
func makeRunnable(i int32) {
	c := &cpus[threads[i].cpu]
	c.sched.enqueue(i)
	if c.sched.current == c.sched.idle {
		c.sched.needResched = true
	}
	// Cross-CPU wakeups (a lock-free inbox per CPU plus an IPI when the
	// target is idle) come with SMP; see docs/design.md.
}

// block parks the running thread i until wake or the deadline (0: none).
// result is what the system call returns if nothing else sets it.
func (s *scheduler) block(i int32, f *Frame, why waitReason, deadline int64, result, timeoutResult int64) {
	t := &threads[i]
	t.state = threadBlocked
	t.wait = why
	f.RAX = uint64(result)
	t.timeoutResult = timeoutResult
	t.deadline = deadline
	if deadline != 0 {
		s.addSleeper(i)
	}
	s.needResched = true
}

// wake makes a blocked thread runnable with result in RAX.
func wake(i int32, result int64) {
	t := &threads[i]
	if t.state != threadBlocked {
		return
	}
	if t.deadline != 0 {
		cpus[t.cpu].sched.removeSleeper(i)
		t.deadline = 0
	}
	t.wait = waitNone
	t.ctx.Frame.RAX = uint64(result)
	makeRunnable(i)
}

func (s *scheduler) addSleeper(i int32) {
	d := threads[i].deadline
	p := &s.sleepers
	for *p != noThread && threads[*p].deadline <= d {
		p = &threads[*p].sleepNext
	}
	threads[i].sleepNext = *p
	*p = i
}

func (s *scheduler) removeSleeper(i int32) {
	for p := &s.sleepers; *p != noThread; p = &threads[*p].sleepNext {
		if *p == i {
			*p = threads[i].sleepNext
			threads[i].sleepNext = noThread
			return
		}
	}
}

// timerFired wakes threads whose deadline passed and asks for a switch
// when the running thread's slice is over.
func (s *scheduler) timerFired(c *cpuLocal) {
	c.timerDeadline = 0
	now := nanotime()
	for s.sleepers != noThread && threads[s.sleepers].deadline <= now {
		i := s.sleepers
		t := &threads[i]
		s.sleepers = t.sleepNext
		t.sleepNext = noThread
		t.deadline = 0
		cancelWait(i)
		wake(i, t.timeoutResult)
	}
	if s.current != s.idle && s.runnable > 0 && now >= s.sliceEnd {
		s.needResched = true
	}
}

// cancelWait takes a blocked thread off whatever queue it waits on.
func cancelWait(i int32) {
	switch threads[i].wait {
	case waitFutex:
		futexCancel(i)
	case waitEpoll:
		// epoll waiters are found by scanning; nothing to unlink.
	}
}

// finishTrap runs at the end of every trap from thread context: switch
// threads if needed, deliver signals, and arm the timer.
func (s *scheduler) finishTrap(c *cpuLocal, ctx *Context) {
	if s.needResched {
		s.needResched = false
		s.switchThreads(c, ctx)
	}
	if t := &threads[s.current]; t.sigPending&^t.sigMask != 0 && s.current != s.idle {
		deliverPending(t, ctx)
	}
	s.armTimer(c)
}

// switchThreads saves the running thread into its slot and loads the
// next runnable one (or the idle thread) into ctx.
func (s *scheduler) switchThreads(c *cpuLocal, ctx *Context) {
	cur := s.current
	t := &threads[cur]
	if t.state == threadRunning {
		if s.runnable == 0 {
			s.sliceEnd = nanotime() + timeSlice
			return // nothing else to run
		}
		s.enqueue(cur)
	}
	next := s.dequeue()
	if next == noThread {
		next = s.idle
	}
	if next == cur {
		t.state = threadRunning
		return
	}
	now := nanotime()
	if t.state != threadFree {
		t.ctx = *ctx
		t.cpuNanos += now - t.lastRun
	}
	n := &threads[next]
	*ctx = n.ctx
	if next != s.idle {
		n.state = threadRunning
	}
	n.switches++
	n.lastRun = now
	s.current = next
	s.sliceEnd = now + timeSlice
}

// armTimer programs the LAPIC timer for the next event this CPU cares
// about: the earliest sleeper, or the end of the slice if others wait.
func (s *scheduler) armTimer(c *cpuLocal) {
	var next int64
	if s.sleepers != noThread {
		next = threads[s.sleepers].deadline
	}
	if s.runnable > 0 && s.current != s.idle && (next == 0 || s.sliceEnd < next) {
		next = s.sliceEnd
	}
	if next == c.timerDeadline {
		return
	}
	c.timerDeadline = next
	lapicArm(next)
}

// wakeRestart wakes a blocked thread so that it issues its system call
// again (RIP back over the 2-byte SYSCALL, RAX = the call number), the
// way Linux restarts interrupted calls. Used where the waker cannot
// compute the result itself, such as epoll readiness.
func wakeRestart(i int32) {
	t := &threads[i]
	if t.state != threadBlocked {
		return
	}
	t.ctx.Frame.RIP -= 2
	wake(i, int64(t.syscallNr))
}
