package shqueue

import (
	"errors"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"
)

// These tests put a queue into the states another process's operation in
// flight leaves it in — a claim made and recorded, its slot not yet handed on
// — by making the claim by hand through a second handle, whose table entry
// then stands for the other process: alive (it is this process), or dead
// (its pid is swapped for a reaped child's).

// claimByHand records a claim of kind on pos in h's first lane and moves the
// position p past pos, as an operation in flight would before its copy.
func claimByHand(t *testing.T, h *Queue, p *uint64, kind, pos uint64) {
	t.Helper()
	atomic.StoreUint64(h.selfEntry.lane(0), kind|pos)
	if !atomic.CompareAndSwapUint64(p, pos, pos+1) {
		t.Fatalf("position was not %d", pos)
	}
}

// makeDead makes h's table entry name a process that has exited.
func makeDead(t *testing.T, h *Queue) {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run a child to get a dead pid: %v", err)
	}
	atomic.StoreUint32(h.selfEntry.u32(offProcPID), uint32(cmd.Process.Pid))
	atomic.StoreUint64(h.selfEntry.u64(offProcStart), 1)
}

// TestTryWaitsForConsumerInFlight: the consumer of the oldest message has
// claimed it (head moved) but not released its slot. The queue has room, so
// EnqueueTry must not answer full: it waits for the release, and answers
// false only after its TryWait if the claimant, alive, never finishes —
// counted in Stats().Stalled.
func TestTryWaitsForConsumerInFlight(t *testing.T) {
	q := newTestQueue(t, 4, 2, WithTryWait(30*time.Millisecond))
	other := mustOpen(t, q.Key())
	msg := make([]byte, q.MsgSize())
	enqueueMsgs(t, q, msg, 1, 2)
	claimByHand(t, other, other.head, recDeq, 0)
	fillMsg(msg, 1, 2)
	tryStalls(t, q, func() bool { return q.EnqueueTry(msg) }, "EnqueueTry took a slot its consumer has not released")
	// The claimant finishes while a Try waits: the Try gets the slot.
	go func() {
		time.Sleep(5 * time.Millisecond)
		other.publish(other.slot(0), freeSeq(0+other.capacity))
	}()
	q2 := mustOpen(t, q.Key(), WithTryWait(time.Minute))
	defer q2.Close()
	if !q2.EnqueueTry(msg) {
		t.Fatal("EnqueueTry answered full while the queue had room and the consumer finished")
	}
	if q.Len() != 2 {
		t.Fatalf("Len = %d, want 2", q.Len())
	}
	atomic.StoreUint64(other.selfEntry.lane(0), 0)
	other.Close()
}

// tryStalls fails the test unless try, a Try call on q that meets a live
// claimant, gives up (false, with fault the failure otherwise) after its
// TryWait, counted as one Stalled.
func tryStalls(t *testing.T, q *Queue, try func() bool, fault string) {
	t.Helper()
	if try() {
		t.Fatal(fault)
	}
	if st := q.Stats(); st.Stalled != 1 {
		t.Fatalf("Stalled = %d after a Try gave up on a live claimant, want 1", st.Stalled)
	}
}

// TestTryWaitsForProducerInFlight: a producer has claimed the next position
// and not published it. The queue is not empty, so DequeueTry waits for the
// message.
func TestTryWaitsForProducerInFlight(t *testing.T) {
	q := newTestQueue(t, 4, 4, WithTryWait(30*time.Millisecond))
	other := mustOpen(t, q.Key())
	buf := make([]byte, q.MsgSize())
	claimByHand(t, other, other.tail, recEnq, 0)
	tryStalls(t, q, func() bool { return q.DequeueTry(buf) }, "DequeueTry read a message that was never published")
	go func() {
		time.Sleep(5 * time.Millisecond)
		fillMsg(other.data(other.slot(0)), 2, 0)
		other.publish(other.slot(0), fullSeq(0))
	}()
	q2 := mustOpen(t, q.Key(), WithTryWait(time.Minute))
	defer q2.Close()
	if !q2.DequeueTry(buf) {
		t.Fatal("DequeueTry answered empty while a message was being written")
	}
	if p, s, ok := readMsg(buf); !ok || p != 2 || s != 0 {
		t.Fatalf("message (%d, %d, whole %v)", p, s, ok)
	}
	atomic.StoreUint64(other.selfEntry.lane(0), 0)
	other.Close()
}

