//go:build linux || darwin

package shqueue

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"
)

// Waiting. A blocking call that finds the queue empty (or full) waits in
// stages: spin (hot, then with the CPU's spin-wait hint), then yield the
// processor, then (Adaptive) sleep on a futex word that the other side bumps
// when it makes progress. BusySpin spins hot for ever. The context is checked
// at every stage.
const (
	// spinPausesPerTry is how many spin hints run between two attempts once
	// a waiter has spun hotSpins attempts without them. PAUSE takes about
	// 140 cycles on recent Intel cores: in a pinned 64-byte ping-pong across
	// processes, spinning with it cost 45 ns of one-way p50 (290 → 242 ns
	// without), so BusySpin never pauses and Adaptive pauses only after the
	// first microseconds, when an answer has become unlikely to be imminent.
	spinPausesPerTry = 1
	hotSpins         = 256
	// spinBudget is how long a waiter spins before it yields; a hand-off
	// between two cores takes well under a microsecond, so a peer that is
	// running answers within it.
	spinBudget = 20 * time.Microsecond
	// yieldBudget is how long it then yields before it sleeps.
	yieldBudget = 200 * time.Microsecond
)

// sleepSlice bounds one futex sleep: a sleeper wakes this often to look for a
// claim that a dead process left behind (no one else would wake it). With
// recovery's stallGrace after the first look, a survivor asleep behind a dead
// claimant usually resumes within sleepSlice+stallGrace (BenchmarkRecovery); waking 100 times a
// second costs an idle waiter well under 1% of a core (TestIdleCost). Tests
// that prove no wake-up is ever lost raise it so a lost one hangs visibly.
var sleepSlice = 10 * time.Millisecond

// Waiting rounds between the checks a spinning waiter makes: the context
// every 64 attempts (a select costs tens of nanoseconds, an attempt a few),
// and the stalled claim every 64*64 attempts (tens of microseconds, well
// under stallGrace).
const (
	triesPerCtxCheck   = 64
	triesPerStallCheck = 64 * 64
)

// block waits until the operation succeeds or ctx is done. consumer says
// which side is waiting: consumers wait for a publish into buf, producers for
// a release to publish buf; with h set, for a slot to hold in place instead
// (zerocopy.go). Each attempt holds a lane, so Close waits for it; between
// attempts the call touches the segment only to look for a stalled claim and
// to sleep, and before the first of those it counts itself in waiters (and
// looks at closed after that, a full barrier later), so Close waits for it to
// leave. A wait that ends within the first attempts, as a hand-off between
// two running processes does, so pays no locked instruction and reads no
// clock beyond the attempts themselves: the clock starts at the first
// context check.
func (q *Queue) block(ctx context.Context, consumer bool, buf []byte, h *held) error {
	op := "enqueue"
	if consumer {
		op = "dequeue"
	}
	if h != nil {
		op = h.op(consumer)
	}
	if q.closed.Load() {
		return keyErr(op, q.key, ErrClosed, "")
	}
	var w waiter
	defer w.leave(q)
	done := ctx.Done()
	var start time.Time
	for i := 1; ; i++ {
		if i > hotSpins && q.wait != BusySpin {
			spinPause(spinPausesPerTry)
		}
		if r := q.attempt(consumer, buf, h); r != opNotReady {
			return q.blockResult(op, r)
		}
		if i%triesPerCtxCheck != 0 {
			continue
		}
		if done != nil {
			select {
			case <-done:
				return ctx.Err()
			default:
			}
		}
		if start.IsZero() {
			start = time.Now()
		}
		if i%triesPerStallCheck == 0 {
			if !w.enter(q) {
				return keyErr(op, q.key, ErrClosed, "")
			}
			q.checkStall(consumer)
		}
		if q.wait != BusySpin && time.Since(start) > spinBudget {
			break
		}
	}
	for time.Since(start) < spinBudget+yieldBudget {
		runtime.Gosched()
		if r := q.attempt(consumer, buf, h); r != opNotReady {
			return q.blockResult(op, r)
		}
		if err := ctxDone(ctx); err != nil {
			return err
		}
	}
	if !w.enter(q) {
		return keyErr(op, q.key, ErrClosed, "")
	}
	r, err := q.sleep(ctx, consumer, buf, h)
	if err != nil {
		return err
	}
	return q.blockResult(op, r)
}

// waiter counts a blocking call in the handle's waiters from the first time
// it touches the segment outside an attempt until it returns.
type waiter struct{ counted bool }

// enter counts the call if it is not counted yet, and reports whether the
// handle is still open: Close sets closed and then waits for waiters to reach
// zero, and the add is a full barrier, so either Close sees the count or
// the call sees closed.
func (w *waiter) enter(q *Queue) bool {
	if !w.counted {
		q.waiters.Add(1)
		w.counted = true
	}
	return !q.closed.Load()
}

func (w *waiter) leave(q *Queue) {
	if w.counted {
		q.waiters.Add(-1)
	}
}

// attempt makes one quick attempt at a blocking call's operation.
func (q *Queue) attempt(consumer bool, buf []byte, h *held) opResult {
	if h != nil {
		return q.holdSlot(consumer, false, h)
	}
	if consumer {
		return q.dequeue(buf, false)
	}
	return q.enqueue(buf, false)
}

func (q *Queue) blockResult(op string, r opResult) error {
	switch r {
	case opClosed:
		return keyErr(op, q.key, ErrClosed, "")
	case opRole:
		return q.roleErr(op)
	}
	return nil
}

// sleep registers as a sleeper and then, until the operation succeeds, ctx
// is done or the handle is closed, tries again and sleeps on the futex word
// until woken or a slice passes. Registering before the first try is what
// makes wake-ups impossible to lose: a waker publishes and then reads the
// sleeper count, a sleeper counts itself and then tries, and with a full
// barrier between the two steps on both sides at least one of them sees the
// other. The sleeper's barrier is sleeperBarrier, which also stands in for
// the wakers' (fence_linux.go). It stays registered across slices, so a
// slice that ends without a wake costs a look for a stalled claim, one try
// and the futex call: no barrier, no registration (TestIdleCost).
func (q *Queue) sleep(ctx context.Context, consumer bool, buf []byte, h *held) (opResult, error) {
	word, total, mine := q.notFull, q.fullSleepers, q.selfEntry.fullSleepers()
	if consumer {
		word, total, mine = q.notEmpty, q.emptySleepers, q.selfEntry.emptySleepers()
	}
	atomic.AddUint32(mine, 1)
	atomic.AddUint32(total, 1)
	defer func() {
		atomic.AddUint32(total, ^uint32(0))
		atomic.AddUint32(mine, ^uint32(0))
	}()
	sleeperBarrier()
	if ctx.Done() != nil {
		// A cancelled context wakes this sleeper at once rather than at
		// the end of a slice. If the wake has started, wait for it to
		// finish: the handle may be closed next, and the word must not be
		// touched after that.
		woken := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			wakeAll(word)
			close(woken)
		})
		defer func() {
			if !stop() {
				<-woken
			}
		}()
	}
	for {
		seen := atomic.LoadUint32(word)
		if r := q.attempt(consumer, buf, h); r != opNotReady {
			return r, nil
		}
		if q.closed.Load() {
			return opClosed, nil
		}
		if err := ctxDone(ctx); err != nil {
			return opNotReady, err
		}
		timeout := sleepSlice
		if q.checkStall(consumer) {
			timeout = stallGrace // watching a claim: look again sooner
		}
		if deadline, has := ctx.Deadline(); has {
			timeout = min(timeout, time.Until(deadline))
		}
		futexWait(word, seen, timeout)
	}
}
