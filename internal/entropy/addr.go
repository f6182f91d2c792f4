package entropy

import "unsafe"

func sliceAddr(p []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(p)) }
