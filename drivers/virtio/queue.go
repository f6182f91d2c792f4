package virtio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// DMA allocates memory the device can reach: physically contiguous,
// zeroed, with phys aligned to align. virt is the kernel's view of the
// same bytes. There is no Free: queues allocate at setup and keep what
// they allocate.
type DMA interface {
	Alloc(size, align int) (virt []byte, phys uint64, err error)
}

// Queue limits (2.6, 2.7.2).
const (
	MaxQueueSize = 32768
	LegacyAlign  = 4096 // legacy queue alignment and page size
)

// Split virtqueue flags (2.7.5, 2.7.6, 2.7.8).
const (
	descFlagNext     = 1
	descFlagWrite    = 2
	descFlagIndirect = 4

	availFlagNoInterrupt = 1
	usedFlagNoNotify     = 1

	descSize     = 16
	usedElemSize = 8
)

// Indirect tables come from one-page slabs of indirectMax descriptors
// each (512 bytes, 8 a page). Chains of indirectMin buffers or more use
// one: a virtio-net frame with its header is two buffers, and putting two
// buffers behind a table costs the device an extra read for one ring slot
// saved, so short chains stay direct.
const (
	indirectMax  = 32
	indirectMin  = 3
	indirectSlab = 4096
)

var le = binary.LittleEndian

// Buffer is one piece of memory in a descriptor chain. Writable buffers
// are written by the device (receive data, status bytes) and must come
// after the readable ones (2.7.13.1).
type Buffer struct {
	Phys     uint64
	Len      uint32
	Writable bool
}

// Errors from Queue.
var (
	ErrQueueSize    = errors.New("virtio: queue size must be a power of two up to 32768")
	ErrNoBuffers    = errors.New("virtio: empty descriptor chain")
	ErrEmptyBuffer  = errors.New("virtio: zero-length buffer")
	ErrBufferOrder  = errors.New("virtio: readable buffer after a writable one")
	ErrChainTooLong = errors.New("virtio: descriptor chain longer than the queue")
	ErrQueueFull    = errors.New("virtio: not enough free descriptors")

	// A device that returns these is broken or hostile; the driver
	// should reset it.
	ErrUsedIndex  = errors.New("virtio: used index ahead of the buffers in flight")
	ErrUsedHead   = errors.New("virtio: used entry names no chain in flight")
	ErrUsedLength = errors.New("virtio: used length larger than the writable buffers")
)

// Layout is where a split virtqueue's parts are, in bytes from the
// descriptor table, and the bytes it needs in all.
type Layout struct {
	Avail, Used, Size int
}

// RingLayout computes the layout of a queue of n entries. Modern queues
// align each part to its own requirement (16, 2, 4: 2.7); legacy queues
// put the used ring at the next 4096-byte boundary and round the whole to
// pages (2.7.2). Size includes the two bytes after avail_event, so that
// the 32-bit word holding it is inside the allocation.
func RingLayout(n uint16, legacy bool) (Layout, error) {
	if n == 0 || n > MaxQueueSize || n&(n-1) != 0 {
		return Layout{}, ErrQueueSize
	}
	var l Layout
	l.Avail = descSize * int(n)
	availEnd := l.Avail + 6 + 2*int(n) // flags, idx, ring[n], used_event
	usedLen := 8 + usedElemSize*int(n) // flags, idx, ring[n], avail_event, pad
	if legacy {
		l.Used = alignUp(availEnd, LegacyAlign)
		l.Size = l.Used + alignUp(usedLen, LegacyAlign)
	} else {
		l.Used = alignUp(availEnd, 4)
		l.Size = l.Used + usedLen
	}
	return l, nil
}

func alignUp(v, a int) int { return (v + a - 1) &^ (a - 1) }

// chain is the driver's record of a chain in flight, kept out of device
// memory so a device cannot corrupt it.
type chain struct {
	inUse    bool
	ndesc    uint16 // descriptors in the ring (1 when indirect)
	tail     uint16 // last ring descriptor
	table    int32  // indirect table index, -1 if none
	writable uint64 // bytes the device may write
}

type indirectTable struct {
	virt []byte
	phys uint64
}

