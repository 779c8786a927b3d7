package shqueue

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/shqueue/shqueue/internal/bench"
)

// Benchmarks of the queue between two processes, as users run it:
//
//	BenchmarkPingPong/ipc=process/size=<bytes>     one-way latency, round trip / 2
//	BenchmarkPingPong/ipc=goroutine/size=<bytes>   the same between two goroutines
//	BenchmarkThroughput/ipc=process/size=<bytes>   one producer process, this one consuming
//
// ns/op of PingPong is a whole round trip; the p50-ns, p99-ns and p999-ns
// metrics are one-way latencies. For ipc=process the test binary re-executes
// itself as the peer (main_test.go); both sides use the default wait strategy
// (Adaptive: it spins first, so a peer that answers within microseconds is
// caught spinning) and are not pinned to CPUs. `shqueue bench` (cmd/shqueue)
// is the controlled, pinned measurement against kernel transports; these
// benchmarks are for benchstat comparisons between commits and builds.

var ipcBenchSizes = []int{64, 512, 4096, 65536}

const (
	ipcEchoRole     = "bench-ipc-echo"
	ipcProducerRole = "bench-ipc-producer"
	// ipcStop in the first word of a message tells the echo side to exit.
	ipcStop = ^uint64(0)
	// ipcWarmup round trips (or messages) run before the timer starts.
	ipcWarmup = 1000
)

func init() {
	registerChild(ipcEchoRole, ipcEchoChild)
	registerChild(ipcProducerRole, ipcProducerChild)
}

// ipcCapacity is the slot count for size-byte messages: about 1 MiB of slots.
func ipcCapacity(size int) uint32 {
	return uint32(max(16, min(4096, (1<<20)/size)))
}

// ipcQueues creates n queues of size-byte messages and removes them when the
// benchmark ends.
func ipcQueues(b *testing.B, n, size int) []*Queue {
	b.Helper()
	qs := make([]*Queue, n)
	for i := range qs {
		qs[i] = newTestQueue(b, uint32(size/8), ipcCapacity(size))
	}
	return qs
}

// ipcPair is a request and a reply queue for a ping-pong benchmark.
func ipcPair(b *testing.B, size int) (req, rep *Queue) {
	qs := ipcQueues(b, 2, size)
	return qs[0], qs[1]
}

// ipcOpen attaches the queues whose keys a child got as arguments.
func ipcOpen(args []string) ([]*Queue, error) {
	var qs []*Queue
	for _, a := range args {
		key, err := strconv.Atoi(a)
		if err != nil {
			return nil, err
		}
		q, err := Open(key)
		if err != nil {
			return nil, err
		}
		qs = append(qs, q)
	}
	return qs, nil
}

// ipcEcho returns every message from in on out, unchanged, until the stop
// message.
func ipcEcho(in, out *Queue) error {
	ctx := context.Background()
	buf := make([]byte, in.MsgSize())
	for {
		if err := in.DequeueBlock(ctx, buf); err != nil {
			return err
		}
		if binary.LittleEndian.Uint64(buf) == ipcStop {
			return nil
		}
		if err := out.EnqueueBlock(ctx, buf); err != nil {
			return err
		}
	}
}

