//go:build linux || darwin

package shqueue

import (
	"context"
	"fmt"
	"reflect"
	"unsafe"
)

// Typed messages. This file owns Typed[T], a view of a queue whose messages
// are values of one Go type; it calls only the Queue's exported methods.

// Typed is a queue whose messages are values of type T, copied byte for byte
// through the segment. T must be plain data: no pointers, strings, slices,
// maps, interfaces, channels, funcs or uintptrs anywhere inside it (they
// would be addresses in the sending process, meaningless in the receiving
// one). Both sides must use the same T, built for the same architecture.
//
// The queue's message size is unsafe.Sizeof(T) rounded up to 8 bytes. When
// T is shorter, the calls copy through a buffer on the stack and never read
// or write past the caller's value; the padding goes out as zeros. None of
// the calls allocates.
type Typed[T any] struct {
	q     *Queue
	exact bool // unsafe.Sizeof(T) == the message size: no padding to handle
}

// padded is a T with room behind it for the message size's padding.
type padded[T any] struct {
	v   T
	pad [7]byte
}

// TypedMsgWords returns the message size, in the 64-bit words Create takes,
// that a queue needs to carry values of T.
func TypedMsgWords[T any]() uint32 {
	var v T
	return uint32((unsafe.Sizeof(v) + 7) / 8)
}

// NewTyped wraps q for values of T. It refuses, with an error wrapping
// ErrInvalidArg, a T that holds a pointer of any kind (checked once, here,
// through every array element and struct field) or has size zero; with
// ErrMsgSize a queue whose message size is not unsafe.Sizeof(T) rounded up to
// 8; with ErrClosed a closed handle.
func NewTyped[T any](q *Queue) (*Typed[T], error) {
	var v T
	typ := reflect.TypeOf(&v).Elem()
	if q == nil {
		return nil, fmt.Errorf("typed queue of %v: %w: nil queue", typ, ErrInvalidArg)
	}
	op := fmt.Sprintf("typed queue of %v on", typ)
	if q.closed.Load() {
		return nil, keyErr(op, q.key, ErrClosed, "")
	}
	if path, kind := pointerIn(typ, typ.String()); path != "" {
		return nil, keyErr(op, q.key, ErrInvalidArg, "%s is a %s: only plain data (numbers, bools, arrays and structs of them) means the same in another process", path, kind)
	}
	size := unsafe.Sizeof(v)
	if size == 0 {
		return nil, keyErr(op, q.key, ErrInvalidArg, "%v has size zero", typ)
	}
	if want := (size + 7) &^ 7; uintptr(q.MsgSize()) != want {
		return nil, keyErr(op, q.key, ErrMsgSize, "%v needs %d-byte messages (%d bytes rounded up to 8), the queue's are %d", typ, want, size, q.MsgSize())
	}
	return &Typed[T]{q: q, exact: size%8 == 0}, nil
}

// pointerIn returns the path to the first part of t that holds a pointer and
// that part's kind, or "" if t is plain data.
func pointerIn(t reflect.Type, path string) (string, string) {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return "", ""
	case reflect.Array:
		return pointerIn(t.Elem(), path+"[i]")
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if p, k := pointerIn(f.Type, path+"."+f.Name); p != "" {
				return p, k
			}
		}
		return "", ""
	case reflect.Uintptr:
		return path, "uintptr (an address, as far as anyone can tell)"
	}
	return path, t.Kind().String()
}

// Queue returns the queue underneath, for WaitAny and the byte-level calls.
func (t *Typed[T]) Queue() *Queue { return t.q }

// bytesOf views v as the message size's bytes; only when exact.
func (t *Typed[T]) bytesOf(v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

// bytesOfPadded views p's value and padding as one message.
func (t *Typed[T]) bytesOfPadded(p *padded[T]) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), t.q.msgSize)
}

// EnqueueBlock adds *v, waiting for room until ctx is done (Queue.EnqueueBlock).
func (t *Typed[T]) EnqueueBlock(ctx context.Context, v *T) error {
	if t.exact {
		return t.q.EnqueueBlock(ctx, t.bytesOf(v))
	}
	p := padded[T]{v: *v}
	return t.q.EnqueueBlock(ctx, t.bytesOfPadded(&p))
}

