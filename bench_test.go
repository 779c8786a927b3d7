package shqueue

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shqueue/shqueue/internal/bench"
)

// Benchmark names are stable so benchstat can compare runs and builds:
//
//	BenchmarkCopy/impl=<name>/size=<bytes>   one thread, one copy per op
//	BenchmarkRing/impl=<name>/size=<bytes>   producer and consumer on two CPUs
//	BenchmarkQueue/op=enqueue-dequeue/size=<bytes>
//
// impl is builtin (Go's copy), auto (what pickCopy(size, true) chooses, run
// the way the queue runs it), auto-out (pickCopy(size, false)), and each
// assembly variant this host and build support.

var benchSizes = []int{64, 256, 1024, 4096, 16384, 65536, 1 << 20, 8 << 20}

// benchImpl is one way of copying, as a benchmark runs it.
type benchImpl struct {
	name string
	copy func(dst, src []byte)
}

// queueCopy runs kind the way the queue's hot path does: the built-in copy
// inline, anything else through copySlot.
func queueCopy(kind copyKind) func(dst, src []byte) {
	if kind == copyBuiltin {
		return func(dst, src []byte) { copy(dst, src) }
	}
	return func(dst, src []byte) { copySlot(kind, dst, src) }
}

func benchImpls(size int) []benchImpl {
	impls := []benchImpl{
		{"builtin", func(dst, src []byte) { copy(dst, src) }},
		{"auto", queueCopy(pickCopy(size, true))},
		{"auto-out", queueCopy(pickCopy(size, false))},
	}
	for _, k := range supportedKinds() {
		if k != copyBuiltin && k != copyGenericKind {
			impls = append(impls, benchImpl{k.String(), queueCopy(k)})
		}
	}
	return impls
}

// bufferAt returns size bytes starting at offset bytes past a page boundary.
// The benchmarks put the source at offset 0 and the destination at 2048: both
// are cache-line aligned, as the queue's slots are, without the two streams
// sharing their address bits 0-11, which would make loads wait on unrelated
// stores (4K aliasing) and measure that instead of the copy.
func bufferAt(size, offset int) []byte {
	const page = 4096
	raw := make([]byte, size+2*page)
	base := int(uintptr(unsafe.Pointer(&raw[0])) % page)
	start := (page - base + offset) % page
	return raw[start : start+size : start+size]
}

func BenchmarkCopy(b *testing.B) {
	b.Logf("%s", cpuSummary())
	for _, size := range benchSizes {
		src := bufferAt(size, 0)
		dst := bufferAt(size, 2048)
		for i := range src {
			src[i] = byte(i)
		}
		for _, impl := range benchImpls(size) {
			b.Run(fmt.Sprintf("impl=%s/size=%d", impl.name, size), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					impl.copy(dst, src)
				}
			})
		}
	}
}

// ringSizes leaves out 8 MiB: a ring of them does not fit in any cache, and
// takes long to fill.
var ringSizes = []int{64, 256, 1024, 4096, 16384, 65536, 1 << 20}

// BenchmarkRing passes messages from a producer pinned to one CPU to a
// consumer pinned to another through a ring of slots in ordinary memory,
// each slot published by a release store of its sequence number as in the
// queue. The producer copies in with impl; the consumer always copies out
// with pickCopy(size, false). This is what decides the non-temporal
// threshold: a non-temporal store sends the line to memory instead of
// leaving it modified in the producer's cache, where the consumer on another
// core would have to fetch it from.
func BenchmarkRing(b *testing.B) {
	cpus, err := twoCPUs()
	if err != nil {
		b.Skip(err)
	}
	b.Logf("%s; producer on CPU %d, consumer on CPU %d", cpuSummary(), cpus[0], cpus[1])
	for _, size := range ringSizes {
		// Enough slots to keep both sides busy, at most 4 MiB of ring (16
		// slots for 1 MiB) so it stays in the last-level cache.
		slots := min(64, max(16, (4<<20)/size))
		for _, impl := range benchImpls(size) {
			if impl.name == "auto-out" {
				continue // the consumer side; covered by BenchmarkCopy
			}
			b.Run(fmt.Sprintf("impl=%s/size=%d", impl.name, size), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				runRing(b, cpus, size, slots, impl.copy, queueCopy(pickCopy(size, false)))
			})
		}
	}
}

