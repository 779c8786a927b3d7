//go:build linux || darwin

package shqueue

import (
	"sync/atomic"
	"time"
	"unsafe"
)

// Crash recovery. A process can die at any instruction. If it dies holding a
// claim — a producer between its tail CAS and its publish, a consumer between
// its head CAS and its release — every process behind that position waits
// forever, unless someone finishes the claim for it. The waiter stuck behind
// the claim does: after stallGrace it identifies the claimant (a consumer's
// owner word in the slot, or the intent in the claimant's table entry), asks
// the system whether that process still runs, and only if it does not,
// settles the slot with a CAS on its sequence word:
//
//   - a dead producer's slot becomes "published, abandoned": consumers pass
//     over it without reading (counted Lost);
//   - a dead consumer's slot is released for the next lap (the message it was
//     reading is counted Lost).
//
// A claimant on record that is alive is never overridden, however slow, so
// no live process's message is torn or lost; the dead process's in-flight
// message is the only loss.
//
// One case has no exact answer: goroutines sharing one handle share its
// intent words, so a claim can go unrecorded when a sibling's intent
// overwrote it (for a consumer, only until its owner-word store right after
// the claim). Such a claim is settled only after unrecordedGrace, and only
// while the table holds a dead process: otherwise every survivor behind it
// would wait forever. The price is a residual risk: a live goroutine stalled
// for those 5 s inside its claim, at a moment another process had died, would
// have its slot settled under it and could then tear one message. One handle
// per concurrently producing goroutine keeps every claim on record.

const (
	// stallGrace is how long a waiter watches one unfinished claim before it
	// asks whether the claimant is alive (a running claimant finishes in
	// microseconds), and then how often it asks again.
	stallGrace = 2 * time.Millisecond
	// missesPerCheck: a Try call that fails counts a miss; every so many
	// misses it looks for a stalled claim, so a caller that only polls with
	// Try still gets past a dead process.
	missesPerCheck = 1024
	// unrecordedGrace is how long a claim nobody is recorded for must stand
	// before it is taken for a dead process's (see above).
	unrecordedGrace = 5 * time.Second
)

func (q *Queue) noteMiss(consumer bool) {
	if q.misses.Add(1)%missesPerCheck == 0 {
		q.checkStall(consumer)
	}
}

