package kernel

import (
	"bytes"
	"os"
	"testing"

	"gosv/elfload/vdso"
)

// TestVDSOImageUpToDate checks vdso_image.go is what the builder makes
// now (run go generate ./kernel after changing package vdso).
func TestVDSOImageUpToDate(t *testing.T) {
	have, err := os.ReadFile("vdso_image.go")
	if err != nil {
		t.Fatal(err)
	}
	if want := vdso.GoSource(vdso.Build(), "kernel"); !bytes.Equal(have, want) {
		t.Error("vdso_image.go is stale: run go generate ./kernel")
	}
	if len(vdsoValueFields) != int(vdso.NumFuncs) {
		t.Errorf("%d functions in the image, vdsoFuncAddresses returns 3", len(vdsoValueFields))
	}
	for f, fields := range vdsoValueFields {
		for _, off := range fields {
			if off%8 != 0 || int(off) >= 8*len(vdsoImage) {
				t.Errorf("function %d: value field at %d is not an aligned word of the image", f, off)
			}
		}
	}
}
