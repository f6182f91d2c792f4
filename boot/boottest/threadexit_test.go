package boottest

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGoThreadExit runs a Go program that ends 1600 threads while it
// creates others, on two CPUs.
func TestGoThreadExit(t *testing.T) {
	// Regression test: sysExit used to free the exiting thread's slot
	// while its CPU still ran on it; a clone on another CPU could take
	// the slot and then get the dead thread's registers saved over its
	// own (threadExiting in kernel/sched.go).
	dir := t.TempDir()
	bin := filepath.Join(dir, "threadexit")
	wd, _ := os.Getwd()
	Build(t, filepath.Join(wd, "testdata", "threadexit"), []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}, "go", "build", "-o", bin, ".")
	want, wantCode := Native(t, dir, nil, bin)
	res := BootApp(t, AppImage(t, bin), "/bin/threadexit", 2)
	if got := appOutput(res.Serial); got != trimLines(want) || res.GuestStatus != wantCode || !res.Exited {
		t.Errorf("guest status %d (native %d)\n--- native\n%s\n--- gosv serial\n%s", res.GuestStatus, wantCode, want, res.Serial)
	}
}
