//go:build linux || darwin

package shqueue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"time"
	"unsafe"
)

// Queue is one process's handle on a queue. Its methods are safe for
// concurrent use by many goroutines, except Close.
type Queue struct {
	// Read-only after Create/Open: the process-local copy of the geometry
	// and the addresses derived from it. Nothing read from shared memory
	// later changes them.
	base     unsafe.Pointer
	slots    unsafe.Pointer
	capacity uint64
	mask     uint64 // capacity-1 when capacity is a power of two
	pow2     bool
	stride   uintptr
	dataOff  uintptr
	msgSize  int
	ownerTag uint64 // this handle's entry index + 1, in the owner word's top byte
	inKind   copyKind
	outKind  copyKind
	wait     WaitStrategy

	tail, head                             *uint64
	notEmpty, emptySleepers                *uint32
	notFull, fullSleepers                  *uint32
	overwritten, lostEnq, skipped, lostDeq *uint64
	me                                     procEntry

	key  int
	self int // this handle's entry in the attached-process table
	seg  *segment
	geo  geometry

	closed atomic.Bool

	// Stall tracking for crash recovery, on its own line: written only when an
	// operation finds the queue empty or full.
	_          [64]byte
	stallPos   atomic.Uint64
	stallFirst atomic.Int64 // when this stall was first seen
	stallLast  atomic.Int64 // when recovery last looked at it
	misses     atomic.Uint32
}

// Stats are a queue's counters since Create. They are read without stopping
// other processes, so a snapshot taken under traffic may be a few messages off.
type Stats struct {
	Enqueued    uint64 // messages published
	Dequeued    uint64 // messages handed to a consumer
	Overwritten uint64 // messages dropped by EnqueueShift to make room
	Lost        uint64 // messages lost with a process that died mid-operation
}

// initSegment writes a fresh segment's header and slot sequence numbers. The
// kernel hands out new segments zeroed; the magic goes in last, so a process
// that finds it also finds a complete header.
func initSegment(mem []byte, g geometry) {
	base := unsafe.Pointer(&mem[0])
	atomic.StoreUint32(u32At(base, offVersion), layoutVersion)
	atomic.StoreUint64(u64At(base, offMsgSize), g.msgSize)
	atomic.StoreUint64(u64At(base, offCapacity), g.capacity)
	atomic.StoreUint64(u64At(base, offSlotStride), g.slotStride)
	atomic.StoreUint64(u64At(base, offDataOffset), g.dataOffset)
	atomic.StoreUint64(u64At(base, offSlotsStart), g.slotsStart)
	atomic.StoreUint64(u64At(base, offCreatedNs), uint64(time.Now().UnixNano()))
	for i := uint64(0); i < g.capacity; i++ {
		atomic.StoreUint64(u64At(base, uintptr(g.slotsStart+i*g.slotStride)), freeSeq(i))
	}
	atomic.StoreUint64(u64At(base, offMagic), layoutMagic)
}

// readGeometry validates a segment's header and returns its geometry; op
// names the caller's operation in an error.
func readGeometry(op string, seg *segment, info segInfo) (geometry, error) {
	base := unsafe.Pointer(&seg.mem[0])
	// A creator may still be writing the header: give it a moment.
	for wait := 0; wait < 100 && headerOf(base, info) == headerCreating; wait++ {
		time.Sleep(time.Millisecond)
	}
	if err := notReadyErr(op, seg.key, base, info); err != nil {
		return geometry{}, err
	}
	if v := atomic.LoadUint32(u32At(base, offVersion)); v != layoutVersion {
		return geometry{}, keyErr(op, seg.key, ErrBadVersion, "layout version %d, this library reads %d", v, layoutVersion)
	}
	msgSize := atomic.LoadUint64(u64At(base, offMsgSize))
	capacity := atomic.LoadUint64(u64At(base, offCapacity))
	if msgSize == 0 || msgSize%8 != 0 || msgSize/8 > maxMsgWords || capacity == 0 || capacity > maxCapacity {
		return geometry{}, keyErr(op, seg.key, ErrCorrupt, "message size %d, capacity %d", msgSize, capacity)
	}
	g := newGeometry(msgSize/8, capacity)
	if atomic.LoadUint64(u64At(base, offSlotStride)) != g.slotStride ||
		atomic.LoadUint64(u64At(base, offDataOffset)) != g.dataOffset ||
		atomic.LoadUint64(u64At(base, offSlotsStart)) != g.slotsStart {
		return geometry{}, keyErr(op, seg.key, ErrCorrupt, "slot layout does not match message size %d", msgSize)
	}
	if g.total > uint64(len(seg.mem)) {
		return geometry{}, keyErr(op, seg.key, ErrCorrupt, "%d slots of %d bytes need %d bytes, segment has %d", capacity, g.slotStride, g.total, len(seg.mem))
	}
	return g, nil
}

