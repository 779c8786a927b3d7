package shqueue

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
)

// TestDequeueLatestSequential: the newest message comes back, everything older
// is passed over and counted as dequeued, and an empty queue answers false.
func TestDequeueLatestSequential(t *testing.T) {
	q := newTestQueue(t, 4, 8)
	buf := make([]byte, q.MsgSize())
	if ok, skipped := q.DequeueLatest(buf); ok || skipped != 0 {
		t.Fatalf("empty queue: ok=%v skipped=%d", ok, skipped)
	}
	msg := make([]byte, q.MsgSize())
	enqueueMsgs(t, q, msg, 7, 5)
	ok, skipped := q.DequeueLatest(buf)
	p, s, whole := readMsg(buf)
	if !ok || skipped != 4 || !whole || p != 7 || s != 4 {
		t.Fatalf("DequeueLatest = %v, %d, message (%d, %d, whole %v); want true, 4, (7, 4)", ok, skipped, p, s, whole)
	}
	if st := q.Stats(); st.Dequeued != 5 || q.Len() != 0 {
		t.Fatalf("after: %+v, Len %d; want 5 dequeued, empty", st, q.Len())
	}
	// One message: nothing skipped. The queue wraps around its 8 slots.
	for round := uint64(0); round < 20; round++ {
		fillMsg(msg, 9, round)
		q.EnqueueShift(msg)
		ok, skipped = q.DequeueLatest(buf)
		if _, s, _ = readMsg(buf); !ok || skipped != 0 || s != round {
			t.Fatalf("round %d: %v, %d, seq %d", round, ok, skipped, s)
		}
	}
	fillMsg(msg, 9, 99)
	q.EnqueueShift(msg)
	q.EnqueueShift(msg)
	if allocs := testing.AllocsPerRun(100, func() {
		q.EnqueueShift(msg)
		q.DequeueLatest(buf)
	}); allocs != 0 {
		t.Fatalf("EnqueueShift+DequeueLatest: %v allocations per run", allocs)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := q.DequeueLatest(buf); ok {
		t.Fatal("DequeueLatest on a closed handle answered true")
	}
}

// TestDequeueLatestConcurrent: producer processes write numbered messages while
// a conflating reader calls DequeueLatest and a plain consumer takes messages
// too. Per producer, the sequence numbers each reader sees only grow, and
// every message is accounted for exactly once: returned, passed over, or
// taken by the other consumer.
func TestDequeueLatestConcurrent(t *testing.T) {
	q := newTestQueue(t, 8, 16)
	const producers = 3
	count := 20000
	if testing.Short() {
		count = 4000
	}
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for id := 1; id <= producers; id++ {
		cmd := childCommand(t, "producer", strconv.Itoa(q.Key()), strconv.Itoa(id), strconv.Itoa(count))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cmd.Wait(); err != nil {
				errs <- fmt.Errorf("producer: %v", err)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	other := mustOpen(t, q.Key())
	defer other.Close()
	var plainTaken int
	plainLast := map[uint64]uint64{}
	plainErr := make(chan error, 1)
	stopPlain := make(chan struct{})
	go func() {
		buf := make([]byte, other.MsgSize())
		for {
			select {
			case <-stopPlain:
				plainErr <- nil
				return
			default:
			}
			if !other.DequeueTry(buf) {
				continue
			}
			p, s, ok := readMsg(buf)
			if !ok {
				plainErr <- fmt.Errorf("plain consumer: torn message")
				return
			}
			if last, seen := plainLast[p]; seen && s <= last {
				plainErr <- fmt.Errorf("plain consumer: producer %d went from %d to %d", p, last, s)
				return
			}
			plainLast[p] = s
			plainTaken++
		}
	}()

	buf := make([]byte, q.MsgSize())
	last := map[uint64]uint64{}
	returned, passed := 0, 0
	drain := func() {
		ok, skipped := q.DequeueLatest(buf)
		if !ok {
			return
		}
		p, s, whole := readMsg(buf)
		if !whole {
			t.Fatalf("torn message")
		}
		if l, seen := last[p]; seen && s <= l {
			t.Fatalf("producer %d went from %d to %d", p, l, s)
		}
		last[p] = s
		returned++
		passed += skipped
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			drain()
		}
	}
	close(stopPlain)
	if err := <-plainErr; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	for q.Len() > 0 {
		drain()
	}
	total := producers * count
	if returned+passed+plainTaken != total {
		t.Fatalf("returned %d + passed over %d + taken by the plain consumer %d = %d, want %d", returned, passed, plainTaken, returned+passed+plainTaken, total)
	}
	if st := q.Stats(); st.Dequeued != uint64(total) || st.Lost != 0 {
		t.Fatalf("stats %+v; want %d dequeued", st, total)
	}
	t.Logf("%d returned, %d passed over, %d taken by the plain consumer", returned, passed, plainTaken)
}
