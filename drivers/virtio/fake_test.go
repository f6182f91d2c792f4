package virtio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// arena is a fake DMA: a byte slice whose "physical" addresses are
// offsets plus base, with virtual addresses aligned like the physical
// ones (as in the kernel's direct map).
type arena struct {
	mem  []byte
	base uint64
	used int
	// limit is where Alloc starts failing.
	limit int
}

const arenaBase = 0x4000_0000

func newArena(size int) *arena {
	buf := make([]byte, size+LegacyAlign)
	off := (LegacyAlign - int(uintptr(unsafe.Pointer(&buf[0]))%LegacyAlign)) % LegacyAlign
	return &arena{mem: buf[off : off+size : off+size], base: arenaBase, limit: size}
}

var errArenaFull = errors.New("arena full")

func (a *arena) Alloc(size, align int) ([]byte, uint64, error) {
	start := alignUp(a.used, align)
	if start+size > a.limit {
		return nil, 0, errArenaFull
	}
	a.used = start + size
	b := a.mem[start : start+size : start+size]
	clear(b)
	return b, a.base + uint64(start), nil
}

// at is the memory at physical address p, as the device reaches it.
func (a *arena) at(p uint64, n uint64) ([]byte, error) {
	if p < a.base || p-a.base > uint64(len(a.mem)) || n > uint64(len(a.mem))-(p-a.base) {
		return nil, fmt.Errorf("device access %#x+%d outside memory", p, n)
	}
	off := p - a.base
	return a.mem[off : off+n : off+n], nil
}

func (a *arena) u16(p uint64) uint16 {
	b, err := a.at(p, 2)
	if err != nil {
		panic(err)
	}
	return le.Uint16(b)
}

func (a *arena) put16(p uint64, v uint16) {
	b, err := a.at(p, 2)
	if err != nil {
		panic(err)
	}
	le.PutUint16(b, v)
}

func (a *arena) put32(p uint64, v uint32) {
	b, err := a.at(p, 4)
	if err != nil {
		panic(err)
	}
	le.PutUint32(b, v)
}

// load16 and store16 access a ring index or event field atomically
// through its aligned word, as the driver does (see Queue), so that the
// fake may run concurrently with a driver goroutine.
func (a *arena) word(p uint64) *uint32 {
	b, err := a.at(p&^3, 4)
	if err != nil {
		panic(err)
	}
	return (*uint32)(unsafe.Pointer(&b[0]))
}

func (a *arena) load16(p uint64) uint16 {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], atomic.LoadUint32(a.word(p)))
	return le.Uint16(b[p&2:])
}

func (a *arena) store16(p uint64, v uint16) {
	w := a.word(p)
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], atomic.LoadUint32(w))
	le.PutUint16(b[p&2:], v)
	atomic.StoreUint32(w, binary.NativeEndian.Uint32(b[:]))
}

// request is a descriptor chain as the device sees it.
type request struct {
	head     uint16
	indirect bool
	in       [][]byte // device-readable buffers
	out      [][]byte // device-writable buffers
}

// ringDev is the device side of one split virtqueue, working on the
// arena through physical addresses only, as a device would. It accesses
// the index and event fields atomically and the rest plainly, like the
// driver, so it may run in another goroutine than the driver's as long
// as one goroutine at a time drives it.
type ringDev struct {
	a                  *arena
	size               uint16
	desc, avail, used  uint64
	eventIdx           bool
	lastAvail, usedIdx uint16
	filled             uint16 // used entries not yet published

	// handle serves a request and returns the bytes it wrote; nil
	// copies the readable bytes into the writable buffers.
	handle func(r *request) uint32
	// auto makes Notify process the queue at once.
	auto bool
	// held collects popped requests when handle is nil and hold is set,
	// for out-of-order completion.
	hold bool
	held []*request

	notifies, interrupts int
	err                  error // first protocol violation seen
}

func newRingDev(a *arena, q *Queue) *ringDev {
	d := &ringDev{a: a, size: q.Size(), eventIdx: q.eventIdx}
	d.desc, d.avail, d.used = q.Addrs()
	return d
}

func (d *ringDev) Notify(uint16) {
	d.notifies++
	if d.auto {
		d.process()
	}
}

