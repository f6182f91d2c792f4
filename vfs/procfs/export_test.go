package procfs

// CPUMask is cpuMask, for tests.
var CPUMask = cpuMask