// EnqueueTry adds *v if there is room (Queue.EnqueueTry).
func (t *Typed[T]) EnqueueTry(v *T) bool {
	if t.exact {
		return t.q.EnqueueTry(t.bytesOf(v))
	}
	p := padded[T]{v: *v}
	return t.q.EnqueueTry(t.bytesOfPadded(&p))
}

// EnqueueShift adds *v, dropping the oldest message if the queue is full
// (Queue.EnqueueShift).
func (t *Typed[T]) EnqueueShift(v *T) {
	if t.exact {
		t.q.EnqueueShift(t.bytesOf(v))
		return
	}
	p := padded[T]{v: *v}
	t.q.EnqueueShift(t.bytesOfPadded(&p))
}

// DequeueBlock moves the oldest message into *v, waiting for one until ctx is
// done (Queue.DequeueBlock). On an error *v is unchanged.
func (t *Typed[T]) DequeueBlock(ctx context.Context, v *T) error {
	if t.exact {
		return t.q.DequeueBlock(ctx, t.bytesOf(v))
	}
	var p padded[T]
	if err := t.q.DequeueBlock(ctx, t.bytesOfPadded(&p)); err != nil {
		return err
	}
	*v = p.v
	return nil
}

// DequeueTry moves the oldest message into *v if there is one
// (Queue.DequeueTry). When it returns false *v is unchanged.
func (t *Typed[T]) DequeueTry(v *T) bool {
	if t.exact {
		return t.q.DequeueTry(t.bytesOf(v))
	}
	var p padded[T]
	if !t.q.DequeueTry(t.bytesOfPadded(&p)) {
		return false
	}
	*v = p.v
	return true
}

// sliceBytes views vs as back-to-back messages; only when exact.
func (t *Typed[T]) sliceBytes(vs []T) []byte {
	if len(vs) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&vs[0])), uintptr(len(vs))*unsafe.Sizeof(vs[0]))
}

// EnqueueBatch adds every value in vs, in order, waiting for room until ctx
// is done, and returns how many went in (Queue.EnqueueBatch). A T whose size
// is a multiple of 8 bytes goes in runs of one claim each; a padded T one
// message at a time.
func (t *Typed[T]) EnqueueBatch(ctx context.Context, vs []T) (int, error) {
	if t.exact {
		if len(vs) == 0 {
			return 0, nil
		}
		return t.q.EnqueueBatch(ctx, t.sliceBytes(vs))
	}
	for i := range vs {
		if err := t.EnqueueBlock(ctx, &vs[i]); err != nil {
			return i, err
		}
	}
	return len(vs), nil
}

// EnqueueBatchTry adds as many values of vs as there is room for now, a
// prefix, and returns how many (Queue.EnqueueBatchTry).
func (t *Typed[T]) EnqueueBatchTry(vs []T) int {
	if t.exact {
		return t.q.EnqueueBatchTry(t.sliceBytes(vs))
	}
	for i := range vs {
		if !t.EnqueueTry(&vs[i]) {
			return i
		}
	}
	return len(vs)
}

// DequeueBatch waits until ctx is done for at least one message, then moves
// the ready ones into vs, up to len(vs), and returns how many
// (Queue.DequeueBatch). vs must not be empty.
func (t *Typed[T]) DequeueBatch(ctx context.Context, vs []T) (int, error) {
	if t.exact {
		return t.q.DequeueBatch(ctx, t.sliceBytes(vs))
	}
	if len(vs) == 0 {
		return 0, keyErr("dequeue", t.q.key, ErrMsgSize, "an empty batch")
	}
	if err := t.DequeueBlock(ctx, &vs[0]); err != nil {
		return 0, err
	}
	n := 1
	for n < len(vs) && t.DequeueTry(&vs[n]) {
		n++
	}
	return n, nil
}

// DequeueBatchTry moves the messages ready now into vs, up to len(vs), and
// returns how many (Queue.DequeueBatchTry). vs must not be empty.
func (t *Typed[T]) DequeueBatchTry(vs []T) int {
	if t.exact {
		return t.q.DequeueBatchTry(t.sliceBytes(vs))
	}
	n := 0
	for n < len(vs) && t.DequeueTry(&vs[n]) {
		n++
	}
	return n
}