func newQueue(seg *segment, g geometry, o options) (*Queue, error) {
	q := viewQueue(seg, g)
	q.inKind = pickCopy(int(g.msgSize), true)
	q.outKind = pickCopy(int(g.msgSize), false)
	q.wait = o.wait
	self, err := q.takeEntry()
	if err != nil {
		return nil, err
	}
	q.self, q.me = self, q.entry(self)
	q.ownerTag = uint64(self+1) << ownerEntryShift
	return q, nil
}

// Close detaches this handle from the segment. The queue itself stays (see
// Delete). Closing twice returns an error wrapping ErrClosed; every other
// method on a closed handle returns ErrClosed or false, or panics where it has
// no way to report (EnqueueShift).
func (q *Queue) Close() error {
	if !q.closed.CompareAndSwap(false, true) {
		return keyErr("close", q.key, ErrClosed, "")
	}
	q.releaseEntry()
	return q.seg.detach()
}

// Key returns the queue's SysV key.
func (q *Queue) Key() int { return q.key }

// Cap returns how many messages the queue holds.
func (q *Queue) Cap() int { return int(q.capacity) }

// MsgSize returns the message size in bytes (8 × the words given to Create).
func (q *Queue) MsgSize() int { return q.msgSize }

// CopyVariants names the slot-copy routines this handle uses for its
// message size: into the segment (enqueue) and out of it (dequeue).
func (q *Queue) CopyVariants() (enqueue, dequeue string) {
	return q.inKind.String(), q.outKind.String()
}

// Len returns how many messages the queue holds now (claimed positions count:
// a message being written or read counts as in the queue). 0 once closed.
func (q *Queue) Len() int {
	if q.closed.Load() {
		return 0
	}
	head := atomic.LoadUint64(q.head)
	tail := atomic.LoadUint64(q.tail)
	if tail <= head {
		return 0
	}
	if tail-head > q.capacity {
		return int(q.capacity)
	}
	return int(tail - head)
}

// Stats returns the queue's counters (zero once closed). They are derived from
// the positions and from counters that only rare paths write, so keeping them
// costs the hot path nothing.
func (q *Queue) Stats() Stats {
	if q.closed.Load() {
		return Stats{}
	}
	overwritten := atomic.LoadUint64(q.overwritten)
	lostEnq := atomic.LoadUint64(q.lostEnq)
	skipped := atomic.LoadUint64(q.skipped)
	lostDeq := atomic.LoadUint64(q.lostDeq)
	head := atomic.LoadUint64(q.head)
	tail := atomic.LoadUint64(q.tail)
	return Stats{
		Enqueued:    sub0(tail, lostEnq),
		Dequeued:    sub0(head, overwritten+skipped+lostDeq),
		Overwritten: overwritten,
		Lost:        lostEnq + lostDeq,
	}
}

func sub0(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

func checkKey(op string, key int) error {
	if key == 0 || key < math.MinInt32 || key > math.MaxInt32 {
		return keyErr(op, key, ErrInvalidKey, "keys are non-zero 32-bit values (0 is IPC_PRIVATE)")
	}
	return nil
}

func u64At(base unsafe.Pointer, off uintptr) *uint64 { return (*uint64)(unsafe.Add(base, off)) }
func u32At(base unsafe.Pointer, off uintptr) *uint32 { return (*uint32)(unsafe.Add(base, off)) }

// slot returns the address of the slot for position pos. A capacity that is
// not a power of two costs a 64-bit division here instead of a mask; measured
// with BenchmarkSlotIndex (capacity 64 against 63, one enqueue and one dequeue
// per op) at 45.4 against 47.2 ns, p=0.88 over 8 runs: not enough to justify
// rounding the slot count up and keeping a separate length limit.
func (q *Queue) slot(pos uint64) unsafe.Pointer {
	var i uint64
	if q.pow2 {
		i = pos & q.mask
	} else {
		i = pos % q.capacity
	}
	return unsafe.Add(q.slots, uintptr(i)*q.stride)
}

func (q *Queue) data(slot unsafe.Pointer) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(slot, q.dataOff)), q.msgSize)
}

