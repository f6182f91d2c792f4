package kernel

import (
	"math/bits"
	"sync/atomic"
)

// Threads and the scheduler.
//
// A thread is a saved Context plus bookkeeping. Threads of the kernel's
// Go runtime (one per runtime M) and of the application are the same
// kind of thing. Each CPU has its own run queue and sleep list and is
// the only one to touch them or to load and save its threads' Contexts;
// there is no global scheduler lock. Another CPU that wakes a thread
// pushes it onto the owner's lock-free inbox and sends an IPI (OSv's
// design); the owner moves it to its run queue at the end of its next
// trap.
//
// Switching threads happens at the end of a trap by copying Contexts
// (finishTrap), so there is no separate context-switch path and no
// per-thread kernel stack: a blocking system call records what it waits
// for, and the thread is resumed later with its result in RAX.

const maxThreads = 256

type threadState = uint32

const (
	threadFree threadState = iota
	threadRunnable
	threadRunning
	threadBlocked
	// threadWaking: a waker won the race to wake it and is queueing it.
	threadWaking
	threadIdle
	// threadExiting: the thread has called exit but its CPU still runs
	// on its Context; the slot becomes threadFree once the CPU has
	// switched away (switchThreads), so a new thread cannot take the
	// slot and then have the dead thread's registers saved over it.
	threadExiting
)

type waitReason uint8

const (
	waitNone waitReason = iota
	waitFutex
	waitSleep
	waitEpoll
	// waitServer: an application thread whose call the server is
	// serving. A signal does not wake it: it asks the server to
	// interrupt the call (interruptServed), which then completes.
	waitServer
	// waitServerIdle: a server thread waiting for requests.
	waitServerIdle
	// waitPoll: poll/ppoll with nothing ready; restarted when an fd
	// changes.
	waitPoll
)

type thread struct {
	ctx   Context
	state atomic.Uint32
	wait  waitReason
	proc  uint8 // index into procs
	cpu   int32
	tid   int32
	// next links the thread into its CPU's run queue or a futex queue.
	next int32
	// inboxNext links it into another CPU's wakeup inbox.
	inboxNext int32
	// sleepNext links it into its CPU's deadline-ordered sleep list.
	sleepNext int32
	sleeping  bool
	deadline  int64 // monotonic ns, 0 = none
	// timeoutResult is what the blocked call returns if the deadline
	// passes first.
	timeoutResult int64
	// The waker's verdict, applied by the owning CPU when it resumes
	// the thread: the result, or "issue the call again".
	wakeResult  int64
	wakeRestart bool
	woken       bool
	futexAddr   uintptr
	futexBitset uint32
	epollFD     int32
	syscallNr   uint64
	// req is the call queued for the server (server.go); reqSeq tells a
	// stale completion from the current one.
	req    Request
	reqSeq uint32
	// intrSeq is the request a signal asked the server to interrupt,
	// intrQueued that the thread is in the interrupts queue (both under
	// requests.lock; server.go).
	intrSeq    uint32
	intrQueued bool
	// restartPending: RAX holds errRestartSys, the result of a call a
	// signal interrupted; the signal's delivery decides between
	// restarting the call and EINTR (finishRestart).
	restartPending bool

	sigMask    uint64
	sigPending atomic.Uint64
	// sigSource says what sent each pending signal (sigqueue.go), by
	// signal number - 1; under sigLock.
	sigSource [numSig]int32
	altStack  sigAltStack
	clearTID  uintptr

	switches uint64
	cpuNanos int64
	lastRun  int64
}

var (
	threads  [maxThreads]thread
	threadMu spinLock
	nextTID  int32 = 1
	// nextCPU spreads new threads over the CPUs.
	nextCPU atomic.Uint32
	// threadsHigh is one past the highest slot ever claimed: newThread
	// takes the lowest free slot, so scans of the table for waiters stop
	// here instead of covering all maxThreads slots.
	threadsHigh atomic.Int32
)

const noThread = -1

