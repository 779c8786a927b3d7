package shqueue

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLaps drives one producer/consumer handle through empty, partly full,
// full and wrapped states for thousands of laps, with capacities that are and
// are not powers of two, checking every state's answers and every message.
func TestLaps(t *testing.T) {
	for _, capacity := range []uint32{1, 2, 5, 8, 13} {
		for _, words := range []uint32{3, 6, 8, 64} {
			q := newTestQueue(t, words, capacity)
			size := int(words) * 8
			msg, buf := make([]byte, size), make([]byte, size)
			var next, want uint64
			for lap := 0; lap < 2000; lap++ {
				if q.Len() != 0 || q.DequeueTry(buf) {
					t.Fatalf("cap %d: queue not empty at lap %d", capacity, lap)
				}
				// Fill to a lap-dependent level, then to full.
				fill := uint64(lap) % uint64(capacity+1)
				for i := uint64(0); i < uint64(capacity); i++ {
					fillMsg(msg, 7, next)
					if !q.EnqueueTry(msg) {
						t.Fatalf("cap %d lap %d: EnqueueTry failed with %d of %d", capacity, lap, i, capacity)
					}
					next++
					if i+1 == fill {
						if got := q.Len(); got != int(fill) {
							t.Fatalf("Len = %d, want %d", got, fill)
						}
					}
				}
				fillMsg(msg, 7, next)
				if q.EnqueueTry(msg) {
					t.Fatalf("cap %d: EnqueueTry succeeded on a full queue", capacity)
				}
				if q.Len() != int(capacity) {
					t.Fatalf("Len = %d on a full queue of %d", q.Len(), capacity)
				}
				for i := uint32(0); i < capacity; i++ {
					if !q.DequeueTry(buf) {
						t.Fatalf("cap %d: DequeueTry failed with %d left", capacity, capacity-i)
					}
					p, s, ok := readMsg(buf)
					if !ok || p != 7 || s != want {
						t.Fatalf("cap %d: got (%d, %d, ok=%v), want (7, %d)", capacity, p, s, ok, want)
					}
					want++
				}
			}
			st := q.Stats()
			if st.Enqueued != next || st.Dequeued != want || st.Overwritten != 0 || st.Lost != 0 {
				t.Fatalf("cap %d: stats %+v, want %d enqueued and dequeued", capacity, st, next)
			}
		}
	}
}

// TestShift checks EnqueueShift's overwrite: the newest capacity messages are
// kept, in order, and the dropped ones are counted.
func TestShift(t *testing.T) {
	q := newTestQueue(t, 4, 5)
	msg, buf := make([]byte, 32), make([]byte, 32)
	for i := uint64(0); i < 23; i++ {
		fillMsg(msg, 1, i)
		q.EnqueueShift(msg)
	}
	if st := q.Stats(); st.Overwritten != 18 || st.Enqueued != 23 {
		t.Fatalf("stats %+v, want 18 overwritten of 23", st)
	}
	for want := uint64(18); want < 23; want++ {
		if !q.DequeueTry(buf) {
			t.Fatalf("missing message %d", want)
		}
		if _, s, ok := readMsg(buf); !ok || s != want {
			t.Fatalf("got seq %d ok=%v, want %d", s, ok, want)
		}
	}
	if q.DequeueTry(buf) {
		t.Fatal("queue should be empty")
	}
}

// TestShiftConcurrentConsumers runs shifting producers against consumers:
// every message read is whole, and per producer the sequence only rises.
func TestShiftConcurrentConsumers(t *testing.T) {
	const producers, consumers, perProducer = 3, 3, 20000
	q := newTestQueue(t, 16, 7)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, consumers)
	var got [consumers]int
	for c := 0; c < consumers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, q.MsgSize())
			last := make([]int64, producers)
			for i := range last {
				last[i] = -1
			}
			for {
				if err := q.DequeueBlock(ctx, buf); err != nil {
					errs <- nil
					return
				}
				p, s, ok := readMsg(buf)
				if !ok || p >= producers {
					errs <- errors.New("torn message")
					return
				}
				if int64(s) <= last[p] {
					errs <- errors.New("per-producer order broken")
					return
				}
				last[p] = int64(s)
				got[c]++
			}
		}()
	}
	var pw sync.WaitGroup
	for p := 0; p < producers; p++ {
		pw.Add(1)
		go func() {
			defer pw.Done()
			msg := make([]byte, q.MsgSize())
			for s := uint64(0); s < perProducer; s++ {
				fillMsg(msg, uint64(p), s)
				q.EnqueueShift(msg)
			}
		}()
	}
	pw.Wait()
	// Drain what is left, then stop the consumers.
	for q.Len() > 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()
	for c := 0; c < consumers; c++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st := q.Stats()
	total := got[0] + got[1] + got[2]
	if uint64(total) != st.Dequeued || st.Dequeued+st.Overwritten != producers*perProducer || st.Enqueued != producers*perProducer {
		t.Fatalf("read %d, stats %+v: dequeued + overwritten must equal %d sent", total, st, producers*perProducer)
	}
}

