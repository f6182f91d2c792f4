package boottest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSockets runs a Go program using sockets in gosv: epoll and AF_UNIX
// (with SCM_RIGHTS) always, TCP on 127.0.0.1 when the kernel gives the application a
// network stack (kernel/app Config.Network).
func TestSockets(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sockapp")
	wd, _ := os.Getwd()
	Build(t, filepath.Join(wd, "testdata", "sockapp"), []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}, "go", "build", "-o", bin, ".")
	res := BootApp(t, AppImage(t, bin), "/bin/sockapp", 2)
	out := appOutput(res.Serial)
	for _, want := range []string{"epoll add wakes: ok", "unix pair: ok", "unix listener: ok", "unix rights: ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the output:\n%s", want, res.Serial)
		}
	}
	if res.GuestStatus != 0 || !res.Exited {
		t.Errorf("guest status %d (exited %v), want 0\n%s", res.GuestStatus, res.Exited, res.Serial)
	}
	switch {
	case strings.Contains(out, "tcp: no network"):
		t.Skip("TCP part skipped: the kernel gives the application no network stack yet (pass one as kernel/app Config.Network)")
	case !strings.Contains(out, "tcp: ok") || !strings.Contains(out, "tcp blocking: ok") || !strings.Contains(out, "tcp dial race: ok"):
		t.Errorf("no \"tcp: ok\", \"tcp blocking: ok\" and \"tcp dial race: ok\" in the output:\n%s", res.Serial)
	case !strings.Contains(out, "interfaces: ok") || !strings.Contains(out, "netlink epoll: ok"):
		t.Errorf("no \"interfaces: ok\" and \"netlink epoll: ok\" (AF_NETLINK) in the output:\n%s", res.Serial)
	}
}
