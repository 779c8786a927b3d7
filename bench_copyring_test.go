package shqueue

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/shqueue/shqueue/internal/bench"
)

// BenchmarkCopyRing measures the slot copy where it matters: a producer
// process and a consumer process pinned to two CPUs pass messages through a
// real queue of about 1 MiB of slots (the C floor's ring, spsc -seq, has the
// same shape), both handles copying with one variant:
//
//	BenchmarkCopyRing/impl=<name>/size=<n>KiB
//
// impl is auto (the plan the processes start with: the one cpu.go derives
// for this CPU, or SHQUEUE_COPY_PLAN's, which is how docs/asm.md compares
// the plan before and after) or a variant forced with SHQUEUE_CPU in both
// processes (a non-temporal one on enqueue only). The copy
// into a slot writes lines the other core last read, and the copy out reads
// lines the other core just wrote, so what wins here is not what wins in the
// single-thread BenchmarkCopy. Both sides busy-spin. Compare the variants
// with
//
//	go test -run '^$' -bench '^BenchmarkCopyRing$' -count 6 > ring.txt
//	benchstat -col /impl ring.txt
func BenchmarkCopyRing(b *testing.B) {
	cpus, err := twoCPUs()
	if err != nil {
		b.Skip(err)
	}
	b.Logf("%s; producer process on CPU %d, consumer on CPU %d", cpuSummary(), cpus[0], cpus[1])
	impls := []string{"auto"}
	for _, k := range supportedKinds() {
		if k != copyBuiltin && k != copyGenericKind {
			impls = append(impls, k.String())
		}
	}
	impls = append(impls, copyBuiltin.String())
	for _, size := range copyRingSizes {
		for _, impl := range impls {
			b.Run(fmt.Sprintf("impl=%s/size=%s", impl, byteSize(size)), func(b *testing.B) {
				benchCopyRing(b, impl, size, cpus)
			})
		}
	}
}

// copyRingSizes are the sizes: from a few KiB, where the plan changes
// variant, to 8 MiB, past this kind of machine's L2 and where non-temporal
// stores may pay.
var copyRingSizes = []int{4 << 10, 16 << 10, 64 << 10, 1 << 20, 8 << 20}

const copyRingProducerRole = "bench-copyring-producer"

func init() { registerChild(copyRingProducerRole, copyRingProducer) }

// benchCopyRing runs one measurement: the child produces on cpus[0], the
// benchmark goroutine consumes on cpus[1] (each sub-benchmark runs in a
// goroutine of its own, so it pins itself; the pinned thread ends with it).
func benchCopyRing(b *testing.B, impl string, size int, cpus [2]int) {
	if err := bench.PinThread(cpus[1]); err != nil {
		b.Skipf("pinning: %v", err)
	}
	producerCPU := cpus[0]
	if impl != "auto" {
		defer forceCPU(impl)() // this handle's choice; the child gets SHQUEUE_CPU
	}
	q := ipcQueues(b, 1, size)[0]
	warmup := copyRingWarmup(size)
	total := warmup + b.N
	child := childCommand(b, copyRingProducerRole, strconv.Itoa(q.Key()), strconv.Itoa(total), strconv.Itoa(producerCPU))
	if impl != "auto" {
		child.Env = append(child.Env, cpuEnv+"="+impl)
	}
	ctx, exited := startWatched(b, child)
	receiveNumbered(b, ctx, q, size, warmup, total)
	if err := <-exited; err != nil {
		b.Fatalf("producer: %v", err)
	}
	if enq, deq := q.CopyVariants(); impl != "auto" && deq != kindOrBuiltin(impl).temporal().String() {
		b.Fatalf("forced %s, but the consumer copied with %s (enqueue %s)", impl, deq, enq)
	}
}

// copyRingWarmup is how many messages pass before the timer starts: enough to
// fault the ring's pages in and fill it, lap it and settle both sides (at
// least 256 MiB, two laps of 1 MiB of slots), without the 8 GiB that
// ipcWarmup messages of 8 MiB would be.
func copyRingWarmup(size int) int {
	return min(ipcWarmup, max(2*int(ipcCapacity(size)), (256<<20)/size))
}

// kindOrBuiltin is the kind a forced name selects here.
func kindOrBuiltin(name string) copyKind {
	k, ok := kindByName(name)
	if !ok || !kindSupported(k) {
		return copyBuiltin
	}
	return k
}

// copyRingProducer: args are the queue key, how many messages to send and
// the CPU to pin to; message i carries i in its first word. SHQUEUE_CPU in
// its environment chose its copy.
func copyRingProducer(args []string) int {
	bench.WatchParent()
	qs, err := ipcOpen(args[:1])
	var n uint64
	var cpu int
	if err == nil {
		n, err = strconv.ParseUint(args[1], 10, 64)
	}
	if err == nil {
		cpu, err = strconv.Atoi(args[2])
	}
	if err == nil {
		err = bench.PinThread(cpu)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		return 1
	}
	if want := os.Getenv(cpuEnv); want != "" {
		if enq, _ := qs[0].CopyVariants(); enq != kindOrBuiltin(want).String() {
			fmt.Fprintf(os.Stderr, "producer: %s=%s, but it copies with %s\n", cpuEnv, want, enq)
			return 1
		}
	}
	if err := sendNumbered(qs[0], n); err != nil {
		return childFail("producer", err)
	}
	return 0
}