// Queue is a split virtqueue (2.7) in DMA memory: descriptor table,
// available ring and used ring at the offsets of RingLayout.
//
// A Queue is not safe for concurrent use: one goroutine (or a lock) owns
// it. The device shares its memory; the driver writes descriptors and
// ring entries with plain stores and publishes them with an atomic store
// of the available index, and reads the used index with an atomic load
// before reading the entries it covers (2.7.13.3, 2.7.14). The 16-bit
// index and event fields are accessed through the aligned 32-bit words
// containing them: avail flags+idx and used flags+idx share a word with a
// field of the same writer, used_event shares one with padding (or, in a
// one-entry queue, with avail ring[0], also the driver's), avail_event
// with padding.
type Queue struct {
	index    uint16
	size     uint16
	mask     uint16
	lay      Layout
	mem      []byte
	phys     uint64
	notifier Notifier
	eventIdx bool
	indirect bool
	dma      DMA

	next     []uint16 // free list links, by descriptor
	freeHead uint16
	numFree  uint16
	chains   []chain // by head descriptor
	inFlight uint16  // chains added and not yet used

	availIdx   uint16 // the driver's copy of avail.idx
	availFlags uint16
	kicked     uint16 // availIdx at the last Kick
	lastUsed   uint16 // next used ring entry to consume

	tables     []indirectTable
	freeTables []int32
}

// NewQueue allocates queue index of size entries (a power of two) from
// dma. features are the negotiated features (EVENT_IDX and INDIRECT_DESC
// matter); legacy selects the legacy layout; n is told about new
// buffers. The caller gives the addresses (Addrs) to the transport.
func NewQueue(dma DMA, n Notifier, index, size uint16, features uint64, legacy bool) (*Queue, error) {
	lay, err := RingLayout(size, legacy)
	if err != nil {
		return nil, err
	}
	mem, phys, err := dma.Alloc(lay.Size, LegacyAlign)
	if err != nil {
		return nil, fmt.Errorf("virtio: queue %d: %w", index, err)
	}
	if len(mem) < lay.Size || phys%LegacyAlign != 0 || uintptr(unsafe.Pointer(&mem[0]))%4 != 0 {
		return nil, fmt.Errorf("virtio: queue %d: DMA returned %d bytes at %#x, need %d aligned", index, len(mem), phys, lay.Size)
	}
	mem = mem[:lay.Size:lay.Size]
	clear(mem)
	q := &Queue{
		index:    index,
		size:     size,
		mask:     size - 1,
		lay:      lay,
		mem:      mem,
		phys:     phys,
		notifier: n,
		eventIdx: features&(1<<FeatureEventIdx) != 0,
		indirect: features&(1<<FeatureIndirectDesc) != 0,
		dma:      dma,
		next:     make([]uint16, size),
		numFree:  size,
		chains:   make([]chain, size),
	}
	for i := range q.next {
		q.next[i] = uint16(i + 1) // the last link is never followed
	}
	return q, nil
}

// Reset returns q to its state after NewQueue, for a device that was
// reset: the device forgot the chains in flight, and so does q. The
// memory and indirect tables are kept.
func (q *Queue) Reset() {
	clear(q.mem)
	for i := range q.next {
		q.next[i] = uint16(i + 1)
	}
	clear(q.chains)
	q.freeHead, q.numFree, q.inFlight = 0, q.size, 0
	q.availIdx, q.availFlags, q.kicked, q.lastUsed = 0, 0, 0, 0
	q.freeTables = q.freeTables[:0]
	for i := range q.tables {
		q.freeTables = append(q.freeTables, int32(i))
	}
}

// Index is the queue's number on its device.
func (q *Queue) Index() uint16 { return q.index }

// Size is the number of descriptors.
func (q *Queue) Size() uint16 { return q.size }

// NumFree is the number of free descriptors.
func (q *Queue) NumFree() uint16 { return q.numFree }

// InFlight is the number of chains the device has not returned.
func (q *Queue) InFlight() uint16 { return q.inFlight }

// Addrs are the physical addresses of the descriptor table, available
// ring and used ring.
func (q *Queue) Addrs() (desc, driver, device uint64) {
	return q.phys, q.phys + uint64(q.lay.Avail), q.phys + uint64(q.lay.Used)
}

