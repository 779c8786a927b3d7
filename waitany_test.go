package shqueue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func init() {
	// anywaker KEYS ID COUNT MODE: produce COUNT messages onto the queues
	// (comma-separated keys), each onto whichever has room first
	// (WaitAnyRoom, then EnqueueTry), pausing now and then long enough for
	// consumers to fall asleep.
	registerChild("anywaker", func(args []string) int {
		exitWithParent()
		noTimedSleeps()
		qs := openAll(args[0], args[3])
		id, count := argUint(args, 1), argInt(args, 2)
		rng := rand.New(rand.NewPCG(id, uint64(os.Getpid())))
		msg := make([]byte, qs[0].MsgSize())
		for s := 0; s < count; s++ {
			if rng.IntN(8) == 0 {
				time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Microsecond)
			}
			fillMsg(msg, id, uint64(s))
			for {
				i, err := WaitAnyRoom(context.Background(), qs...)
				if err != nil {
					return childFail("WaitAnyRoom", err)
				}
				if qs[i].EnqueueTry(msg) {
					break
				}
			}
		}
		return 0
	})
	// anysleeper KEYS GOROUTINES MODE: consume from the queues with several
	// goroutines (WaitAny, then DequeueTry), each pausing now and then so
	// producers find every queue full and sleep too, until one stop message
	// per goroutine; print how many messages it took.
	registerChild("anysleeper", func(args []string) int {
		exitWithParent()
		noTimedSleeps()
		qs := openAll(args[0], args[2])
		return sleepyConsumers(argInt(args, 1), qs[0].MsgSize(), func(buf []byte) (bool, error) {
			i, err := WaitAny(context.Background(), qs...)
			if err != nil {
				return false, fmt.Errorf("WaitAny: %w", err)
			}
			return qs[i].DequeueTry(buf), nil
		})
	})
	// anyfeed KEYS PAUSE_US COUNT: every PAUSE_US µs put one message on
	// queue n mod len(KEYS), COUNT times: a producer that makes no
	// allocation in the measuring process.
	registerChild("anyfeed", func(args []string) int {
		exitWithParent()
		qs := openAll(args[0], "adaptive")
		pause, count := argInt(args, 1), argInt(args, 2)
		msg := make([]byte, qs[0].MsgSize())
		for n := 0; n < count; n++ {
			time.Sleep(time.Duration(pause) * time.Microsecond)
			if err := qs[n%len(qs)].EnqueueBlock(context.Background(), msg); err != nil {
				return childFail("anyfeed", err)
			}
		}
		return 0
	})
}

// openAll opens the comma-separated keys for a child, which exits 1 if it
// cannot. mode is "adaptive", "poll" (adaptive, with WaitAny's polling
// fallback forced) or "spin".
func openAll(keys, mode string) []*Queue {
	wait := Adaptive
	switch mode {
	case "poll":
		noWaitv.Store(true)
	case "spin":
		wait = BusySpin
	}
	var qs []*Queue
	for _, k := range strings.Split(keys, ",") {
		qs = append(qs, childOpen("open", k, WithWait(wait)))
	}
	return qs
}

func joinKeys(qs []*Queue) string {
	s := ""
	for i, q := range qs {
		if i > 0 {
			s += ","
		}
		s += strconv.Itoa(q.Key())
	}
	return s
}

func newTestQueues(t *testing.T, n int, words, capacity uint32, opts ...Option) []*Queue {
	qs := make([]*Queue, n)
	for i := range qs {
		qs[i] = newTestQueue(t, words, capacity, opts...)
	}
	return qs
}

// forcePolling runs the rest of the test with WaitAny's polling fallback.
func forcePolling(t *testing.T) {
	old := noWaitv.Load()
	noWaitv.Store(true)
	t.Cleanup(func() { noWaitv.Store(old) })
}

