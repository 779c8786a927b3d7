package shqueue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"
)

// Lanes taken without a CAS: a WithSingleGoroutine handle's (roles.go:
// enterAt) and a shared handle's P lanes (protocol.go: enterPinned). Close
// from another goroutine stays safe through the membarrier it then issues.

// TestLaneSplit checks the split of the shared lanes: P lanes and CAS lanes
// are apart and cover every shared lane, and the lanes a producer and a
// consumer goroutine take first keep their claim records on two lines.
func TestLaneSplit(t *testing.T) {
	recordLine := func(lane int) int { return (offProcRecords + lane*8) / cacheLine }
	for _, pinning := range []bool{false, true} {
		lanes := sharedLanes(pinning)
		seen := map[int]bool{}
		for _, l := range lanes {
			if l < firstSharedLane || l >= procRecords || seen[l] {
				t.Fatalf("pinning %v: CAS lanes %v: lane %d out of range or twice", pinning, lanes, l)
			}
			seen[l] = true
		}
		if pinning {
			for _, l := range pinnedLanes {
				if seen[l] {
					t.Fatalf("lane %d is both a P lane and a CAS lane", l)
				}
				seen[l] = true
			}
		}
		if len(seen) != procRecords-firstSharedLane {
			t.Fatalf("pinning %v: %d shared lanes covered, want %d", pinning, len(seen), procRecords-firstSharedLane)
		}
		if a, b := lanes[0], lanes[len(lanes)/2]; recordLine(a) == recordLine(b) {
			t.Fatalf("pinning %v: first producer lane %d and consumer lane %d share a record line", pinning, a, b)
		}
	}
	if recordLine(pinnedLanes[0]) == recordLine(pinnedLanes[1]) {
		t.Fatalf("the lanes of P 0 and P 1 (%d, %d) share a record line", pinnedLanes[0], pinnedLanes[1])
	}
}

// TestPinnedLaneTaken shows a shared handle's call takes its P's lane, and
// one that finds it held (here by a zero-copy claim) a CAS lane.
func TestPinnedLaneTaken(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // both claims on P 0
	q := newTestQueue(t, 2, 4)
	if !q.pinned {
		if lightWake {
			t.Fatal("a shared handle does not pin on a system with the expedited membarrier")
		}
		return // nothing pins here: every lane is a CAS lane (TestLaneSplit)
	}
	held := func() []int {
		var lanes []int
		for i := range q.laneBusy {
			if w := q.laneBusy[i].w; w != laneFree && w != laneRefused {
				lanes = append(lanes, i)
			}
		}
		return lanes
	}
	first, ok := q.ClaimTry()
	if !ok {
		t.Fatal("ClaimTry on an empty queue failed")
	}
	if got := held(); len(got) != 1 || got[0] != pinnedLanes[0] {
		t.Fatalf("a claim holds lanes %v, want P 0's lane %d", got, pinnedLanes[0])
	}
	second, ok := q.ClaimTry()
	if !ok {
		t.Fatal("a second ClaimTry failed")
	}
	if got := held(); len(got) != 2 || got[0] != pinnedLanes[0] || !slices.Contains(casLanes, got[1]) {
		t.Fatalf("two claims hold lanes %v, want P 0's lane %d and a CAS lane", got, pinnedLanes[0])
	}
	first.Commit()
	second.Commit()
	if got := held(); len(got) != 0 {
		t.Fatalf("lanes %v held after both claims committed", got)
	}
	if q.Len() != 2 {
		t.Fatalf("Len %d after two commits", q.Len())
	}
}

