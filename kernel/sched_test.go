package kernel

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// Host tests of the scheduler's run queue and sleep list, which link the
// global threads array by index, and of small pure helpers (futexHash,
// unixSeconds, the line formatter). Nothing here may reach thisCPU (an
// MSR read), the LAPIC or the UART: makeRunnable, wake, pushInbox,
// balance, finishTrap, switchThreads, timerFired and line.print are for
// the in-kernel self-tests.

// Thread slots the tests use; schedIdle is the scheduler's idle thread.
const (
	schedIdle  = maxThreads - 16
	schedFirst = schedIdle + 1
)

// resetThreads clears the thread slots the test uses, now and when it
// ends (threads is a global).
func resetThreads(t *testing.T) {
	t.Helper()
	reset := func() {
		for i := schedIdle; i < maxThreads; i++ {
			threads[i] = thread{}
			threads[i].next, threads[i].inboxNext, threads[i].sleepNext = noThread, noThread, noThread
		}
	}
	reset()
	t.Cleanup(reset)
}

// newSched returns a scheduler whose idle thread is schedIdle, currently
// running the idle thread.
func newSched(t *testing.T) *scheduler {
	resetThreads(t)
	s := new(scheduler)
	s.init(schedIdle)
	return s
}

// schedSlot is test thread n.
func schedSlot(n int) int32 { return int32(schedFirst + n) }

// runQueue walks the run queue from head.
func runQueue(t *testing.T, s *scheduler) []int32 {
	t.Helper()
	var q []int32
	for i := s.head; i != noThread; i = threads[i].next {
		q = append(q, i)
		if len(q) > maxThreads {
			t.Fatal("run queue has a cycle")
		}
	}
	if len(q) > 0 && s.tail != q[len(q)-1] || len(q) == 0 && s.tail != noThread {
		t.Errorf("tail = %d, queue %v", s.tail, q)
	}
	if s.runnable != len(q) {
		t.Errorf("runnable = %d, queue holds %d", s.runnable, len(q))
	}
	return q
}

// sleepList walks the sleep list.
func sleepList(t *testing.T, s *scheduler) []int32 {
	t.Helper()
	var l []int32
	for i := s.sleepers; i != noThread; i = threads[i].sleepNext {
		l = append(l, i)
		if !threads[i].sleeping {
			t.Errorf("thread %d on the sleep list is not marked sleeping", i)
		}
		if len(l) > maxThreads {
			t.Fatal("sleep list has a cycle")
		}
	}
	return l
}

func schedListDiff(want, got []int32) string {
	if slices.Equal(want, got) {
		return ""
	}
	return fmt.Sprintf("-\t%v\n+\t%v", want, got)
}

func TestInit(t *testing.T) {
	s := newSched(t)
	s.runnable = 5
	s.init(schedIdle)
	if s.current != schedIdle || s.idle != schedIdle || s.head != noThread || s.tail != noThread ||
		s.sleepers != noThread || s.inbox.Load() != noThread {
		t.Errorf("after init: current %d idle %d head %d tail %d sleepers %d inbox %d",
			s.current, s.idle, s.head, s.tail, s.sleepers, s.inbox.Load())
	}
}