// checkMsg refuses a closed handle or a message of the wrong length before
// anything in shared memory changes.
func (q *Queue) checkMsg(op string, msg []byte) error {
	if q.closed.Load() {
		return keyErr(op, q.key, ErrClosed, "")
	}
	if len(msg) != q.msgSize {
		return keyErr(op, q.key, ErrMsgSize, "got %d bytes, the queue's messages are %d", len(msg), q.msgSize)
	}
	return nil
}

func (q *Queue) mustMsg(op string, msg []byte) {
	if err := q.checkMsg(op, msg); err != nil {
		panic("shqueue: " + err.Error())
	}
}

// mustLen is mustMsg for the Try calls, which have already answered false
// for a closed handle.
func (q *Queue) mustLen(op string, msg []byte) {
	if len(msg) != q.msgSize {
		q.mustMsg(op, msg)
	}
}

// EnqueueShift adds msg; if the queue is full it drops the oldest message
// (counted in Stats as Overwritten) to make room. If the oldest message is
// still being written, it waits for its producer (or, should that process have
// died, for recovery). It panics if msg is not MsgSize bytes, if the handle is
// closed, or with an error wrapping ErrCorrupt if the segment's positions are
// in a state no sequence of operations produces and nothing moves them: it
// has no other way to report that it could not add msg.
func (q *Queue) EnqueueShift(msg []byte) {
	q.mustMsg("enqueue", msg)
	var watch shiftWatch
	for round := 1; !q.enqueue(msg); round++ {
		q.dropOldest()
		if round%4096 == 0 {
			q.checkShift(&watch)
		}
	}
}

// shiftWatch follows an EnqueueShift that makes no progress.
type shiftWatch struct {
	head, tail uint64
	since      time.Time
}

// Limits after which EnqueueShift calls a segment corrupt when head and tail
// stand still: in a state no operation produces, or in a legitimate wait
// whose claimant no record names.
// Hostile-segment tests shorten shiftUnknownAfter so each call returns fast.
const shiftCorruptAfter = 10 * time.Millisecond

var shiftUnknownAfter = 30 * time.Second

// maxPos bounds a plausible position: the sequence word holds twice the
// position plus a flag bit, and nothing runs 2^61 operations.
const maxPos = 1 << 61

// checkShift tells a slow process from a corrupt segment. A full queue
// legitimately cannot make room while the head slot is claimed by a producer
// that has not published (tail == head+capacity, seq == 2*head), or while the
// tail slot is still held by the consumer of the previous lap (head has passed
// tail-capacity, its slot is not released). Either claimant is on record (its
// owner word or intent); if it dies, recovery settles the slot.
func (q *Queue) checkShift(w *shiftWatch) {
	head := atomic.LoadUint64(q.head)
	tail := atomic.LoadUint64(q.tail)
	headSeq := atomic.LoadUint64((*uint64)(q.slot(head)))
	tailSeq := atomic.LoadUint64((*uint64)(q.slot(tail)))
	legit, claimed, consumer := false, uint64(0), false
	switch {
	case tail >= maxPos || head > tail || tail-head > q.capacity:
		// Positions no sequence of operations produces.
	case tail == head+q.capacity && headSeq == freeSeq(head):
		legit, claimed = true, head
	case tail >= q.capacity && head > tail-q.capacity && tailSeq&^seqAbandoned == fullSeq(tail-q.capacity):
		legit, claimed, consumer = true, tail-q.capacity, true
	}
	if legit {
		if known, _ := q.claimant(q.slot(claimed), claimed, consumer); known {
			w.since = time.Time{}
			return
		}
	}
	if w.since.IsZero() || head != w.head || tail != w.tail {
		w.head, w.tail, w.since = head, tail, time.Now()
		return
	}
	limit := shiftCorruptAfter
	if legit {
		limit = shiftUnknownAfter
	}
	if time.Since(w.since) > limit {
		panic(keyErr("enqueue", q.key, ErrCorrupt, "head %d, tail %d, head slot sequence %#x, tail slot sequence %#x: no progress possible", head, tail, headSeq, tailSeq))
	}
}

// EnqueueTry adds msg if there is room and reports whether it did. It returns
// false on a closed handle and panics if msg is not MsgSize bytes.
func (q *Queue) EnqueueTry(msg []byte) bool {
	if q.closed.Load() {
		return false
	}
	q.mustLen("enqueue", msg)
	if q.enqueue(msg) {
		return true
	}
	q.noteMiss(false)
	return false
}