func TestSingleGoroutineHandle(t *testing.T) {
	q := newTestQueue(t, 2, 4, WithSingleGoroutine())
	if runtime.GOOS == "linux" && lightWake && !q.oneGoroutine {
		t.Fatal("WithSingleGoroutine ignored on a system with the expedited membarrier")
	}
	msg, buf := make([]byte, 16), make([]byte, 16)
	for i := range 4 {
		msg[0] = byte(i)
		if !q.EnqueueTry(msg) {
			t.Fatalf("enqueue %d refused", i)
		}
	}
	if q.EnqueueTry(msg) {
		t.Fatal("EnqueueTry on a full queue succeeded")
	}
	// A held zero-copy read keeps the consumer's first lane: the next
	// dequeue must find another one.
	m, ok := q.ReadTry()
	if !ok || m.Bytes()[0] != 0 {
		t.Fatalf("ReadTry: ok %v", ok)
	}
	if !q.DequeueTry(buf) || buf[0] != 1 {
		t.Fatalf("DequeueTry beside a held read: got %d", buf[0])
	}
	m.Release()
	if n := q.DequeueBatchTry(make([]byte, 64)); n != 2 {
		t.Fatalf("DequeueBatchTry took %d messages, want 2", n)
	}
	for i := range q.laneBusy {
		if w := q.laneBusy[i].w; w != laneFree && w != laneRefused {
			t.Fatalf("lane %d is %d after every call returned", i, w)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if q.EnqueueTry(msg) || q.DequeueTry(buf) {
		t.Fatal("a Try call succeeded after Close")
	}
	if err := q.EnqueueBlock(context.Background(), msg); !errors.Is(err, ErrClosed) {
		t.Fatalf("EnqueueBlock after Close: %v, want ErrClosed", err)
	}
}

func init() {
	// one-goroutine-close KEY ROUNDS WORKERS: ROUNDS times, open the queue
	// and let goroutines enqueue and dequeue big messages on the handle,
	// and Close it from this goroutine after a random moment. WORKERS 0:
	// the handle is WithSingleGoroutine and one goroutine uses it;
	// otherwise WORKERS goroutines share a default handle on 8 Ps, more
	// than there are pinned lanes (protocol.go: enterPinned). Every worker
	// must end with ErrClosed, every message it read whole; the child must
	// not fault. Prints "own lanes: BOOL pinned: BOOL".
	registerChild("one-goroutine-close", func(args []string) int {
		key, _ := strconv.Atoi(args[0])
		rounds, _ := strconv.Atoi(args[1])
		workers, _ := strconv.Atoi(args[2])
		opts := []Option{WithWait(BusySpin)}
		if workers == 0 {
			opts, workers = append(opts, WithSingleGoroutine()), 1
		} else {
			runtime.GOMAXPROCS(8)
		}
		own, pinned := false, false
		for round := range rounds {
			q, err := Open(key, opts...)
			if err != nil {
				fmt.Fprintln(os.Stderr, "open:", err)
				return 1
			}
			own, pinned = own || q.oneGoroutine, pinned || q.pinned
			done := make(chan error, workers)
			for w := range workers {
				go closeWorker(q, uint64(round*workers+w), done)
			}
			time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
			if err := q.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "close:", err)
				return 1
			}
			timeout := time.After(20 * time.Second)
			for range workers {
				select {
				case err := <-done:
					if !errors.Is(err, ErrClosed) {
						fmt.Fprintf(os.Stderr, "round %d: a worker ended with %v, want ErrClosed\n", round, err)
						return 1
					}
				case <-timeout:
					fmt.Fprintf(os.Stderr, "round %d: a worker still runs 20 s after Close\n", round)
					return 1
				}
			}
		}
		fmt.Printf("own lanes: %v pinned: %v\n", own, pinned)
		return 0
	})
}

// closeWorker dequeues and enqueues on q, checking every message it reads,
// until a call fails, and sends that error.
func closeWorker(q *Queue, id uint64, done chan<- error) {
	msg, buf := make([]byte, q.MsgSize()), make([]byte, q.MsgSize())
	ctx := context.Background()
	for seq := uint64(0); ; seq++ {
		if q.DequeueTry(buf) {
			if _, _, bad := checkWords(buf); bad >= 0 {
				done <- fmt.Errorf("torn message: %s", describeTear(buf))
				return
			}
		}
		fillWords(msg, id, seq)
		if err := q.EnqueueBlock(ctx, msg); err != nil {
			done <- err
			return
		}
	}
}

// TestSingleGoroutineClose closes a WithSingleGoroutine handle from another
// goroutine while its one goroutine copies 64 KiB messages in and out, many
// times, in a child process (a detach under a copy would kill it).
func TestSingleGoroutineClose(t *testing.T) {
	testCloseUnderCalls(t, 0, fmt.Sprintf("own lanes: %v pinned: false\n", lightWake))
}

// TestPinnedLanesClose does the same with twelve goroutines sharing a
// default handle on 8 Ps: some take their P's lane without a CAS, the rest
// CAS lanes.
func TestPinnedLanesClose(t *testing.T) {
	testCloseUnderCalls(t, 12, fmt.Sprintf("own lanes: false pinned: %v\n", lanePinning))
}

func testCloseUnderCalls(t *testing.T, workers int, want string) {
	rounds := 200
	if testing.Short() {
		rounds = 60
	}
	q := newTestQueue(t, 8192, 2)
	cmd := childCommand(t, "one-goroutine-close", strconv.Itoa(q.Key()), strconv.Itoa(rounds), strconv.Itoa(workers))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if string(out) != want {
		t.Fatalf("child printed %q, want %q: the test did not run the lanes it is for", out, want)
	}
	if st := q.Stats(); st.Lost != 0 {
		t.Fatalf("messages lost: %+v", st)
	}
}