// TestWaitAnyNoLostWakeups: WaitAny consumers and WaitAnyRoom producers in
// separate processes on 8 small queues, both sides falling asleep again and
// again, with the periodic re-check disabled so a single lost wake-up hangs
// the run until the deadline. Every message must arrive, none torn.
func TestWaitAnyNoLostWakeups(t *testing.T) {
	for _, mode := range []string{"adaptive", "poll", "spin"} {
		t.Run(mode, func(t *testing.T) {
			const queues = 8
			producers, consumers, goroutines, perProducer := 3, 3, 2, 3000
			if testing.Short() || mode != "adaptive" {
				perProducer = 600
			}
			if mode == "spin" {
				// Every process keeps a core: keep them fewer than
				// a loaded 2-core machine (or qemu) can run.
				producers, consumers, goroutines, perProducer = 1, 2, 1, 300
			}
			qs := newTestQueues(t, queues, 4, 2)
			keys := joinKeys(qs)
			sleepsBefore := waitAnySleeps.Load()
			var sleepers, wakers []*childOut
			for c := 0; c < consumers; c++ {
				sleepers = append(sleepers, startWithOutput(t, childCommand(t, "anysleeper", keys, strconv.Itoa(goroutines), mode)))
			}
			for p := 0; p < producers; p++ {
				wakers = append(wakers, startWithOutput(t, childCommand(t, "anywaker", keys, strconv.Itoa(p), strconv.Itoa(perProducer), mode)))
			}
			deadline := time.Now().Add(3 * time.Minute)
			state := func() string {
				s := ""
				for i, q := range qs {
					s += fmt.Sprintf(" q%d len %d sleepers %d/%d;", i, q.Len(), atomic.LoadUint32(q.emptySleepers), atomic.LoadUint32(q.fullSleepers))
				}
				return s
			}
			total := awaitSleepers(t, wakers, sleepers, deadline, state, func() {
				// Let the consumers drain every queue before the stop
				// messages, which all go to queue 0.
				for total := 1; total > 0 && time.Now().Before(deadline); {
					total = 0
					for _, q := range qs {
						total += q.Len()
					}
					time.Sleep(time.Millisecond)
				}
				stop := make([]byte, qs[0].MsgSize())
				fillMsg(stop, stopProducer, 0)
				ctx, cancel := context.WithDeadline(context.Background(), deadline)
				defer cancel()
				for i := 0; i < consumers*goroutines; i++ {
					if err := qs[0].EnqueueBlock(ctx, stop); err != nil {
						t.Fatalf("stop message: %v:%s", err, state())
					}
					for qs[0].Len() > 0 && time.Now().Before(deadline) {
						time.Sleep(time.Millisecond)
					}
				}
			})
			if total != producers*perProducer {
				t.Fatalf("consumers took %d messages, %d were sent", total, producers*perProducer)
			}
			if waitAnySleeps.Load() != sleepsBefore {
				t.Fatal("the test process itself slept in WaitAny: the counter is not per process")
			}
		})
	}
}

// TestWaitAnyIndex: the index of a queue with a message, the lowest first;
// a queue that has a message claimed but not published does not count.
func TestWaitAnyIndex(t *testing.T) {
	qs := newTestQueues(t, 3, 1, 4)
	msg := make([]byte, 8)
	qs[2].EnqueueShift(msg)
	if i, err := WaitAny(context.Background(), qs...); i != 2 || err != nil {
		t.Fatalf("WaitAny = %d, %v; want 2", i, err)
	}
	qs[1].EnqueueShift(msg)
	if i, err := WaitAny(context.Background(), qs...); i != 1 || err != nil {
		t.Fatalf("WaitAny = %d, %v; want 1", i, err)
	}
	// A claimed, unpublished message on queue 0: tail moves, the slot does
	// not. WaitAny must not report it.
	atomic.StoreUint64(qs[0].tail, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if i, err := WaitAny(ctx, qs[0]); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitAny on a queue whose only message is unpublished = %d, %v; want the deadline", i, err)
	}
	atomic.StoreUint64(qs[0].tail, 0)
	// Room: queue 1 is full, 2 has room.
	for qs[1].EnqueueTry(msg) {
	}
	if i, err := WaitAnyRoom(context.Background(), qs[1], qs[2]); i != 1 || err != nil {
		t.Fatalf("WaitAnyRoom = %d, %v; want 1", i, err)
	}
}

// TestWaitAnyWakes: a consumer asleep in WaitAny on 8 queues returns with the
// index of the queue a message went to, under every way of waiting.
func TestWaitAnyWakes(t *testing.T) {
	for _, mode := range []string{"adaptive", "poll", "spin"} {
		t.Run(mode, func(t *testing.T) {
			var opts []Option
			switch mode {
			case "poll":
				forcePolling(t)
			case "spin":
				opts = append(opts, WithWait(BusySpin))
			}
			qs := newTestQueues(t, 8, 1, 4, opts...)
			rounds := 40
			if testing.Short() {
				rounds = 10
			}
			sleeps := waitAnySleeps.Load()
			buf := make([]byte, 8)
			for r := 0; r < rounds; r++ {
				want := (r * 5) % len(qs)
				go func() {
					time.Sleep(time.Millisecond)
					qs[want].EnqueueShift(buf)
				}()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				i, err := WaitAny(ctx, qs...)
				cancel()
				if i != want || err != nil {
					t.Fatalf("round %d: WaitAny = %d, %v; want %d", r, i, err, want)
				}
				if !qs[i].DequeueTry(make([]byte, 8)) {
					t.Fatalf("round %d: queue %d reported ready, DequeueTry found nothing", r, i)
				}
			}
			slept := waitAnySleeps.Load() - sleeps
			if mode == "spin" && slept != 0 {
				t.Fatalf("BusySpin handles: WaitAny slept %d times", slept)
			}
			t.Logf("%s: %d sleeps in %d rounds", mode, slept, rounds)
		})
	}
}

