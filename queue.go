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
// concurrent use by many goroutines, Close included, and goroutines sharing a
// handle are as safe as separate handles: every claim is recorded on its own,
// so a crash or a stall of any of them is recovered exactly.
type Queue struct {
	// Read-only after Create/Open: the process-local copy of the geometry
	// and the addresses derived from it. Nothing read from shared memory
	// later changes them.
	base         unsafe.Pointer
	slots        unsafe.Pointer
	capacity     uint64
	mask         uint64 // capacity-1 when capacity is a power of two
	pow2         bool
	stride       uintptr
	dataOff      uintptr
	msgSize      int
	inKind       copyKind // copy variant into the segment (enqueue)
	outKind      copyKind // copy variant out of it (dequeue)
	wait         WaitStrategy
	tryWait      time.Duration
	flags        uint32   // the queue's options (layout.go: flagSingleProducer, flagSingleConsumer)
	oneGoroutine bool     // WithSingleGoroutine and the system allows it: lanes taken without a CAS (roles.go: enterAt)
	prodMode     roleMode // how this handle enqueues: shared, holding the producer role, or not allowed (roles.go)
	consMode     roleMode // the same for dequeues
	prodLane     int      // the lane an enqueue tries first: a role's, or the first shared one (roles.go)
	consLane     int      // the lane a dequeue tries first

	tail, head                                      *uint64
	notEmpty, emptySleepers                         *uint32
	notFull, fullSleepers                           *uint32
	overwritten, lostEnq, skipped, lostDeq, stalled *uint64
	aborted                                         *uint64
	lanes                                           unsafe.Pointer // this handle's claim records in the table
	selfEntry                                       procEntry

	key  int
	self int // this handle's entry in the attached-process table
	seg  *segment

	closed  atomic.Bool
	waiters atomic.Int32 // blocking calls inside the handle, between attempts

	// laneBusy marks the lanes taken by calls inside the handle (protocol.go:
	// enter; the first two are the exclusive roles', roles.go), each on a
	// line of its own: a producer goroutine and a consumer goroutine sharing
	// the handle take different lanes and never write the same line.
	_        [64]byte
	laneBusy [procRecords]laneWord

	// Stall tracking for crash recovery, on its own line: written only when an
	// operation finds the queue empty or full.
	_         [64]byte
	stallPos  atomic.Uint64
	stallLast atomic.Int64 // when recovery last looked at it
}

// Stats are a queue's counters since Create. They are read without stopping
// other processes, so a snapshot taken under traffic may be a few messages off.
type Stats struct {
	Enqueued    uint64 // messages published
	Dequeued    uint64 // messages handed to a consumer
	Overwritten uint64 // messages dropped by EnqueueShift to make room
	Lost        uint64 // messages lost with a process that died mid-operation
	// Stalled counts Try calls that answered full or empty after waiting
	// their TryWait for a live process stopped in the middle of an operation.
	Stalled uint64
	// Aborted counts zero-copy claims given up with Claim.Abort: each took a
	// position that consumers pass over, and none is a message (not in
	// Enqueued, Dequeued or Lost).
	Aborted uint64
}