// newThread claims a free slot, or returns noThread. The slot is in
// threadBlocked until the caller makes it runnable.
func newThread() int32 {
	threadMu.lock()
	defer threadMu.unlock()
	for i := range threads {
		t := &threads[i]
		if t.state.Load() == threadFree {
			t.ctx.Frame = Frame{}
			t.wait, t.cpu, t.tid, t.proc = waitNone, 0, nextTID, procKernel
			t.next, t.inboxNext, t.sleepNext = noThread, noThread, noThread
			t.sleeping, t.deadline, t.wakeRestart, t.woken = false, 0, false, false
			t.restartPending = false
			t.futexAddr, t.sigMask, t.clearTID = 0, 0, 0
			t.sigPending.Store(0)
			t.sigSource = [numSig]int32{}
			t.altStack = sigAltStack{}
			t.switches, t.cpuNanos, t.lastRun = 0, 0, 0
			t.state.Store(threadBlocked)
			nextTID++
			if int32(i) >= threadsHigh.Load() {
				threadsHigh.Store(int32(i) + 1)
			}
			return int32(i)
		}
	}
	return noThread
}

// placeThread picks the CPU a new thread runs on: round robin.
func placeThread() int32 {
	return int32(nextCPU.Add(1) % uint32(cpuCount))
}

// threadByTID finds a live thread.
func threadByTID(tid int32) (*thread, int32) {
	for i := range threads[:threadsHigh.Load()] {
		s := threads[i].state.Load()
		if s != threadFree && s != threadIdle && s != threadExiting && threads[i].tid == tid {
			return &threads[i], int32(i)
		}
	}
	return nil, noThread
}

// scheduler is one CPU's run queue and sleep list. Only its CPU touches
// it, with interrupts off; other CPUs reach it through inbox.
type scheduler struct {
	current     int32
	idle        int32
	head, tail  int32
	runnable    int
	sleepers    int32
	sliceEnd    int64
	needResched bool
	// inbox is a lock-free stack of threads woken by other CPUs
	// (pushed with CAS, taken whole with a swap).
	inbox atomic.Int32
	// idleNow is set while the CPU runs its idle thread; a busy CPU
	// claims it (CAS to false) before handing it a thread.
	idleNow atomic.Bool
	// polling is 1 while the idle thread polls inbox (idleLoop): a
	// thread pushed there is seen without an IPI. Every trap taken
	// from the idle thread clears it first (trap), so it is never left
	// set while another thread runs.
	polling atomic.Uint32
}

// idlePollSpins is how many rounds the idle thread polls its inbox
// before halting (0: halt at once). The default measured best under
// TCG (docs/network.md); --idle-poll sets it.
var idlePollSpins uint64 = 20000

// timeSlice is how long a thread runs before another runnable thread on
// the same CPU gets a turn.
const timeSlice = 10_000_000 // 10 ms

func (s *scheduler) init(idle int32) {
	s.current, s.idle = idle, idle
	s.head, s.tail, s.sleepers = noThread, noThread, noThread
	s.inbox.Store(noThread)
}

