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

func TestCapget(t *testing.T) {
	const pid, tid = 1, 7
	full := [6]uint32{capAllLow, capAllLow, 0, capAllHigh, capAllHigh, 0}
	for _, c := range []struct {
		name        string
		hdr         [2]int32
		hasData     bool
		badData     bool
		want        int64
		wantVersion uint32
		wantData    [6]uint32
	}{
		{"version 3", [2]int32{capVersion3, 0}, true, false, 0, capVersion3, full},
		{"version 1: one word", [2]int32{capVersion1, pid}, true, false, 0, capVersion1, [6]uint32{capAllLow, capAllLow, 0}},
		{"a thread", [2]int32{capVersion2, tid}, true, false, 0, capVersion2, full},
		{"probe", [2]int32{0, 0}, false, false, 0, capVersion3, [6]uint32{}},
		{"unknown version", [2]int32{1, 0}, true, false, errnoResult(EINVAL), capVersion3, [6]uint32{}},
		{"another process", [2]int32{capVersion3, 99}, true, false, errnoResult(ESRCH), capVersion3, [6]uint32{}},
		{"negative pid", [2]int32{capVersion3, -1}, true, false, errnoResult(EINVAL), capVersion3, [6]uint32{}},
		{"bad data address", [2]int32{capVersion3, 0}, true, true, errnoResult(EFAULT), capVersion3, [6]uint32{}},
		{"no data", [2]int32{capVersion3, 0}, false, false, 0, capVersion3, [6]uint32{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := c.hdr
			var data [6]uint32
			out := &data
			if c.badData || !c.hasData {
				out = nil
			}
			if got := capget(&h, c.hasData, out, pid, tid); got != c.want {
				t.Errorf("capget = %d, want %d", got, c.want)
			}
			if uint32(h[0]) != c.wantVersion {
				t.Errorf("header version %#x, want %#x", uint32(h[0]), c.wantVersion)
			}
			if data != c.wantData {
				t.Errorf("data (-want +got):\n- %x\n+ %x", c.wantData, data)
			}
		})
	}
}

func TestProcessCPU(t *testing.T) {
	resetThreads(t)
	high := threadsHigh.Load()
	threadsHigh.Store(maxThreads)
	t.Cleanup(func() { threadsHigh.Store(high) })
	const now = 1000
	for n, c := range []struct {
		state     threadState
		proc      uint8
		cpu, last int64
	}{
		{threadRunning, procApp, 100, 900}, // 100 + its current 100
		{threadBlocked, procApp, 30, 0},
		{threadRunnable, procApp, 7, 500},
		{threadExiting, procApp, 1000, 0}, // gone
		{threadIdle, procApp, 1000, 0},
		{threadBlocked, procKernel, 50, 0}, // another process
	} {
		th := &threads[schedSlot(n)]
		th.state.Store(c.state)
		th.proc, th.cpuNanos, th.lastRun = c.proc, c.cpu, c.last
	}
	if got, want := processCPU(procApp, now), int64(200+30+7); got != want {
		t.Errorf("processCPU(app) = %d, want %d", got, want)
	}
	if got, want := processCPU(procKernel, now), int64(50); got != want {
		t.Errorf("processCPU(kernel) = %d, want %d", got, want)
	}
	if got := threadCPU(&threads[schedSlot(0)], now); got != 200 {
		t.Errorf("threadCPU of a running thread = %d, want 200", got)
	}
}
