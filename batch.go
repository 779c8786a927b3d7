//go:build linux || darwin

package shqueue

import (
	"context"
	"sync/atomic"
)

// Batches: one claim for a run of messages (protocol.go, "Runs"). A producer
// claims the longest prefix of its batch whose slots are all free now, with
// one CAS on tail, then copies and publishes the slots one after the other,
// so a consumer can take the first before the last is written. A consumer
// claims the longest run of published slots that fits its buffer with one
// CAS on head and releases each slot as soon as it has copied it out. A
// batch is not atomic as a whole: other producers' messages may come between
// two runs of one batch, and consumers may take the first messages of a run
// while the rest is being written. Each message of it is delivered exactly
// once and in the producer's order, as with single calls.

// runRecord is the claim record for the positions [pos, pos+n).
func runRecord(kind, pos, n uint64) uint64 {
	if n == 1 {
		return kind | pos
	}
	return kind | recRun | (n-1)<<recRunShift | pos
}

// claimRun records a claim on [pos, pos+n) and takes it from the position p
// (tail or head) with one CAS, as claim does for one position.
func claimRun(p, rec *uint64, record, pos, n uint64) bool {
	storeRelease64(rec, record)
	if atomic.CompareAndSwapUint64(p, pos, pos+n) {
		return true
	}
	storeRelease64(rec, 0)
	return false
}

// advanceTail claims the positions [pos, pos+n) for a producer: the one
// place batches and zero-copy claims move tail.
func (q *Queue) advanceTail(rec *uint64, pos, n uint64) bool {
	if q.prodMode == roleSole {
		// The single producer is the only one that moves tail (roles.go).
		storeRelease64(rec, runRecord(recEnq, pos, n))
		storeRelease64(q.tail, pos+n)
		return true
	}
	return claimRun(q.tail, rec, runRecord(recEnq, pos, n), pos, n)
}

// advanceHead claims the positions [pos, pos+n) for a consumer: the one
// place batches and zero-copy reads move head.
func (q *Queue) advanceHead(rec *uint64, pos, n uint64) bool {
	if q.consMode == roleSole {
		storeRelease64(rec, runRecord(recDeq, pos, n))
		storeRelease64(q.head, pos+n)
		return true
	}
	return claimRun(q.head, rec, runRecord(recDeq, pos, n), pos, n)
}

// readyRun counts the slots from pos on, at most want (and maxRun), that
// are ready for the side: free for their position for a producer, published
// (abandoned or not) for a consumer. Past runPosLimit a run is one position.
func (q *Queue) readyRun(pos, want uint64, consumer bool) uint64 {
	want = min(want, maxRun)
	if pos+want > runPosLimit {
		want = 1
	}
	var n uint64
	for ; n < want; n++ {
		p := pos + n
		seq := atomic.LoadUint64(seqWord(q.slot(p))) &^ seqAbandoned
		if consumer && seq != fullSeq(p) || !consumer && seq != freeSeq(p) {
			break
		}
	}
	return n
}

// takeRun claims a run of up to want ready positions for the lane whose
// record is rec and returns it; n == 0 means none was ready. With exact set
// it answers n == 0 only if the queue was full (producer) or empty
// (consumer) at some instant of the call, as enqueue and dequeue do.
func (q *Queue) takeRun(rec *uint64, consumer bool, want uint64, exact bool) (pos, n uint64) {
	p := q.tail
	if consumer {
		p = q.head
	}
	var stall stallWait
	pos = atomic.LoadUint64(p)
	for {
		if n = q.readyRun(pos, want, consumer); n > 0 {
			var won bool
			if consumer {
				won = q.advanceHead(rec, pos, n)
			} else {
				won = q.advanceTail(rec, pos, n)
			}
			if won {
				return pos, n
			}
			pos = atomic.LoadUint64(p)
			continue
		}
		seq := atomic.LoadUint64(seqWord(q.slot(pos))) &^ seqAbandoned
		ready := freeSeq(pos)
		if consumer {
			ready = fullSeq(pos)
		}
		switch diff := int64(seq - ready); {
		case diff == 0:
			// Ready since readyRun looked: look again.
		case diff < 0 && consumer:
			// Empty if tail has not passed pos (protocol.go, dequeue).
			if !exact || atomic.LoadUint64(q.tail) <= pos || !stall.wait(q, pos, false) {
				return pos, 0
			}
			pos = atomic.LoadUint64(p)
		case diff < 0:
			// Full if head has not passed pos-capacity (enqueue).
			if !exact || atomic.LoadUint64(q.head)+q.capacity <= pos || !stall.wait(q, pos-q.capacity, true) {
				return pos, 0
			}
			pos = atomic.LoadUint64(p)
		default:
			if pos = moved(p, pos); pos == stuck {
				return pos, 0
			}
		}
	}
}