// EnqueueBlock adds msg, waiting for room until ctx is done. A call that
// returns an error has changed nothing in the queue.
func (q *Queue) EnqueueBlock(ctx context.Context, msg []byte) error {
	if err := q.checkMsg("enqueue", msg); err != nil {
		return err
	}
	if err := ctxDone(ctx); err != nil {
		return err
	}
	if q.enqueue(msg) {
		return nil
	}
	return q.block(ctx, false, func() bool { return q.enqueue(msg) })
}

// DequeueTry moves the oldest message into buf if there is one and reports
// whether it did. It returns false on a closed handle and panics if buf is not
// MsgSize bytes.
func (q *Queue) DequeueTry(buf []byte) bool {
	if q.closed.Load() {
		return false
	}
	q.mustLen("dequeue", buf)
	if q.dequeue(buf) {
		return true
	}
	q.noteMiss(true)
	return false
}

// DequeueBlock moves the oldest message into buf, waiting for one until ctx is
// done. A call that returns an error has changed nothing in the queue.
func (q *Queue) DequeueBlock(ctx context.Context, buf []byte) error {
	if err := q.checkMsg("dequeue", buf); err != nil {
		return err
	}
	if err := ctxDone(ctx); err != nil {
		return err
	}
	if q.dequeue(buf) {
		return nil
	}
	return q.block(ctx, true, func() bool { return q.dequeue(buf) })
}

func ctxDone(ctx context.Context) error {
	if done := ctx.Done(); done != nil {
		select {
		case <-done:
			return ctx.Err()
		default:
		}
	}
	return nil
}

// The protocol. A position pos maps to slot pos mod capacity; the slot's
// sequence word says what the slot holds for that lap:
//
//	seq == 2*pos                 free: a producer may claim pos
//	seq == 2*pos+1               published: a consumer may claim pos
//	seq == (2*pos+1)|abandoned   published empty: its producer died (recover.go)
//	seq == 2*(pos+capacity)      released: free for position pos+capacity
//
// Vyukov's original numbers the states pos, pos+1 and pos+capacity, which
// cannot tell "published for pos" from "free for pos+1" when the capacity is
// 1; doubling the positions keeps the states apart for every capacity.
// Claims are CASes on tail (producers) and head (consumers); the sequence word
// is written only by the claimant (or, for a dead claimant, by recovery).
// A sequence word ahead of its position while the position itself has not
// moved cannot happen in a sound segment: the operation reports no progress
// rather than loop on it.

func freeSeq(pos uint64) uint64 { return pos << 1 }
func fullSeq(pos uint64) uint64 { return pos<<1 | 1 }

// enqueue publishes msg at the tail if there is room.
func (q *Queue) enqueue(msg []byte) bool {
	intent := q.me.enqIntent()
	pos := atomic.LoadUint64(q.tail)
	for {
		slot := q.slot(pos)
		seq := atomic.LoadUint64((*uint64)(slot)) &^ seqAbandoned
		switch diff := int64(seq - freeSeq(pos)); {
		case diff == 0:
			// Record the intent before the claim, so that if this process
			// dies holding pos, a waiter can tell whose claim it was. The
			// CAS is a full barrier: the intent is visible before it.
			// (Producers do not also write the slot's owner word, as
			// consumers do: that store cost 20–30 ns of one-way latency,
			// measured in a 64-byte ping-pong. See claimant.)
			storeRelease64(intent, pos+1)
			if !atomic.CompareAndSwapUint64(q.tail, pos, pos+1) {
				storeRelease64(intent, 0)
				pos = atomic.LoadUint64(q.tail)
				continue
			}
			dst := q.data(slot)
			if q.inKind == copyBuiltin {
				copy(dst, msg)
			} else {
				copySlot(q.inKind, dst, msg)
			}
			// The message must be visible before the sequence number that
			// publishes it: a release store orders every earlier store (and
			// copySlot fences its non-temporal stores itself). Then the
			// sleeper check, which must not pass the publish: see wake.
			q.publish((*uint64)(slot), fullSeq(pos))
			if atomic.LoadUint32(q.emptySleepers) != 0 {
				wakeAll(q.notEmpty)
			}
			return true
		case diff < 0:
			return false // the slot still holds the message from one lap ago: full
		default:
			// Another producer took pos.
			if pos = moved(q.tail, pos); pos == stuck {
				return false
			}
		}
	}
}

