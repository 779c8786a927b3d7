//go:build linux || darwin

package shqueue

import (
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// The slot protocol, in one place: the states of a slot, who may move a slot
// or a position to its next state, and what an operation does when it meets
// a slot in the middle of someone else's operation. It owns the sequence
// encoding, the claim records, the head and tail claims, publishing and
// releasing, and the wakers. It calls copySlot (cpu.go) to move bytes,
// wait.go to back off, and recover.go when an operation in flight does not
// finish.
//
// Positions. tail is the next position producers claim, head the next one
// consumers claim; both only grow, and head <= tail <= head+capacity always.
// Position pos lives in slot pos mod capacity. Claims are CASes on tail and
// head: the CAS is the instant an enqueue or dequeue takes effect. On a side
// created exclusive (WithSingleProducer, WithSingleConsumer) the one handle
// holding its role moves the position with a release store instead, the
// instant its operation takes effect (roles.go: claimTail, claimHead); every
// state below is the same.
//
// Sequence words. A slot's sequence word says what the slot holds:
//
//	seq == 2*pos                free for pos: a producer may claim pos
//	                            (while tail <= pos), or the producer that did
//	                            is writing it (tail > pos)
//	seq == 2*pos+1              published: a consumer may claim pos (while
//	                            head <= pos), or the one that did is reading
//	seq == (2*pos+1)|abandoned  published empty: its producer died (recover.go)
//	seq == 2*(pos+capacity)     released: free for the next lap
//
// Vyukov's bounded queue numbers these pos, pos+1 and pos+capacity, which
// cannot tell "published for pos" from "free for pos+1" when the capacity is
// 1; doubling keeps them apart for every capacity. Only the claimant writes a
// claimed slot's word (or recovery, once the claimant is dead), with a release
// store, so the message is visible before the word that hands it over.
//
// EnqueueShift adds one more state. When the queue is full (tail ==
// head+capacity) the tail slot is the head slot, holding the oldest message.
// The shifter claims pos from tail anyway, so tail passes head+capacity by
// one: the only state in which it does, and one in which every other
// operation still sees a full queue (the shifter's message is not in yet).
// Then it claims head with a CAS to drop the oldest message. If a consumer
// took that message first, the queue had room after all: nothing is dropped,
// and the shifter waits for the consumer's release. Either way it then writes
// its message and publishes 2*pos+1. Until then the slot shows the previous
// lap's message (or is free) while tail has passed pos: a consumer that
// reaches pos waits, as for any producer in flight. So one call drops at most
// one message, only from a full queue, and the queue never looks empty while
// a shift replaces its only message (claiming head first would open such a
// window, which the linearizability test caught).

// Claim records. Before a handle claims a position it writes what it is about
// to claim into one of its lanes in the process table (recEnq|pos, recDeq|pos
// or recShift|pos), and clears it if the CAS fails. The CAS is a full barrier,
// so anyone who sees the claim also sees the record. Every unfinished claim is
// therefore on record, however many goroutines share a handle, and a waiter
// stuck behind one can always name its claimant (recover.go). A lane is taken
// by a CAS on a word of process memory (laneBusy); the same word tells Close
// that a call is inside the handle.
//
// Runs. A batch (batch.go) claims a run of n consecutive positions
// [pos, pos+n) with one CAS of tail (or head) from pos to pos+n, after seeing
// every slot of the run ready: free for its position (seq == 2*p) for a
// producer, published for a consumer. No one else can claim a position at or
// past tail (or head) before that CAS, so the slots stay as seen. Its record
// is one word too: recEnq or recDeq with the recRun bit (the bit recDropped
// is with recShift), n-1 in bits 55-60 and pos in bits 0-54, so a run holds
// at most maxRun (64) positions and starts below runPosLimit (2^55); a longer
// batch takes several claims, and one further out (after 2^55 operations)
// one position at a time with the plain record. A run of one is always
// recorded plainly. Recovery (recover.go) finds a run's record from any
// position inside it, and settles a dead claimant's slots one position after
// the other. A zero-copy claim or read (zerocopy.go) is a run of one whose
// lane stays taken until Commit, Abort or Release: laneBusy then holds a word
// naming the position, so a stale copy of the value is told from the lane's
// current holder.
//
// Exact answers. A slot that is not ready does not by itself mean the queue is
// full or empty: the consumer of the previous lap may be copying out (head
// has moved, so there is room), or the producer of pos may be copying in
// (tail has moved, so there is a message). The Try calls re-read the other
// position and answer full only when head+capacity == tail, empty only when
// tail == head; otherwise they back off until the operation in flight
// finishes (as crossbeam's ArrayQueue does). The blocking calls wait anyway
// and take the quick answer.

// seqAbandoned marks a slot whose producer died after claiming it: the slot
// counts as published but holds no message. Positions stay below maxPos, far
// from the flag (the sequence word holds twice the position).
const seqAbandoned uint64 = 1 << 63

func freeSeq(pos uint64) uint64 { return pos << 1 }
func fullSeq(pos uint64) uint64 { return pos<<1 | 1 }

// seqWord returns the address of a slot's sequence word.
func seqWord(slot unsafe.Pointer) *uint64 { return (*uint64)(unsafe.Add(slot, offSlotSeq)) }

// Claim records: the kind in the top bits, the position below.
const (
	recEnq      uint64 = 1 << 62 // claiming pos from tail as a producer
	recDeq      uint64 = 2 << 62 // claiming pos from head as a consumer
	recShift    uint64 = 3 << 62 // EnqueueShift: claimed pos from tail while its slot held the oldest message
	recDropped  uint64 = 1 << 61 // with recShift: and took that message (pos-capacity) from head to drop it
	recKindMask uint64 = 3<<62 | recDropped
	recPosMask  uint64 = recDropped - 1 // positions stay below maxPos = 2^61

	// A run of positions (see "Runs"): recEnq or recDeq with recRun set,
	// the length less one at recRunShift and the first position below.
	recRun       uint64 = recDropped // the same bit: recDropped goes only with recShift
	recRunShift         = 55
	runPosLimit  uint64 = 1 << recRunShift
	maxRun       uint64 = 64
	recRunLenMax uint64 = maxRun - 1
)

// recordSpan decodes a record into its kind (recEnq, recDeq, recShift or
// recShift|recDropped) and the positions [pos, pos+n) it names.
func recordSpan(record uint64) (kind, pos, n uint64) {
	kind = record & recKindMask
	if kind == recEnq|recRun || kind == recDeq|recRun {
		return kind &^ recRun, record & (runPosLimit - 1), (record>>recRunShift)&recRunLenMax + 1
	}
	return kind, record & recPosMask, 1
}

// opResult is what one attempt at an operation found.
type opResult uint8

const (
	opDone     opResult = iota
	opNotReady          // full (enqueue) or empty (dequeue), as far as the attempt could tell
	opClosed            // the handle is closed
	opRole              // the side is exclusive and this handle does not hold its role (roles.go)
)

// enter takes a free shared lane of this handle for one call and returns its
// index, or -1 if the handle is closed. A lane is a word of process memory:
// 0 free, laneTaken while a call holds it, laneClosed once Close has taken it
// for good (Close waits for each lane to be free, so a call in the middle of a
// copy finishes first). With one goroutine per handle the first shared lane
// is always free: one uncontended CAS on a line only this handle uses, and no
// other check. Lane i records its claims in the entry's record i; the first
// two are the exclusive roles' (roles.go), taken by enterRole.
func (q *Queue) enter() int {
	if atomic.CompareAndSwapUint64(&q.laneBusy[firstSharedLane].w, laneFree, laneTaken) {
		return firstSharedLane
	}
	return q.enterSlow()
}

// Lane states (Queue.laneBusy).
const (
	laneFree   = 0
	laneTaken  = 1
	laneClosed = 2
)

// Lane indexes: the exclusive roles' lanes, then the shared ones. A shared
// handle's enqueues try firstSharedLane first and its dequeues
// firstConsumerLane, whose claim record (offProcRecords + lane*8) is on the
// entry's other line: a producer and a consumer goroutine of one handle then
// write neither the same laneBusy line nor the same record line (a line
// passed between two cores at every call doubled a 64-byte ping-pong).
const (
	laneProducer      = 0 // the exclusive producer role's lane (roles.go)
	laneConsumer      = 1 // the exclusive consumer role's lane
	firstSharedLane   = 2
	firstConsumerLane = firstSharedLane + cacheLine/8 // records at entry+64 and entry+128
)

// laneWord is one lane's state, alone on its cache line.
type laneWord struct {
	w uint64
	_ [cacheLine - 8]byte
}

// enterSlow is enter when the first shared lane is taken: another goroutine
// is inside the handle, or it is closed.
func (q *Queue) enterSlow() int { return q.enterSharedFrom(firstSharedLane) }

// enterSharedFrom takes a free shared lane, looking from lane first and on
// round the shared ones, or returns -1 if the handle is closed.
func (q *Queue) enterSharedFrom(first int) int {
	const shared = procRecords - firstSharedLane
	for {
		for k := range shared {
			i := firstSharedLane + (first-firstSharedLane+k)%shared
			switch atomic.LoadUint64(&q.laneBusy[i].w) {
			case laneClosed:
				return -1
			case laneFree:
				if atomic.CompareAndSwapUint64(&q.laneBusy[i].w, laneFree, laneTaken) {
					return i
				}
			}
		}
		runtime.Gosched() // every lane is in a call: one will be free within a copy
	}
}

// closeLanes takes every lane for good, waiting for the calls that hold one
// to leave, and calls wakeSleepers now and then while it waits.
func (q *Queue) closeLanes(wakeSleepers func()) {
	for i := range q.laneBusy {
		w := &q.laneBusy[i].w
		for round := 0; ; round++ {
			switch v := atomic.LoadUint64(w); v {
			case laneClosed:
				// A WithSingleGoroutine call that saw Close closed it (roles.go: enterAt).
			case laneFree, laneRefused: // laneRefused: a role's lane this handle never had (roles.go)
				if !atomic.CompareAndSwapUint64(w, v, laneClosed) {
					continue
				}
			default:
				if round%closeRoundsPerWake == 0 {
					wakeSleepers()
				}
				time.Sleep(closePoll)
				continue
			}
			break
		}
	}
}

// Close polls for calls still inside the handle every closePoll, and wakes
// sleepers again every closeRoundsPerWake polls (one may have read the futex
// word just before a wake).
const (
	closePoll          = 50 * time.Microsecond
	closeRoundsPerWake = 20
)

// leave gives the lane back. A release store: everything the call did in the
// segment happens before Close can see the lane free.
func (q *Queue) leave(lane int) { storeRelease64(&q.laneBusy[lane].w, 0) }

// record returns this handle's claim record for a lane (a shared lane or a
// role's).
func (q *Queue) record(lane int) *uint64 {
	return (*uint64)(unsafe.Add(q.lanes, uintptr(lane)*8))
}

// claim records what it is about to claim, then takes pos from the position
// p (tail or head) with a CAS. A failed claim clears the record at once: a
// stale record would name this process as the claimant of a position someone
// else holds, and recovery would wait for it.
func claim(p, rec *uint64, record, pos uint64) bool {
	storeRelease64(rec, record)
	if atomic.CompareAndSwapUint64(p, pos, pos+1) {
		return true
	}
	storeRelease64(rec, 0)
	return false
}

// enqueue publishes msg at the tail if there is room. With exact set it
// answers opNotReady only if the queue was full at some instant of the call
// (see "Exact answers").
func (q *Queue) enqueue(msg []byte, exact bool) opResult {
	lane := q.enterProducer()
	if lane < 0 {
		return laneResult(lane)
	}
	rec := q.record(lane)
	var stall stallWait
	pos := atomic.LoadUint64(q.tail)
	for {
		slot := q.slot(pos)
		seq := atomic.LoadUint64(seqWord(slot)) &^ seqAbandoned
		switch diff := int64(seq - freeSeq(pos)); {
		case diff == 0:
			if !q.claimTail(rec, pos) {
				pos = atomic.LoadUint64(q.tail)
				continue
			}
			q.copyIn(slot, msg)
			q.publish(slot, fullSeq(pos))
			q.wakeConsumers()
			q.leave(lane)
			return opDone
		case diff < 0:
			// The slot still holds position pos-capacity. Full if head has
			// not passed it: then tail == pos == head+capacity when head
			// was read, since tail <= head+capacity always.
			if !exact || atomic.LoadUint64(q.head)+q.capacity <= pos || !stall.wait(q, pos-q.capacity, true) {
				q.leave(lane)
				return opNotReady
			}
			pos = atomic.LoadUint64(q.tail)
		default:
			// Another producer took pos.
			if pos = moved(q.tail, pos); pos == stuck {
				q.leave(lane)
				return opNotReady
			}
		}
	}
}

// dequeue moves the message at the head into buf if one is published. With
// exact set it answers opNotReady only if the queue was empty at some instant
// of the call.
func (q *Queue) dequeue(buf []byte, exact bool) opResult {
	lane := q.enterConsumer()
	if lane < 0 {
		return laneResult(lane)
	}
	rec := q.record(lane)
	var stall stallWait
	pos := atomic.LoadUint64(q.head)
	for {
		slot := q.slot(pos)
		seq := atomic.LoadUint64(seqWord(slot))
		switch diff := int64(seq&^seqAbandoned - fullSeq(pos)); {
		case diff == 0:
			if !q.claimHead(rec, pos) {
				pos = atomic.LoadUint64(q.head)
				continue
			}
			if seq&seqAbandoned != 0 {
				// A dead producer's slot: nothing to read; pass it on.
				q.releaseSlot(slot, pos, q.skipped)
				pos = atomic.LoadUint64(q.head)
				continue
			}
			q.copyOut(buf, slot)
			q.publish(slot, freeSeq(pos+q.capacity))
			q.wakeProducers()
			q.leave(lane)
			return opDone
		case diff < 0:
			// Not published for pos. Empty if tail has not passed it: then
			// tail == pos == head when tail was read, since head <= tail.
			if !exact || atomic.LoadUint64(q.tail) <= pos || !stall.wait(q, pos, false) {
				q.leave(lane)
				return opNotReady
			}
			pos = atomic.LoadUint64(q.head)
		default:
			// Another consumer took pos.
			if pos = moved(q.head, pos); pos == stuck {
				q.leave(lane)
				return opNotReady
			}
		}
	}
}

// shift adds msg, replacing the oldest message if the queue is full (see
// "EnqueueShift" above). It waits, never answering full, while the slot it
// needs is held by another process's operation in flight; recovery settles
// the slot if that process died.
func (q *Queue) shift(msg []byte) opResult {
	lane := q.enterProducer()
	if lane < 0 {
		return laneResult(lane)
	}
	rec := q.record(lane)
	var watch shiftWatch
	for round := 1; ; round++ {
		pos := atomic.LoadUint64(q.tail)
		slot := q.slot(pos)
		seq := atomic.LoadUint64(seqWord(slot))
		diff := int64(seq&^seqAbandoned - freeSeq(pos))
		if diff == 0 {
			if !q.claimTail(rec, pos) {
				continue
			}
			q.copyIn(slot, msg)
			q.publish(slot, fullSeq(pos))
			q.wakeConsumers()
			q.leave(lane)
			return opDone
		}
		head := atomic.LoadUint64(q.head)
		switch {
		case diff > 0:
			if moved(q.tail, pos) != stuck {
				continue // another producer took pos
			}
			// A sequence word ahead of a tail that does not move: only a
			// corrupted segment; checkShift below reports it.
		case head+q.capacity == pos && seq&^seqAbandoned == fullSeq(head):
			// Full, and the oldest message is published: claim pos, then
			// drop the oldest unless a consumer takes it first.
			if !claim(q.tail, rec, recShift|pos, pos) {
				continue
			}
			if atomic.CompareAndSwapUint64(q.head, head, head+1) {
				storeRelease64(rec, recShift|recDropped|pos)
				if seq&seqAbandoned != 0 {
					atomic.AddUint64(q.skipped, 1)
				} else {
					atomic.AddUint64(q.overwritten, 1)
				}
			} else {
				q.awaitRelease(slot, pos, head)
			}
			q.copyIn(slot, msg)
			q.publish(slot, fullSeq(pos))
			q.wakeConsumers()
			q.leave(lane)
			return opDone
		}
		// Room is coming (a consumer is reading the tail slot), or the
		// oldest message is still being written: wait for that operation.
		spinPause(spinPausesPerTry)
		if q.closed.Load() {
			q.leave(lane)
			return opClosed
		}
		if round%shiftRoundsPerCheck == 0 {
			q.checkStall(true)
			q.checkStall(false)
			q.recoverPendingShift()
			if err := q.checkShift(&watch); err != nil {
				q.leave(lane)
				panic(err)
			}
		}
	}
}

// shiftRoundsPerCheck is how many waiting rounds EnqueueShift spins between
// two looks at the claim that holds it up: each round is a few loads and a
// spin hint, so 4096 rounds are tens of microseconds, well under stallGrace.
const shiftRoundsPerCheck = 4096

// awaitRelease waits, for a shifter that claimed pos, until the consumer that
// took the slot's previous message (position old) releases the slot. It
// cannot give up: pos is claimed and must be published. A running consumer
// releases within its copy; a dead one is recovered every stallGrace.
func (q *Queue) awaitRelease(slot unsafe.Pointer, pos, old uint64) {
	var asked time.Time
	for round := 1; atomic.LoadUint64(seqWord(slot)) != freeSeq(pos); round++ {
		if round <= hotSpins {
			spinPause(spinPausesPerTry)
			continue
		}
		if now := time.Now(); now.Sub(asked) >= stallGrace {
			if !asked.IsZero() {
				q.recoverConsumerClaim(old)
			}
			asked = now
		}
		runtime.Gosched()
	}
}

// copyIn copies msg into a slot with this handle's enqueue variant. Below the
// plan's thresholds that is the built-in copy, called directly: dispatch
// would cost more than the copy.
func (q *Queue) copyIn(slot unsafe.Pointer, msg []byte) {
	dst := q.data(slot)
	if q.inKind == copyBuiltin {
		copy(dst, msg)
		return
	}
	copySlot(q.inKind, dst, msg)
}

// copyOut copies a slot's message into buf with the dequeue variant.
func (q *Queue) copyOut(buf []byte, slot unsafe.Pointer) {
	src := q.data(slot)
	if q.outKind == copyBuiltin {
		copy(buf, src)
		return
	}
	copySlot(q.outKind, buf, src)
}

// publish writes a slot's sequence word to hand the slot to the other side
// (publish a message, or release a slot). The caller then reads the other
// side's sleeper count, a load that must not be ordered before this store, or
// a sleeper could miss it. Where this process registered for the asymmetric
// fence (fence_linux.go), sleepers issue the barrier for both sides and this
// is a plain release store; elsewhere an atomic swap, a full barrier. (The
// copy variants fence their own non-temporal stores before returning.)
func (q *Queue) publish(slot unsafe.Pointer, seq uint64) {
	if lightWake {
		storeRelease64(seqWord(slot), seq)
	} else {
		atomic.SwapUint64(seqWord(slot), seq)
	}
}

// releaseSlot frees a slot this handle claimed at pos without reading it
// (a dead producer's abandoned slot), counting it in counter.
func (q *Queue) releaseSlot(slot unsafe.Pointer, pos uint64, counter *uint64) {
	q.publish(slot, freeSeq(pos+q.capacity))
	atomic.AddUint64(counter, 1)
	q.wakeProducers()
}

// wakeConsumers wakes consumers asleep on notEmpty, after a publish; the
// system call is made only when one is registered.
func (q *Queue) wakeConsumers() { wake(q.emptySleepers, q.notEmpty) }

// wakeProducers wakes producers asleep on notFull, after a release.
func (q *Queue) wakeProducers() { wake(q.fullSleepers, q.notFull) }

func wake(sleepers, word *uint32) {
	if atomic.LoadUint32(sleepers) != 0 {
		wakeAll(word)
	}
}

// recordInFlight reports whether the claim a record names may still be
// unfinished: claimed and its slot not yet handed on. A record whose CAS was
// lost (its process died before clearing it) may read as in flight while the
// real claimant works; that only delays the reuse of its table entry.
func (q *Queue) recordInFlight(record uint64) bool {
	kind, pos, n := recordSpan(record)
	switch kind {
	case recEnq:
		if atomic.LoadUint64(q.tail) <= pos {
			return false
		}
		for p := pos; p < pos+n; p++ {
			if atomic.LoadUint64(seqWord(q.slot(p))) == freeSeq(p) {
				return true
			}
		}
		return false
	case recDeq:
		if atomic.LoadUint64(q.head) <= pos {
			return false
		}
		for p := pos; p < pos+n; p++ {
			if atomic.LoadUint64(seqWord(q.slot(p)))&^seqAbandoned == fullSeq(p) {
				return true
			}
		}
		return false
	case recShift, recShift | recDropped:
		// Claimed from tail and not yet published: the slot still shows
		// the previous lap's message, or is free once a consumer took it.
		seq := atomic.LoadUint64(seqWord(q.slot(pos)))
		return atomic.LoadUint64(q.tail) > pos && (seq == freeSeq(pos) || pos >= q.capacity && seq&^seqAbandoned == fullSeq(pos-q.capacity))
	}
	return false
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

// maxPos bounds a plausible position: the sequence word holds twice the
// position plus a flag bit, and nothing runs 2^61 operations.
const maxPos = 1 << 61

// stallWait is an exact Try call's wait for an operation in flight in
// another process. It backs off (spin hints, then yields), asks recovery
// every stallGrace whether the claimant died, and gives up after the
// handle's tryWait if the claimant lives, counting the give-up in
// Stats().Stalled.
type stallWait struct {
	start  time.Time
	asked  time.Time
	rounds int
}

// wait backs off once. pos is the position whose claim holds the call up,
// claimed by a consumer (consumerClaim) or a producer. It reports whether the
// call should look again.
func (w *stallWait) wait(q *Queue, pos uint64, consumerClaim bool) bool {
	w.rounds++
	if w.rounds <= hotSpins {
		spinPause(spinPausesPerTry)
		return true
	}
	now := time.Now()
	if w.start.IsZero() {
		w.start, w.asked = now, now
	}
	if q.closed.Load() {
		return false
	}
	if now.Sub(w.asked) >= stallGrace {
		w.asked = now
		if consumerClaim {
			q.recoverConsumerClaim(pos)
		} else {
			q.recoverProducerClaim(pos)
		}
	}
	if now.Sub(w.start) >= q.tryWait {
		atomic.AddUint64(q.stalled, 1)
		return false
	}
	runtime.Gosched()
	return true
}
