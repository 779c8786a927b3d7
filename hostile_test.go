package shqueue

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// A hostile or corrupted segment: another handle writes arbitrary bytes over
// the header, the process table and the slots while calls run. Whatever it
// writes, this process never reads or writes outside the segment (no index
// panic, no fault) and every call returns: with data, false, or an error.

// scribble applies a script of writes to the segment: each 12-byte record is a
// 32-bit offset (taken modulo the segment's size, 8-aligned) and a 64-bit value.
func scribble(mem []byte, script []byte) {
	for len(script) >= 12 {
		off := uintptr(binary.LittleEndian.Uint32(script)) % uintptr(len(mem)) &^ 7
		val := binary.LittleEndian.Uint64(script[4:])
		script = script[12:]
		// The test plays the hostile process: it writes with atomics like
		// any process sharing the segment would.
		atomic.StoreUint64((*uint64)(unsafe.Pointer(&mem[off])), val)
	}
}

// exercise runs every operation once against q, with short deadlines.
func exercise(t testing.TB, q *Queue, msg, buf []byte) {
	q.EnqueueTry(msg)
	q.DequeueTry(buf)
	shiftOrCorrupt(t, q, msg)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Microsecond)
	_ = q.EnqueueBlock(ctx, msg)
	_ = q.DequeueBlock(ctx, buf)
	cancel()
	_ = q.Len()
	_ = q.Stats()
	if q2, err := Open(q.Key()); err == nil {
		q2.DequeueTry(buf)
		q2.Close()
	}
}

// shiftOrCorrupt calls EnqueueShift, which may only fail by a panic with an
// error wrapping ErrCorrupt.
func shiftOrCorrupt(t testing.TB, q *Queue, msg []byte) {
	defer func() {
		if r := recover(); r != nil {
			if err, ok := r.(error); !ok || !errors.Is(err, ErrCorrupt) {
				t.Errorf("EnqueueShift panicked with %v", r)
			}
		}
	}()
	q.EnqueueShift(msg)
}

// hostileQueue creates a queue and a second raw attachment of its segment.
// Scribbles can fake the one legitimate long wait of EnqueueShift (a claim in
// flight) with no claimant on record: it then gives up after
// shiftUnknownAfter, which these tests shorten so that every call returns in
// milliseconds.
func hostileQueue(t testing.TB, words, capacity uint32) (*Queue, []byte) {
	saved := shiftUnknownAfter
	shiftUnknownAfter = 20 * time.Millisecond
	t.Cleanup(func() { shiftUnknownAfter = saved })
	q := newTestQueue(t, words, capacity, WithWait(BusySpin))
	raw, err := shmAttach(q.Key(), q.seg.id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.detach() })
	return q, raw.mem
}

func FuzzHostileSegment(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Add(make([]byte, 120), uint8(3))
	seed := make([]byte, 0, 12*16)
	for _, off := range []uint32{offMagic, offVersion, offMsgSize, offCapacity, offTail, offHead, offEmptySleepers, offProcTable, offProcTable + offProcLanes, headerSize, headerSize + slotHeader, headerSize + 128} {
		seed = binary.LittleEndian.AppendUint32(seed, off)
		seed = binary.LittleEndian.AppendUint64(seed, 0xFFFF_FFFF_FFFF_FFF0)
	}
	f.Add(seed, uint8(1))
	f.Fuzz(func(t *testing.T, script []byte, shape uint8) {
		words := uint32(shape%9) + 3
		capacity := uint32(shape/9%6) + 1
		q, mem := hostileQueue(t, words, capacity)
		msg, buf := make([]byte, q.MsgSize()), make([]byte, q.MsgSize())
		fillMsg(msg, 1, 1)
		for i := 0; i < 3; i++ {
			exercise(t, q, msg, buf)
		}
		scribble(mem, script)
		for i := 0; i < 3; i++ {
			exercise(t, q, msg, buf)
		}
	})
}

// TestHostileConcurrent scribbles random words while goroutines keep
// calling, over many seeds.
func TestHostileConcurrent(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 10
	}
	for seed := 0; seed < seeds; seed++ {
		q, mem := hostileQueue(t, uint32(seed%7)+3, uint32(seed%5)+1)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg, buf := make([]byte, q.MsgSize()), make([]byte, q.MsgSize())
				fillMsg(msg, 2, uint64(g))
				for {
					select {
					case <-stop:
						return
					default:
					}
					exercise(t, q, msg, buf)
				}
			}()
		}
		x := uint64(seed)*0x9E3779B97F4A7C15 + 1
		script := make([]byte, 12)
		for i := 0; i < 300; i++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			binary.LittleEndian.PutUint32(script, uint32(x))
			// Small values and sequence-like values hit the protocol's
			// states; wild ones hit its range checks.
			v := x >> 1
			switch i % 3 {
			case 0:
				v = x % 64
			case 1:
				v = (x >> 8) % 1024
			}
			binary.LittleEndian.PutUint64(script[4:], v)
			scribble(mem, script)
			if i%30 == 0 {
				time.Sleep(100 * time.Microsecond)
			}
		}
		close(stop)
		wg.Wait()
	}
}
