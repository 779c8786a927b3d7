//go:build linux || darwin

package shqueue

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// WaitAny and WaitAnyRoom: one goroutine waits on many queues. This file owns
// the waiting loop and the few questions it asks each queue (is it ready,
// register me as a sleeper, take me off); the platform files own the sleep
// itself (futex_waitv on Linux, a bounded polling back-off elsewhere).
//
// The rule that makes a wake-up impossible to lose is wait.go's: register as
// a sleeper on every queue (the queue's count and this handle's table entry,
// which recovery takes back if the process dies), one full barrier
// (sleeperBarrier), read every futex word, look at every queue once more,
// then sleep on all the words at once. A waker publishes, then reads the
// sleeper count and bumps the word and wakes if the count is not zero; so a
// publish the last look missed changes a word after it was read, and the
// sleep either does not start or ends. The registration is kept across
// repeated sleeps of one call: after the one barrier every later publish
// sees it, so only the first sleep pays for the barrier.

// MaxWaitAny is how many queues one WaitAny or WaitAnyRoom call accepts, and
// it waits on all of them without allocating: futex_waitv takes at most 128
// words and one is the call's own cancellation word. Callers with more queues
// split them between goroutines.
const MaxWaitAny = 127

// WaitAny blocks until one of qs has a message, and returns its index, or
// until ctx is done. It does not take the message: the caller dequeues it,
// typically with DequeueTry, which can still find the queue empty when
// another consumer took the message first (then wait again). When several
// queues have a message the lowest index wins, so list queues in priority
// order (or rotate the slice for fairness).
//
// A queue "has a message" when the slot at its head is published: exactly
// when a dequeue at that instant would take a message or pass over a slot its
// dead producer abandoned. A message still being copied in by its producer
// (tail ahead of head, slot not yet published) does not count: its publish
// wakes the waiter. The queue's length (tail != head) would count it, and a
// consumer woken for it would find nothing and spin until the producer
// finished, or for ever if it died.
//
// Like DequeueBlock it spins, then yields, then sleeps until a producer on
// any of the queues publishes. It sleeps only if at least one queue's handle
// was opened with Adaptive; when every handle is BusySpin it spins until a
// message comes or ctx is done. On Linux it sleeps in futex_waitv on all the
// queues' words at once; where the kernel lacks futex_waitv (before 5.16) and
// on other systems, it polls with a bounded back-off instead, from
// pollMinSleep doubling to pollMaxSleep, which bounds the extra wake-up
// latency.
//
// It makes no allocation for up to MaxWaitAny queues (more are refused with
// ErrInvalidArg), except when it goes to sleep under a context that can be
// cancelled: the first sleep under each such context registers a wake-up
// with context.AfterFunc (one allocation), kept until the context is done and
// reused by every later call under it, for up to maxWatchedContexts contexts
// at once; beyond that, each sleep registers (and drops) its own.
//
// A nil queue is refused with ErrInvalidArg. A handle closed before or
// during the call (Close wakes it) makes it return ErrClosed.
func WaitAny(ctx context.Context, qs ...*Queue) (int, error) {
	return waitAny(ctx, qs, true)
}

// WaitAnyRoom is WaitAny for producers: it blocks until one of qs has room
// for a message (the slot at its tail is free for the tail's lap, so an
// enqueue at that instant would succeed) and returns its index. The caller
// then enqueues with EnqueueTry, which can still find the queue full when
// another producer took the room first.
func WaitAnyRoom(ctx context.Context, qs ...*Queue) (int, error) {
	return waitAny(ctx, qs, false)
}

// The polling back-off, used where futex_waitv is missing: the first poll
// after pollMinSleep, each next one after twice as long, up to pollMaxSleep.
// A waiter so woken answers at most pollMaxSleep late; it wakes at most
// 1000 times a second once it has backed off, about 0.1% of a core.
const (
	pollMinSleep = 50 * time.Microsecond
	pollMaxSleep = time.Millisecond
)

