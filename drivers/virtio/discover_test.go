package virtio

import (
	"errors"
	"testing"
)

func TestParseMMIOParam(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want MMIOWindow
	}{
		{"4K@0xc0001000:5", MMIOWindow{Base: 0xc0001000, Size: 4096, GSI: 5}},
		{"512@0xfeb00e00:12", MMIOWindow{Base: 0xfeb00e00, Size: 512, GSI: 12}},
		{"0x200@0xfeb00000:24:3", MMIOWindow{Base: 0xfeb00000, Size: 512, GSI: 24}},
		{"1M@4096:7", MMIOWindow{Base: 4096, Size: 1 << 20, GSI: 7}},
	} {
		got, err := ParseMMIOParam(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseMMIOParam(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "4K", "4K@0x1000", "@0x1000:5", "0@0x1000:5", "4K@zz:5", "4K@0x1000:300", "4Q@0x1000:5", "4K@0xffffffffffffffff:5"} {
		if _, err := ParseMMIOParam(bad); !errors.Is(err, ErrMMIOParam) {
			t.Errorf("ParseMMIOParam(%q) error = %v, want ErrMMIOParam", bad, err)
		}
	}
}

func FuzzParseMMIOParam(f *testing.F) {
	f.Add("4K@0xc0001000:5")
	f.Add("512@0xfeb00e00:12:1")
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseMMIOParam(s)
		if err == nil && (w.Size == 0 || w.Base+w.Size < w.Base) {
			t.Fatalf("%q accepted as %+v", s, w)
		}
	})
}