// Add makes bufs available to the device as one chain and returns its
// head descriptor, which Used returns when the device is done. The device
// does not look at the chain before the next Kick.
func (q *Queue) Add(bufs []Buffer) (head uint16, err error) {
	n := len(bufs)
	switch {
	case n == 0:
		return 0, ErrNoBuffers
	case n > int(q.size) && !(q.indirect && n <= indirectMax):
		return 0, ErrChainTooLong
	case q.numFree == 0:
		return 0, ErrQueueFull
	}
	var writable uint64
	for i, b := range bufs {
		if b.Len == 0 {
			return 0, ErrEmptyBuffer
		}
		if b.Writable {
			writable += uint64(b.Len)
		} else if i > 0 && bufs[i-1].Writable {
			return 0, ErrBufferOrder
		}
	}
	if q.indirect && n > 1 && n <= indirectMax && (n >= indirectMin || n > int(q.numFree)) {
		if head, ok := q.addIndirect(bufs, writable); ok {
			return head, nil
		}
	}
	if n > int(q.size) {
		return 0, ErrChainTooLong // no indirect table to be had
	}
	if n > int(q.numFree) {
		return 0, ErrQueueFull
	}
	head = q.freeHead
	d := head
	for i, b := range bufs {
		var flags uint16
		if b.Writable {
			flags = descFlagWrite
		}
		next := uint16(0)
		if i < n-1 {
			flags |= descFlagNext
			next = q.next[d]
		}
		putDesc(q.mem[int(d)*descSize:], b.Phys, b.Len, flags, next)
		if i < n-1 {
			d = next
		}
	}
	q.freeHead = q.next[d]
	q.numFree -= uint16(n)
	q.chains[head] = chain{inUse: true, ndesc: uint16(n), tail: d, table: -1, writable: writable}
	q.publish(head)
	return head, nil
}

// addIndirect puts bufs in an indirect table behind one ring descriptor
// (2.7.5.3). It fails only when no table memory can be had.
func (q *Queue) addIndirect(bufs []Buffer, writable uint64) (uint16, bool) {
	ti, ok := q.takeTable()
	if !ok {
		return 0, false
	}
	t := q.tables[ti].virt
	for i, b := range bufs {
		var flags, next uint16
		if b.Writable {
			flags = descFlagWrite
		}
		if i < len(bufs)-1 {
			flags |= descFlagNext
			next = uint16(i + 1)
		}
		putDesc(t[i*descSize:], b.Phys, b.Len, flags, next)
	}
	head := q.freeHead
	putDesc(q.mem[int(head)*descSize:], q.tables[ti].phys, uint32(len(bufs)*descSize), descFlagIndirect, 0)
	q.freeHead = q.next[head]
	q.numFree--
	q.chains[head] = chain{inUse: true, ndesc: 1, tail: head, table: ti, writable: writable}
	q.publish(head)
	return head, true
}

func (q *Queue) takeTable() (int32, bool) {
	if len(q.freeTables) == 0 {
		virt, phys, err := q.dma.Alloc(indirectSlab, indirectSlab)
		if err != nil || len(virt) < indirectSlab {
			return 0, false
		}
		for off := 0; off+indirectMax*descSize <= indirectSlab; off += indirectMax * descSize {
			q.freeTables = append(q.freeTables, int32(len(q.tables)))
			q.tables = append(q.tables, indirectTable{
				virt: virt[off : off+indirectMax*descSize : off+indirectMax*descSize],
				phys: phys + uint64(off),
			})
		}
	}
	ti := q.freeTables[len(q.freeTables)-1]
	q.freeTables = q.freeTables[:len(q.freeTables)-1]
	return ti, true
}

func putDesc(b []byte, addr uint64, n uint32, flags, next uint16) {
	_ = b[descSize-1]
	le.PutUint64(b[0:], addr)
	le.PutUint32(b[8:], n)
	le.PutUint16(b[12:], flags)
	le.PutUint16(b[14:], next)
}

// publish puts head in the available ring and then, with an atomic store
// that orders the ring and descriptor writes before it, bumps avail.idx.
func (q *Queue) publish(head uint16) {
	le.PutUint16(q.mem[q.lay.Avail+4+2*int(q.availIdx&q.mask):], head)
	q.availIdx++
	q.inFlight++
	q.store16(q.lay.Avail+2, q.availIdx)
}

// Kick notifies the device of the chains added since the last Kick,
// unless the device said it does not need it: with EVENT_IDX, unless the
// new chains do not reach avail_event (2.7.10); otherwise unless the used
// ring has NO_NOTIFY. It reports whether it notified.
func (q *Queue) Kick() bool {
	old, cur := q.kicked, q.availIdx
	q.kicked = cur
	if old == cur {
		return false
	}
	// The atomic store of avail.idx in publish and these atomic loads
	// are sequentially consistent: the device either sees the new index
	// or we see its updated event/flags.
	var need bool
	if q.eventIdx {
		need = NeedEvent(q.load16(q.availEventOff()), cur, old)
	} else {
		need = q.load16(q.lay.Used)&usedFlagNoNotify == 0
	}
	if need {
		q.notifier.Notify(q.index)
	}
	return need
}

// NeedEvent is vring_need_event (2.7.10): whether moving an index from old
// to new crosses event, i.e. event is in [old, new) modulo 2^16.
func NeedEvent(event, new, old uint16) bool {
	return new-event-1 < new-old
}

