//go:build linux || darwin

package shqueue

import (
	"runtime"
	"sync/atomic"
)

// Exclusive roles. A queue created WithSingleProducer has one producer handle
// at a time: the one that holds the producer lease, taken at Create or Open
// with AsProducer. It alone moves tail, so it claims a position with a
// release store instead of a CAS (claimTail); WithSingleConsumer does the
// same for head (claimHead). Everything else is the shared protocol
// (protocol.go): the same sequence words, the same claim records (each role
// has its own record in the table entry, written before the position moves),
// so the other side, exclusive or not, the operator tool and crash recovery
// read the queue unchanged.
//
// Leases. offProducerLease and offConsumerLease hold pid<<32 | entry+1 of the
// holder's table entry, or 0. A handle takes a lease with a CAS from 0, or
// from a holder that is dead: its entry is free or taken by another pid (an
// entry is freed only by Close, which gives the lease back first, or when its
// process is dead), or its process no longer runs (processAlive: pid, start
// time, not a zombie). A live holder makes Open fail with ErrBusy. Having
// taken a dead holder's lease, the new holder settles the claim the dead one
// left in flight (recover.go: its record names it and its process is dead, so
// the slot is abandoned and counted Lost, never torn) before Open returns; a
// waiter on the other side would settle it within the recovery bound anyway.
//
// One goroutine at a time. A role's side of a handle has one lane
// (laneProducer, laneConsumer), taken with the same CAS on process memory as
// a shared lane: it keeps two goroutines of the handle from claiming at once
// (the second waits for the first) and lets Close wait for a call in the
// middle of a copy. Measured against a variant without it, the CAS is what
// docs/performance.md says ("The lane CAS on the exclusive path").
//
// Exact answers on an exclusive side. A CAS takes effect inside the call
// that makes it; the holder's plain store takes effect when it leaves the
// core's store buffer, which can be a few nanoseconds after the call has
// returned (the locked instruction at the start of the holder's next call,
// or any context switch, drains it). So the other side's Try calls are
// exact against an exclusive side's operations once those are that far in
// the past: a DequeueTry that starts 40 ns after the single producer's
// EnqueueTry returned may still answer empty (found by the cross-process
// linearizability test, which checks role queues with a 1 µs allowance).
// This is the contract of every single-writer ring (the C floor's, LMAX's,
// Aeron's); a fence after each store would restore the strict order at the
// price the role exists to avoid.
//
// EnqueueShift drops the oldest message by claiming head with a CAS, which
// would race with a single consumer's plain store: a single-consumer queue
// refuses it (a panic wrapping ErrRole). On a single-producer queue only the
// producer role's holder may call it.

// roleMode says how a handle may use one side of the queue.
type roleMode uint8

const (
	roleShared roleMode = iota // the side is shared: claim with a CAS, as always
	roleSole                   // this handle holds the side's exclusive role
	roleDenied                 // the side is exclusive and another handle may hold it
)

// laneDenied is what enterRole returns to a handle without the role on an
// exclusive side; -1 means closed, as from enter.
const laneDenied = -2

// laneRefused is the state of a role's lane in a handle that may not use
// that side: the lane can never be taken, so the hot path needs no check of
// its own, and Close takes it as it is.
//
// Not 3: a held zero-copy claim's busy word (zerocopy.go: heldWord) always
// ends in binary 11, and a role lane may hold one.
const laneRefused = 4

// enterProducer takes the lane an enqueue runs in: the producer role's lane
// for its holder (and for a handle refused the role, whose lane is never
// free), the first free shared lane otherwise. It returns -1 if the handle is
// closed, laneDenied if this handle may not enqueue. One CAS on process
// memory, as enter, or a plain load and store on a WithSingleGoroutine
// handle (enterAt).
func (q *Queue) enterProducer() int { return q.enterAt(q.prodLane, callEnqueue) }

// enterConsumer is enterProducer for a dequeue.
func (q *Queue) enterConsumer() int { return q.enterAt(q.consLane, callDequeue) }

// The kinds of call, for the hand-off fence (handoff_amd64.go).
const (
	callEnqueue uint64 = 1
	callDequeue uint64 = 2
)