func TestRunQueueFIFO(t *testing.T) {
	s := newSched(t)
	if i := s.dequeue(); i != noThread {
		t.Fatalf("dequeue from an empty queue = %d", i)
	}
	order := []int32{schedSlot(3), schedSlot(0), schedSlot(7), schedSlot(1)}
	for n, i := range order {
		threads[i].state.Store(threadWaking)
		threads[i].next = 99 // stale link: enqueue must clear it
		s.enqueue(i)
		if st := threads[i].state.Load(); st != threadRunnable {
			t.Errorf("state after enqueue = %d, want runnable", st)
		}
		if s.runnable != n+1 {
			t.Errorf("runnable = %d after %d enqueues", s.runnable, n+1)
		}
	}
	if !s.needResched {
		t.Errorf("enqueue while idle did not ask for a reschedule")
	}
	if d := schedListDiff(order, runQueue(t, s)); d != "" {
		t.Errorf("run queue (-want +got):\n%s", d)
	}
	for n, want := range order {
		if i := s.dequeue(); i != want {
			t.Fatalf("dequeue #%d = %d, want %d", n, i, want)
		}
		if threads[want].next != noThread {
			t.Errorf("dequeued thread %d still linked to %d", want, threads[want].next)
		}
		if s.runnable != len(order)-n-1 {
			t.Errorf("runnable = %d after %d dequeues", s.runnable, n+1)
		}
		runQueue(t, s)
	}
	if i := s.dequeue(); i != noThread || s.head != noThread || s.tail != noThread {
		t.Errorf("drained queue: dequeue = %d, head %d, tail %d", i, s.head, s.tail)
	}

	// Interleaved: the queue refills after draining.
	s.enqueue(schedSlot(1))
	s.enqueue(schedSlot(2))
	if i := s.dequeue(); i != schedSlot(1) {
		t.Errorf("dequeue = %d, want %d", i, schedSlot(1))
	}
	s.enqueue(schedSlot(3))
	s.enqueue(schedSlot(1))
	if d := schedListDiff([]int32{schedSlot(2), schedSlot(3), schedSlot(1)}, runQueue(t, s)); d != "" {
		t.Errorf("run queue (-want +got):\n%s", d)
	}
}

func TestEnqueueWhileBusy(t *testing.T) {
	s := newSched(t)
	s.current = schedSlot(0) // not idle: a new arrival waits for the slice
	s.enqueue(schedSlot(1))
	if s.needResched {
		t.Errorf("enqueue while running a thread asked for a reschedule")
	}
}

func TestSleepList(t *testing.T) {
	s := newSched(t)
	add := func(n int, deadline int64) {
		threads[schedSlot(n)].deadline = deadline
		s.addSleeper(schedSlot(n))
	}
	add(0, 300)
	add(1, 100)
	add(2, 200)
	add(3, 100) // tie: after slot 1
	add(4, 400)
	add(5, 50)
	add(6, 300) // tie: after slot 0
	add(7, 100) // tie: after slot 3
	want := []int32{schedSlot(5), schedSlot(1), schedSlot(3), schedSlot(7), schedSlot(2), schedSlot(0), schedSlot(6), schedSlot(4)}
	if d := schedListDiff(want, sleepList(t, s)); d != "" {
		t.Fatalf("sleep list (-want +got):\n%s", d)
	}

	remove := func(n int) {
		s.removeSleeper(schedSlot(n))
		want = slices.DeleteFunc(want, func(i int32) bool { return i == schedSlot(n) })
		if threads[schedSlot(n)].sleeping || threads[schedSlot(n)].sleepNext != noThread {
			t.Errorf("removed thread %d: sleeping %v, sleepNext %d", schedSlot(n), threads[schedSlot(n)].sleeping, threads[schedSlot(n)].sleepNext)
		}
		if d := schedListDiff(want, sleepList(t, s)); d != "" {
			t.Fatalf("sleep list after removing %d (-want +got):\n%s", schedSlot(n), d)
		}
	}
	remove(5) // head
	remove(4) // tail
	remove(3) // middle
	remove(3) // not on the list: no change
	remove(8) // never added

	// A re-added thread goes after the others with its deadline.
	add(3, 100)
	want = []int32{schedSlot(1), schedSlot(7), schedSlot(3), schedSlot(2), schedSlot(0), schedSlot(6)}
	if d := schedListDiff(want, sleepList(t, s)); d != "" {
		t.Fatalf("sleep list (-want +got):\n%s", d)
	}
	for _, i := range slices.Clone(want) {
		remove(int(i - schedFirst))
	}
	if s.sleepers != noThread {
		t.Errorf("sleepers = %d after removing all", s.sleepers)
	}
}