// Used returns the next chain the device has finished with and the bytes
// it wrote, and frees its descriptors. ok is false when no entry is
// pending.
//
// Entries come from device memory and are checked: an index ahead of
// the chains in flight gives ErrUsedIndex (nothing is consumed; the
// device needs a reset); an entry naming no chain in flight is consumed
// and gives ErrUsedHead; a length beyond the chain's writable bytes gives
// ErrUsedLength with ok true, the chain freed and the length clamped to
// what the chain can hold.
func (q *Queue) Used() (head uint16, length uint32, ok bool, err error) {
	idx := q.load16(q.lay.Used + 2)
	if idx == q.lastUsed {
		return 0, 0, false, nil
	}
	if pending := idx - q.lastUsed; pending > q.inFlight {
		return 0, 0, false, fmt.Errorf("%w: index %d, %d consumed, %d in flight", ErrUsedIndex, idx, q.lastUsed, q.inFlight)
	}
	e := q.mem[q.lay.Used+4+usedElemSize*int(q.lastUsed&q.mask):]
	id, n := le.Uint32(e[0:]), le.Uint32(e[4:])
	q.lastUsed++
	if id >= uint32(q.size) || !q.chains[id].inUse {
		return 0, 0, false, fmt.Errorf("%w: head %d", ErrUsedHead, id)
	}
	head = uint16(id)
	c := q.chains[head]
	q.free(head, c)
	if uint64(n) > c.writable {
		return head, uint32(c.writable), true, fmt.Errorf("%w: head %d, length %d, writable %d", ErrUsedLength, head, n, c.writable)
	}
	return head, n, true, nil
}

// HasUsed reports whether the device has returned buffers that Used has
// not taken yet.
func (q *Queue) HasUsed() bool { return q.load16(q.lay.Used+2) != q.lastUsed }

func (q *Queue) free(head uint16, c chain) {
	q.chains[head] = chain{}
	if c.table >= 0 {
		q.freeTables = append(q.freeTables, c.table)
	}
	q.next[c.tail] = q.freeHead
	q.freeHead = head
	q.numFree += c.ndesc
	q.inFlight--
}

// DisableInterrupts asks the device not to interrupt for used buffers
// (advice the device may ignore, 2.7.7): NO_INTERRUPT in the available
// ring, or with EVENT_IDX a used_event the device cannot reach.
func (q *Queue) DisableInterrupts() {
	if q.eventIdx {
		q.store16(q.usedEventOff(), q.lastUsed-1)
		return
	}
	q.availFlags |= availFlagNoInterrupt
	q.store16(q.lay.Avail, q.availFlags)
}

// EnableInterrupts asks for an interrupt when the device returns the next
// buffer, and reports whether buffers were returned already, in which
// case the caller must call Used again rather than wait: this closes the
// race with a device that finished just before. With EVENT_IDX the
// interrupt is one-shot: call EnableInterrupts after each drain.
func (q *Queue) EnableInterrupts() (pending bool) {
	if q.eventIdx {
		q.store16(q.usedEventOff(), q.lastUsed)
	} else {
		q.availFlags &^= availFlagNoInterrupt
		q.store16(q.lay.Avail, q.availFlags)
	}
	return q.load16(q.lay.Used+2) != q.lastUsed
}

// used_event follows the available ring; avail_event the used ring.
func (q *Queue) usedEventOff() int  { return q.lay.Avail + 4 + 2*int(q.size) }
func (q *Queue) availEventOff() int { return q.lay.Used + 4 + usedElemSize*int(q.size) }

// word is the aligned 32-bit word of device memory containing off.
func (q *Queue) word(off int) *uint32 {
	return (*uint32)(unsafe.Pointer(&q.mem[off&^3 : off&^3+4][0]))
}

// load16 reads the little-endian 16-bit field at off atomically.
func (q *Queue) load16(off int) uint16 {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], atomic.LoadUint32(q.word(off)))
	return le.Uint16(b[off&2:])
}

// store16 writes the little-endian 16-bit field at off atomically. The
// other half of its word must be the driver's or padding (see Queue).
func (q *Queue) store16(off int, v uint16) {
	w := q.word(off)
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], atomic.LoadUint32(w))
	le.PutUint16(b[off&2:], v)
	atomic.StoreUint32(w, binary.NativeEndian.Uint32(b[:]))
}

// floorPow2 rounds n down to a power of two (0 stays 0).
func floorPow2(n uint16) uint16 {
	if n == 0 {
		return 0
	}
	return 1 << (bits.Len16(n) - 1)
}