// waitAny is WaitAny (consumer) and WaitAnyRoom (producer).
func waitAny(ctx context.Context, qs []*Queue, consumer bool) (int, error) {
	op := "wait for a message on"
	if !consumer {
		op = "wait for room on"
	}
	if len(qs) == 0 || len(qs) > MaxWaitAny {
		return -1, fmt.Errorf("%s %d queues: %w: between 1 and %d queues", op, len(qs), ErrInvalidArg, MaxWaitAny)
	}
	adaptive := false
	for i, q := range qs {
		if q == nil {
			return -1, fmt.Errorf("%s queue %d of %d: %w: nil queue", op, i, len(qs), ErrInvalidArg)
		}
		adaptive = adaptive || q.wait != BusySpin
	}
	// Count this call in every handle's waiters, as block does, so a Close
	// waits for it to leave; it touches a segment only after seeing its
	// handle open, and looks again at every check (Close wakes sleepers).
	for _, q := range qs {
		q.waiters.Add(1)
	}
	defer func() {
		for _, q := range qs {
			q.waiters.Add(-1)
		}
	}()
	if err := anyClosed(op, qs); err != nil {
		return -1, err
	}
	if err := ctxDone(ctx); err != nil {
		return -1, err
	}
	if i := anyReady(qs, consumer); i >= 0 {
		return i, nil
	}
	// Spin, as block does: hot first, then with the spin-wait hint; look
	// at the context and for stalled claims now and then.
	done := ctx.Done()
	start := time.Now()
	for n := 1; ; n++ {
		if n > hotSpins && adaptive {
			spinPause(spinPausesPerTry)
		}
		if i := anyReady(qs, consumer); i >= 0 {
			return i, nil
		}
		if n%triesPerCtxCheck != 0 {
			continue
		}
		if done != nil {
			select {
			case <-done:
				return -1, ctx.Err()
			default:
			}
		}
		if err := anyClosed(op, qs); err != nil {
			return -1, err
		}
		if n%triesPerStallCheck == 0 {
			checkStalls(qs, consumer)
		}
		if adaptive && time.Since(start) > spinBudget {
			break
		}
	}
	for time.Since(start) < spinBudget+yieldBudget {
		runtime.Gosched()
		if i := anyReady(qs, consumer); i >= 0 {
			return i, nil
		}
		if err := ctxDone(ctx); err != nil {
			return -1, err
		}
		if err := anyClosed(op, qs); err != nil {
			return -1, err
		}
	}
	return sleepAny(ctx, op, qs, consumer)
}

// anyReady returns the index of the first queue that is ready, or -1.
func anyReady(qs []*Queue, consumer bool) int {
	for i, q := range qs {
		if q.ready(consumer) {
			return i
		}
	}
	return -1
}

// anyClosed refuses a handle closed before the call or meanwhile.
func anyClosed(op string, qs []*Queue) error {
	for i, q := range qs {
		if q.closed.Load() {
			return keyErr(op, q.key, ErrClosed, "queue %d of %d", i, len(qs))
		}
	}
	return nil
}

// checkStalls looks on every queue for a claim a process stopped or died in
// (no one else would wake the waiter), and reports whether it is watching
// one: then the waiter should look again within stallGrace.
func checkStalls(qs []*Queue, consumer bool) bool {
	watching := false
	for _, q := range qs {
		if q.checkStall(consumer) {
			watching = true
		}
	}
	return watching
}

// waitAnySleeps counts WaitAny's sleeps in this process, so tests can tell
// that a wake-up came through the sleep and not the spin.
var waitAnySleeps atomic.Uint64

// waitWord is one futex word to sleep on and the value it had.
type waitWord struct {
	addr *uint32
	seen uint32
}

// sleepAny registers on every queue, then sleeps in slices of sleepSlice
// until a queue is ready or ctx is done, and deregisters.
func sleepAny(ctx context.Context, op string, qs []*Queue, consumer bool) (int, error) {
	var words [MaxWaitAny]waitWord
	for i, q := range qs {
		words[i].addr = q.registerSleeper(consumer)
	}
	defer func() {
		for _, q := range qs {
			q.deregisterSleeper(consumer)
		}
	}()
	sleeperBarrier()
	var stop func() bool
	if ctx.Done() != nil {
		stop = watchContext(ctx)
	}
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		// The words first, then the looks: a Close or a publish that
		// this round's looks miss changes a word after it was read.
		for i := range qs {
			words[i].seen = atomic.LoadUint32(words[i].addr)
		}
		cancelSeen := atomic.LoadUint32(&ctxWake)
		if err := anyClosed(op, qs); err != nil {
			return -1, err
		}
		if i := anyReady(qs, consumer); i >= 0 {
			return i, nil
		}
		if err := ctxDone(ctx); err != nil {
			return -1, err
		}
		timeout := sleepSlice
		if checkStalls(qs, consumer) {
			timeout = stallGrace // watching a claim: look again sooner
		}
		if deadline, has := ctx.Deadline(); has {
			timeout = min(timeout, time.Until(deadline))
		}
		if timeout > 0 {
			waitAnySleeps.Add(1)
			sleepWords(ctx, words[:len(qs)], cancelSeen, timeout)
		}
	}
}