// TestTryRecoversDeadClaimant: the claimant died. A Try call waiting for it
// settles the slot itself and answers from the queue's real state.
func TestTryRecoversDeadClaimant(t *testing.T) {
	q := newTestQueue(t, 4, 2, WithTryWait(time.Minute))
	dead := mustOpen(t, q.Key())
	buf := make([]byte, q.MsgSize())
	msg := make([]byte, q.MsgSize())

	// A dead producer of position 0: the consumer passes over its slot and,
	// nothing else being there, answers empty.
	claimByHand(t, dead, dead.tail, recEnq, 0)
	makeDead(t, dead)
	if q.DequeueTry(buf) {
		t.Fatal("DequeueTry returned a message nobody published")
	}
	if st := q.Stats(); st.Lost != 1 || st.Stalled != 0 {
		t.Fatalf("stats %+v, want Lost 1, Stalled 0", st)
	}

	// A dead consumer holding the oldest message of a full queue: the
	// producer releases its slot and goes in.
	enqueueMsgs(t, q, msg, 3, 2)
	claimByHand(t, dead, dead.head, recDeq, 1)
	fillMsg(msg, 3, 2)
	if !q.EnqueueTry(msg) {
		t.Fatal("EnqueueTry answered full behind a dead consumer")
	}
	if st := q.Stats(); st.Lost != 2 {
		t.Fatalf("stats %+v, want Lost 2", st)
	}
	for want := uint64(1); want <= 2; want++ {
		if !q.DequeueTry(buf) {
			t.Fatalf("message %d missing", want)
		}
		if _, s, ok := readMsg(buf); !ok || s != want {
			t.Fatalf("got seq %d (whole %v), want %d", s, ok, want)
		}
	}
	if q.DequeueTry(buf) || q.Len() != 0 {
		t.Fatal("queue not empty at the end")
	}
}

// TestShiftDropsExactlyOne: EnqueueShift drops only from a full queue, one
// message per call, and never the message a consumer has already claimed:
// with the oldest claimed and not released, the queue has room coming, and
// the shift waits for it instead of dropping the next one.
func TestShiftDropsExactlyOne(t *testing.T) {
	q := newTestQueue(t, 4, 3)
	other := mustOpen(t, q.Key())
	defer other.Close()
	msg := make([]byte, q.MsgSize())
	buf := make([]byte, q.MsgSize())
	for s := uint64(0); s < 3; s++ {
		fillMsg(msg, 4, s)
		q.EnqueueShift(msg)
	}
	if st := q.Stats(); st.Overwritten != 0 || q.Len() != 3 {
		t.Fatalf("not full yet: %+v, Len %d", st, q.Len())
	}
	fillMsg(msg, 4, 3)
	q.EnqueueShift(msg) // full: drops 0
	if st := q.Stats(); st.Overwritten != 1 || q.Len() != 3 {
		t.Fatalf("one shift into a full queue: %+v, Len %d", st, q.Len())
	}
	// A consumer claims message 1 and is still reading it.
	claimByHand(t, other, other.head, recDeq, 1)
	done := make(chan struct{})
	go func() {
		fillMsg(msg, 4, 4)
		q.EnqueueShift(msg)
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("EnqueueShift did not wait for the consumer reading the tail slot")
	case <-time.After(20 * time.Millisecond):
	}
	other.publish(other.slot(1), freeSeq(1+other.capacity))
	<-done
	atomic.StoreUint64(other.selfEntry.lane(0), 0)
	if st := q.Stats(); st.Overwritten != 1 {
		t.Fatalf("the shift dropped a message while a consumer made room: %+v", st)
	}
	dequeueSeqs(t, q, buf, 2, 3, 4)
}

// TestCloseDuringCalls: Close while one goroutine is blocked and another
// spins in a Try loop: the blocked call returns ErrClosed, the Try calls
// false, and nothing faults.
func TestCloseDuringCalls(t *testing.T) {
	for _, w := range []WaitStrategy{Adaptive, BusySpin} {
		q := newTestQueue(t, 8, 2, WithWait(w))
		blocked := make(chan error, 1)
		spinning := make(chan int, 1)
		go func() { blocked <- q.DequeueBlock(t.Context(), make([]byte, q.MsgSize())) }()
		go func() {
			buf, calls := make([]byte, q.MsgSize()), 0
			for !q.closed.Load() {
				if q.DequeueTry(buf) {
					calls = -1 << 30 // nothing was ever enqueued
				}
				calls++
			}
			spinning <- calls
		}()
		time.Sleep(5 * time.Millisecond)
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-blocked; !errors.Is(err, ErrClosed) {
			t.Fatalf("%v: DequeueBlock across Close returned %v, want ErrClosed", w, err)
		}
		if calls := <-spinning; calls < 0 {
			t.Fatalf("%v: DequeueTry returned a message from an empty queue", w)
		}
		if q.DequeueTry(make([]byte, q.MsgSize())) || q.Len() != 0 {
			t.Fatalf("%v: closed handle still answers", w)
		}
	}
}

// BenchmarkLane measures what every call pays to enter and leave a handle
// (the lane CAS on process memory and the release store that frees it): the
// price of exact recovery with shared handles and of a safe Close.
func BenchmarkLane(b *testing.B) {
	q := newTestQueue(b, 1, 1)
	b.ReportAllocs()
	for b.Loop() {
		q.leave(q.enter())
	}
}
