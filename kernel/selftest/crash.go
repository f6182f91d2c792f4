package selftest

import (
	"errors"
	"fmt"
	"time"

	"gosv/kernel"
)

// crashPanic panics in a goroutine nobody recovers: the Go runtime
// prints the panic and the goroutine stack, then exits with status 2,
// which must power the machine off with that status.
func crashPanic() error {
	go func() { panic("selftest crash-panic") }()
	time.Sleep(5 * time.Second)
	return errors.New("unrecovered panic did not stop the machine")
}

// crashReboot restarts the machine.
func crashReboot() error {
	fmt.Println("gosv: rebooting")
	kernel.Reboot()
	return errors.New("reboot returned")
}

// crashCore faults inside the kernel's core: the machine must print a
// fatal report and power off with status 0x70.
func crashCore() error {
	kernel.CrashCore()
	return errors.New("fault in the core did not stop the machine")
}
