package shqueue

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unsafe"
)

// typedQuote is 32 bytes, a multiple of 8: Typed copies it in place.
type typedQuote struct {
	Price float64
	Qty   int32
	Side  uint8
	Flags [3]bool
	ID    uint64
	Venue [8]byte
}

// typedTick is 20 bytes with 4-byte alignment: Typed pads it to a 24-byte
// message through a buffer.
type typedTick struct {
	Px    [3]uint32
	Side  uint8
	Venue [6]byte
	Lot   uint8
}

func TestTypedSizes(t *testing.T) {
	if s := unsafe.Sizeof(typedQuote{}); s != 32 {
		t.Fatalf("typedQuote is %d bytes; the tests want 32", s)
	}
	if s := unsafe.Sizeof(typedTick{}); s != 20 {
		t.Fatalf("typedTick is %d bytes; the tests want 20", s)
	}
	if w := TypedMsgWords[typedTick](); w != 3 {
		t.Fatalf("TypedMsgWords[typedTick] = %d, want 3", w)
	}
}

// TestTypedRefuses: every kind of pointer, wherever it sits in T, and a
// queue of the wrong message size are refused with a clear error.
func TestTypedRefuses(t *testing.T) {
	q := newTestQueue(t, 1, 4)
	type inner struct {
		N int64
		P *int64
	}
	type nested struct {
		A uint64
		B [2]inner
	}
	check := func(name string, err error, sentinel error, mention string) {
		t.Helper()
		if !errors.Is(err, sentinel) {
			t.Errorf("%s: %v; want %v", name, err, sentinel)
			return
		}
		if !strings.Contains(err.Error(), mention) {
			t.Errorf("%s: %q does not mention %q", name, err, mention)
		}
	}
	var err error
	_, err = NewTyped[*int64](q)
	check("pointer", err, ErrInvalidArg, "is a ptr")
	_, err = NewTyped[string](q)
	check("string", err, ErrInvalidArg, "is a string")
	_, err = NewTyped[[]byte](q)
	check("slice", err, ErrInvalidArg, "is a slice")
	_, err = NewTyped[map[int]int](q)
	check("map", err, ErrInvalidArg, "is a map")
	_, err = NewTyped[any](q)
	check("interface", err, ErrInvalidArg, "is a interface")
	_, err = NewTyped[chan int](q)
	check("chan", err, ErrInvalidArg, "is a chan")
	_, err = NewTyped[func()](q)
	check("func", err, ErrInvalidArg, "is a func")
	_, err = NewTyped[uintptr](q)
	check("uintptr", err, ErrInvalidArg, "is a uintptr")
	_, err = NewTyped[unsafe.Pointer](q)
	check("unsafe.Pointer", err, ErrInvalidArg, "is a unsafe.Pointer")
	_, err = NewTyped[nested](q)
	check("nested pointer", err, ErrInvalidArg, "shqueue.nested.B[i].P is a ptr")
	_, err = NewTyped[[1]struct{ S string }](q)
	check("array of strings", err, ErrInvalidArg, "[i].S is a string")
	_, err = NewTyped[struct{}](q)
	check("zero size", err, ErrInvalidArg, "size zero")
	_, err = NewTyped[typedTick](q)
	check("wrong size", err, ErrMsgSize, "needs 24-byte messages (20 bytes rounded up to 8), the queue's are 8")
	_, err = NewTyped[int64](nil)
	check("nil queue", err, ErrInvalidArg, "nil queue")
	if _, err := NewTyped[int64](q); err != nil {
		t.Fatalf("int64 on an 8-byte queue: %v", err)
	}
	if _, err := NewTyped[[2]int32](q); err != nil {
		t.Fatalf("[2]int32 on an 8-byte queue: %v", err)
	}
	if _, err := NewTyped[struct{ A, B float32 }](q); err != nil {
		t.Fatalf("struct of two float32 on an 8-byte queue: %v", err)
	}
	q.Close()
	_, err = NewTyped[int64](q)
	check("closed", err, ErrClosed, "closed")
}

// TestTypedRoundTrip: every call, for a type that fills its message and one
// that needs padding.
func TestTypedRoundTrip(t *testing.T) {
	t.Run("exact", func(t *testing.T) {
		testTypedRoundTrip(t, func(i int) typedQuote {
			return typedQuote{Price: float64(i) + 0.25, Qty: int32(-i), Side: uint8(i), Flags: [3]bool{i%2 == 0, true, false}, ID: uint64(i) << 40, Venue: [8]byte{'X', byte(i)}}
		})
	})
	t.Run("padded", func(t *testing.T) {
		testTypedRoundTrip(t, func(i int) typedTick {
			return typedTick{Px: [3]uint32{uint32(i), ^uint32(i), 7}, Side: uint8(i), Venue: [6]byte{'A', byte(i)}, Lot: 0xff}
		})
	})
}

func testTypedRoundTrip[T comparable](t *testing.T, make func(int) T) {
	q := newTestQueue(t, TypedMsgWords[T](), 2)
	tq, err := NewTyped[T](q)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var got T
	if tq.DequeueTry(&got) {
		t.Fatal("DequeueTry on an empty queue")
	}
	v0, v1, v2 := make(1), make(2), make(3)
	if err := tq.EnqueueBlock(ctx, &v0); err != nil {
		t.Fatal(err)
	}
	if !tq.EnqueueTry(&v1) {
		t.Fatal("EnqueueTry with room")
	}
	if tq.EnqueueTry(&v2) {
		t.Fatal("EnqueueTry on a full queue")
	}
	tq.EnqueueShift(&v2) // drops v0
	if err := tq.DequeueBlock(ctx, &got); err != nil || got != v1 {
		t.Fatalf("DequeueBlock = %+v, %v; want %+v", got, err, v1)
	}
	if !tq.DequeueTry(&got) || got != v2 {
		t.Fatalf("DequeueTry = %+v; want %+v", got, v2)
	}
	if tq.Queue() != q || q.Stats().Overwritten != 1 {
		t.Fatalf("Queue() or Stats wrong: %+v", q.Stats())
	}
}

