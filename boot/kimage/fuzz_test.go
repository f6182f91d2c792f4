package kimage

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzConvert feeds arbitrary bytes to Convert and Inspect. Neither may
// panic, and whatever Convert accepts must pass Inspect unchanged.
func FuzzConvert(f *testing.F) {
	f.Add(tinyELF(nil))
	f.Add(goKernel(f))
	f.Fuzz(func(t *testing.T, in []byte) {
		Inspect(bytes.NewReader(in)) // must only not panic
		out, info, err := Convert(in, testLayout)
		if err != nil {
			return
		}
		if len(out) != len(in) {
			t.Fatalf("output is %d bytes, input %d", len(out), len(in))
		}
		again, err := Inspect(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("Inspect rejects Convert's output: %v", err)
		}
		if !reflect.DeepEqual(again, info) {
			t.Fatalf("Inspect reports %+v, Convert %+v", again, info)
		}
	})
}