// enqueueBatch publishes the longest prefix of msgs there is room for now,
// in runs, and returns how many messages went in. With exact set it answers
// 0 only if the queue was full at some instant of the call.
func (q *Queue) enqueueBatch(msgs []byte, exact bool) (int, opResult) {
	lane := q.enterProducer()
	if lane < 0 {
		return 0, laneResult(lane)
	}
	rec := q.record(lane)
	size, total, done := q.msgSize, len(msgs)/q.msgSize, 0
	for done < total {
		pos, n := q.takeRun(rec, false, uint64(total-done), exact && done == 0)
		if n == 0 {
			break
		}
		for i := uint64(0); i < n; i++ {
			slot := q.slot(pos + i)
			q.copyIn(slot, msgs[done*size:(done+1)*size])
			q.publish(slot, fullSeq(pos+i))
			q.wakeConsumers()
			done++
		}
	}
	q.leave(lane)
	return done, opDone
}

// dequeueBatch moves the published messages at the head into buf, up to its
// room, in runs, and returns how many it moved. With exact set it answers 0
// only if the queue was empty at some instant of the call.
func (q *Queue) dequeueBatch(buf []byte, exact bool) (int, opResult) {
	lane := q.enterConsumer()
	if lane < 0 {
		return 0, laneResult(lane)
	}
	rec := q.record(lane)
	size, room, got := q.msgSize, len(buf)/q.msgSize, 0
	for got < room {
		pos, n := q.takeRun(rec, true, uint64(room-got), exact && got == 0)
		if n == 0 {
			break
		}
		for i := uint64(0); i < n; i++ {
			slot := q.slot(pos + i)
			if atomic.LoadUint64(seqWord(slot))&seqAbandoned != 0 {
				// A dead producer's or an aborted claim's slot: pass it on.
				q.releaseSlot(slot, pos+i, q.skipped)
				continue
			}
			q.copyOut(buf[got*size:(got+1)*size], slot)
			q.publish(slot, freeSeq(pos+i+q.capacity))
			q.wakeProducers()
			got++
		}
	}
	q.leave(lane)
	return got, opDone
}

// checkBatch refuses a closed handle, or a batch that is not a whole number
// of messages (or, for a buffer to dequeue into, not even one), before
// anything in shared memory changes.
func (q *Queue) checkBatch(op string, b []byte, consumer bool) error {
	if q.closed.Load() {
		return keyErr(op, q.key, ErrClosed, "")
	}
	if len(b)%q.msgSize != 0 || consumer && len(b) == 0 {
		return keyErr(op, q.key, ErrMsgSize, "a batch of %d bytes is not a positive whole number of %d-byte messages", len(b), q.msgSize)
	}
	return nil
}