// enterAt takes lane, the lane a call tries first, or another one
// (enterMissed).
//
// A handle whose calls never overlap (WithSingleGoroutine) takes it with a
// plain load and store: no other call can take the lane between the two.
// Close may: it sets closed, then a membarrier makes every thread of the
// process pass a full barrier, then it takes the free lanes. So either this
// store is visible to Close before it looks at the lane (Close waits for the
// call to leave), or the load of closed below comes after that barrier and
// sees it (enterMissed then leaves the lane closed and returns -1). Such a
// call may first pass a hand-off fence (handoff_amd64.go), for timing only.
// Other handles take it with a CAS.
func (q *Queue) enterAt(lane int, kind uint64) int {
	w := &q.laneBusy[lane&laneMask].w
	if q.oneGoroutine {
		handoffFence(kind)
		if atomic.LoadUint64(w) == laneFree {
			storeRelease64(w, laneTaken)
			if !q.closed.Load() {
				return lane
			}
		}
	} else if atomic.CompareAndSwapUint64(w, laneFree, laneTaken) {
		return lane
	}
	return q.enterMissed(lane)
}

// enterMissed is enterAt when lane was not free (closed, refused, a held
// zero-copy claim, or another goroutine's call), or when a WithSingleGoroutine
// call took it and then saw the handle closed: the lane is then taken, and
// by this call (its calls never overlap, and a held claim's word is not
// laneTaken).
func (q *Queue) enterMissed(lane int) int {
	w := &q.laneBusy[lane&laneMask].w
	if q.oneGoroutine && q.closed.Load() && atomic.LoadUint64(w) == laneTaken {
		storeRelease64(w, laneClosed)
		return -1
	}
	return q.enterSlowAt(lane)
}

// laneMask keeps a lane index in range for the compiler, which then leaves
// out the bounds check (every index is below procRecords <= 31).
const laneMask = 31

// enterSlowAt is enterProducer or enterConsumer when the lane tried first is
// not free.
func (q *Queue) enterSlowAt(lane int) int {
	if lane >= firstSharedLane {
		return q.enterSharedFrom(lane)
	}
	return q.enterRoleSlow(lane)
}

// laneResult is the answer of a call that could not take a lane.
func laneResult(lane int) opResult {
	if lane == laneDenied {
		return opRole
	}
	return opClosed
}

// enterRoleSlow is enterProducer or enterConsumer when a role's lane is not free: another goroutine of
// this handle is inside that side (wait for it), the handle is closed, or it
// may not use the side.
func (q *Queue) enterRoleSlow(lane int) int {
	for {
		switch atomic.LoadUint64(&q.laneBusy[lane].w) {
		case laneClosed:
			return -1
		case laneRefused:
			if q.closed.Load() {
				return -1
			}
			return laneDenied
		case laneFree:
			if atomic.CompareAndSwapUint64(&q.laneBusy[lane].w, laneFree, laneTaken) {
				return lane
			}
		}
		runtime.Gosched() // another goroutine is in the middle of one call
	}
}

// claimTail takes position pos from tail for an enqueue whose lane records
// in rec. Shared producers race for it with a CAS (claim); the single
// producer is the only one that moves tail and stores it. The record goes
// first either way, so whoever sees tail moved also sees who moved it. Batches
// claim through here too.
func (q *Queue) claimTail(rec *uint64, pos uint64) bool {
	if q.prodMode == roleSole {
		storeRelease64(rec, recEnq|pos)
		storeRelease64(q.tail, pos+1)
		return true
	}
	return claim(q.tail, rec, recEnq|pos, pos)
}

// claimHead is claimTail for a dequeue.
func (q *Queue) claimHead(rec *uint64, pos uint64) bool {
	if q.consMode == roleSole {
		storeRelease64(rec, recDeq|pos)
		storeRelease64(q.head, pos+1)
		return true
	}
	return claim(q.head, rec, recDeq|pos, pos)
}

// lease returns the address of a role's lease word.
func (q *Queue) lease(producer bool) *uint64 {
	if producer {
		return u64At(q.base, offProducerLease)
	}
	return u64At(q.base, offConsumerLease)
}

// leaseValue is what this handle stores in a lease it holds.
func (q *Queue) leaseValue() uint64 { return uint64(selfPID)<<32 | uint64(q.self+1) }

// leaseHolder returns the pid of a lease's holder and whether it still holds
// it (its entry is still its own and its process runs).
func (q *Queue) leaseHolder(v uint64) (pid int, alive bool) {
	if v == 0 {
		return 0, false
	}
	pid, idx := int(v>>32), int(v&(1<<32-1))-1
	if idx < 0 || idx >= procEntries {
		return pid, false // not a value any handle stores
	}
	e := q.entry(idx)
	return pid, e.pid() == pid && processAlive(pid, e.start())
}

