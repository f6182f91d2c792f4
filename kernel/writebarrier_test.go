package kernel

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Core code runs with a stand-in g that has no m: a write barrier there
// (storing a Go pointer while the GC runs) crashes the machine. The
// compiler can list every write barrier it emits (-d=wb); this test
// fails if one appears in a function that is not known to run either
// before the Go runtime starts (no GC yet) or as ordinary Go code.
var writeBarrierAllowed = map[string]bool{
	// Before the runtime: the write-barrier flag is still off.
	"detectCPU":        true,
	"initAddressSpace": true,
	"initClock":        true,
	"kvmclockTSCHz":    true,
}

// writeBarrierFiles hold only ordinary Go code (the API the rest of the
// kernel calls from goroutines), where write barriers are fine.
var writeBarrierFiles = map[string]bool{"api.go": true, "debug.go": true, "devapi.go": true, "server.go": false}

func TestNoWriteBarriersInCore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package")
	}
	cmd := exec.Command("go", "build", "-o", "/dev/null", "-gcflags=gosv/kernel=-d=wb", ".")
	cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`(?m)^(?:\./)?(?:kernel/)?([a-z0-9_]+\.go):(\d+):\d+: write barrier$`)
	matches := re.FindAllStringSubmatch(string(out), -1)
	if len(matches) == 0 && strings.Contains(string(out), "write barrier") {
		t.Fatalf("could not parse the compiler's report:\n%s", out)
	}
	for _, m := range matches {
		line, _ := strconv.Atoi(m[2])
		fn := enclosingFunc(t, m[1], line)
		if !writeBarrierAllowed[fn] && !writeBarrierFiles[m[1]] {
			t.Errorf("%s:%d: write barrier in %s, which may run in trap context (store an index or uintptr instead)", m[1], line, fn)
		}
	}
}

// enclosingFunc names the function declared around file:line.
func enclosingFunc(t *testing.T, file string, line int) string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(".", file), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		if fset.Position(fd.Pos()).Line <= line && line <= fset.Position(fd.End()).Line {
			return fd.Name.Name
		}
	}
	return "(package level)"
}