// TestTypedPadding: a value shorter than the message sits flush against a
// PROT_NONE page; sending it and receiving into it must touch only its own
// bytes (a read or write past it faults), and the padding goes out as zeros.
func TestTypedPadding(t *testing.T) {
	q := newTestQueue(t, TypedMsgWords[typedTick](), 4)
	tq, err := NewTyped[typedTick](q)
	if err != nil {
		t.Fatal(err)
	}
	mem := guardedBuffer(t, 4096)
	v := (*typedTick)(unsafe.Pointer(&mem[len(mem)-int(unsafe.Sizeof(typedTick{}))]))
	*v = typedTick{Px: [3]uint32{1, 2, 3}, Side: 4, Venue: [6]byte{5, 6, 7, 8, 9, 10}, Lot: 11}
	want := *v
	tq.EnqueueShift(v)
	if !tq.EnqueueTry(v) || tq.EnqueueBlock(context.Background(), v) != nil {
		t.Fatal("enqueue failed")
	}
	raw := make([]byte, q.MsgSize())
	if !q.DequeueTry(raw) {
		t.Fatal("no message")
	}
	for i := 20; i < len(raw); i++ {
		if raw[i] != 0 {
			t.Fatalf("padding byte %d is %#x, want 0", i, raw[i])
		}
	}
	*v = typedTick{}
	if !tq.DequeueTry(v) || *v != want {
		t.Fatalf("DequeueTry = %+v, want %+v", *v, want)
	}
	*v = typedTick{}
	if err := tq.DequeueBlock(context.Background(), v); err != nil || *v != want {
		t.Fatalf("DequeueBlock = %+v, %v; want %+v", *v, err, want)
	}
}

// TestTypedAllocs: no call allocates, padded or not.
func TestTypedAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	t.Run("exact", typedAllocs[typedQuote])
	t.Run("padded", typedAllocs[typedTick])
}

// typedAllocs fails if a round of Typed[T] calls allocates.
func typedAllocs[T any](t *testing.T) {
	ctx := context.Background()
	tq := newTypedQueue[T](t, 4)
	var v T
	if a := testing.AllocsPerRun(200, func() {
		tq.EnqueueTry(&v)
		tq.EnqueueShift(&v)
		tq.EnqueueBlock(ctx, &v)
		tq.DequeueTry(&v)
		tq.DequeueBlock(ctx, &v)
		tq.DequeueBlock(ctx, &v)
	}); a != 0 {
		t.Fatalf("%v allocations per round", a)
	}
}

// TestTypedBatch: the batch calls over []T carry every value whole and in
// order, for a T that is copied in place and for a padded one, and take only
// what fits or what is ready.
func TestTypedBatch(t *testing.T) {
	t.Run("exact", func(t *testing.T) {
		testTypedBatch(t, func(i int) typedQuote {
			return typedQuote{Price: float64(i), ID: uint64(i) << 33, Venue: [8]byte{byte(i)}}
		})
	})
	t.Run("padded", func(t *testing.T) {
		testTypedBatch(t, func(i int) typedTick { return typedTick{Px: [3]uint32{uint32(i), 1, 2}, Lot: byte(i)} })
	})
}

func testTypedBatch[T comparable](t *testing.T, make func(int) T) {
	tq := newTypedQueue[T](t, 4)
	ctx := context.Background()
	in := []T{make(1), make(2), make(3), make(4), make(5), make(6)}
	if n := tq.EnqueueBatchTry(in); n != 4 {
		t.Fatalf("EnqueueBatchTry into 4 free slots put in %d", n)
	}
	out := []T{make(0), make(0), make(0)}
	if n := tq.DequeueBatchTry(out); n != 3 || out[0] != in[0] || out[2] != in[2] {
		t.Fatalf("DequeueBatchTry = %d, %v", n, out)
	}
	if n, err := tq.EnqueueBatch(ctx, in[4:]); n != 2 || err != nil {
		t.Fatalf("EnqueueBatch = %d, %v", n, err)
	}
	all := []T{make(0), make(0), make(0), make(0), make(0)}
	if n, err := tq.DequeueBatch(ctx, all); n != 3 || err != nil || all[0] != in[3] || all[2] != in[5] {
		t.Fatalf("DequeueBatch = %d, %v, %v", n, err, all)
	}
	if n := tq.DequeueBatchTry(all); n != 0 {
		t.Fatalf("DequeueBatchTry on an empty queue took %d", n)
	}
	if allocs := testing.AllocsPerRun(50, func() {
		tq.EnqueueBatchTry(in[:2])
		tq.DequeueBatchTry(out)
	}); allocs != 0 {
		t.Fatalf("batch calls allocate %v times", allocs)
	}
}

// newTypedQueue is a Typed[T] over a new test queue of capacity values.
func newTypedQueue[T any](t *testing.T, capacity uint32) *Typed[T] {
	t.Helper()
	tq, err := NewTyped[T](newTestQueue(t, TypedMsgWords[T](), capacity))
	if err != nil {
		t.Fatal(err)
	}
	return tq
}