func TestEnqueueRemovesSleeper(t *testing.T) {
	s := newSched(t)
	for n, d := range []int64{10, 20, 30} {
		threads[schedSlot(n)].deadline = d
		s.addSleeper(schedSlot(n))
	}
	s.enqueue(schedSlot(1))
	if threads[schedSlot(1)].sleeping {
		t.Errorf("enqueued thread still marked sleeping")
	}
	if d := schedListDiff([]int32{schedSlot(0), schedSlot(2)}, sleepList(t, s)); d != "" {
		t.Errorf("sleep list after enqueue (-want +got):\n%s", d)
	}
	if d := schedListDiff([]int32{schedSlot(1)}, runQueue(t, s)); d != "" {
		t.Errorf("run queue (-want +got):\n%s", d)
	}
	s.enqueue(schedSlot(0))
	s.enqueue(schedSlot(2))
	if s.sleepers != noThread {
		t.Errorf("sleep list not empty: %v", sleepList(t, s))
	}
	if d := schedListDiff([]int32{schedSlot(1), schedSlot(0), schedSlot(2)}, runQueue(t, s)); d != "" {
		t.Errorf("run queue (-want +got):\n%s", d)
	}
}

func TestBlock(t *testing.T) {
	s := newSched(t)
	var f Frame
	s.block(schedSlot(0), &f, waitFutex, 0, 7, -11)
	th := &threads[schedSlot(0)]
	if th.state.Load() != threadBlocked || th.wait != waitFutex || f.RAX != 7 || th.timeoutResult != -11 || !s.needResched {
		t.Errorf("block: state %d wait %d RAX %d timeoutResult %d needResched %v",
			th.state.Load(), th.wait, f.RAX, th.timeoutResult, s.needResched)
	}
	if th.sleeping || s.sleepers != noThread {
		t.Errorf("block without a deadline put the thread to sleep")
	}
	s.block(schedSlot(1), &f, waitSleep, 500, 0, 0)
	s.block(schedSlot(2), &f, waitSleep, 100, 0, 0)
	if d := schedListDiff([]int32{schedSlot(2), schedSlot(1)}, sleepList(t, s)); d != "" {
		t.Errorf("sleep list (-want +got):\n%s", d)
	}
}

func TestDrainInbox(t *testing.T) {
	s := newSched(t)
	s.drainInbox() // empty: nothing happens
	runQueue(t, s)
	// The inbox is a stack: slot 2 was pushed last.
	threads[schedSlot(2)].inboxNext = schedSlot(0)
	threads[schedSlot(0)].inboxNext = schedSlot(1)
	threads[schedSlot(1)].inboxNext = noThread
	threads[schedSlot(0)].deadline = 10
	s.addSleeper(schedSlot(0))
	s.inbox.Store(schedSlot(2))
	s.drainInbox()
	if d := schedListDiff([]int32{schedSlot(2), schedSlot(0), schedSlot(1)}, runQueue(t, s)); d != "" {
		t.Errorf("run queue (-want +got):\n%s", d)
	}
	if s.inbox.Load() != noThread || s.sleepers != noThread {
		t.Errorf("inbox %d, sleepers %d after drain", s.inbox.Load(), s.sleepers)
	}
	for n := range 3 {
		if threads[schedSlot(n)].inboxNext != noThread {
			t.Errorf("thread %d still linked in the inbox", schedSlot(n))
		}
	}
}

func TestApplyWake(t *testing.T) {
	resetThreads(t)
	th := &threads[schedSlot(0)]
	f := Frame{RIP: 0x1002, RAX: 1}
	applyWake(th, &f) // not woken: unchanged
	if f.RIP != 0x1002 || f.RAX != 1 {
		t.Errorf("applyWake of a preempted thread changed %+v", f)
	}
	th.woken, th.wakeResult = true, -4
	applyWake(th, &f)
	if f.RIP != 0x1002 || int64(f.RAX) != -4 || th.woken {
		t.Errorf("applyWake result: RIP %#x RAX %d woken %v", f.RIP, int64(f.RAX), th.woken)
	}
	th.woken, th.wakeRestart, th.syscallNr = true, true, 232
	applyWake(th, &f)
	if f.RIP != 0x1000 || f.RAX != 232 || th.woken || th.wakeRestart {
		t.Errorf("applyWake restart: RIP %#x RAX %d woken %v restart %v", f.RIP, f.RAX, th.woken, th.wakeRestart)
	}
}

