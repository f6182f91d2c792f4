package kernel

import "testing"

func TestPrctl(t *testing.T) {
	type call struct {
		op, arg uint64
		want    int64
	}
	for _, tc := range []struct {
		name  string
		calls []call
	}{
		{"defaults", []call{{prGetDumpable, 0, 1}, {prGetKeepCaps, 0, 0}}},
		{"keep caps", []call{
			{prSetKeepCaps, 1, 0}, {prGetKeepCaps, 0, 1},
			{prSetKeepCaps, 0, 0}, {prGetKeepCaps, 0, 0},
			{prSetKeepCaps, 2, errnoResult(EINVAL)}, {prGetKeepCaps, 0, 0},
		}},
		{"dumpable", []call{
			{prSetDumpable, 0, 0}, {prGetDumpable, 0, 0},
			{prSetDumpable, 2, errnoResult(EINVAL)}, {prGetDumpable, 0, 0},
			{prSetDumpable, 1, 0}, {prGetDumpable, 0, 1},
		}},
		{"death signal", []call{{prSetPdeathsig, 9, 0}, {prSetPdeathsig, 65, errnoResult(EINVAL)}}},
		{"unknown", []call{{0, 0, errnoResult(EINVAL)}, {1000, 1, errnoResult(EINVAL)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s prctlState
			for _, c := range tc.calls {
				if got := s.prctl(c.op, c.arg, nil); got != c.want {
					t.Errorf("prctl(%d, %d) = %d, want %d", c.op, c.arg, got, c.want)
				}
			}
		})
	}
}

func TestPrctlGetPdeathsig(t *testing.T) {
	var s prctlState
	if got := s.prctl(prGetPdeathsig, 0, nil); got != errnoResult(EFAULT) {
		t.Errorf("PR_GET_PDEATHSIG to a bad address = %d, want EFAULT", got)
	}
	s.prctl(prSetPdeathsig, 15, nil)
	out := int32(-1)
	if got := s.prctl(prGetPdeathsig, 0, &out); got != 0 || out != 15 {
		t.Errorf("PR_GET_PDEATHSIG = %d, stored %d; want 0, 15", got, out)
	}
}