// enqueue appends thread i to the run queue (owner CPU only).
func (s *scheduler) enqueue(i int32) {
	t := &threads[i]
	if t.sleeping {
		s.removeSleeper(i)
	}
	t.state.Store(threadRunnable)
	t.next = noThread
	if s.tail == noThread {
		s.head = i
	} else {
		threads[s.tail].next = i
	}
	s.tail = i
	s.runnable++
	if s.current == s.idle {
		s.needResched = true
	}
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

// makeRunnable queues thread i on its CPU, from any CPU.
func makeRunnable(i int32) {
	t := &threads[i]
	target := &cpus[t.cpu]
	if target == thisCPU() {
		target.sched.enqueue(i)
		return
	}
	pushInbox(target, i)
}

// pushInbox hands thread i to CPU target.
func pushInbox(target *cpuLocal, i int32) {
	t := &threads[i]
	for {
		head := target.sched.inbox.Load()
		t.inboxNext = head
		if target.sched.inbox.CompareAndSwap(head, i) {
			break
		}
	}
	// The IPI makes the owner trap and drain its inbox now rather than
	// at its next timer tick (or never, if it is halted); it goes out
	// as this trap ends. An idle owner still polling sees the push.
	if target.sched.polling.Load() == 0 {
		thisCPU().wakeIPIs |= 1 << target.id
	}
}

// sendWakeIPIs sends the wake-up IPIs this CPU's trap owes (see
// cpuLocal.wakeIPIs). It runs last in finishTrap, after every lock
// the trap took is released.
func sendWakeIPIs(c *cpuLocal) {
	for m := c.wakeIPIs; m != 0; m &= m - 1 {
		c.ipis++
		sendIPI(cpus[bits.TrailingZeros64(m)].apicID, vecWakeup)
	}
	c.wakeIPIs = 0
}

// balance gives queued threads to idle CPUs. Threads only move while
// queued (their Context saved), and only their current owner moves
// them, so every Context is still touched by one CPU at a time. This is
// push-only balancing: a CPU with work to spare offers it at its next
// trap (at the latest when its time slice ends).
func (s *scheduler) balance(c *cpuLocal) {
	for k := 0; k < cpuCount && s.runnable > 0; k++ {
		o := &cpus[k]
		if o == c || !o.sched.idleNow.CompareAndSwap(true, false) {
			continue
		}
		i := s.dequeue()
		threads[i].cpu = int32(k)
		pushInbox(o, i)
	}
}

// drainInbox moves threads woken by other CPUs to the run queue.
func (s *scheduler) drainInbox() {
	if s.inbox.Load() == noThread {
		return
	}
	for i := s.inbox.Swap(noThread); i != noThread; {
		next := threads[i].inboxNext
		threads[i].inboxNext = noThread
		s.enqueue(i)
		i = next
	}
}

// block parks the running thread i until woken or the deadline (0:
// none). result is what the system call returns if nothing else sets it.
func (s *scheduler) block(i int32, f *Frame, why waitReason, deadline int64, result, timeoutResult int64) {
	t := &threads[i]
	t.wait = why
	if why == waitPoll || why == waitEpoll {
		pollWaiters[i/64].Or(1 << (i % 64))
	}
	f.RAX = uint64(result)
	t.timeoutResult = timeoutResult
	t.deadline = deadline
	t.wakeRestart = false
	if deadline != 0 {
		s.addSleeper(i)
	}
	t.state.Store(threadBlocked)
	s.needResched = true
}

// wake makes a blocked thread runnable with result in RAX. It reports
// false if the thread was not blocked (someone else woke it first).
func wake(i int32, result int64) bool {
	t := &threads[i]
	if !t.state.CompareAndSwap(threadBlocked, threadWaking) {
		return false
	}
	leavePollWait(i)
	t.wait = waitNone
	t.wakeResult = result
	t.wakeRestart = false
	t.woken = true
	makeRunnable(i)
	return true
}

// wakeRestart wakes a blocked thread so that it issues its system call
// again (RIP back over the 2-byte SYSCALL, RAX = the call number), the
// way Linux restarts interrupted calls. Used where the waker cannot
// compute the result itself, such as epoll readiness.
func wakeRestart(i int32) {
	t := &threads[i]
	if !t.state.CompareAndSwap(threadBlocked, threadWaking) {
		return
	}
	leavePollWait(i)
	t.wait = waitNone
	t.wakeRestart = true
	t.woken = true
	makeRunnable(i)
}

// pollWaiters has a bit for each thread blocked in poll, ppoll or
// epoll_wait (and blocking ring calls, which wait as poll does). block
// sets it, under fdLock as every such wait begins; waking clears it.
// Readiness reports wake these threads, and find them from the bits
// instead of scanning the thread table: reports are on the data path.
var pollWaiters [maxThreads / 64]atomic.Uint64

func leavePollWait(i int32) {
	if w := threads[i].wait; w == waitPoll || w == waitEpoll {
		pollWaiters[i/64].And(^uint64(1 << (i % 64)))
	}
}

// nextPollWaiter returns the lowest thread at or after from with its
// pollWaiters bit set, or noThread. Callers check the thread's state:
// a bit may outlive its wait by a moment.
func nextPollWaiter(from int32) int32 {
	for w := from / 64; w < int32(len(pollWaiters)); w++ {
		b := pollWaiters[w].Load()
		if w == from/64 {
			b &^= 1<<(from%64) - 1
		}
		if b != 0 {
			return w*64 + int32(bits.TrailingZeros64(b))
		}
	}
	return noThread
}

// applyWake puts the waker's verdict into the thread's registers.
func applyWake(t *thread, f *Frame) {
	if !t.woken {
		return // preempted, not woken: registers are as they were
	}
	t.woken = false
	if t.wakeRestart {
		f.RIP -= 2
		f.RAX = t.syscallNr
		t.wakeRestart = false
		return
	}
	f.RAX = uint64(t.wakeResult)
	if t.wakeResult == errnoResult(EINTR) {
		sleepInterrupted(t, f)
	}
	t.restartPending = t.wakeResult == errRestartSys
	raiseSIGPIPE(t, f, t.syscallNr, t.wakeResult)
}

func (s *scheduler) addSleeper(i int32) {
	d := threads[i].deadline
	p := &s.sleepers
	for *p != noThread && threads[*p].deadline <= d {
		p = &threads[*p].sleepNext
	}
	threads[i].sleepNext = *p
	threads[i].sleeping = true
	*p = i
}

func (s *scheduler) removeSleeper(i int32) {
	for p := &s.sleepers; *p != noThread; p = &threads[*p].sleepNext {
		if *p == i {
			*p = threads[i].sleepNext
			break
		}
	}
	threads[i].sleepNext = noThread
	threads[i].sleeping = false
}

// timerFired wakes threads whose deadline passed and asks for a switch
// when the running thread's slice is over.
func (s *scheduler) timerFired(c *cpuLocal) {
	c.timerDeadline = 0
	now := nanotime()
	for s.sleepers != noThread && threads[s.sleepers].deadline <= now {
		i := s.sleepers
		t := &threads[i]
		s.removeSleeper(i)
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

// finishTrap runs at the end of every trap from thread context: take in
// remote wakeups, switch threads if needed, deliver signals, and arm the
// timer.
func (s *scheduler) finishTrap(c *cpuLocal, ctx *Context) {
	if c.raiseServer {
		// First, so that a netpoller thread it wakes on this CPU is
		// runnable before the switch below.
		c.raiseServer = false
		raiseServerEventfd()
	}
	s.drainInbox()
	if s.needResched {
		s.needResched = false
		s.switchThreads(ctx)
	}
	if s.runnable > 0 && cpuCount > 1 {
		s.balance(c)
	}
	if t := &threads[s.current]; s.current != s.idle {
		if t.sigPending.Load()&^t.sigMask != 0 {
			deliverPending(t, ctx)
		}
		if t.restartPending {
			// No handler ran (the signal was ignored, or went
			// elsewhere): the call restarts, as on Linux.
			finishRestart(t, &ctx.Frame, true)
		}
	}
	s.armTimer(c)
	if c.wakeIPIs != 0 {
		sendWakeIPIs(c)
	}
}

// switchThreads saves the running thread into its slot and loads the
// next runnable one (or the idle thread) into ctx.
func (s *scheduler) switchThreads(ctx *Context) {
	cur := s.current
	t := &threads[cur]
	if t.state.Load() == threadRunning {
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
	now := nanotime()
	s.sliceEnd = now + timeSlice
	if next == cur {
		// Blocked and woken again before it was even saved.
		if cur != s.idle {
			t.state.Store(threadRunning)
			applyWake(t, &ctx.Frame)
		}
		return
	}
	completeFX(ctx) // now ctx.FPU's x87 and AVX parts are what the CPU holds
	switch st := t.state.Load(); st {
	case threadExiting:
		// Off its Context now: the slot may be reused.
		t.state.Store(threadFree)
	case threadFree:
	default:
		t.ctx = *ctx
		t.cpuNanos += now - t.lastRun
	}
	n := &threads[next]
	if next != s.idle {
		applyWake(n, &n.ctx.Frame)
		n.state.Store(threadRunning)
	}
	load := fpuLiveDiffers(&n.ctx.FPU, &ctx.FPU)
	*ctx = n.ctx
	if load {
		loadFX(ctx)
	}
	n.switches++
	thisCPU().switches++
	n.lastRun = now
	s.current = next
	s.idleNow.Store(next == s.idle)
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
	// An armed deadline at or before next stays armed, and so does one
	// no longer needed (next 0): firing early costs one interrupt that
	// re-arms, while reprogramming the LAPIC on every switch (the slice
	// end moves each time) costs a device access per switch, a VM exit
	// under KVM. Sleepers need the timer no later than their deadline;
	// the slice end is only a fairness bound.
	if c.timerDeadline != 0 && (next == 0 || c.timerDeadline <= next) && c.timerDeadline > nanotime() {
		return
	}
	c.timerDeadline = next
	c.timerArms++
	lapicArm(next)
}