func TestFutexHash(t *testing.T) {
	base := uintptr(unsafe.Pointer(&futexTable[0]))
	size := unsafe.Sizeof(futexTable[0])
	used := make(map[uintptr]bool)
	check := func(addr uintptr) {
		b := uintptr(unsafe.Pointer(futexHash(addr)))
		if b < base || b >= base+futexBuckets*size || (b-base)%size != 0 {
			t.Fatalf("futexHash(%#x) = %#x, outside futexTable [%#x, %#x)", addr, b, base, base+futexBuckets*size)
		}
		used[(b-base)/size] = true
	}
	for _, a := range []uintptr{0, 4, 0xfff, 0x1000, 0xc000010000, kernelVirtBase, userMax, mmapTop - 4,
		1<<63 - 1, 1 << 63, ^uintptr(0), ^uintptr(3)} {
		check(a)
	}
	// Neighbouring words of one page spread over every bucket.
	clear(used)
	for a := uintptr(0xc000000000); a < 0xc000000000+4*futexBuckets; a += 4 {
		check(a)
	}
	if len(used) != futexBuckets {
		t.Errorf("%d consecutive words use %d of %d buckets", futexBuckets, len(used), futexBuckets)
	}
	// So do the same word of neighbouring pages (one futex per page).
	clear(used)
	for a := uintptr(0x7f0000000100); a < 0x7f0000000100+futexBuckets*pageSize; a += pageSize {
		check(a)
	}
	if len(used) != futexBuckets {
		t.Errorf("%d pages use %d of %d buckets", futexBuckets, len(used), futexBuckets)
	}
	// And the hash is stable.
	if futexHash(0xc000001234) != futexHash(0xc000001234) {
		t.Errorf("futexHash is not deterministic")
	}
}

func TestUnixSeconds(t *testing.T) {
	tests := []struct {
		y, m, d, hh, mm, ss int
	}{
		{1970, 1, 1, 0, 0, 0},
		{1970, 1, 1, 0, 0, 1},
		{1970, 3, 1, 0, 0, 0},
		{1970, 12, 31, 23, 59, 59},
		{1972, 2, 29, 12, 0, 0}, // leap
		{1972, 3, 1, 0, 0, 0},
		{1999, 12, 31, 23, 59, 59},
		{2000, 1, 1, 0, 0, 0},
		{2000, 2, 29, 0, 0, 0}, // leap (divisible by 400)
		{2000, 3, 1, 0, 0, 0},
		{2001, 2, 28, 23, 59, 59},
		{2001, 3, 1, 0, 0, 0},
		{2024, 2, 29, 13, 37, 42},
		{2024, 12, 31, 23, 59, 59},
		{2038, 1, 19, 3, 14, 7}, // 2^31 - 1
		{2038, 1, 19, 3, 14, 8}, // 2^31
		{2099, 12, 31, 23, 59, 59},
		{2100, 2, 28, 23, 59, 59}, // 2100 is not a leap year
		{2100, 3, 1, 0, 0, 0},
		{2106, 2, 7, 6, 28, 16}, // 2^32
		{2400, 2, 29, 0, 0, 0},
		{2400, 12, 31, 23, 59, 59},
	}
	for _, tc := range tests {
		want := time.Date(tc.y, time.Month(tc.m), tc.d, tc.hh, tc.mm, tc.ss, 0, time.UTC).Unix()
		got := unixSeconds(int64(tc.y), int64(tc.m), int64(tc.d), int64(tc.hh), int64(tc.mm), int64(tc.ss))
		if got != want {
			t.Errorf("unixSeconds(%04d-%02d-%02d %02d:%02d:%02d) = %d, want %d",
				tc.y, tc.m, tc.d, tc.hh, tc.mm, tc.ss, got, want)
		}
	}
	if got := unixSeconds(2038, 1, 19, 3, 14, 7); got != math.MaxInt32 {
		t.Errorf("2038-01-19 03:14:07 = %d, want 2^31-1", got)
	}
	// Every day the RTC can report (a century byte up to 0x99 BCD, or
	// 2000 + year), at noon.
	for d := time.Date(1970, 1, 1, 12, 0, 0, 0, time.UTC); d.Year() < 2400; d = d.AddDate(0, 0, 1) {
		got := unixSeconds(int64(d.Year()), int64(d.Month()), int64(d.Day()), 12, 0, 0)
		if got != d.Unix() {
			t.Fatalf("unixSeconds(%s) = %d, want %d", d.Format(time.DateOnly), got, d.Unix())
		}
	}
}