// takeRole takes a role's lease for this handle (see "Leases"), or returns
// an error wrapping ErrBusy naming the live holder.
func (q *Queue) takeRole(op string, producer bool) error {
	lease := q.lease(producer)
	mine := q.leaseValue()
	for {
		cur := atomic.LoadUint64(lease)
		if pid, alive := q.leaseHolder(cur); alive {
			return keyErr(op, q.key, ErrBusy, "the %s role is held by process %d", roleName(producer), pid)
		}
		if !atomic.CompareAndSwapUint64(lease, cur, mine) {
			continue
		}
		if cur != 0 {
			q.settleRole(producer)
		}
		return nil
	}
}

// settleRole settles the claim a dead holder of a role may have left in
// flight: the position before tail (or head), the only one an exclusive side
// can have claimed and not finished, and for a producer that was shifting,
// the head position it took to drop. Recovery acts only on a claim whose
// every recorded claimant is dead.
func (q *Queue) settleRole(producer bool) {
	if producer {
		tail := atomic.LoadUint64(q.tail)
		if tail > 0 && q.recoverProducerClaim(tail-1) {
			q.reclaimDead()
		}
		if tail >= q.capacity && q.recoverConsumerClaim(tail-q.capacity) {
			q.reclaimDead()
		}
		return
	}
	if head := atomic.LoadUint64(q.head); head > 0 && q.recoverConsumerClaim(head-1) {
		q.reclaimDead()
	}
}

// releaseRoles gives back the leases this handle holds (Close, once no call
// is inside the handle).
func (q *Queue) releaseRoles() {
	mine := q.leaseValue()
	if q.prodMode == roleSole {
		atomic.CompareAndSwapUint64(q.lease(true), mine, 0)
	}
	if q.consMode == roleSole {
		atomic.CompareAndSwapUint64(q.lease(false), mine, 0)
	}
}

// takeRoles sets how this handle may use each side of the queue from the
// queue's flags and the roles asked for, taking the leases it asked for.
func (q *Queue) takeRoles(op string, asked uint32) error {
	q.prodMode, q.consMode = roleShared, roleShared
	q.prodLane, q.consLane = firstSharedLane, firstConsumerLane
	q.laneBusy[laneProducer].w, q.laneBusy[laneConsumer].w = laneRefused, laneRefused
	if q.flags&flagSingleProducer != 0 {
		q.prodMode, q.prodLane = roleDenied, laneProducer
		if asked&flagSingleProducer != 0 {
			if err := q.takeRole(op, true); err != nil {
				return err
			}
			q.prodMode, q.laneBusy[laneProducer].w = roleSole, laneFree
		}
	}
	if q.flags&flagSingleConsumer != 0 {
		q.consMode, q.consLane = roleDenied, laneConsumer
		if asked&flagSingleConsumer != 0 {
			if err := q.takeRole(op, false); err != nil {
				q.releaseRoles()
				return err
			}
			q.consMode, q.laneBusy[laneConsumer].w = roleSole, laneFree
		}
	}
	return nil
}

func roleName(producer bool) string {
	if producer {
		return "producer"
	}
	return "consumer"
}

// roleErr is the error of a call this handle's role does not allow.
func (q *Queue) roleErr(op string) error {
	if op == "enqueue" {
		return keyErr(op, q.key, ErrRole, "the queue has a single producer and this handle was not opened AsProducer()")
	}
	return keyErr(op, q.key, ErrRole, "the queue has a single consumer and this handle was not opened AsConsumer()")
}

// SingleProducer reports whether the queue was created WithSingleProducer.
func (q *Queue) SingleProducer() bool { return q.flags&flagSingleProducer != 0 }

// SingleConsumer reports whether the queue was created WithSingleConsumer.
func (q *Queue) SingleConsumer() bool { return q.flags&flagSingleConsumer != 0 }

// IsProducer reports whether this handle may enqueue: always on a queue with
// shared producers, only with the producer role on a single-producer queue.
func (q *Queue) IsProducer() bool { return q.prodMode != roleDenied }

// IsConsumer reports whether this handle may dequeue.
func (q *Queue) IsConsumer() bool { return q.consMode != roleDenied }
