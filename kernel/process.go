package kernel

// Processes. A gosv machine runs two: the kernel's own Go runtime and the
// one application, in one address space (as in OSv). What Linux keeps
// per process is kept per process here too, so that the application's
// Go runtime (or libc) and the kernel's do not see each other's signal
// handlers, file descriptors or program break.

import "sync/atomic"

const (
	procKernel = 0
	procApp    = 1
	numProcs   = 2
)

type process struct {
	pid        int32
	sigActions [numSig + 1]sigAction
	fds        [maxFDs]fdEntry
	// The program break: brkStart is the end of the executable's
	// image, brk the current break.
	brkStart, brk uintptr
	// started is set once the process has a thread.
	started bool
	prctl   prctlState
	// readyGen counts what can make one of the process's epoll items
	// ready: marks of pending events (every readiness report and
	// eventfd change makes one) and changes to its sets. It moves under
	// fdLock. Per process, so that the application's socket traffic
	// does not make the kernel runtime's idle netpoller sets look busy
	// (epollIdle).
	readyGen atomic.Uint64
}

var procs [numProcs]process

// Process IDs: the application sees itself as pid 1, like a container's
// init; the kernel's runtime is pid 0.
func initProcesses() {
	procs[procKernel].pid = 0
	procs[procApp].pid = 1
	for i := range procs {
		for fd := 0; fd < 3; fd++ {
			procs[i].fds[fd] = fdEntry{kind: fdConsole}
		}
	}
	procs[procKernel].started = true
}

func procOf(t *thread) *process { return &procs[t.proc] }

// index returns p's slot in procs.
func (p *process) index() int {
	if p == &procs[procApp] {
		return procApp
	}
	return procKernel
}
