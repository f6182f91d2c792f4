package elfload

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestRun loads each test program with the runner (testdata/runner),
// which implements Memory with mmap in its own process and jumps to the
// entry point with the stack Load built: the programs' own startup code
// (the Go runtime, glibc static and static-PIE, ld.so) must accept the
// stack and auxiliary vector, and the programs print what they found.
func TestRun(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("needs linux/amd64")
	}
	runner := binRunner.get(t)
	for _, b := range []*testBin{binGoStatic, binGoPIE, binCStatic, binCStaticPIE, binCDynamic} {
		t.Run(b.name, func(t *testing.T) {
			prog := b.get(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, runner, prog, "prog", "one", "two words")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() == 4 {
				t.Skipf("the host's address space is in the way: %s", stderr.String())
			}
			if err != nil {
				t.Fatalf("runner: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
			}
			t.Logf("%s%s", stderr.String(), out)
			if strings.HasPrefix(b.name, "go-") {
				checkGoOutput(t, string(out))
			} else {
				checkCOutput(t, string(out), prog)
			}
		})
	}
}

func checkGoOutput(t *testing.T, out string) {
	for _, want := range []string{
		`args=["prog" "one" "two words"]` + "\n",
		"env=hello\n",
		fmt.Sprintf("auxv %d %#x\n", AT_PAGESZ, 4096),
		fmt.Sprintf("auxv %d %#x\n", AT_CLKTCK, 100),
		fmt.Sprintf("auxv %d %#x\n", AT_PHENT, 56),
		"ok\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// The auxiliary vector as the Go runtime saw it, in Load's order.
	var types []string
	for _, m := range regexp.MustCompile(`(?m)^auxv (\d+) `).FindAllStringSubmatch(out, -1) {
		types = append(types, m[1])
	}
	if got, want := strings.Join(types, " "), "16 6 17 3 4 5 7 8 9 11 12 13 14 23 25 26 31 15"; got != want {
		t.Errorf("auxv types %s, want %s", got, want)
	}
}

func checkCOutput(t *testing.T, out, prog string) {
	for _, want := range []string{
		"argc=3\narg prog\narg one\narg two words\n",
		"env=hello\n",
		"execfn=" + prog + "\n",
		"platform=x86_64\n",
		"random=000102030405060708090a0b0c0d0e0f\n",
		"pagesz=4096\n",
		"heap ok\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