// initSegment writes a fresh segment's header and slot sequence numbers. The
// kernel hands out new segments zeroed; the magic goes in last, so a process
// that finds it also finds a complete header.
func initSegment(mem []byte, g geometry) {
	base := unsafe.Pointer(&mem[0])
	if g.flags != 0 {
		atomic.StoreUint32(u32At(base, offVersion), layoutVersionRoles)
		atomic.StoreUint32(u32At(base, offFlags), g.flags)
	} else {
		atomic.StoreUint32(u32At(base, offVersion), layoutVersion)
	}
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
	v := atomic.LoadUint32(u32At(base, offVersion))
	if v != layoutVersion && v != layoutVersionRoles {
		return geometry{}, keyErr(op, seg.key, ErrBadVersion, "layout version %d, this library reads %d and %d", v, layoutVersion, layoutVersionRoles)
	}
	flags := atomic.LoadUint32(u32At(base, offFlags))
	if (v == layoutVersion) != (flags == 0) || flags&^flagsKnown != 0 {
		return geometry{}, keyErr(op, seg.key, ErrCorrupt, "layout version %d with option flags %#x", v, flags)
	}
	msgSize := atomic.LoadUint64(u64At(base, offMsgSize))
	capacity := atomic.LoadUint64(u64At(base, offCapacity))
	if msgSize == 0 || msgSize%8 != 0 || msgSize/8 > maxMsgWords || capacity == 0 || capacity > maxCapacity {
		return geometry{}, keyErr(op, seg.key, ErrCorrupt, "message size %d, capacity %d", msgSize, capacity)
	}
	g := newGeometry(msgSize/8, capacity)
	g.flags = flags
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

// newQueue attaches a handle: it takes a table entry and the roles asked for;
// op names the caller's operation in an error.
func newQueue(op string, seg *segment, g geometry, o options) (*Queue, error) {
	q := mapQueue(seg, g)
	q.inKind = pickCopy(int(g.msgSize), true)
	q.outKind = pickCopy(int(g.msgSize), false)
	q.wait = o.wait
	q.tryWait = o.tryWait
	q.oneGoroutine = o.oneGoroutine && lightWake // Close needs the barrier (fence_linux.go)
	self, err := q.takeEntry()
	if err != nil {
		return nil, err
	}
	q.self, q.selfEntry = self, q.entry(self)
	q.lanes = unsafe.Pointer(q.selfEntry.record(0))
	if err := q.takeRoles(op, o.roles); err != nil {
		q.releaseEntry()
		return nil, err
	}
	return q, nil
}

// mapQueue builds the fields of a Queue that every path uses (positions,
// counters, futex words, slot addressing) from a process-local geometry; an
// inspection (inspect.go) uses it without taking a table entry.
func mapQueue(seg *segment, g geometry) *Queue {
	base := unsafe.Pointer(&seg.mem[0])
	q := &Queue{
		base:          base,
		slots:         unsafe.Add(base, g.slotsStart),
		capacity:      g.capacity,
		stride:        uintptr(g.slotStride),
		dataOff:       uintptr(g.dataOffset),
		msgSize:       int(g.msgSize),
		tail:          u64At(base, offTail),
		head:          u64At(base, offHead),
		notEmpty:      u32At(base, offNotEmptyWord),
		emptySleepers: u32At(base, offEmptySleepers),
		notFull:       u32At(base, offNotFullWord),
		fullSleepers:  u32At(base, offFullSleepers),
		overwritten:   u64At(base, offOverwritten),
		lostEnq:       u64At(base, offLostEnq),
		skipped:       u64At(base, offSkipped),
		lostDeq:       u64At(base, offLostDeq),
		stalled:       u64At(base, offStalled),
		aborted:       u64At(base, offAborted),
		flags:         g.flags,
		key:           seg.key,
		self:          -1,
		seg:           seg,
	}
	if g.capacity&(g.capacity-1) == 0 {
		q.pow2, q.mask = true, g.capacity-1
	}
	return q
}

// Close detaches this handle from the segment. The queue itself stays (see
// Delete). It waits for every zero-copy Claim and Message the handle holds to
// be committed, aborted or released, so it never unmaps bytes still in use.
// Closing twice returns an error wrapping ErrClosed; every other method on a
// closed handle returns ErrClosed or false, or panics where it has no way to
// report (EnqueueShift).
func (q *Queue) Close() error {
	if !q.closed.CompareAndSwap(false, true) {
		return keyErr("close", q.key, ErrClosed, "")
	}
	// Calls inside the handle see closed at their next look and leave; a
	// sleeper is woken (the futex words change, so one about to sleep will
	// not). A call in the middle of a copy finishes it first.
	wakeSleepers := func() {
		wakeAll(q.notEmpty)
		wakeAll(q.notFull)
	}
	wakeSleepers()
	if q.oneGoroutine {
		// The other half of enterAt's bargain: a call that stored its
		// lane taken without a barrier is seen below, or sees closed.
		sleeperBarrier()
	}
	q.closeLanes(wakeSleepers)
	for round := 1; q.waiters.Load() != 0; round++ {
		if round%closeRoundsPerWake == 0 {
			wakeSleepers()
		}
		time.Sleep(closePoll)
	}
	q.releaseRoles()
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
	lane := q.enter()
	if lane < 0 {
		return 0
	}
	defer q.leave(lane)
	return q.length()
}

func (q *Queue) length() int {
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
	lane := q.enter()
	if lane < 0 {
		return Stats{}
	}
	defer q.leave(lane)
	return q.stats()
}

func (q *Queue) stats() Stats {
	overwritten := atomic.LoadUint64(q.overwritten)
	lostEnq := atomic.LoadUint64(q.lostEnq)
	skipped := atomic.LoadUint64(q.skipped)
	lostDeq := atomic.LoadUint64(q.lostDeq)
	aborted := atomic.LoadUint64(q.aborted)
	head := atomic.LoadUint64(q.head)
	tail := atomic.LoadUint64(q.tail)
	return Stats{
		Enqueued:    sub0(tail, lostEnq+aborted),
		Dequeued:    sub0(head, overwritten+skipped+lostDeq),
		Overwritten: overwritten,
		Lost:        lostEnq + lostDeq,
		Stalled:     atomic.LoadUint64(q.stalled),
		Aborted:     aborted,
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

// EnqueueShift adds msg; if the queue is full at that instant it drops the
// oldest message (counted in Stats as Overwritten) in the same step, so one
// call drops at most one message, and only from a full queue. A consumer that
// has already taken the oldest message finishes normally. If the slot it
// needs is still held by another process's operation in flight (the oldest
// message being written, or the previous lap's being read), it waits for that
// operation; should that process have died, recovery settles the slot. It
// panics if msg is not MsgSize bytes, if the handle is closed (also when
// Close runs while it waits), or with an error wrapping ErrCorrupt if the
// segment's positions are in a state no sequence of operations produces and
// nothing moves them: it has no other way to report that it could not add
// msg.
func (q *Queue) EnqueueShift(msg []byte) {
	q.mustMsg("enqueue", msg)
	if q.flags&flagSingleConsumer != 0 {
		panic("shqueue: " + keyErr("enqueue", q.key, ErrRole, "EnqueueShift moves head, which a single-consumer queue's consumer alone moves").Error())
	}
	switch q.shift(msg) {
	case opClosed:
		q.mustMsg("enqueue", msg)
	case opRole:
		panic("shqueue: " + q.roleErr("enqueue").Error())
	}
}

// EnqueueTry adds msg if there is room and reports whether it did. It answers
// false only if the queue held Cap() messages at some instant during the call
// (or the handle is closed): when the slot it needs is still being read by a
// consumer in another process, it waits for that consumer instead of
// answering. It waits at most the handle's TryWait (WithTryWait) for a live
// process that is stopped or descheduled in the middle of its operation, and
// then answers false and counts the call in Stats().Stalled. It panics if msg
// is not MsgSize bytes.
func (q *Queue) EnqueueTry(msg []byte) bool {
	if len(msg) != q.msgSize && !q.closed.Load() {
		q.mustMsg("enqueue", msg)
	}
	return q.enqueue(msg, true) == opDone
}

// EnqueueBlock adds msg, waiting for room until ctx is done. A call that
// returns an error has changed nothing in the queue. Close from another
// goroutine ends the wait with ErrClosed.
func (q *Queue) EnqueueBlock(ctx context.Context, msg []byte) error {
	if err := q.checkMsg("enqueue", msg); err != nil {
		return err
	}
	if err := ctxDone(ctx); err != nil {
		return err
	}
	switch r := q.enqueue(msg, false); r {
	case opDone:
		return nil
	case opClosed, opRole:
		return q.blockResult("enqueue", r)
	}
	return q.block(ctx, false, msg, nil)
}

// DequeueTry moves the oldest message into buf if there is one and reports
// whether it did. It answers false only if the queue was empty at some
// instant during the call (or the handle is closed): when the next message is
// still being written by a producer in another process, it waits for that
// producer instead of answering, at most the handle's TryWait for a live
// process that is stopped or descheduled (then false, counted in
// Stats().Stalled). It panics if buf is not MsgSize bytes.
func (q *Queue) DequeueTry(buf []byte) bool {
	if len(buf) != q.msgSize && !q.closed.Load() {
		q.mustMsg("dequeue", buf)
	}
	return q.dequeue(buf, true) == opDone
}

// DequeueBlock moves the oldest message into buf, waiting for one until ctx is
// done. A call that returns an error has changed nothing in the queue. Close
// from another goroutine ends the wait with ErrClosed.
func (q *Queue) DequeueBlock(ctx context.Context, buf []byte) error {
	if err := q.checkMsg("dequeue", buf); err != nil {
		return err
	}
	if err := ctxDone(ctx); err != nil {
		return err
	}
	switch r := q.dequeue(buf, false); r {
	case opDone:
		return nil
	case opClosed, opRole:
		return q.blockResult("dequeue", r)
	}
	return q.block(ctx, true, buf, nil)
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

func (q *Queue) String() string {
	return fmt.Sprintf("shqueue(key=%s, msg=%dB, cap=%d, pid=%d)", keyHex(q.key), q.msgSize, q.capacity, os.Getpid())
}

func isAlreadyExist(err error) bool { return err != nil && errors.Is(err, ErrAlreadyExist) }
