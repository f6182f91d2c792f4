package kernel

// Signal system calls.

func sysRtSigaction(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	sig := int(f.RDI)
	act, old := uintptr(f.RSI), uintptr(f.RDX)
	if sig < 1 || sig > numSig || f.R10 != 8 {
		return errnoResult(EINVAL)
	}
	const size = 32 // struct sigaction on x86-64
	if old != 0 && !space.access(old, size, true) {
		return errnoResult(EFAULT)
	}
	if act != 0 && !space.access(act, size, false) {
		return errnoResult(EFAULT)
	}
	sigLock.lock()
	defer sigLock.unlock()
	p := procOf(t)
	prev := p.sigActions[sig]
	if act != 0 {
		if sig == sigKILL || sig == sigSTOP {
			return errnoResult(EINVAL)
		}
		p.sigActions[sig] = *(*sigAction)(ptrAt(act))
	}
	if old != 0 {
		*(*sigAction)(ptrAt(old)) = prev
	}
	return 0
}

func sysRtSigprocmask(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	how := int(f.RDI)
	set, old := uintptr(f.RSI), uintptr(f.RDX)
	if f.R10 != 8 {
		return errnoResult(EINVAL)
	}
	if old != 0 {
		if !space.access(old, 8, true) {
			return errnoResult(EFAULT)
		}
		*(*uint64)(ptrAt(old)) = t.sigMask
	}
	if set == 0 {
		return 0
	}
	if !space.access(set, 8, false) {
		return errnoResult(EFAULT)
	}
	m := *(*uint64)(ptrAt(set))
	switch how {
	case sigBlock:
		t.sigMask |= m
	case sigUnblock:
		t.sigMask &^= m
	case sigSetMask:
		t.sigMask = m
	default:
		return errnoResult(EINVAL)
	}
	t.sigMask &^= 1<<(sigKILL-1) | 1<<(sigSTOP-1)
	return 0
}

func sysRtSigreturn(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	if !sigreturn(t, contextOf(f)) {
		killedBySignal(t, contextOf(f), sigSEGV)
	}
	// RAX was restored with the rest of the registers.
	return sysBlocked
}

func sysSigaltstack(c *cpuLocal, t *thread, i int32, f *Frame) int64 {
	ss, old := uintptr(f.RDI), uintptr(f.RSI)
	const size = 24
	if old != 0 {
		if !space.access(old, size, true) {
			return errnoResult(EFAULT)
		}
		o := t.altStack
		if o.size == 0 {
			o.flags = ssDisable
		} else if sp := uintptr(f.RSP); sp > o.sp && sp <= o.sp+o.size {
			o.flags |= ssOnStack
		}
		*(*sigAltStack)(ptrAt(old)) = o
	}
	if ss != 0 {
		if !space.access(ss, size, false) {
			return errnoResult(EFAULT)
		}
		n := *(*sigAltStack)(ptrAt(ss))
		if n.flags&^ssDisable != 0 {
			return errnoResult(EINVAL)
		}
		if n.flags&ssDisable != 0 {
			n = sigAltStack{flags: ssDisable}
		} else if n.size < 2048 {
			return errnoResult(ENOMEM)
		}
		t.altStack = n
	}
	return 0
}