// TestMPMCGoroutines: several producers and consumers on one handle and on
// separate handles; every message arrives exactly once, in order per producer.
func TestMPMCGoroutines(t *testing.T) {
	const producers, consumers = 4, 4
	perProducer := 50000
	if testing.Short() {
		perProducer = 5000
	}
	for _, shared := range []bool{true, false} {
		q := newTestQueue(t, 8, 61)
		handle := func() *Queue {
			if shared {
				return q
			}
			h := mustOpen(t, q.Key())
			t.Cleanup(func() { h.Close() })
			return h
		}
		results := make(chan [][]uint64, consumers)
		ctx, cancel := context.WithCancel(context.Background())
		for c := 0; c < consumers; c++ {
			h := handle()
			go func() {
				seen := make([][]uint64, producers)
				buf := make([]byte, h.MsgSize())
				for h.DequeueBlock(ctx, buf) == nil {
					p, s, ok := readMsg(buf)
					if !ok || p >= producers {
						seen = append(seen, nil) // marks a torn message
						break
					}
					seen[p] = append(seen[p], s)
				}
				results <- seen
			}()
		}
		var pw sync.WaitGroup
		for p := 0; p < producers; p++ {
			h := handle()
			pw.Add(1)
			go func() {
				defer pw.Done()
				msg := make([]byte, h.MsgSize())
				for s := 0; s < perProducer; s++ {
					fillMsg(msg, uint64(p), uint64(s))
					if err := h.EnqueueBlock(context.Background(), msg); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		pw.Wait()
		for q.Len() > 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		checkExactlyOnce(t, collect(results, consumers), producers, perProducer)
	}
}

func collect(results chan [][]uint64, n int) [][][]uint64 {
	var all [][][]uint64
	for i := 0; i < n; i++ {
		all = append(all, <-results)
	}
	return all
}

// checkExactlyOnce checks that each consumer saw each producer's messages in
// rising order and that together they saw every message exactly once.
func checkExactlyOnce(t *testing.T, perConsumer [][][]uint64, producers, perProducer int) {
	t.Helper()
	count := make([][]int, producers)
	for p := range count {
		count[p] = make([]int, perProducer)
	}
	for c, seen := range perConsumer {
		if len(seen) != producers {
			t.Fatalf("consumer %d read a torn message", c)
		}
		for p, seqs := range seen {
			for i, s := range seqs {
				if i > 0 && s <= seqs[i-1] {
					t.Fatalf("consumer %d: producer %d's %d came after %d", c, p, s, seqs[i-1])
				}
				if s >= uint64(perProducer) {
					t.Fatalf("consumer %d: producer %d sequence %d out of range", c, p, s)
				}
				count[p][s]++
			}
		}
	}
	for p := range count {
		for s, n := range count[p] {
			if n != 1 {
				t.Fatalf("producer %d message %d received %d times", p, s, n)
			}
		}
	}
}

// TestBlockingWaits: a blocked consumer is released by a later enqueue and a
// blocked producer by a later dequeue, from another goroutine.
func TestBlockingWaits(t *testing.T) {
	for _, w := range []WaitStrategy{Adaptive, BusySpin} {
		q := newTestQueue(t, 1, 1, WithWait(w))
		msg, buf := []byte("abcdefgh"), make([]byte, 8)
		go func() {
			time.Sleep(30 * time.Millisecond)
			q.EnqueueTry(msg)
		}()
		if err := q.DequeueBlock(context.Background(), buf); err != nil || string(buf) != "abcdefgh" {
			t.Fatalf("%v: DequeueBlock = %v, %q", w, err, buf)
		}
		q.EnqueueTry(msg)
		go func() {
			time.Sleep(30 * time.Millisecond)
			q.DequeueTry(make([]byte, 8))
		}()
		if err := q.EnqueueBlock(context.Background(), []byte("12345678")); err != nil {
			t.Fatalf("%v: EnqueueBlock = %v", w, err)
		}
		if !q.DequeueTry(buf) || string(buf) != "12345678" {
			t.Fatalf("%v: got %q", w, buf)
		}
	}
}

// TestContextEndsWait: cancellation and deadlines end a blocked call with the
// context's error at every stage, and the queue is left as it was.
func TestContextEndsWait(t *testing.T) {
	for _, w := range []WaitStrategy{Adaptive, BusySpin} {
		q := newTestQueue(t, 1, 2, WithWait(w))
		buf := make([]byte, 8)
		for _, d := range []time.Duration{0, 5 * time.Microsecond, 100 * time.Microsecond, 50 * time.Millisecond} {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			err := q.DequeueBlock(ctx, buf)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%v: DequeueBlock after %v = %v, want deadline exceeded", w, d, err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(20 * time.Millisecond); cancel() }()
		if err := q.DequeueBlock(ctx, buf); !errors.Is(err, context.Canceled) {
			t.Fatalf("%v: DequeueBlock = %v, want canceled", w, err)
		}
		q.EnqueueTry([]byte("AAAAAAAA"))
		q.EnqueueTry([]byte("BBBBBBBB"))
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
		if err := q.EnqueueBlock(ctx, []byte("CCCCCCCC")); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v: EnqueueBlock on full = %v", w, err)
		}
		cancel()
		// An already-cancelled context changes nothing even with room/messages.
		if err := q.DequeueBlock(ctx, buf); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v: DequeueBlock with done ctx = %v", w, err)
		}
		if q.Len() != 2 || !q.DequeueTry(buf) || string(buf) != "AAAAAAAA" || !q.DequeueTry(buf) || string(buf) != "BBBBBBBB" {
			t.Fatalf("%v: queue changed by failed calls", w)
		}
		if st := q.Stats(); st.Enqueued != 2 || st.Dequeued != 2 {
			t.Fatalf("%v: stats %+v", w, st)
		}
	}
}

// TestNoAllocs: no enqueue or dequeue path allocates.
func TestNoAllocs(t *testing.T) {
	q := newTestQueue(t, 8, 4)
	msg, buf := make([]byte, 64), make([]byte, 64)
	ctx := context.Background()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for name, f := range map[string]func(){
		"Try":   func() { q.EnqueueTry(msg); q.DequeueTry(buf) },
		"Block": func() { _ = q.EnqueueBlock(ctx, msg); _ = q.DequeueBlock(ctx, buf) },
		"BlockCancelable": func() {
			_ = q.EnqueueBlock(cctx, msg)
			_ = q.DequeueBlock(cctx, buf)
		},
		"Shift":      func() { q.EnqueueShift(msg); q.DequeueTry(buf) },
		"ShiftFull":  func() { q.EnqueueShift(msg) },
		"TryEmpty":   func() { q.DequeueTry(buf) },
		"TryOnFull":  func() { q.EnqueueTry(msg) },
		"LenStatsOK": func() { _ = q.Len(); _ = q.Stats() },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocs per run", name, n)
		}
	}
}

// TestCopyVariants: a handle reports the copy routines it uses, the ones the
// dispatch picks for its size, and CopyPlan names them.
func TestCopyVariants(t *testing.T) {
	for _, words := range []uint32{1, 8, 64, 512, 2048} {
		q := newTestQueue(t, words, 2)
		enq, deq := q.CopyVariants()
		if enq != pickCopy(q.MsgSize(), true).String() || deq != pickCopy(q.MsgSize(), false).String() {
			t.Fatalf("%d bytes: CopyVariants = %s, %s", q.MsgSize(), enq, deq)
		}
		if plan := CopyPlan(); !strings.Contains(plan, enq) || !strings.Contains(plan, deq) {
			t.Fatalf("CopyPlan %q does not name %s and %s", plan, enq, deq)
		}
	}
}
