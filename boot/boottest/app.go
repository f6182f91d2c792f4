package boottest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"gosv/boot/appimage"
	"gosv/boot/qemu"
)

// AppImage packs program (and extra files) into an application image in
// a temporary directory and returns its path.
func AppImage(t testing.TB, program string, files ...appimage.Mapping) string {
	t.Helper()
	img, err := appimage.Build(appimage.Options{Program: program, Files: files})
	if err != nil {
		t.Fatalf("building the application image: %v", err)
	}
	p := filepath.Join(t.TempDir(), "app.cpio")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// BootApp boots the kernel with an application image and command line.
func BootApp(t testing.TB, image, cmdline string, cpus int) *qemu.Result {
	t.Helper()
	return Boot(t, qemu.Config{Initrd: image, Cmdline: cmdline, CPUs: cpus, MemoryMB: 256, Timeout: 5 * time.Minute})
}

// Native runs a program on the host, for outputs to compare with.
func Native(t testing.TB, dir string, env []string, argv ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.Output()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running %v natively: %v", argv, err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// Build runs a build command in dir, skipping the test if the tool is
// missing (make test installs the tools).
func Build(t testing.TB, dir string, env []string, argv ...string) {
	t.Helper()
	if _, err := exec.LookPath(argv[0]); err != nil {
		t.Skipf("%s not installed (make test installs it): %v", argv[0], err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, out)
	}
}