// dequeue moves the message at the head into buf if one is published.
func (q *Queue) dequeue(buf []byte) bool {
	intent := q.me.deqIntent()
	pos := atomic.LoadUint64(q.head)
	for {
		slot := q.slot(pos)
		seqp := (*uint64)(slot)
		seq := atomic.LoadUint64(seqp)
		switch diff := int64(seq&^seqAbandoned - fullSeq(pos)); {
		case diff == 0:
			storeRelease64(intent, pos+1)
			if !atomic.CompareAndSwapUint64(q.head, pos, pos+1) {
				storeRelease64(intent, 0)
				pos = atomic.LoadUint64(q.head)
				continue
			}
			storeRelease64(u64At(slot, offSlotOwner), q.ownerTag|ownerConsumer|pos&ownerPosMask)
			if seq&seqAbandoned != 0 {
				// A dead producer's slot: nothing to read; pass it on.
				q.release(slot, pos, seq, q.skipped)
				pos = atomic.LoadUint64(q.head)
				continue
			}
			src := q.data(slot)
			if q.outKind == copyBuiltin {
				copy(buf, src)
			} else {
				copySlot(q.outKind, buf, src)
			}
			// Release the slot for the next lap. Nothing else writes a
			// claimed slot's sequence word while its claimant lives:
			// recovery settles only claims whose claimant is on record
			// and dead, or (recover.go) a claim on no record that has
			// stood for 5 s while a dead process is in the table.
			q.publish(seqp, freeSeq(pos+q.capacity))
			if atomic.LoadUint32(q.fullSleepers) != 0 {
				wakeAll(q.notFull)
			}
			return true
		case diff < 0:
			return false // empty, or the producer of pos has not published yet
		default:
			if pos = moved(q.head, pos); pos == stuck {
				return false
			}
		}
	}
}

// publish writes a slot's sequence word to hand the slot to the other side
// (publish a message, or release a slot). The caller then reads the other
// side's sleeper count, a load that must not be ordered before this store, or
// a sleeper could miss it. Where this process registered for the asymmetric
// fence (fence_linux.go), sleepers issue the barrier for both sides and this
// is a plain release store; elsewhere an atomic swap, a full barrier.
func (q *Queue) publish(seqp *uint64, seq uint64) {
	if lightWake {
		storeRelease64(seqp, seq)
	} else {
		atomic.SwapUint64(seqp, seq)
	}
}

// release frees a slot claimed at pos without reading it, counting it in
// counter; used for abandoned slots and for EnqueueShift's drops.
func (q *Queue) release(slot unsafe.Pointer, pos, seq uint64, counter *uint64) {
	if atomic.CompareAndSwapUint64((*uint64)(slot), seq, freeSeq(pos+q.capacity)) {
		atomic.AddUint64(counter, 1)
		if atomic.LoadUint32(q.fullSleepers) != 0 {
			wakeAll(q.notFull)
		}
	}
}

// dropOldest drops the message at the head for EnqueueShift, if the queue is
// still full: a consumer that took the head meanwhile made the room itself.
func (q *Queue) dropOldest() {
	pos := atomic.LoadUint64(q.head)
	if atomic.LoadUint64(q.tail) < pos+q.capacity {
		// Not full: the tail slot is still held by the consumer of the
		// previous lap (or, if it died, by nobody: recover it).
		q.noteMiss(false)
		return
	}
	slot := q.slot(pos)
	seq := atomic.LoadUint64((*uint64)(slot))
	switch diff := int64(seq&^seqAbandoned - fullSeq(pos)); {
	case diff == 0:
		storeRelease64(q.me.deqIntent(), pos+1)
		if !atomic.CompareAndSwapUint64(q.head, pos, pos+1) {
			storeRelease64(q.me.deqIntent(), 0)
			return
		}
		storeRelease64(u64At(slot, offSlotOwner), q.ownerTag|ownerConsumer|pos&ownerPosMask)
		if seq&seqAbandoned != 0 {
			q.release(slot, pos, seq, q.skipped)
		} else {
			q.release(slot, pos, seq, q.overwritten)
		}
	case diff < 0:
		// The oldest message is still being written: wait for its producer
		// (or, if it died, recover the slot).
		spinPause(spinPausesPerTry)
		q.noteMiss(true)
	}
}

// stuck is what moved returns for a position that a sequence word says has
// moved on but has not: possible only in a corrupted segment.
const stuck = ^uint64(0)

// moved reloads a position after a sequence word showed it has moved on.
func moved(p *uint64, old uint64) uint64 {
	if pos := atomic.LoadUint64(p); pos != old {
		return pos
	}
	return stuck
}

func (q *Queue) String() string {
	return fmt.Sprintf("shqueue(key=%s, msg=%dB, cap=%d, pid=%d)", keyHex(q.key), q.msgSize, q.capacity, os.Getpid())
}

func isAlreadyExist(err error) bool { return err != nil && errors.Is(err, ErrAlreadyExist) }