// checkStall looks for an unfinished claim that holds this side up: for a
// consumer, the head position claimed by a producer but not published; for a
// producer, the position one lap behind the tail claimed by a consumer but
// not released. One that stays for stallGrace is handed to recovery.
func (q *Queue) checkStall(consumer bool) {
	var pos uint64
	if consumer {
		pos = atomic.LoadUint64(q.head)
		if atomic.LoadUint64((*uint64)(q.slot(pos))) != freeSeq(pos) || atomic.LoadUint64(q.tail) <= pos {
			return
		}
	} else {
		tail := atomic.LoadUint64(q.tail)
		if tail < q.capacity {
			return
		}
		pos = tail - q.capacity
		seq := atomic.LoadUint64((*uint64)(q.slot(pos)))
		if seq&^seqAbandoned != fullSeq(pos) || atomic.LoadUint64(q.head) <= pos {
			return
		}
	}
	mark := pos<<1 | b2u(consumer)
	now := time.Now().UnixNano()
	if q.stallPos.Load() != mark {
		q.stallPos.Store(mark)
		q.stallFirst.Store(now)
		q.stallLast.Store(now)
		return
	}
	if time.Duration(now-q.stallLast.Load()) < stallGrace {
		return
	}
	q.stallLast.Store(now)
	stalled := time.Duration(now - q.stallFirst.Load())
	var recovered bool
	if consumer {
		recovered = q.recoverProducerClaim(pos, stalled)
	} else {
		recovered = q.recoverConsumerClaim(pos, stalled)
	}
	if recovered {
		q.reclaimDead()
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// recoverProducerClaim abandons position pos if a dead producer holds it;
// stalled is how long the claim has stood.
func (q *Queue) recoverProducerClaim(pos uint64, stalled time.Duration) bool {
	slot := q.slot(pos)
	seqp := (*uint64)(slot)
	if atomic.LoadUint64(seqp) != freeSeq(pos) || atomic.LoadUint64(q.tail) <= pos {
		return false
	}
	if !q.claimantDead(slot, pos, false, stalled) {
		return false
	}
	if !atomic.CompareAndSwapUint64(seqp, freeSeq(pos), fullSeq(pos)|seqAbandoned) {
		return false // published after all
	}
	atomic.AddUint64(q.lostEnq, 1)
	if atomic.LoadUint32(q.emptySleepers) != 0 {
		wakeAll(q.notEmpty)
	}
	return true
}

// recoverConsumerClaim releases position pos if a dead consumer holds it;
// stalled is how long the claim has stood.
func (q *Queue) recoverConsumerClaim(pos uint64, stalled time.Duration) bool {
	slot := q.slot(pos)
	seqp := (*uint64)(slot)
	seq := atomic.LoadUint64(seqp)
	if seq&^seqAbandoned != fullSeq(pos) || atomic.LoadUint64(q.head) <= pos {
		return false
	}
	if !q.claimantDead(slot, pos, true, stalled) {
		return false
	}
	if !atomic.CompareAndSwapUint64(seqp, seq, freeSeq(pos+q.capacity)) {
		return false
	}
	if seq&seqAbandoned != 0 {
		atomic.AddUint64(q.skipped, 1) // already counted lost with its producer
	} else {
		atomic.AddUint64(q.lostDeq, 1)
	}
	if atomic.LoadUint32(q.fullSleepers) != 0 {
		wakeAll(q.notFull)
	}
	return true
}

// claimantDead reports whether the claim on pos was made by a process that
// is gone: one on record and dead, or, with no record at all, one that has
// stood for unrecordedGrace while a dead process is in the table.
func (q *Queue) claimantDead(slot unsafe.Pointer, pos uint64, consumer bool, stalled time.Duration) bool {
	known, alive := q.claimant(slot, pos, consumer)
	if known {
		return !alive
	}
	return stalled >= unrecordedGrace && q.deadAttached()
}

// deadAttached reports whether the table holds an entry of a dead process.
func (q *Queue) deadAttached() bool {
	for i := 0; i < procEntries; i++ {
		e := q.entry(i)
		if pid := e.pid(); pid != 0 && !processAlive(pid, e.start()) {
			return true
		}
	}
	return false
}

// claimant finds who holds the claim on pos (as a consumer or a producer) and
// whether that process is alive. known is false when no record names a
// claimant.
func (q *Queue) claimant(slot unsafe.Pointer, pos uint64, consumer bool) (known, alive bool) {
	owner := atomic.LoadUint64(u64At(slot, offSlotOwner))
	idx := int(owner>>ownerEntryShift) - 1
	if idx >= 0 && idx < procEntries && owner&ownerPosMask == pos&ownerPosMask && (owner&ownerConsumer != 0) == consumer {
		e := q.entry(idx)
		return true, processAlive(e.pid(), e.start())
	}
	// The claimant has not written the owner word (or died before it did):
	// its intent names it.
	for i := 0; i < procEntries; i++ {
		e := q.entry(i)
		pid := e.pid()
		if pid == 0 {
			continue
		}
		intent := e.enqIntent()
		if consumer {
			intent = e.deqIntent()
		}
		if atomic.LoadUint64(intent) != pos+1 {
			continue
		}
		if processAlive(pid, e.start()) {
			return true, true
		}
		known = true
	}
	return known, false
}

// enqSettled reports whether a producer intent no longer matters: the claim
// never happened, or its slot has been published or abandoned since.
func (q *Queue) enqSettled(intent uint64) bool {
	if intent == 0 {
		return true
	}
	pos := intent - 1
	return atomic.LoadUint64(q.tail) <= pos || atomic.LoadUint64((*uint64)(q.slot(pos))) != freeSeq(pos)
}

// deqSettled is enqSettled for a consumer intent: the claim never happened or
// its slot has been released.
func (q *Queue) deqSettled(intent uint64) bool {
	if intent == 0 {
		return true
	}
	pos := intent - 1
	return atomic.LoadUint64(q.head) <= pos || atomic.LoadUint64((*uint64)(q.slot(pos)))&^seqAbandoned != fullSeq(pos)
}
