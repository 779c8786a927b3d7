package shqueue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// Close while other goroutines are inside the handle. It runs in a child
// process, because the failure it guards against is a fault that kills the
// process: the child must exit normally, every blocked call must return an
// error wrapping ErrClosed, every Try call false, and a call in the middle of
// a copy must finish (its message is whole and not lost).

const (
	closeBlocked = 2       // goroutines blocked in each of DequeueBlock and EnqueueBlock
	closeTriers  = 1       // goroutines spinning in each of DequeueTry and EnqueueTry
	closeBigWord = 1 << 20 // 8 MiB messages, so a copy takes long enough to be caught in
	closeExitBad = 4       // the child's exit code when an assertion failed
)

func init() {
	// close-inflight EMPTYKEY FULLKEY COPYKEY STRATEGY: open the three
	// queues (empty, full, and one with 8 MiB messages) on handles with
	// the given wait strategy; block goroutines in DequeueBlock on the
	// empty one and EnqueueBlock on the full one, spin others in the Try
	// calls, keep one goroutine enqueueing and one dequeueing big messages;
	// then Close every handle and check how each call ended. Prints
	// "enqueued N dequeued M" for the big queue.
	registerChild("close-inflight", func(args []string) int {
		keys := make([]int, 3)
		for i := range keys {
			keys[i], _ = strconv.Atoi(args[i])
		}
		strategy := Adaptive
		if args[3] == BusySpin.String() {
			strategy = BusySpin
		}
		var handles [3]*Queue
		for i, key := range keys {
			q, err := Open(key, WithWait(strategy))
			if err != nil {
				fmt.Fprintln(os.Stderr, "close-inflight:", err)
				return 1
			}
			handles[i] = q
		}
		empty, full, big := handles[0], handles[1], handles[2]

		var failMu sync.Mutex
		var fails []string
		failf := func(format string, args ...any) {
			failMu.Lock()
			fails = append(fails, fmt.Sprintf(format, args...))
			failMu.Unlock()
		}
		var closed atomic.Bool
		inside := map[string]int{} // calls not yet returned, by name; under failMu
		var wg sync.WaitGroup
		run := func(name string, f func()) {
			wg.Add(1)
			failMu.Lock()
			inside[name]++
			failMu.Unlock()
			go func() {
				defer wg.Done()
				f()
				failMu.Lock()
				inside[name]--
				failMu.Unlock()
			}()
		}
		wantClosed := func(call string, err error) {
			if !errors.Is(err, ErrClosed) {
				failf("%s returned %v, want an error wrapping ErrClosed", call, err)
			}
		}
		for range closeBlocked {
			run("DequeueBlock", func() {
				buf := make([]byte, empty.MsgSize())
				wantClosed("DequeueBlock on an empty queue", empty.DequeueBlock(context.Background(), buf))
			})
			run("EnqueueBlock", func() {
				msg := make([]byte, full.MsgSize())
				fillWords(msg, 1, 0)
				wantClosed("EnqueueBlock on a full queue", full.EnqueueBlock(context.Background(), msg))
			})
		}
		for range closeTriers {
			run("DequeueTry", func() {
				buf := make([]byte, empty.MsgSize())
				for after := false; ; after = closed.Load() {
					if empty.DequeueTry(buf) {
						failf("DequeueTry on an empty queue returned true")
						return
					}
					if after {
						return // one call made after Close returned
					}
				}
			})
			run("EnqueueTry", func() {
				msg := make([]byte, full.MsgSize())
				fillWords(msg, 1, 0)
				for after := false; ; after = closed.Load() {
					if full.EnqueueTry(msg) {
						failf("EnqueueTry on a full queue returned true")
						return
					}
					if after {
						return
					}
				}
			})
		}
		var enqueued, dequeued atomic.Int64
		run("big EnqueueBlock", func() {
			msg := make([]byte, big.MsgSize())
			fillWords(msg, 2, 0)
			for {
				err := big.EnqueueBlock(context.Background(), msg)
				if err != nil {
					wantClosed("EnqueueBlock of a big message", err)
					return
				}
				enqueued.Add(1)
			}
		})
		run("big DequeueBlock", func() {
			buf := make([]byte, big.MsgSize())
			for {
				err := big.DequeueBlock(context.Background(), buf)
				if err != nil {
					wantClosed("DequeueBlock of a big message", err)
					return
				}
				if _, _, bad := checkWords(buf); bad >= 0 {
					failf("DequeueBlock returned nil with a torn message: %s", describeTear(buf))
				}
				dequeued.Add(1)
			}
		})

		// Let the blocked calls get where they wait: asleep on the futex
		// word for Adaptive (the last stage), spinning for BusySpin.
		deadline := time.Now().Add(30 * time.Second)
		for strategy == Adaptive {
			ie, err1 := Inspect(keys[0])
			iF, err2 := Inspect(keys[1])
			if err1 != nil || err2 != nil {
				fmt.Fprintln(os.Stderr, "close-inflight:", err1, err2)
				return 1
			}
			if ie.SleepingConsumers >= closeBlocked && iF.SleepingProducers >= closeBlocked {
				break
			}
			if time.Now().After(deadline) {
				fmt.Fprintf(os.Stderr, "close-inflight: blocked calls not asleep after 30 s: %d consumers, %d producers\n",
					ie.SleepingConsumers, iF.SleepingProducers)
				return 1
			}
			time.Sleep(time.Millisecond)
		}
		for enqueued.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		// Land in the middle of a big copy (it takes milliseconds).
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		closeStart := time.Now()
		var closeTook [3]time.Duration
		for i, q := range handles {
			if err := q.Close(); err != nil {
				failf("Close of handle %d: %v", i, err)
			}
			closeTook[i] = time.Since(closeStart)
		}
		closed.Store(true)

		done := make(chan struct{})
		go func() {
			wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			failMu.Lock()
			stuck := fmt.Sprint(inside)
			failMu.Unlock()
			failf("calls still inside the handles 20 s after Close: %s", stuck)
		}
		fmt.Printf("enqueued %d dequeued %d\n", enqueued.Load(), dequeued.Load())
		fmt.Printf("Close returned after %v, %v, %v; every call after %v\n",
			closeTook[0], closeTook[1], closeTook[2], time.Since(closeStart))
		if len(fails) > 0 {
			fmt.Fprintln(os.Stderr, "close-inflight: "+strings.Join(fails, "\n  "))
			return closeExitBad
		}
		return 0
	})
}