// ready reports whether a dequeue (consumer) or an enqueue (producer) at this
// instant would find its slot ready: the head slot published, or the tail
// slot free for the tail's lap. It reads what dequeue and enqueue read, with
// the same tests.
func (q *Queue) ready(consumer bool) bool {
	pos := atomic.LoadUint64(q.tail)
	if consumer {
		pos = atomic.LoadUint64(q.head)
	}
	for {
		seq := atomic.LoadUint64(seqWord(q.slot(pos))) &^ seqAbandoned
		want := freeSeq(pos)
		if consumer {
			want = fullSeq(pos)
		}
		switch diff := int64(seq - want); {
		case diff == 0:
			return true
		case diff < 0:
			return false
		}
		// The slot has moved on: another call took pos meanwhile, and the
		// position has moved too (the claim comes before the slot's
		// change). If it has not, the segment is corrupt and the dequeue
		// or enqueue itself reports that; waiting is all this can do.
		var next uint64
		if consumer {
			next = atomic.LoadUint64(q.head)
		} else {
			next = atomic.LoadUint64(q.tail)
		}
		if next == pos {
			return false
		}
		pos = next
	}
}

// registerSleeper counts one sleeper on the queue's notEmpty (consumer) or
// notFull word, in the queue's count and in this handle's table entry, and
// returns the word. The caller then issues sleeperBarrier before its last
// look at the queue.
func (q *Queue) registerSleeper(consumer bool) *uint32 {
	word, total, mine := q.notFull, q.fullSleepers, q.selfEntry.fullSleepers()
	if consumer {
		word, total, mine = q.notEmpty, q.emptySleepers, q.selfEntry.emptySleepers()
	}
	atomic.AddUint32(mine, 1)
	atomic.AddUint32(total, 1)
	return word
}

// deregisterSleeper undoes registerSleeper.
func (q *Queue) deregisterSleeper(consumer bool) {
	total, mine := q.fullSleepers, q.selfEntry.fullSleepers()
	if consumer {
		total, mine = q.emptySleepers, q.selfEntry.emptySleepers()
	}
	atomic.AddUint32(total, ^uint32(0))
	atomic.AddUint32(mine, ^uint32(0))
}

// Waking a sleeper whose context is done. Every sleeping WaitAny under a
// cancellable context also sleeps on ctxWake, a word in this process's own
// memory; a context that is done bumps it and wakes them all (the others look
// at their queues and contexts and sleep again: cancellations are rare).
//
// Registering the bump with context.AfterFunc allocates. A program usually
// waits in a loop under one long-lived context, so the registration is made
// once per context and kept until the context is done: watched holds the
// contexts' Done channels. Contexts that are never cancelled would stay in it
// for ever, so it holds at most maxWatchedContexts; past that, each sleep
// registers its own wake-up and drops it when it returns.
var (
	ctxWake      uint32
	watched      sync.Map // Done channel → struct{}
	watchedCount atomic.Int32
)

const maxWatchedContexts = 64

// watchContext arranges for ctxWake to be bumped once ctx is done. It returns
// nil, or a function that cancels the arrangement if it is this sleep's own.
func watchContext(ctx context.Context) (stop func() bool) {
	done := ctx.Done()
	if _, ok := watched.Load(done); ok {
		return nil
	}
	if watchedCount.Add(1) <= maxWatchedContexts {
		if _, loaded := watched.LoadOrStore(done, struct{}{}); loaded {
			watchedCount.Add(-1)
			return nil
		}
		context.AfterFunc(ctx, func() {
			watched.Delete(done)
			watchedCount.Add(-1)
			wakeContextWaiters()
		})
		return nil
	}
	watchedCount.Add(-1)
	return context.AfterFunc(ctx, wakeContextWaiters)
}

// pollWords is the sleep where futex_waitv is missing: it sleeps with the
// bounded back-off and returns when a word or ctxWake has changed, ctx is
// done, or timeout has passed.
func pollWords(ctx context.Context, words []waitWord, cancelSeen uint32, timeout time.Duration) {
	done := ctx.Done()
	end := time.Now().Add(timeout)
	for d := pollMinSleep; ; d = min(2*d, pollMaxSleep) {
		left := time.Until(end)
		if left <= 0 {
			return
		}
		time.Sleep(min(d, left))
		for _, w := range words {
			if atomic.LoadUint32(w.addr) != w.seen {
				return
			}
		}
		if atomic.LoadUint32(&ctxWake) != cancelSeen {
			return
		}
		if done != nil {
			select {
			case <-done:
				return
			default:
			}
		}
	}
}