// EnqueueBatchTry adds as many of the messages in msgs (whole messages back
// to back, a multiple of MsgSize() bytes) as there is room for now, in
// order, and returns how many it added: always a prefix of msgs. It answers
// 0 for a non-empty batch only if the queue held Cap() messages at some
// instant during the call (or the handle is closed), waiting like EnqueueTry
// for a consumer in another process that is still reading the slot it needs.
// Up to 64 messages take one claim; a batch is not atomic as a whole (see
// EnqueueBatch). It panics if len(msgs) is not a multiple of MsgSize().
func (q *Queue) EnqueueBatchTry(msgs []byte) int {
	if len(msgs)%q.msgSize != 0 && !q.closed.Load() {
		panic("shqueue: " + q.checkBatch("enqueue", msgs, false).Error())
	}
	if len(msgs) == 0 {
		return 0
	}
	n, _ := q.enqueueBatch(msgs, true)
	return n
}

// EnqueueBatch adds every message in msgs (whole messages back to back, a
// multiple of MsgSize() bytes) in order, waiting for room until ctx is done,
// and returns how many it added. It claims up to 64 free slots with one
// atomic operation and publishes each as soon as it is written, so consumers
// start on the first message at once. A batch is not atomic as a whole:
// other producers' messages may be interleaved between its runs and
// consumers see its first messages before the last is in. Per-producer order
// and exactly-once delivery hold as for EnqueueBlock. When ctx is done or
// the handle is closed it returns the error and how many messages went in:
// those are in the queue, the rest are not.
func (q *Queue) EnqueueBatch(ctx context.Context, msgs []byte) (int, error) {
	if err := q.checkBatch("enqueue", msgs, false); err != nil {
		return 0, err
	}
	if err := ctxDone(ctx); err != nil {
		return 0, err
	}
	size, done := q.msgSize, 0
	for done < len(msgs) {
		n, r := q.enqueueBatch(msgs[done:], false)
		switch r {
		case opClosed:
			return done / size, keyErr("enqueue", q.key, ErrClosed, "")
		case opRole:
			return done / size, q.roleErr("enqueue")
		}
		done += n * size
		if n == 0 {
			// Full: wait for room and add one message, then batch again.
			if err := q.block(ctx, false, msgs[done:done+size], nil); err != nil {
				return done / size, err
			}
			done += size
		}
	}
	return done / size, nil
}

// DequeueBatchTry moves the oldest messages into buf, as many as are
// published now and fit (len(buf)/MsgSize()), and returns how many, back to
// back from the start of buf. It answers 0 only if the queue was empty at
// some instant during the call (or the handle is closed), waiting like
// DequeueTry for a producer in another process that is still writing the
// next message. It panics if len(buf) is not a positive multiple of
// MsgSize().
func (q *Queue) DequeueBatchTry(buf []byte) int {
	if (len(buf)%q.msgSize != 0 || len(buf) == 0) && !q.closed.Load() {
		panic("shqueue: " + q.checkBatch("dequeue", buf, true).Error())
	}
	n, _ := q.dequeueBatch(buf, true)
	return n
}

// DequeueBatch waits until ctx is done for at least one message, then moves
// into buf every published message that fits (len(buf)/MsgSize(), a
// positive multiple of MsgSize() bytes), oldest first, and returns how many.
// Up to 64 ready messages take one claim. A call that returns an error has
// changed nothing in the queue.
func (q *Queue) DequeueBatch(ctx context.Context, buf []byte) (int, error) {
	if err := q.checkBatch("dequeue", buf, true); err != nil {
		return 0, err
	}
	if err := ctxDone(ctx); err != nil {
		return 0, err
	}
	n, r := q.dequeueBatch(buf, false)
	switch {
	case r == opClosed:
		return 0, keyErr("dequeue", q.key, ErrClosed, "")
	case r == opRole:
		return 0, q.roleErr("dequeue")
	case n > 0:
		return n, nil
	}
	size := q.msgSize
	if err := q.block(ctx, true, buf[:size], nil); err != nil {
		return 0, err
	}
	if len(buf) == size {
		return 1, nil
	}
	n, _ = q.dequeueBatch(buf[size:], false)
	return 1 + n, nil
}
