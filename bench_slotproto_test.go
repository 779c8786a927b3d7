//go:build linux || darwin

package shqueue

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/shqueue/shqueue/internal/bench"
)

// BenchmarkSlotProtocol is the ceiling of a 64-byte stream between two
// processes for a slot protocol written as a bare loop in Go: no lanes,
// records, roles, checks or wait strategy, only the slot words over a System
// V segment shaped like a queue's (4096 slots of 128 bytes, the message
// behind the slot's 16-byte header), the producer process pinned to the first
// allowed CPU and this one to the second, as the C floor's ring:
//
//	BenchmarkSlotProtocol/release=slot   this package's protocol: the
//	    consumer frees each slot by storing its next sequence number into it
//	BenchmarkSlotProtocol/release=head   the C floor's ring (spsc -seq): the
//	    consumer never writes a slot, it publishes how far it has read every
//	    quarter of the ring, and the producer reads that before it laps
//
// The difference between the two is what the consumer's store into the slot
// line costs a stream on this machine; the difference between release=slot
// and shqueue-spsc-1g in `shqueue bench` is what the library adds to the bare
// protocol. docs/performance.md ("The per-slot release in a stream") reports
// both. Compare with
//
//	go test -run '^$' -bench '^BenchmarkSlotProtocol$' -count 6 > proto.txt
//	benchstat -col /release proto.txt
func BenchmarkSlotProtocol(b *testing.B) {
	cpus, err := twoCPUs()
	if err != nil {
		b.Skip(err)
	}
	for _, release := range []string{protoReleaseSlot, protoReleaseHead} {
		b.Run("release="+release, func(b *testing.B) { benchSlotProtocol(b, release, cpus) })
	}
}

const (
	protoReleaseSlot = "slot"
	protoReleaseHead = "head"

	protoProducerRole = "bench-slotproto-producer"
	protoSlots        = 4096
	protoStride       = 128            // two lines: the header and 48 bytes, then 16
	protoMsg          = 64             // message bytes, from offset slotHeader of the slot
	protoRingOffset   = 4096           // the ring starts one page into the segment
	protoHeadOffset   = 256            // the consumer's published position, a line of its own
	protoHeadEvery    = protoSlots / 4 // release=head publishes that often, as the C ring
)

func init() { registerChild(protoProducerRole, protoProducer) }

// protoRing is the segment as both processes see it.
type protoRing struct {
	base unsafe.Pointer
}

func (r protoRing) seq(pos uint64) *uint64 {
	return (*uint64)(unsafe.Add(r.base, protoRingOffset+(pos%protoSlots)*protoStride))
}

func (r protoRing) msg(pos uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(r.seq(pos)), slotHeader)), protoMsg)
}

func (r protoRing) head() *uint64 { return (*uint64)(unsafe.Add(r.base, protoHeadOffset)) }

// The sequence words: slot pos%protoSlots holds 2*pos when free for pos and
// 2*pos+1 once pos is published (release=head never frees: a slot then holds
// the last position published in it).
func protoFree(pos uint64) uint64 { return 2 * pos }
func protoFull(pos uint64) uint64 { return 2*pos + 1 }

func benchSlotProtocol(b *testing.B, release string, cpus [2]int) {
	if err := bench.PinThread(cpus[1]); err != nil {
		b.Skipf("pinning: %v", err)
	}
	key := freeKey(b)
	id, err := shmCreateExcl(key, protoRingOffset+protoSlots*protoStride, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = shmRemove(key, id) })
	seg, err := shmAttach(key, id)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = seg.detach() })
	ring := protoRing{unsafe.Pointer(&seg.mem[0])}
	for pos := uint64(0); pos < protoSlots; pos++ {
		*ring.seq(pos) = protoFree(pos)
	}
	warmup := 2 * protoSlots
	total := warmup + b.N
	child := childCommand(b, protoProducerRole, strconv.Itoa(id), release, strconv.Itoa(total), strconv.Itoa(cpus[0]))
	_, exited := startWatched(b, child)
	buf := make([]byte, protoMsg)
	receive := func(pos uint64) {
		for atomic.LoadUint64(ring.seq(pos)) != protoFull(pos) {
		}
		copy(buf, ring.msg(pos))
		if got := binary.LittleEndian.Uint64(buf); got != pos {
			b.Fatalf("message %d carries %d", pos, got)
		}
		if release == protoReleaseSlot {
			storeRelease64(ring.seq(pos), protoFree(pos+protoSlots))
		} else if (pos+1)%protoHeadEvery == 0 {
			storeRelease64(ring.head(), pos+1)
		}
	}
	for pos := range uint64(warmup) {
		receive(pos)
	}
	b.SetBytes(protoMsg)
	b.ResetTimer()
	for pos := uint64(warmup); pos < uint64(total); pos++ {
		receive(pos)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "M-msgs/s")
	if err := <-exited; err != nil {
		b.Fatalf("producer: %v", err)
	}
}

// protoProducer: args are the segment id, the release scheme, how many
// messages to send and the CPU to pin to; message pos carries pos in its
// first word.
func protoProducer(args []string) int {
	bench.WatchParent()
	if len(args) != 4 {
		fmt.Fprintf(os.Stderr, "producer: want 4 arguments, got %q\n", args)
		return 1
	}
	id, err := strconv.Atoi(args[0])
	release := args[1]
	var total, cpu int
	if err == nil {
		total, err = strconv.Atoi(args[2])
	}
	if err == nil {
		cpu, err = strconv.Atoi(args[3])
	}
	if err == nil {
		err = bench.PinThread(cpu)
	}
	var seg *segment
	if err == nil {
		seg, err = shmAttach(0, id)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		return 1
	}
	ring := protoRing{unsafe.Pointer(&seg.mem[0])}
	msg := make([]byte, protoMsg)
	var headSeen uint64
	for pos := uint64(0); pos < uint64(total); pos++ {
		if release == protoReleaseSlot {
			for atomic.LoadUint64(ring.seq(pos)) != protoFree(pos) {
			}
		} else {
			for pos-headSeen >= protoSlots {
				headSeen = atomic.LoadUint64(ring.head())
			}
		}
		binary.LittleEndian.PutUint64(msg, pos)
		copy(ring.msg(pos), msg)
		storeRelease64(ring.seq(pos), protoFull(pos))
	}
	return 0
}