// TestWaitAnyRoomWakes: a producer asleep in WaitAnyRoom on full queues
// returns once a consumer makes room on one of them.
func TestWaitAnyRoomWakes(t *testing.T) {
	qs := newTestQueues(t, 4, 1, 2)
	msg := make([]byte, 8)
	for _, q := range qs {
		for q.EnqueueTry(msg) {
		}
	}
	for r := 0; r < 8; r++ {
		want := (r * 3) % len(qs)
		go func() {
			time.Sleep(time.Millisecond)
			qs[want].DequeueTry(make([]byte, 8))
		}()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		i, err := WaitAnyRoom(ctx, qs...)
		cancel()
		if i != want || err != nil {
			t.Fatalf("round %d: WaitAnyRoom = %d, %v; want %d", r, i, err, want)
		}
		if !qs[i].EnqueueTry(msg) {
			t.Fatalf("round %d: queue %d reported room, EnqueueTry found none", r, i)
		}
	}
}

// TestWaitAnyCancel: cancelling the context wakes a sleeping WaitAny at once,
// not at the end of a sleep slice (raised to an hour here), whether the
// context's wake-up is the kept one or the sleep's own (the kept ones are
// all in use), and under the polling fallback.
func TestWaitAnyCancel(t *testing.T) {
	for _, mode := range []string{"kept", "own", "poll"} {
		t.Run(mode, func(t *testing.T) {
			old := sleepSlice
			sleepSlice = time.Hour
			t.Cleanup(func() { sleepSlice = old })
			switch mode {
			case "own":
				watchedCount.Add(maxWatchedContexts)
				t.Cleanup(func() { watchedCount.Add(-maxWatchedContexts) })
			case "poll":
				forcePolling(t)
			}
			qs := newTestQueues(t, 2, 1, 4)
			ctx, cancel := context.WithCancel(context.Background())
			sleeps := waitAnySleeps.Load()
			res := make(chan error, 1)
			go func() {
				_, err := WaitAny(ctx, qs...)
				res <- err
			}()
			for waitAnySleeps.Load() == sleeps {
				time.Sleep(100 * time.Microsecond)
			}
			cancel()
			select {
			case err := <-res:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("WaitAny = %v; want context.Canceled", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("cancelling the context did not wake WaitAny")
			}
			for _, q := range qs {
				if n := atomic.LoadUint32(q.emptySleepers); n != 0 {
					t.Fatalf("queue %#x: %d sleepers still registered", q.Key(), n)
				}
			}
		})
	}
	// A deadline ends the sleep too.
	qs := newTestQueues(t, 1, 1, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := WaitAnyRoom(ctx, qs...); err != nil {
		t.Fatalf("WaitAnyRoom on an empty queue: %v", err)
	}
	if _, err := WaitAny(ctx, qs...); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitAny = %v; want the deadline", err)
	}
}

// TestWaitAnyBadArgs: nil, closed and too many queues are refused before
// anything waits or registers.
func TestWaitAnyBadArgs(t *testing.T) {
	qs := newTestQueues(t, 2, 1, 4)
	ctx := context.Background()
	if _, err := WaitAny(ctx); !errors.Is(err, ErrInvalidArg) {
		t.Fatalf("no queues: %v", err)
	}
	if _, err := WaitAny(ctx, qs[0], nil); !errors.Is(err, ErrInvalidArg) {
		t.Fatalf("nil queue: %v", err)
	}
	many := make([]*Queue, MaxWaitAny+1)
	for i := range many {
		many[i] = qs[0]
	}
	if _, err := WaitAny(ctx, many...); !errors.Is(err, ErrInvalidArg) {
		t.Fatalf("%d queues: %v", len(many), err)
	}
	if err := qs[1].Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitAny(ctx, qs...); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed handle: %v", err)
	}
	if _, err := WaitAnyRoom(ctx, qs...); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed handle: %v", err)
	}
	if n := atomic.LoadUint32(qs[0].emptySleepers) + atomic.LoadUint32(qs[0].fullSleepers); n != 0 {
		t.Fatalf("a refused call left %d sleepers registered", n)
	}
	// MaxWaitAny queues are accepted (the same handle repeated).
	ready := many[:MaxWaitAny]
	qs[0].EnqueueShift(make([]byte, 8))
	if i, err := WaitAny(ctx, ready...); i != 0 || err != nil {
		t.Fatalf("%d queues: %d, %v", len(ready), i, err)
	}
}

