package shqueue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// WithSingleGoroutine: a handle whose calls never overlap takes its lanes
// without a CAS (roles.go: enterAt), and Close from another goroutine stays
// safe through the membarrier Close then issues. A shared handle's Close
// under many goroutines is checked the same way.

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
	// otherwise WORKERS goroutines share a default handle on 8 Ps. Every
	// worker must end with ErrClosed, every message it read whole; the
	// child must not fault. Prints "own lanes: BOOL".
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
		own := false
		for round := range rounds {
			q, err := Open(key, opts...)
			if err != nil {
				fmt.Fprintln(os.Stderr, "open:", err)
				return 1
			}
			own = own || q.oneGoroutine
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
		fmt.Printf("own lanes: %v\n", own)
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
	testCloseUnderCalls(t, 0, fmt.Sprintf("own lanes: %v\n", lightWake))
}

// TestSharedHandleClose does the same with twelve goroutines sharing a
// default handle on 8 Ps, each call taking its lane with a CAS.
func TestSharedHandleClose(t *testing.T) {
	testCloseUnderCalls(t, 12, "own lanes: false\n")
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
