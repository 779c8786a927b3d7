package shqueue

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shqueue/shqueue/internal/bench"
)

// Benchmarks of what waiting costs, per wait strategy:
//
//	BenchmarkWakeup/ipc=process/wait=<strategy>/size=64
//	    a consumer process blocked on an empty queue for wakePause; this
//	    process enqueues one message; p50-ns, p99-ns (and p999-ns from 1000
//	    wake-ups on) are the time from just before the enqueue to the
//	    consumer's return from DequeueBlock. asleep-% is the share of
//	    wake-ups that found the consumer registered as a futex sleeper.
//	BenchmarkIdleCPU/wait=<strategy>
//	    a consumer process blocked on an empty queue for idlePerOp per op;
//	    cpu-% is the CPU time it used (getrusage, all its threads) in per
//	    cent of one core.
//
// ns/op of BenchmarkWakeup is a whole cycle, the pause included: read the
// metrics, not ns/op. Both keep b.N small (a few milliseconds or a fraction
// of a second per op), so -benchtime 1x finishes at once.

const (
	wakeConsumerRole = "bench-wake-consumer"
	idleWaiterRole   = "bench-idle-waiter"
	// wakePause is how long the queue stays empty before each timed
	// message: well past the 220 µs an Adaptive waiter spins (spinBudget)
	// and yields (yieldBudget) before it sleeps on the futex, so a
	// wake-up is one from sleep even when the consumer was slow to start
	// waiting on a loaded machine; well short of sleepSlice, so the
	// sleeper is not up for its periodic re-check.
	wakePause = 2 * time.Millisecond
	// wakeWarmup wake-ups run before the timer starts (page faults, the
	// child's first futex sleep).
	wakeWarmup = 10
	// idlePerOp is one op of BenchmarkIdleCPU: two of the Adaptive
	// sleeper's 100 ms re-check slices, so their cost is in the figure.
	idlePerOp = 200 * time.Millisecond
)

var benchWaits = []WaitStrategy{Adaptive, BusySpin}

func init() {
	registerChild(wakeConsumerRole, wakeConsumerChild)
	registerChild(idleWaiterRole, idleWaiterChild)
}

// openWaiting opens the queue whose key a child got as an argument, waiting
// with the strategy given (as a number) in another.
func openWaiting(key, strategy string) (*Queue, error) {
	k, err := strconv.Atoi(key)
	if err != nil {
		return nil, err
	}
	w, err := strconv.Atoi(strategy)
	if err != nil {
		return nil, err
	}
	return Open(k, WithWait(WaitStrategy(w)))
}

// wakeConsumerChild: args are the request key, the reply key and the wait
// strategy. Request i carries i in word 0 and its send time (bench.Now) in
// word 1; the reply carries i and the time from send to DequeueBlock's
// return, so the parent keeps the histogram and knows when to pause again.
func wakeConsumerChild(args []string) int {
	bench.WatchParent()
	req, err := openWaiting(args[0], args[2])
	var rep []*Queue
	if err == nil {
		rep, err = ipcOpen(args[1:2])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wake consumer:", err)
		return 1
	}
	ctx := context.Background()
	in := make([]byte, req.MsgSize())
	out := make([]byte, rep[0].MsgSize())
	for {
		if err := req.DequeueBlock(ctx, in); err != nil {
			fmt.Fprintln(os.Stderr, "wake consumer:", err)
			return 1
		}
		now := bench.Now()
		seq := binary.LittleEndian.Uint64(in)
		if seq == ipcStop {
			return 0
		}
		binary.LittleEndian.PutUint64(out, seq)
		binary.LittleEndian.PutUint64(out[8:], uint64(now-int64(binary.LittleEndian.Uint64(in[8:]))))
		if err := rep[0].EnqueueBlock(ctx, out); err != nil {
			fmt.Fprintln(os.Stderr, "wake consumer:", err)
			return 1
		}
	}
}

func BenchmarkWakeup(b *testing.B) {
	const size = 64
	for _, w := range benchWaits {
		b.Run(fmt.Sprintf("ipc=process/wait=%v/size=%d", w, size), func(b *testing.B) {
			benchWakeup(b, w, size)
		})
	}
}