// ringSeq is a slot's sequence word on its own cache line, so the producer's
// publish and the consumer's release of neighbouring slots do not contend.
type ringSeq struct {
	seq atomic.Uint64
	_   [56]byte
}

func runRing(b *testing.B, cpus [2]int, size, slots int, copyIn, copyOut func(dst, src []byte)) {
	data := bufferAt(size*slots, 0)
	seqs := make([]ringSeq, slots)
	for i := range seqs {
		seqs[i].seq.Store(uint64(i))
	}
	msg := bufferAt(size, 2048)
	for i := range msg {
		msg[i] = byte(i)
	}
	out := bufferAt(size, 1024)
	n := uint64(b.N)
	slotData := func(pos uint64) []byte {
		s := int(pos % uint64(slots))
		return data[s*size : (s+1)*size]
	}

	var ready, done sync.WaitGroup
	var abort atomic.Bool // set before start closes when a side could not pin
	start := make(chan struct{})
	errs := make(chan error, 2)
	ready.Add(2)
	done.Add(2)
	// pinned runs loop in a goroutine pinned to cpu, once both sides are
	// pinned and the timer is about to start.
	pinned := func(cpu int, loop func()) {
		go func() {
			defer done.Done()
			err := bench.PinThread(cpu)
			ready.Done()
			if err != nil {
				errs <- err
				return
			}
			<-start
			if abort.Load() {
				return
			}
			loop()
		}()
	}
	pinned(cpus[0], func() { // producer
		for pos := uint64(0); pos < n; pos++ {
			seq := &seqs[pos%uint64(slots)].seq
			for seq.Load() != pos {
				spinPause(1)
			}
			copyIn(slotData(pos), msg)
			seq.Store(pos + 1) // publish
		}
	})
	pinned(cpus[1], func() { // consumer
		for pos := uint64(0); pos < n; pos++ {
			seq := &seqs[pos%uint64(slots)].seq
			for seq.Load() != pos+1 {
				spinPause(1)
			}
			copyOut(out, slotData(pos))
			seq.Store(pos + uint64(slots)) // release the slot for the next lap
		}
	})
	ready.Wait()
	select {
	case err := <-errs:
		abort.Store(true)
		close(start)
		done.Wait()
		b.Skipf("pinning threads: %v", err)
	default:
	}
	b.ResetTimer()
	close(start)
	done.Wait()
	b.StopTimer()
	if out[size-1] != msg[size-1] || out[0] != msg[0] {
		b.Fatalf("consumer read wrong bytes")
	}
}

// BenchmarkQueue measures one goroutine enqueueing a message and dequeueing
// it again, through a real segment: the copy in, the copy out and the
// protocol around them.
func BenchmarkQueue(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("op=enqueue-dequeue/size=%d", size), func(b *testing.B) { benchQueue(b, size) })
	}
	// The same on a WithSingleGoroutine handle: the lane taken without a
	// locked CAS (roles.go: enterAt).
	for _, size := range []int{64, 4096} {
		b.Run(fmt.Sprintf("op=enqueue-dequeue-one-goroutine/size=%d", size), func(b *testing.B) {
			benchQueue(b, size, WithSingleGoroutine())
		})
	}
}