func (d *ringDev) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *ringDev) availIdx() uint16 { return d.a.load16(d.avail + 2) }
func (d *ringDev) availFlags() uint16 {
	return d.a.load16(d.avail)
}
func (d *ringDev) usedEvent() uint16 { return d.a.load16(d.avail + 4 + 2*uint64(d.size)) }
func (d *ringDev) setAvailEvent(v uint16) {
	d.a.store16(d.used+4+8*uint64(d.size), v)
}
func (d *ringDev) setUsedFlags(v uint16) { d.a.store16(d.used, v) }

// pop takes the next available chain.
func (d *ringDev) pop() (*request, bool) {
	if d.lastAvail == d.availIdx() {
		return nil, false
	}
	head := d.a.u16(d.avail + 4 + 2*uint64(d.lastAvail%d.size))
	d.lastAvail++
	if d.eventIdx {
		// Ask to be notified of the next buffer (as QEMU does when it
		// re-enables notifications).
		d.setAvailEvent(d.lastAvail)
	}
	r, err := d.walk(head)
	if err != nil {
		d.fail(err)
		return nil, false
	}
	return r, true
}

func (d *ringDev) walk(head uint16) (*request, error) {
	r := &request{head: head}
	table, n := d.desc, uint64(d.size)
	i := uint64(head)
	for steps := 0; ; steps++ {
		if i >= n || steps >= int(n) {
			return nil, fmt.Errorf("descriptor %d out of range or loop", i)
		}
		b, err := d.a.at(table+16*i, 16)
		if err != nil {
			return nil, err
		}
		addr, ln, flags, next := le.Uint64(b), le.Uint32(b[8:]), le.Uint16(b[12:]), le.Uint16(b[14:])
		if flags&descFlagIndirect != 0 {
			if r.indirect || table != d.desc || flags&descFlagNext != 0 || ln%16 != 0 || ln == 0 {
				return nil, fmt.Errorf("bad indirect descriptor flags %#x len %d", flags, ln)
			}
			r.indirect = true
			table, n, i, steps = addr, uint64(ln/16), 0, -1
			continue
		}
		buf, err := d.a.at(addr, uint64(ln))
		if err != nil {
			return nil, err
		}
		if flags&descFlagWrite != 0 {
			r.out = append(r.out, buf)
		} else {
			if len(r.out) > 0 {
				return nil, errors.New("readable descriptor after writable")
			}
			r.in = append(r.in, buf)
		}
		if flags&descFlagNext == 0 {
			return r, nil
		}
		i = uint64(next)
	}
}

// complete pushes a used entry and decides whether to interrupt.
func (d *ringDev) complete(head uint16, n uint32) {
	d.fill(head, n)
	d.flush()
}

// fill writes a used entry without publishing it; flush publishes the
// entries filled since the last flush with one index update, as devices
// do for the buffers of one frame, and reports whether the device
// interrupts.
func (d *ringDev) fill(head uint16, n uint32) {
	e := d.used + 4 + 8*uint64((d.usedIdx+d.filled)%d.size)
	d.a.put32(e, uint32(head))
	d.a.put32(e+4, n)
	d.filled++
}

func (d *ringDev) flush() bool {
	if d.filled == 0 {
		return false
	}
	old := d.usedIdx
	d.usedIdx += d.filled
	d.filled = 0
	d.a.store16(d.used+2, d.usedIdx)
	var irq bool
	if d.eventIdx {
		irq = NeedEvent(d.usedEvent(), d.usedIdx, old)
	} else {
		irq = d.availFlags()&availFlagNoInterrupt == 0
	}
	if irq {
		d.interrupts++
	}
	return irq
}

// process serves every available chain.
func (d *ringDev) process() {
	for {
		r, ok := d.pop()
		if !ok {
			return
		}
		if d.hold {
			d.held = append(d.held, r)
			continue
		}
		var n uint32
		if d.handle != nil {
			n = d.handle(r)
		} else {
			n = copyChain(r)
		}
		d.complete(r.head, n)
	}
}

// copyChain copies the readable bytes into the writable buffers.
func copyChain(r *request) uint32 {
	var src []byte
	for _, b := range r.in {
		src = append(src, b...)
	}
	var n uint32
	for _, b := range r.out {
		c := copy(b, src)
		src = src[c:]
		n += uint32(c)
	}
	return n
}
