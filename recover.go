//go:build linux || darwin

package shqueue

import (
	"sync/atomic"
	"time"
)

// Crash recovery. A process can die at any instruction. If it dies holding a
// claim — a producer between its tail CAS and its publish, a consumer between
// its head CAS and its release, a shifter between its head CAS and its
// publish — every process behind that position waits for ever, unless
// someone finishes the claim for it. The waiter stuck behind the claim does:
// it looks again after stallGrace, names the claimant from the claim records
// (protocol.go: every claim is recorded in one of its handle's lanes before
// it is made), asks the system whether that process still runs, and only if
// none that could hold the claim does, settles the slot with a CAS on its
// sequence word:
//
//   - a dead producer's (or shifter's) slot becomes "published, abandoned":
//     consumers pass over it without reading (counted Lost);
//   - a dead consumer's slot is released for the next lap (the message it
//     was reading is counted Lost).
//
// A claimant that is alive is never overridden, however long it is stopped
// or descheduled, so no live process's message is torn or lost; the dead
// process's in-flight message is the only loss. A record whose CAS failed
// names no claim once cleared; the instant between a failed CAS and the
// clearing store is the one case where a live process can stand in for a dead
// claimant, and it holds recovery up only until that process runs again.
//
// This file owns the stall watch, the claimant search and the two ways of
// settling a slot. It reads the table through procs.go and the slot states
// through protocol.go's encoding.

const (
	// stallGrace is how long a waiter watches one unfinished claim before it
	// asks whether the claimant is alive (a running claimant finishes in
	// microseconds), and then how often it asks again.
	stallGrace = 2 * time.Millisecond
)

