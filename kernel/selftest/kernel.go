package selftest

import (
	"bytes"
	"errors"
	"fmt"
	"syscall"

	"gosv/kernel"
)

// testENOSYS: a system call gosv does not implement fails with ENOSYS
// (fork among them: there is one process, as in OSv), and is logged
// once, by name.
func testENOSYS() error {
	for i := 0; i < 2; i++ {
		_, _, errno := syscall.RawSyscall(syscall.SYS_FORK, 0, 0, 0)
		if errno != syscall.ENOSYS {
			return fmt.Errorf("fork: errno %v, want ENOSYS", errno)
		}
	}
	const msg = "unimplemented system call 57 (fork): ENOSYS"
	if n := bytes.Count(kernel.Dmesg(), []byte(msg)); n != 1 {
		return fmt.Errorf("%q logged %d times, want once", msg, n)
	}
	return nil
}

// testDmesg: the kernel log holds what was printed since boot.
func testDmesg() error {
	log := kernel.Dmesg()
	if !bytes.Contains(log, []byte("gosv: boot time ")) {
		return errors.New("kernel log lacks the boot banner")
	}
	fmt.Println("selftest: dmesg marker 7f3a")
	if !bytes.Contains(kernel.Dmesg(), []byte("selftest: dmesg marker 7f3a")) {
		return errors.New("kernel log lacks a line just printed")
	}
	return nil
}
