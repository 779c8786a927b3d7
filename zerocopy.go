//go:build linux || darwin

package shqueue

import (
	"context"
	"fmt"
	"sync/atomic"
)

// Zero-copy: a producer claims the next slot and writes its message straight
// into the segment; a consumer reads the oldest message where it lies. Each
// is a claim of one position (protocol.go, "Runs") whose lane stays taken
// until Commit, Abort or Release, so the claim stays on record (a process
// that dies holding it is recovered like any dead claimant, its message
// counted Lost) and Close waits for it. While held, the lane's busy word is
// heldWord(side, pos) instead of laneTaken: positions are never claimed twice
// by one side, so that word names this one claim, and Commit, Abort and
// Release take it back with a CAS: a second call, or a call on a stale copy of
// the value, finds another word and panics.

// maxHeld bounds the claims and messages one handle holds at once, so calls
// on the handle always find a free lane.
const maxHeld = procLanes / 2

// held is what a zero-copy attempt took: the lane it keeps and the position.
type held struct {
	lane int
	pos  uint64
}

func (h *held) op(consumer bool) string {
	if consumer {
		return "read"
	}
	return "claim"
}

// heldWord is a lane's busy word while it holds a claim (producer) or a
// message (consumer) at pos. Its low two bits are never laneFree, laneTaken
// or laneClosed, so enter passes over the lane and Close waits for it.
func heldWord(consumer bool, pos uint64) uint64 { return pos<<3 | b2u(consumer)<<2 | 3 }

// holdSlot claims one position for a zero-copy claim or read and keeps the
// lane. A consumer passes over abandoned slots. With exact set it answers
// opNotReady only if the queue was full (empty) at some instant of the call.
func (q *Queue) holdSlot(consumer, exact bool, h *held) opResult {
	var lane int
	if consumer {
		lane = q.enterConsumer()
	} else {
		lane = q.enterProducer()
	}
	if lane < 0 {
		return laneResult(lane)
	}
	rec := q.record(lane)
	for {
		pos, n := q.takeRun(rec, consumer, 1, exact)
		if n == 0 {
			q.leave(lane)
			return opNotReady
		}
		if consumer {
			if slot := q.slot(pos); atomic.LoadUint64(seqWord(slot))&seqAbandoned != 0 {
				q.releaseSlot(slot, pos, q.skipped)
				continue
			}
		}
		h.lane, h.pos = lane, pos
		atomic.StoreUint64(&q.laneBusy[lane].w, heldWord(consumer, pos))
		return opDone
	}
}

// checkHeld panics if the handle already holds maxHeld claims and messages.
func (q *Queue) checkHeld(op string) {
	n := 0
	for i := range q.laneBusy {
		if atomic.LoadUint64(&q.laneBusy[i].w)&3 == 3 {
			n++
		}
	}
	if n >= maxHeld {
		panic(fmt.Sprintf("shqueue: %s queue %#x: this handle holds %d claims and messages; Commit, Abort or Release one first", op, q.key, n))
	}
}

// unhold takes a held lane back for Commit, Abort or Release, or panics if
// the value no longer holds it.
func (q *Queue) unhold(consumer bool, lane int, pos uint64, what string) {
	if q == nil {
		panic("shqueue: " + what + " on a zero value")
	}
	if !atomic.CompareAndSwapUint64(&q.laneBusy[lane].w, heldWord(consumer, pos), laneTaken) {
		panic("shqueue: " + what + " after Commit, Abort or Release: the slot belongs to the queue")
	}
}

// slotBytes returns the held slot's message bytes, or panics if the value no
// longer holds it.
func (q *Queue) slotBytes(consumer bool, lane int, pos uint64, what string) []byte {
	if q == nil {
		panic("shqueue: " + what + " on a zero value")
	}
	if atomic.LoadUint64(&q.laneBusy[lane].w) != heldWord(consumer, pos) {
		panic("shqueue: " + what + " after Commit, Abort or Release: the slot belongs to the queue")
	}
	return q.data(q.slot(pos))
}

// Claim is a slot reserved by Queue.Claim or Queue.ClaimTry: write the
// message into Bytes() and Commit it, or Abort. It is a small value that
// holds no memory of its own; copies of it name the same claim. Until Commit
// or Abort the claim keeps one of the handle's lanes: a handle holds at most
// 8 claims and messages at once, consumers wait at this position (later
// messages wait behind it), and Close waits for it. A process that dies
// holding a claim is recovered like a producer killed in the middle of an
// enqueue: consumers pass over the slot and it counts in Stats().Lost.
type Claim struct {
	q    *Queue
	pos  uint64
	lane int
}