// ipcEchoChild: args are the keys of the request and the reply queue.
func ipcEchoChild(args []string) int {
	bench.WatchParent()
	qs, err := ipcOpen(args)
	if err == nil && len(qs) != 2 {
		err = fmt.Errorf("want 2 queue keys, got %q", args)
	}
	if err == nil {
		err = ipcEcho(qs[0], qs[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		return 1
	}
	return 0
}

// ipcProducerChild: args are the queue key and how many messages to send;
// message i carries i in its first word.
func ipcProducerChild(args []string) int {
	bench.WatchParent()
	qs, err := ipcOpen(args[:1])
	var n uint64
	if err == nil {
		n, err = strconv.ParseUint(args[1], 10, 64)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		return 1
	}
	if err := sendNumbered(qs[0], n); err != nil {
		return childFail("producer", err)
	}
	return 0
}

// sendNumbered enqueues n messages into q, message i carrying i in its first
// word: what receiveNumbered takes.
func sendNumbered(q *Queue, n uint64) error {
	msg := make([]byte, q.MsgSize())
	for i := uint64(0); i < n; i++ {
		binary.LittleEndian.PutUint64(msg, i)
		if err := q.EnqueueBlock(context.Background(), msg); err != nil {
			return err
		}
	}
	return nil
}

func BenchmarkPingPong(b *testing.B) {
	for _, ipc := range []string{"process", "goroutine"} {
		for _, size := range ipcBenchSizes {
			b.Run(fmt.Sprintf("ipc=%s/size=%d", ipc, size), func(b *testing.B) {
				benchPingPong(b, ipc, size)
			})
		}
	}
}

func benchPingPong(b *testing.B, ipc string, size int) {
	req, rep := ipcPair(b, size)
	done := make(chan error, 1)
	if ipc == "process" {
		child := childCommand(b, ipcEchoRole, strconv.Itoa(req.Key()), strconv.Itoa(rep.Key()))
		if err := child.Start(); err != nil {
			b.Fatal(err)
		}
		go func() { done <- child.Wait() }()
	} else {
		go func() { done <- ipcEcho(req, rep) }()
	}
	ctx := context.Background()
	msg := make([]byte, size)
	buf := make([]byte, size)
	hist := bench.NewHistogram()
	roundTrip := func(i uint64) error {
		binary.LittleEndian.PutUint64(msg, i)
		if err := req.EnqueueBlock(ctx, msg); err != nil {
			return err
		}
		if err := rep.DequeueBlock(ctx, buf); err != nil {
			return err
		}
		if got := binary.LittleEndian.Uint64(buf); got != i {
			return fmt.Errorf("reply %d to message %d", got, i)
		}
		return nil
	}
	fail := func(err error) {
		binary.LittleEndian.PutUint64(msg, ipcStop)
		req.EnqueueTry(msg)
		b.Fatal(err)
	}
	for i := range uint64(ipcWarmup) {
		if err := roundTrip(i); err != nil {
			fail(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range uint64(b.N) {
		t0 := bench.Now()
		if err := roundTrip(ipcWarmup + i); err != nil {
			fail(err)
		}
		hist.Record((bench.Now() - t0) / 2)
	}
	b.StopTimer()
	stopPeer(b, ctx, req, msg, done, "echo side")
	reportPercentiles(b, hist, true)
}

// stopPeer sends the stop message through req, with msg as the buffer, and
// waits for the other side, who, to finish: done yields its end.
func stopPeer(b *testing.B, ctx context.Context, req *Queue, msg []byte, done <-chan error, who string) {
	binary.LittleEndian.PutUint64(msg, ipcStop)
	if err := req.EnqueueBlock(ctx, msg); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatalf("%s: %v", who, err)
	}
}

// reportPercentiles reports hist's p50 and p99 and, with p999, its p99.9.
func reportPercentiles(b *testing.B, hist *bench.Histogram, p999 bool) {
	b.ReportMetric(float64(hist.Percentile(50)), "p50-ns")
	b.ReportMetric(float64(hist.Percentile(99)), "p99-ns")
	if p999 {
		b.ReportMetric(float64(hist.Percentile(99.9)), "p999-ns")
	}
}

func BenchmarkThroughput(b *testing.B) {
	for _, size := range ipcBenchSizes {
		b.Run(fmt.Sprintf("ipc=process/size=%d", size), func(b *testing.B) {
			q := ipcQueues(b, 1, size)[0]
			total := ipcWarmup + b.N
			child := childCommand(b, ipcProducerRole, strconv.Itoa(q.Key()), strconv.Itoa(total))
			ctx, exited := startWatched(b, child)
			receiveNumbered(b, ctx, q, size, ipcWarmup, total)
			<-exited
		})
	}
}

// startWatched starts child, a producer process. The context it returns is
// cancelled if the child exits with an error, so a side waiting for the
// child's messages does not wait forever; exited yields the child's exit.
func startWatched(b *testing.B, child *exec.Cmd) (ctx context.Context, exited <-chan error) {
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	done := make(chan error, 1)
	go func() {
		err := child.Wait()
		if err != nil {
			cancel()
		}
		done <- err
	}()
	return ctx, done
}

// receiveNumbered dequeues total messages of size bytes, numbered 0, 1, …,
// from q and checks each number. The first warmup messages are received
// untimed; the timer (with b.SetBytes and b.ReportAllocs) runs over the
// rest.
func receiveNumbered(b *testing.B, ctx context.Context, q *Queue, size, warmup, total int) {
	buf := make([]byte, size)
	receive := func(i int) {
		if err := q.DequeueBlock(ctx, buf); err != nil {
			b.Fatalf("message %d: %v (producer failed?)", i, err)
		}
		if got := binary.LittleEndian.Uint64(buf); got != uint64(i) {
			b.Fatalf("message %d carries %d", i, got)
		}
	}
	for i := range warmup {
		receive(i)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := warmup; i < total; i++ {
		receive(i)
	}
	b.StopTimer()
}