// checkStall looks for an unfinished claim that holds this side up: for a
// consumer, the head position claimed by a producer but not published; for a
// producer, the position one lap behind the tail claimed by a consumer but
// not released. One that stays for stallGrace is handed to recovery. It
// reports whether it is watching a stall that has not been settled, so a
// sleeper can look again sooner than its usual slice.
func (q *Queue) checkStall(consumer bool) bool {
	var pos uint64
	if consumer {
		pos = atomic.LoadUint64(q.head)
		if atomic.LoadUint64(q.tail) <= pos || atomic.LoadUint64(seqWord(q.slot(pos)))&^seqAbandoned == fullSeq(pos) {
			return false
		}
	} else {
		tail := atomic.LoadUint64(q.tail)
		if tail < q.capacity {
			return false
		}
		pos = tail - q.capacity
		if atomic.LoadUint64(seqWord(q.slot(pos)))&^seqAbandoned != fullSeq(pos) || atomic.LoadUint64(q.head) <= pos {
			return false
		}
	}
	mark := pos<<1 | b2u(consumer)
	now := time.Now().UnixNano()
	if q.stallPos.Load() != mark {
		q.stallPos.Store(mark)
		q.stallLast.Store(now)
		return true
	}
	if time.Duration(now-q.stallLast.Load()) < stallGrace {
		return true
	}
	q.stallLast.Store(now)
	var recovered bool
	if consumer {
		recovered = q.recoverProducerClaim(pos)
	} else {
		recovered = q.recoverConsumerClaim(pos)
	}
	if recovered {
		q.reclaimDead()
	}
	return !recovered
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// recoverProducerClaim abandons position pos if its producer (or a shifter
// that took it) is dead.
func (q *Queue) recoverProducerClaim(pos uint64) bool {
	// tail first: once tail has passed pos, a slot still showing the
	// previous lap's message can only be a shifter's (protocol.go).
	if atomic.LoadUint64(q.tail) <= pos {
		return false
	}
	seqp := seqWord(q.slot(pos))
	seq := atomic.LoadUint64(seqp)
	// A shifter's claim: the slot still shows the message it took to drop.
	shifted := pos >= q.capacity && seq&^seqAbandoned == fullSeq(pos-q.capacity) && atomic.LoadUint64(q.head) > pos-q.capacity
	if seq != freeSeq(pos) && !shifted {
		return false
	}
	if found, alive, _ := q.claimant(pos, false); !found || alive {
		return false
	}
	if !atomic.CompareAndSwapUint64(seqp, seq, fullSeq(pos)|seqAbandoned) {
		return false // published after all
	}
	atomic.AddUint64(q.lostEnq, 1)
	q.wakeConsumers()
	return true
}

// recoverConsumerClaim releases position pos if its consumer (or a shifter
// that took it to drop it) is dead.
func (q *Queue) recoverConsumerClaim(pos uint64) bool {
	if atomic.LoadUint64(q.head) <= pos {
		return false
	}
	seqp := seqWord(q.slot(pos))
	seq := atomic.LoadUint64(seqp)
	if seq&^seqAbandoned != fullSeq(pos) {
		return false // released
	}
	found, alive, shifter := q.claimant(pos, true)
	if !found || alive {
		return false
	}
	if !atomic.CompareAndSwapUint64(seqp, seq, freeSeq(pos+q.capacity)) {
		return false
	}
	switch {
	case shifter:
		// The shifter counted its drop when it claimed; its own message
		// never took a position.
	case seq&seqAbandoned != 0:
		atomic.AddUint64(q.skipped, 1) // already counted lost with its producer
	default:
		atomic.AddUint64(q.lostDeq, 1)
	}
	q.wakeProducers()
	return true
}

// claimant looks for the records of a claim on pos, as a consumer (recDeq|pos,
// or a shifter that dropped it: recShift|recDropped|pos+capacity) or as a
// producer (recEnq|pos, or a shifter's recShift|pos with or without
// recDropped). found says whether any record names it; alive whether a
// process behind one of them still runs; shifter whether a dead consumer-side
// claimant was a shifter.
func (q *Queue) claimant(pos uint64, consumer bool) (found, alive, shifter bool) {
	a, b, c := recEnq|pos, recShift|pos, recShift|recDropped|pos
	if consumer {
		a, b, c = recDeq|pos, recShift|recDropped|(pos+q.capacity), recShift|recDropped|(pos+q.capacity)
	}
	for i := 0; i < procEntries; i++ {
		e := q.entry(i)
		if e.pid() == 0 {
			continue
		}
		for l := 0; l < procLanes; l++ {
			r := atomic.LoadUint64(e.lane(l))
			if r != a && r != b && r != c {
				continue
			}
			if processAlive(e.pid(), e.start()) {
				return true, true, false
			}
			found, shifter = true, shifter || r != a
		}
	}
	return found, false, shifter
}

// recoverPendingShift finishes the shift of a dead shifter that claimed the
// tail of a full queue (tail == head+capacity+1) but died before it took the
// oldest message from head, so that other shifters, which wait for head to
// move, do not wait for ever when no consumer comes. It drops the oldest
// message on the dead shifter's behalf, as that shifter would have, and
// publishes the shifter's position empty (its message is lost).
func (q *Queue) recoverPendingShift() bool {
	head := atomic.LoadUint64(q.head)
	tail := atomic.LoadUint64(q.tail)
	if tail != head+q.capacity+1 {
		return false
	}
	pos := tail - 1
	seqp := seqWord(q.slot(pos))
	seq := atomic.LoadUint64(seqp)
	if seq&^seqAbandoned != fullSeq(head) {
		return false
	}
	if found, alive, _ := q.claimant(pos, false); !found || alive {
		return false
	}
	if !atomic.CompareAndSwapUint64(q.head, head, head+1) {
		return false // a consumer took it: the ordinary recovery follows
	}
	if seq&seqAbandoned != 0 {
		atomic.AddUint64(q.skipped, 1)
	} else {
		atomic.AddUint64(q.overwritten, 1)
	}
	if atomic.CompareAndSwapUint64(seqp, seq, fullSeq(pos)|seqAbandoned) {
		atomic.AddUint64(q.lostEnq, 1)
		q.wakeConsumers()
	}
	return true
}

// shiftWatch follows an EnqueueShift that makes no progress.
type shiftWatch struct {
	head, tail uint64
	since      time.Time
}

// Limits after which EnqueueShift calls a segment corrupt when head and tail
// stand still: in a state no operation produces, or in a legitimate wait
// whose claimant no record names. Hostile-segment tests shorten
// shiftUnknownAfter so each call returns fast.
const shiftCorruptAfter = 10 * time.Millisecond

var shiftUnknownAfter = 30 * time.Second

// checkShift tells a slow process from a corrupt segment for EnqueueShift,
// which has no error to return. A full queue legitimately cannot make room
// while the head slot is claimed by a producer that has not published (or by
// another shifter), or while the tail slot is still held by the consumer of
// the previous lap. Either claimant is on record; if it dies, recovery
// settles the slot. Anything else that stands still is corruption, returned
// as an error wrapping ErrCorrupt.
func (q *Queue) checkShift(w *shiftWatch) error {
	head := atomic.LoadUint64(q.head)
	tail := atomic.LoadUint64(q.tail)
	headSeq := atomic.LoadUint64(seqWord(q.slot(head)))
	tailSeq := atomic.LoadUint64(seqWord(q.slot(tail)))
	legit, claimed, consumer := false, uint64(0), false
	switch {
	case tail >= maxPos || head > tail || tail-head > q.capacity+1:
		// Positions no sequence of operations produces.
	case tail == head+q.capacity+1:
		// A shifter claimed the tail and has not taken the oldest message.
		legit, claimed = true, tail-1
	case tail == head+q.capacity && (headSeq == freeSeq(head) || head >= q.capacity && headSeq&^seqAbandoned == fullSeq(head-q.capacity)):
		legit, claimed = true, head
	case tail >= q.capacity && head > tail-q.capacity && tailSeq&^seqAbandoned == fullSeq(tail-q.capacity):
		legit, claimed, consumer = true, tail-q.capacity, true
	}
	if legit {
		if found, _, _ := q.claimant(claimed, consumer); found {
			w.since = time.Time{}
			return nil
		}
	}
	if w.since.IsZero() || head != w.head || tail != w.tail {
		w.head, w.tail, w.since = head, tail, time.Now()
		return nil
	}
	limit := shiftCorruptAfter
	if legit {
		limit = shiftUnknownAfter
	}
	if time.Since(w.since) > limit {
		return keyErr("enqueue", q.key, ErrCorrupt, "head %d, tail %d, head slot sequence %#x, tail slot sequence %#x: no progress possible", head, tail, headSeq, tailSeq)
	}
	return nil
}