// TestCloseWhileInside closes handles while goroutines are blocked in
// DequeueBlock and EnqueueBlock, spin in the Try calls, and copy big
// messages, with both wait strategies, in a child process each round.
func TestCloseWhileInside(t *testing.T) {
	// One round per strategy: the unguarded Close faulted in every round
	// (8 of 8); SHQUEUE_CLOSE_ROUNDS runs more.
	rounds := stormEnvInt(t, "SHQUEUE_CLOSE_ROUNDS", 1)
	for _, strategy := range []WaitStrategy{Adaptive, BusySpin} {
		t.Run(strategy.String(), func(t *testing.T) {
			for round := range rounds {
				closeWhileInside(t, strategy, round)
			}
		})
	}
}

func closeWhileInside(t *testing.T, strategy WaitStrategy, round int) {
	t.Helper()
	empty := newTestQueue(t, 3, 4)
	full := newTestQueue(t, 3, 4)
	big := newTestQueue(t, closeBigWord, 2)
	msg := make([]byte, full.MsgSize())
	for i := range full.Cap() {
		fillWords(msg, 0, uint64(i))
		if !full.EnqueueTry(msg) {
			t.Fatalf("filling the full queue: message %d refused", i)
		}
	}
	cmd := childCommand(t, "close-inflight", strconv.Itoa(empty.Key()), strconv.Itoa(full.Key()), strconv.Itoa(big.Key()), strategy.String())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
	select {
	case err = <-exited:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("round %d: the child hung (killed after 2 minutes)", round)
	}
	if err != nil {
		st, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		switch {
		case st.Signaled():
			t.Fatalf("round %d: the child died of %v:\n%s", round, st.Signal(), faultSummary(errOut.String()))
		case st.ExitStatus() == closeExitBad:
			t.Fatalf("round %d: calls ended wrongly after Close:\n%s", round, errOut.String())
		default:
			t.Fatalf("round %d: the child failed: %v:\n%s", round, err, faultSummary(errOut.String()))
		}
	}
	var enqueued, dequeued int
	if _, err := fmt.Sscanf(out.String(), "enqueued %d dequeued %d", &enqueued, &dequeued); err != nil {
		t.Fatalf("round %d: child output %q: %v", round, out.String(), err)
	}
	t.Logf("round %d: %s", round, strings.TrimSpace(out.String()))
	// Every big message whose enqueue returned nil is whole, and either
	// dequeued by the child or still in the queue.
	buf := make([]byte, big.MsgSize())
	left := 0
	for big.DequeueTry(buf) {
		if _, _, bad := checkWords(buf); bad >= 0 {
			t.Fatalf("round %d: a message left in the queue is torn: %s", round, describeTear(buf))
		}
		left++
	}
	if st := big.Stats(); dequeued+left != enqueued || st.Lost != 0 {
		t.Fatalf("round %d: %d enqueues succeeded, %d dequeued by the child, %d left in the queue; stats %+v",
			round, enqueued, dequeued, left, st)
	}
	if n := full.Len(); n != full.Cap() {
		t.Fatalf("round %d: the full queue holds %d messages after the child's enqueues failed, want %d", round, n, full.Cap())
	}
	if st := empty.Stats(); st.Enqueued != 0 || st.Dequeued != 0 {
		t.Fatalf("round %d: the empty queue's stats changed: %+v", round, st)
	}
}