// TestWaitAnyAllocs: no allocation per call, on the ready path and on the
// sleep path (a producer in another process puts a message on one of 8
// queues every 2 ms, long enough for WaitAny to fall asleep), under a
// background context and under a cancellable one.
func TestWaitAnyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	qs := newTestQueues(t, MaxWaitAny, 1, 4)
	qs[MaxWaitAny-1].EnqueueShift(make([]byte, 8))
	if a := testing.AllocsPerRun(100, func() { WaitAny(context.Background(), qs...) }); a != 0 {
		t.Fatalf("WaitAny on %d queues, one ready: %v allocations per call", len(qs), a)
	}
	qs = qs[:8]
	for _, cancellable := range []bool{false, true} {
		const runs = 50
		feed := startWithOutput(t, childCommand(t, "anyfeed", joinKeys(qs), "2000", strconv.Itoa(runs+1)))
		// If the producer fails or hangs, feed the loop from here so the
		// test ends with that failure rather than hanging.
		measured := make(chan struct{})
		var feedErr error
		go func() {
			_, err := feed.wait(time.Now().Add(time.Minute))
			if err == nil {
				return
			}
			feedErr = err
			for {
				select {
				case <-measured:
					return
				default:
					qs[0].EnqueueTry(make([]byte, 8))
					time.Sleep(time.Millisecond)
				}
			}
		}()
		ctx := context.Background()
		if cancellable {
			c, cancel := context.WithCancel(ctx)
			defer cancel()
			ctx = c
		}
		buf := make([]byte, 8)
		sleeps := waitAnySleeps.Load()
		a := testing.AllocsPerRun(runs, func() {
			i, err := WaitAny(ctx, qs...)
			if err != nil || !qs[i].DequeueTry(buf) {
				panic(fmt.Sprint("WaitAny: ", i, err))
			}
		})
		close(measured)
		if _, err := feed.wait(time.Now().Add(time.Minute)); err != nil || feedErr != nil {
			t.Fatalf("producer: %v %v", err, feedErr)
		}
		slept := waitAnySleeps.Load() - sleeps
		t.Logf("cancellable %v: %v allocations per call, %d sleeps in %d calls", cancellable, a, slept, runs+1)
		if slept == 0 {
			t.Fatal("no call slept: the sleep path was not measured")
		}
		if a != 0 {
			t.Fatalf("cancellable context %v: %v allocations per call", cancellable, a)
		}
	}
}

// TestWaitAnyClose: closing one of the handles wakes a sleeping WaitAny,
// which returns ErrClosed, and Close returns once it has left.
func TestWaitAnyClose(t *testing.T) {
	old := sleepSlice
	sleepSlice = time.Hour
	t.Cleanup(func() { sleepSlice = old })
	for _, consumer := range []bool{true, false} {
		qs := newTestQueues(t, 3, 1, 1)
		if !consumer {
			for _, q := range qs {
				q.EnqueueShift(make([]byte, 8))
			}
		}
		sleeps := waitAnySleeps.Load()
		res := make(chan error, 1)
		go func() {
			var err error
			if consumer {
				_, err = WaitAny(context.Background(), qs...)
			} else {
				_, err = WaitAnyRoom(context.Background(), qs...)
			}
			res <- err
		}()
		for waitAnySleeps.Load() == sleeps {
			time.Sleep(100 * time.Microsecond)
		}
		closed := make(chan error, 1)
		go func() { closed <- qs[1].Close() }()
		select {
		case err := <-res:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("consumer %v: WaitAny = %v; want ErrClosed", consumer, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("consumer %v: Close did not wake WaitAny", consumer)
		}
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, 2} {
			if n := atomic.LoadUint32(qs[i].emptySleepers) + atomic.LoadUint32(qs[i].fullSleepers); n != 0 {
				t.Fatalf("queue %d: %d sleepers left registered", i, n)
			}
		}
	}
}

// BenchmarkWaitAnyReady: the cost of a WaitAny call that finds a message on
// the last of n queues at its first look (each look scans all n), against
// n=1; one enqueue and one DequeueTry per op keep the message there.
func BenchmarkWaitAnyReady(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("queues=%d", n), func(b *testing.B) {
			var qs []*Queue
			for range n {
				qs = append(qs, newTestQueue(b, 1, 4))
			}
			msg := make([]byte, 8)
			ctx := context.Background()
			last := qs[n-1]
			b.ReportAllocs()
			for b.Loop() {
				last.EnqueueTry(msg)
				i, _ := WaitAny(ctx, qs...)
				qs[i].DequeueTry(msg)
			}
		})
	}
	b.Run("dequeueblock", func(b *testing.B) {
		q := newTestQueue(b, 1, 4)
		msg := make([]byte, 8)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			q.EnqueueTry(msg)
			q.DequeueBlock(ctx, msg)
		}
	})
}