// Bytes returns the slot's MsgSize() bytes, inside the shared segment, to
// write the message into. What the slot held before is undefined (the
// previous lap's message): write every byte the consumer reads. The slice is
// the queue's after Commit or Abort; writing to it then corrupts another
// message. It panics after Commit or Abort.
func (c Claim) Bytes() []byte { return c.q.slotBytes(false, c.lane, c.pos, "Claim.Bytes") }

// Commit publishes the message written into Bytes(). It panics if the claim
// was already committed or aborted.
func (c Claim) Commit() {
	q := c.q
	q.unhold(false, c.lane, c.pos, "Claim.Commit")
	q.publish(q.slot(c.pos), fullSeq(c.pos))
	q.wakeConsumers()
	q.leave(c.lane)
}

// Abort gives the claim up: the slot is published empty, consumers pass over
// it, and it counts in Stats().Aborted, not as a message and not as Lost. It
// panics if the claim was already committed or aborted.
func (c Claim) Abort() {
	q := c.q
	q.unhold(false, c.lane, c.pos, "Claim.Abort")
	atomic.AddUint64(q.aborted, 1)
	q.publish(q.slot(c.pos), fullSeq(c.pos)|seqAbandoned)
	q.wakeConsumers()
	q.leave(c.lane)
}

// Message is the oldest message taken in place by Queue.Read or
// Queue.ReadTry: read Bytes() and Release it. Like Claim it is a small value,
// keeps one of the handle's lanes until Release (producers wait for the slot
// a lap later, and Close waits for it), and a process that dies holding one
// is recovered like a consumer killed in the middle of a dequeue: the message
// counts in Stats().Lost.
type Message struct {
	q    *Queue
	pos  uint64
	lane int
}

// Bytes returns the message's MsgSize() bytes where they lie in the shared
// segment. They are valid until Release; the slice is the queue's after it,
// and reading it then reads whatever a producer writes next. It panics after
// Release.
func (m Message) Bytes() []byte { return m.q.slotBytes(true, m.lane, m.pos, "Message.Bytes") }

// Release gives the slot back to producers. It panics if the message was
// already released.
func (m Message) Release() {
	q := m.q
	q.unhold(true, m.lane, m.pos, "Message.Release")
	q.publish(q.slot(m.pos), freeSeq(m.pos+q.capacity))
	q.wakeProducers()
	q.leave(m.lane)
}

// ClaimTry reserves the next slot if there is room and reports whether it
// did, with the same exact answer as EnqueueTry: false only if the queue held
// Cap() messages at some instant during the call (or the handle is closed).
// It panics if the handle already holds 8 claims and messages.
func (q *Queue) ClaimTry() (Claim, bool) {
	q.checkHeld("claim")
	var h held
	if q.holdSlot(false, true, &h) != opDone {
		return Claim{}, false
	}
	return Claim{q: q, pos: h.pos, lane: h.lane}, true
}

// Claim reserves the next slot, waiting for room until ctx is done. A call
// that returns an error has changed nothing in the queue. It panics if the
// handle already holds 8 claims and messages.
func (q *Queue) Claim(ctx context.Context) (Claim, error) {
	var h held
	if err := q.startHold(ctx, false, &h); err != nil {
		return Claim{}, err
	}
	return Claim{q: q, pos: h.pos, lane: h.lane}, nil
}

// ReadTry takes the oldest message in place if there is one and reports
// whether it did, with the same exact answer as DequeueTry: false only if the
// queue was empty at some instant during the call (or the handle is closed).
// It panics if the handle already holds 8 claims and messages.
func (q *Queue) ReadTry() (Message, bool) {
	q.checkHeld("read")
	var h held
	if q.holdSlot(true, true, &h) != opDone {
		return Message{}, false
	}
	return Message{q: q, pos: h.pos, lane: h.lane}, true
}

// Read takes the oldest message in place, waiting for one until ctx is done.
// A call that returns an error has changed nothing in the queue. It panics if
// the handle already holds 8 claims and messages.
func (q *Queue) Read(ctx context.Context) (Message, error) {
	var h held
	if err := q.startHold(ctx, true, &h); err != nil {
		return Message{}, err
	}
	return Message{q: q, pos: h.pos, lane: h.lane}, nil
}

// startHold is Claim and Read: one quick attempt, then the blocking wait.
func (q *Queue) startHold(ctx context.Context, consumer bool, h *held) error {
	op := h.op(consumer)
	if q.closed.Load() {
		return keyErr(op, q.key, ErrClosed, "")
	}
	if err := ctxDone(ctx); err != nil {
		return err
	}
	q.checkHeld(op)
	switch q.holdSlot(consumer, false, h) {
	case opDone:
		return nil
	case opClosed:
		return keyErr(op, q.key, ErrClosed, "")
	case opRole:
		if consumer {
			return q.roleErr("dequeue")
		}
		return q.roleErr("enqueue")
	}
	return q.block(ctx, consumer, nil, h)
}