func lineOf(f func(l *line)) string {
	var l line
	f(&l)
	return string(l.buf[:l.n])
}

func TestLine(t *testing.T) {
	tests := []struct {
		name string
		f    func(l *line)
		want string
	}{
		{"x 0", func(l *line) { l.x(0) }, "0x0"},
		{"x 9", func(l *line) { l.x(9) }, "0x9"},
		{"x 0xa", func(l *line) { l.x(0xa) }, "0xa"},
		{"x 0xdeadbeef", func(l *line) { l.x(0xdeadbeef) }, "0xdeadbeef"},
		{"x 0x10", func(l *line) { l.x(0x10) }, "0x10"},
		{"x max", func(l *line) { l.x(math.MaxUint64) }, "0xffffffffffffffff"},
		{"x kernel address", func(l *line) { l.x(directBase) }, "0xffff800000000000"},
		{"d 0", func(l *line) { l.d(0) }, "0"},
		{"d 7", func(l *line) { l.d(7) }, "7"},
		{"d -1", func(l *line) { l.d(-1) }, "-1"},
		{"d 1234567890", func(l *line) { l.d(1234567890) }, "1234567890"},
		{"d -1000", func(l *line) { l.d(-1000) }, "-1000"},
		{"d max", func(l *line) { l.d(math.MaxInt64) }, "9223372036854775807"},
		{"d min", func(l *line) { l.d(math.MinInt64) }, "-9223372036854775808"},
		{"u 0", func(l *line) { l.u(0) }, "0"},
		{"u 10", func(l *line) { l.u(10) }, "10"},
		{"u max", func(l *line) { l.u(math.MaxUint64) }, "18446744073709551615"},
		{"s empty", func(l *line) { l.s("") }, ""},
		{"chain", func(l *line) { l.s("rip=").x(0x401000).s(" n=").d(-3).c(' ').u(42).b([]byte("!")) },
			"rip=0x401000 n=-3 42!"},
	}
	for _, tc := range tests {
		if got := lineOf(tc.f); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLineTruncates(t *testing.T) {
	var l line
	size := len(l.buf)
	long := strings.Repeat("abcdefghij", size/10+5)
	tests := []struct {
		name string
		f    func(l *line)
		want string
	}{
		{"s beyond the buffer", func(l *line) { l.s(long) }, long[:size]},
		{"s then s", func(l *line) { l.s(long[:size-3]).s("xyz12") }, long[:size-3] + "xyz"},
		{"x cut after the prefix", func(l *line) { l.s(long[:size-1]).x(0xabc) }, long[:size-1] + "0"},
		{"x cut in the digits", func(l *line) { l.s(long[:size-4]).x(0xabcdef) }, long[:size-4] + "0xab"},
		{"d cut after the sign", func(l *line) { l.s(long[:size-1]).d(-123) }, long[:size-1] + "-"},
		{"u cut", func(l *line) { l.s(long[:size-2]).u(98765) }, long[:size-2] + "98"},
		{"c on a full buffer", func(l *line) { l.s(long).c('!') }, long[:size]},
		{"b on a full buffer", func(l *line) { l.s(long).b([]byte("!")) }, long[:size]},
		{"exactly full", func(l *line) { l.s(long[:size-2]).u(42) }, long[:size-2] + "42"},
	}
	for _, tc := range tests {
		var l line
		tc.f(&l)
		if l.n > size {
			t.Fatalf("%s: n = %d > %d", tc.name, l.n, size)
		}
		if got := string(l.buf[:l.n]); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestLineNoAlloc checks that formatting never allocates: it runs in
// trap handlers.
func TestLineNoAlloc(t *testing.T) {
	var l line
	allocs := testing.AllocsPerRun(100, func() {
		l.n = 0
		l.s("fault at ").x(0xdeadbeef).s(" cpu ").d(-3).c(' ').u(12345)
	})
	if allocs != 0 {
		t.Errorf("line formatting allocates %v times per call", allocs)
	}
}

func TestNextPollWaiter(t *testing.T) {
	defer func() {
		for i := range pollWaiters {
			pollWaiters[i].Store(0)
		}
	}()
	for _, i := range []int32{3, 63, 64, 200, maxThreads - 1} {
		pollWaiters[i/64].Or(1 << (i % 64))
	}
	var got []int32
	for i := nextPollWaiter(0); i != noThread; i = nextPollWaiter(i + 1) {
		got = append(got, i)
	}
	want := []int32{3, 63, 64, 200, maxThreads - 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("poll waiters %v, want %v", got, want)
	}
	if i := nextPollWaiter(maxThreads); i != noThread {
		t.Errorf("nextPollWaiter(maxThreads) = %d, want noThread", i)
	}
}

func TestWaitName(t *testing.T) {
	for w, want := range map[waitReason]string{
		waitNone: "", waitFutex: "futex", waitSleep: "sleep", waitEpoll: "epoll",
		waitPoll: "poll", waitServerIdle: "requests", waitServer: "server:3",
	} {
		if got := waitName(w, 3); got != want {
			t.Errorf("waitName(%d, 3) = %q, want %q", w, got, want)
		}
	}
}

// TestInterruptedCallResult: what a signal makes a blocked call return
// (interruptResult), and how its delivery settles ERESTARTSYS
// (applyWake marks it, finishRestart restarts the call or makes it
// EINTR).
func TestInterruptedCallResult(t *testing.T) {
	for _, c := range []struct {
		name     string
		nr       uint64
		wait     waitReason
		deadline int64
		want     int64
	}{
		{"ring read", 0, waitPoll, 0, errRestartSys},
		{"eventfd write", 1, waitPoll, 0, errRestartSys},
		{"ring recvmsg", 47, waitPoll, 0, errRestartSys},
		{"poll", 7, waitPoll, 0, -int64(EINTR)},
		{"epoll_wait", 232, waitEpoll, 0, -int64(EINTR)},
		{"nanosleep", 35, waitSleep, 5, -int64(EINTR)},
		{"futex wait", 202, waitFutex, 0, errRestartSys},
		{"futex wait with a timeout", 202, waitFutex, 5, -int64(EINTR)},
	} {
		th := &thread{syscallNr: c.nr, wait: c.wait, deadline: c.deadline}
		if got := interruptResult(th); got != c.want {
			t.Errorf("%s: interruptResult = %d, want %d", c.name, got, c.want)
		}
	}

	for _, c := range []struct {
		name    string
		rax     int64
		restart bool
		wantRIP uint64
		wantRAX int64
	}{
		{"SA_RESTART", errRestartSys, true, 0x1000, 0},
		{"no SA_RESTART", errRestartSys, false, 0x1002, -int64(EINTR)},
		{"result already final", 3, true, 0x1002, 3},
	} {
		resetThreads(t)
		th := &threads[schedSlot(0)]
		th.syscallNr = 0
		th.woken, th.wakeResult = true, c.rax
		f := Frame{RIP: 0x1002}
		applyWake(th, &f)
		if th.restartPending != (c.rax == errRestartSys) {
			t.Errorf("%s: restartPending %v after waking with %d", c.name, th.restartPending, c.rax)
		}
		finishRestart(th, &f, c.restart)
		if f.RIP != c.wantRIP || int64(f.RAX) != c.wantRAX || th.restartPending {
			t.Errorf("%s: RIP %#x RAX %d pending %v, want RIP %#x RAX %d", c.name, f.RIP, int64(f.RAX), th.restartPending, c.wantRIP, c.wantRAX)
		}
	}
}