// faultSummary keeps the head of a Go crash report (the fault and its
// signal) and the frames of this package, dropping the rest of the dump.
func faultSummary(stderr string) string {
	lines := strings.Split(stderr, "\n")
	var keep []string
	for i, l := range lines {
		if i < 4 || strings.Contains(l, "shqueue.") && !strings.Contains(l, "_test.go") {
			keep = append(keep, l)
		}
		if len(keep) >= 12 {
			break
		}
	}
	return strings.Join(keep, "\n")
}

// fillWords writes a self-checking message fast enough for storms of 1 MiB
// messages (fillMsg's byte-wise pattern and CRC take milliseconds, which
// would keep processes out of the queue most of the time a storm lasts):
// word 0 is the producer, word 1 the sequence number, and every other word
// a bijective mix of its index with both, so a word from any other message,
// or from another place in this one, is caught. Messages are at least three
// words and start 8-byte aligned (as Go allocates them).
func fillWords(buf []byte, producer, seq uint64) {
	w := msgWords(buf)
	w[0], w[1] = producer, seq
	tag := producer<<32 ^ seq
	for i := 2; i < len(w); i++ {
		w[i] = patternWord(i, tag)
	}
}

// checkWords returns the producer and sequence number of a message written
// by fillWords, and the index of its first wrong word (-1 if it is whole).
func checkWords(buf []byte) (producer, seq uint64, firstBad int) {
	w := msgWords(buf)
	producer, seq = w[0], w[1]
	tag := producer<<32 ^ seq
	for i := 2; i < len(w); i++ {
		if w[i] != patternWord(i, tag) {
			return producer, seq, i
		}
	}
	return producer, seq, -1
}

func patternWord(i int, tag uint64) uint64 {
	return (uint64(i)*0x9E3779B97F4A7C15 ^ tag) * 0xBF58476D1CE4E5B9
}

func msgWords(buf []byte) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(buf))), len(buf)/8)
}

// describeTear says where a message that failed checkWords differs from the
// message its header names.
func describeTear(buf []byte) string {
	p, s, first := checkWords(buf)
	w := msgWords(buf)
	tag := p<<32 ^ s
	wrong := 0
	for i := 2; i < len(w); i++ {
		if w[i] != patternWord(i, tag) {
			wrong++
		}
	}
	return fmt.Sprintf("torn message: header names producer %d seq %d; %d of %d words differ from that message, the first at word %d",
		p, s, wrong, len(w), first)
}

// stormEnvInt reads a count from the environment, for soak runs.
func stormEnvInt(t *testing.T, name string, def int) int {
	if s := os.Getenv(name); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			t.Fatalf("%s=%q: want a count", name, s)
		}
		return n
	}
	return def
}

// stormShort reports whether to run the short storms: in -short mode, and
// under the race detector, which checks the same code paths in a few kills
// as in many, at several times the cost (the full storms run in the plain
// and pure-Go runs).
func stormShort() bool { return testing.Short() || raceEnabled }
