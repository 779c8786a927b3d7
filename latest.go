//go:build linux || darwin

package shqueue

import (
	"sync/atomic"
	"unsafe"
)

// DequeueLatest serves a conflating reader, one that wants only the newest
// value (market data, telemetry): it takes the newest message into buf and
// dequeues every older one without copying it, reporting how many it passed
// over. Those count as dequeued in Stats. "Newest" is the last message
// enqueued when the call reads the tail, at its start: messages enqueued
// after that instant are left for the next call, and a message still being
// written by a producer at that instant is waited for, as DequeueTry waits
// (at most the handle's TryWait for a live but stopped producer).
//
// Other consumers may take messages at the same time; DequeueLatest then
// returns the newest one it could take. It never releases a message it has
// claimed before it holds a newer one, so a message is either returned,
// counted in skipped, or taken by another consumer: none is lost. ok is false
// when the queue was empty at the start of the call (or the handle is
// closed). It panics if buf is not MsgSize bytes. Each message passed over
// costs one claim and no copy.
func (q *Queue) DequeueLatest(buf []byte) (ok bool, skipped int) {
	if len(buf) != q.msgSize {
		if q.closed.Load() {
			return false, 0
		}
		q.mustMsg("dequeue", buf)
	}
	held := q.enter()
	if held < 0 {
		return false, 0
	}
	next := q.enter()
	if next < 0 {
		q.leave(held)
		return false, 0
	}
	limit := atomic.LoadUint64(q.tail)
	var heldSlot unsafe.Pointer
	var heldPos uint64
	for {
		slot, pos, took := q.claimBefore(next, limit)
		if !took {
			break
		}
		if heldSlot != nil {
			// A newer message is ours: pass the older one on.
			q.publish(heldSlot, freeSeq(heldPos+q.capacity))
			q.wakeProducers()
			skipped++
		}
		heldSlot, heldPos = slot, pos
		held, next = next, held
	}
	if heldSlot != nil {
		q.copyOut(buf, heldSlot)
		q.publish(heldSlot, freeSeq(heldPos+q.capacity))
		q.wakeProducers()
	}
	q.leave(next)
	q.leave(held)
	return heldSlot != nil, skipped
}

// claimBefore claims the oldest published message at a position below limit
// for the lane, recording the claim there, and passes over abandoned slots on
// the way. It waits, as an exact Try does, for a producer still writing a
// position below limit. took is false when head has reached limit.
func (q *Queue) claimBefore(lane int, limit uint64) (slot unsafe.Pointer, pos uint64, took bool) {
	rec := q.record(lane)
	var stall stallWait
	pos = atomic.LoadUint64(q.head)
	for pos < limit {
		slot = q.slot(pos)
		seq := atomic.LoadUint64(seqWord(slot))
		switch diff := int64(seq&^seqAbandoned - fullSeq(pos)); {
		case diff == 0:
			if !claim(q.head, rec, recDeq|pos, pos) {
				pos = atomic.LoadUint64(q.head)
				continue
			}
			if seq&seqAbandoned != 0 {
				q.releaseSlot(slot, pos, q.skipped)
				pos = atomic.LoadUint64(q.head)
				continue
			}
			return slot, pos, true
		case diff < 0:
			// pos < limit <= tail: its producer is still writing it.
			if !stall.wait(q, pos, false) {
				return nil, 0, false
			}
			pos = atomic.LoadUint64(q.head)
		default:
			if pos = moved(q.head, pos); pos == stuck {
				return nil, 0, false
			}
		}
	}
	return nil, 0, false
}
