package kernel

import "syscall"

// Debug operations for tests of the fatal path.
const debugFaultInCore = 1

// debugSyscall serves sysGosvDebug.
func debugSyscall(op uint64) int64 {
	if op == debugFaultInCore {
		debugFault()
	}
	return errnoResult(EINVAL)
}

// debugFault reads an unmapped address in trap context, which must end
// in a fatal report naming this function.
//
//go:noinline
func debugFault() {
	p := (*uint64)(ptrAt(0xdead0000))
	fatalSink = *p
}

var fatalSink uint64

// CrashCore makes the core take a fault, for tests: the machine prints a
// fatal report and powers off with status 0x70.
func CrashCore() {
	syscall.Syscall(sysGosvDebug, debugFaultInCore, 0, 0)
}