func benchWakeup(b *testing.B, w WaitStrategy, size int) {
	req, rep := ipcPair(b, size)
	child := childCommand(b, wakeConsumerRole, strconv.Itoa(req.Key()), strconv.Itoa(rep.Key()), strconv.Itoa(int(w)))
	ctx, done := startWatched(b, child)
	msg := make([]byte, size)
	buf := make([]byte, size)
	fail := func(err error) {
		binary.LittleEndian.PutUint64(msg, ipcStop)
		req.EnqueueTry(msg)
		b.Fatal(err)
	}
	hist := bench.NewHistogram()
	asleep := 0
	wake := func(i uint64, timed bool) {
		time.Sleep(wakePause)
		// Read before the send: a consumer counted here is in sleep(),
		// registered and about to wait on the futex word or waiting.
		slept := atomic.LoadUint32(req.emptySleepers) != 0
		binary.LittleEndian.PutUint64(msg, i)
		binary.LittleEndian.PutUint64(msg[8:], uint64(bench.Now()))
		if err := req.EnqueueBlock(ctx, msg); err != nil {
			fail(err)
		}
		// The reply comes within microseconds; a child that died would
		// leave this wait forever, so watch it.
		for !rep.DequeueTry(buf) {
			select {
			case err := <-done:
				b.Fatalf("wake consumer exited: %v", err)
			default:
			}
			time.Sleep(20 * time.Microsecond)
		}
		if got := binary.LittleEndian.Uint64(buf); got != i {
			fail(fmt.Errorf("reply %d to message %d", got, i))
		}
		if timed {
			hist.Record(int64(binary.LittleEndian.Uint64(buf[8:])))
			if slept {
				asleep++
			}
		}
	}
	for i := range uint64(wakeWarmup) {
		wake(i, false)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range uint64(b.N) {
		wake(wakeWarmup+i, true)
	}
	b.StopTimer()
	stopPeer(b, ctx, req, msg, done, "wake consumer")
	reportPercentiles(b, hist, b.N >= 1000)
	b.ReportMetric(100*float64(asleep)/float64(b.N), "asleep-%")
}

// idleWaiterChild: args are the queue key, the wait strategy and how long to
// block (ns). It blocks in DequeueBlock with a deadline and prints the CPU
// time (all threads) and the wall time the call took, in ns.
func idleWaiterChild(args []string) int {
	bench.WatchParent()
	idle, err := strconv.ParseInt(args[2], 10, 64)
	var q *Queue
	if err == nil {
		q, err = openWaiting(args[0], args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "idle waiter:", err)
		return 1
	}
	defer q.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(idle))
	defer cancel()
	buf := make([]byte, q.MsgSize())
	cpu0, wall0 := bench.ProcessCPU(), bench.Now()
	err = q.DequeueBlock(ctx, buf)
	cpu, wall := bench.ProcessCPU()-cpu0, bench.Now()-wall0
	if err != context.DeadlineExceeded {
		fmt.Fprintln(os.Stderr, "idle waiter: DequeueBlock:", err)
		return 1
	}
	fmt.Println(int64(cpu), wall)
	return 0
}

func BenchmarkIdleCPU(b *testing.B) {
	for _, w := range benchWaits {
		b.Run(fmt.Sprintf("wait=%v", w), func(b *testing.B) {
			q := ipcQueues(b, 1, 64)[0]
			idle := time.Duration(b.N) * idlePerOp
			out, err := childCommand(b, idleWaiterRole, strconv.Itoa(q.Key()), strconv.Itoa(int(w)), strconv.FormatInt(int64(idle), 10)).Output()
			if err != nil {
				b.Fatalf("idle waiter: %v", err)
			}
			var cpu, wall int64
			if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &cpu, &wall); err != nil || wall <= 0 {
				b.Fatalf("idle waiter printed %q", out)
			}
			b.ReportMetric(100*float64(cpu)/float64(wall), "cpu-%")
		})
	}
}
