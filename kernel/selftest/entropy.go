package selftest

import (
	"bytes"
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"gosv/kernel"
)

const sysGetrandom = 318 // not in package syscall

// testEntropy: getrandom fills buffers with bytes that are not all the
// same and differ between calls. On a CPU without RDRAND, with a
// hardware RNG device present, the bytes come from the pool the device
// fills; the test says which source served it (the virtio-rng boot test
// reads that line).
func testEntropy() error {
	get := func() ([]byte, error) {
		b := make([]byte, 64)
		n, _, errno := syscall.Syscall(sysGetrandom, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0)
		if errno != 0 || int(n) != len(b) {
			return nil, fmt.Errorf("getrandom: %d, %v", n, errno)
		}
		return b, nil
	}
	source := "RDRAND"
	if !kernel.HasRDRAND() {
		// Give a device a moment to fill the pool with what the two
		// calls below take (what it held already may have gone to
		// the kernel's own getrandom calls).
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if fed, used := kernel.EntropyStats(); fed-used >= 128 {
				break
			}
		}
		source = "TSC fallback"
	}
	_, usedBefore := kernel.EntropyStats()
	a, err := get()
	if err != nil {
		return err
	}
	b, err := get()
	if err != nil {
		return err
	}
	if _, used := kernel.EntropyStats(); used >= usedBefore+128 {
		source = "hardware RNG pool"
	}
	if bytes.Equal(a, b) || bytes.Count(a, a[:1]) == len(a) {
		return fmt.Errorf("getrandom returned repeating bytes: %x / %x", a, b)
	}
	fmt.Printf("selftest: entropy from %s\n", source)
	return nil
}