// benchQueue moves one message in and out of a queue of size-byte messages,
// in one goroutine, b.N times.
func benchQueue(b *testing.B, size int, opts ...Option) {
	capacity := uint32(64)
	if size > 64<<10 {
		capacity = 4 // 8 MiB x 64 would exceed common SHM limits
	}
	q := createFresh(b, uint32(size/8), capacity, opts...)
	b.Cleanup(func() {
		if err := q.Delete(); err != nil {
			b.Errorf("Delete: %v", err)
		}
		if err := q.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
	msg := bufferAt(size, 0)
	for i := range msg {
		msg[i] = byte(i)
	}
	buf := bufferAt(size, 2048)
	b.SetBytes(int64(size))
	benchTryPair(b, q, msg, buf)
}

// benchTryPair is the loop of the single-thread benchmarks: one EnqueueTry
// of msg into an empty q and one DequeueTry into buf per op. The last byte
// must arrive.
func benchTryPair(b *testing.B, q *Queue, msg, buf []byte) {
	b.ReportAllocs()
	for b.Loop() {
		if !q.EnqueueTry(msg) {
			b.Fatal("EnqueueTry on an empty queue failed")
		}
		if !q.DequeueTry(buf) {
			b.Fatal("DequeueTry after an enqueue failed")
		}
	}
	if buf[len(buf)-1] != msg[len(msg)-1] {
		b.Fatal("dequeued wrong bytes")
	}
}

// measureEnv turns on TestMeasureCopy and TestMeasureRing, which print the
// figures behind the thresholds in cpu.go. They do not assert anything; they
// take the minimum time over many alternating trials, which stays
// meaningful on a machine shared with other work, where benchmark medians
// swing by half.
const measureEnv = "SHQUEUE_MEASURE"

func measureKinds() []copyKind {
	ks := []copyKind{copyBuiltin}
	for _, k := range supportedKinds() {
		if k != copyBuiltin && k != copyGenericKind {
			ks = append(ks, k)
		}
	}
	return ks
}

func logRatios(t *testing.T, label string, size, bytesPerTrial int, kinds []copyKind, best []time.Duration) {
	line := fmt.Sprintf("%s size=%d", label, size)
	for i, k := range kinds {
		line += fmt.Sprintf("  %s %.1f GB/s (%.2fx)", k, float64(bytesPerTrial)/best[i].Seconds()/1e9, float64(best[0])/float64(best[i]))
	}
	t.Log(line)
}

// TestMeasureCopy: single-thread copy throughput of each variant and its
// ratio to the built-in copy, by size (SHQUEUE_MEASURE=1 go test -run
// MeasureCopy -v).
func TestMeasureCopy(t *testing.T) {
	if os.Getenv(measureEnv) == "" {
		t.Skip("set " + measureEnv + "=1 to measure")
	}
	t.Log(cpuSummary())
	// Non-temporal stores evict the destination from the cache and leave
	// write-combining traffic behind, which slows whatever runs next; so
	// the ordinary variants alternate with the built-in copy, and each
	// non-temporal variant is timed in a pass of its own.
	var temporal, nonTemporal []copyKind
	for _, k := range measureKinds() {
		if k.temporal() == k {
			temporal = append(temporal, k)
		} else {
			nonTemporal = append(nonTemporal, k)
		}
	}
	for _, size := range []int{64, 128, 256, 264, 272, 320, 384, 512, 1024, 2048, 4096, 8192, 16384, 32768, 40960, 49152, 65536, 1 << 20, 2 << 20, 4 << 20, 8 << 20} {
		src, dst := bufferAt(size, 0), bufferAt(size, 2048)
		reps := max(1, (64<<10)/size)
		kinds := append(append([]copyKind(nil), temporal...), nonTemporal...)
		best := make([]time.Duration, len(kinds))
		for i := range best {
			best[i] = time.Hour
		}
		trial := func(i int) {
			f := queueCopy(kinds[i])
			f(dst, src)
			start := time.Now()
			for range reps {
				f(dst, src)
			}
			best[i] = min(best[i], time.Since(start))
		}
		for range 300 {
			for i := range temporal {
				trial(i)
			}
		}
		for i := len(temporal); i < len(kinds); i++ {
			for range 100 {
				trial(i)
			}
		}
		logRatios(t, "copy", size, size*reps, kinds, best)
	}
}

// TestMeasureRing: cross-core ring throughput with each variant copying in
// (consumer: built-in copy), then with each temporal variant copying out
// (producer: built-in copy).
func TestMeasureRing(t *testing.T) {
	if os.Getenv(measureEnv) == "" {
		t.Skip("set " + measureEnv + "=1 to measure")
	}
	cpus, err := twoCPUs()
	if err != nil {
		t.Skip(err)
	}
	t.Log(cpuSummary())
	kinds := measureKinds()
	builtin := queueCopy(copyBuiltin)
	for _, size := range []int{1024, 4096, 16384, 65536, 1 << 20, 4 << 20, 8 << 20} {
		slots := min(64, max(16, (4<<20)/size))
		msgs := max(64, (4<<20)/size)
		bestIn := make([]time.Duration, len(kinds))
		bestOut := make([]time.Duration, len(kinds))
		for i := range kinds {
			bestIn[i], bestOut[i] = time.Hour, time.Hour
		}
		for range 20 {
			for i, k := range kinds {
				bestIn[i] = min(bestIn[i], ringTrial(cpus, size, slots, msgs, queueCopy(k), builtin))
				if k.temporal() == k {
					bestOut[i] = min(bestOut[i], ringTrial(cpus, size, slots, msgs, builtin, queueCopy(k)))
				}
			}
		}
		logRatios(t, "ring in", size, size*msgs, kinds, bestIn)
		var outKinds []copyKind
		var outBest []time.Duration
		for i, k := range kinds {
			if k.temporal() == k {
				outKinds, outBest = append(outKinds, k), append(outBest, bestOut[i])
			}
		}
		logRatios(t, "ring out", size, size*msgs, outKinds, outBest)
	}
}

// ringTrial passes msgs messages through a fresh ring between two pinned
// threads and returns the consumer's time.
func ringTrial(cpus [2]int, size, slots, msgs int, copyIn, copyOut func(dst, src []byte)) time.Duration {
	data := bufferAt(size*slots, 0)
	seqs := make([]ringSeq, slots)
	for i := range seqs {
		seqs[i].seq.Store(uint64(i))
	}
	msg, out := bufferAt(size, 2048), bufferAt(size, 1024)
	copy(data, make([]byte, len(data))) // fault the ring's pages in before timing
	slotData := func(pos uint64) []byte {
		s := int(pos % uint64(slots))
		return data[s*size : (s+1)*size]
	}
	var wg sync.WaitGroup
	var elapsed time.Duration
	start := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = bench.PinThread(cpus[0])
		<-start
		for pos := uint64(0); pos < uint64(msgs); pos++ {
			seq := &seqs[pos%uint64(slots)].seq
			for seq.Load() != pos {
				spinPause(1)
			}
			copyIn(slotData(pos), msg)
			seq.Store(pos + 1)
		}
	}()
	go func() {
		defer wg.Done()
		_ = bench.PinThread(cpus[1])
		<-start
		began := time.Now()
		for pos := uint64(0); pos < uint64(msgs); pos++ {
			seq := &seqs[pos%uint64(slots)].seq
			for seq.Load() != pos+1 {
				spinPause(1)
			}
			copyOut(out, slotData(pos))
			seq.Store(pos + uint64(slots))
		}
		elapsed = time.Since(began)
	}()
	time.Sleep(time.Millisecond) // let both threads pin and reach the start line
	close(start)
	wg.Wait()
	return elapsed
}

// BenchmarkSlotIndex compares capacities that are and are not powers of two:
// a position maps to its slot with a mask in the first case and with a
// 64-bit division in the second (queue.go's slot).
//
//	BenchmarkSlotIndex/cap=<n>
func BenchmarkSlotIndex(b *testing.B) {
	for _, capacity := range []uint32{64, 63} {
		b.Run(fmt.Sprintf("cap=%d", capacity), func(b *testing.B) {
			q := newTestQueue(b, 8, capacity)
			msg, buf := make([]byte, 64), make([]byte, 64)
			b.SetBytes(64)
			b.ReportAllocs()
			for b.Loop() {
				q.EnqueueTry(msg)
				q.DequeueTry(buf)
			}
		})
	}
}
