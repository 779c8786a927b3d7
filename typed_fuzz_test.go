package shqueue

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

func init() {
	// typedecho QIN QOUT TIN TOUT: echo typedQuote values from QIN to QOUT
	// and typedTick values from TIN to TOUT, each through Typed, after
	// one zero value on each out queue to say it is ready; until killed.
	registerChild("typedecho", func(args []string) int {
		exitWithParent()
		var keys [4]int
		var qs [4]*Queue
		for i := range keys {
			keys[i], _ = strconv.Atoi(args[i])
			q, err := Open(keys[i])
			if err != nil {
				fmt.Fprintln(os.Stderr, "typedecho:", err)
				return 1
			}
			qs[i] = q
		}
		errs := make(chan error, 2)
		go func() { errs <- typedEcho[typedQuote](qs[0], qs[1]) }()
		go func() { errs <- typedEcho[typedTick](qs[2], qs[3]) }()
		fmt.Fprintln(os.Stderr, "typedecho:", <-errs)
		return 1
	})
}

// exitWithParent ends this child process soon after its parent ends (it is
// then re-parented), so a fuzz worker the fuzzer kills leaves no child
// behind. Pdeathsig would be the direct way, but it follows the parent's
// thread, not its process, and Go threads come and go.
func exitWithParent() {
	parent := os.Getppid()
	go func() {
		for os.Getppid() == parent {
			time.Sleep(50 * time.Millisecond)
		}
		os.Exit(1)
	}()
}

func typedEcho[T any](in, out *Queue) error {
	tin, err := NewTyped[T](in)
	if err != nil {
		return err
	}
	tout, err := NewTyped[T](out)
	if err != nil {
		return err
	}
	var v T
	if err := tout.EnqueueBlock(context.Background(), &v); err != nil {
		return err
	}
	for {
		if err := tin.DequeueBlock(context.Background(), &v); err != nil {
			return err
		}
		if err := tout.EnqueueBlock(context.Background(), &v); err != nil {
			return err
		}
	}
}

// typedPeer is one side of a round trip through an echoing child process.
type typedPeer[T any] struct {
	out, in *Typed[T]
}

func newTypedPeer[T any](tb testing.TB) (p typedPeer[T], outKey, inKey string) {
	qo := newTestQueue(tb, TypedMsgWords[T](), 4)
	qi := newTestQueue(tb, TypedMsgWords[T](), 4)
	var err error
	if p.out, err = NewTyped[T](qo); err != nil {
		tb.Fatal(err)
	}
	if p.in, err = NewTyped[T](qi); err != nil {
		tb.Fatal(err)
	}
	return p, strconv.Itoa(qo.Key()), strconv.Itoa(qi.Key())
}

// roundTrip sends v to the child and returns what came back.
func (p typedPeer[T]) roundTrip(v *T) (T, error) {
	var got T
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.out.EnqueueBlock(ctx, v); err != nil {
		return got, err
	}
	err := p.in.DequeueBlock(ctx, &got)
	return got, err
}

func sameBytes[T any](a, b *T) bool {
	n := unsafe.Sizeof(*a)
	return bytes.Equal(unsafe.Slice((*byte)(unsafe.Pointer(a)), n), unsafe.Slice((*byte)(unsafe.Pointer(b)), n))
}

// FuzzTypedRoundTrip sends a struct that fills its message and one that
// needs padding to a child process, which echoes both through Typed; what
// comes back must be the same bytes. The child exits with the test process
// (exitWithParent) and the queues are marked for removal as soon as both sides
// have them, so a killed fuzz worker leaves nothing behind.
func FuzzTypedRoundTrip(f *testing.F) {
	f.Add(1.5, int32(-2), uint8(3), true, uint64(4), []byte("XNAS"), uint32(5), uint32(1<<31))
	f.Add(math.Copysign(0, -1), int32(0), uint8(255), false, ^uint64(0), []byte{}, ^uint32(0), uint32(0))
	quotes, qo, qi := newTypedPeer[typedQuote](f)
	ticks, to, ti := newTypedPeer[typedTick](f)
	cmd := childCommand(f, "typedecho", qo, qi, to, ti)
	if err := cmd.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	var zq typedQuote
	var zt typedTick
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := quotes.in.DequeueBlock(ctx, &zq); err != nil {
		f.Fatalf("echo child not ready: %v", err)
	}
	if err := ticks.in.DequeueBlock(ctx, &zt); err != nil {
		f.Fatalf("echo child not ready: %v", err)
	}
	for _, q := range []*Queue{quotes.out.Queue(), quotes.in.Queue(), ticks.out.Queue(), ticks.in.Queue()} {
		if err := q.Delete(); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, price float64, qty int32, side uint8, flag bool, id uint64, venue []byte, px, px2 uint32) {
		q := typedQuote{Price: price, Qty: qty, Side: side, Flags: [3]bool{flag, !flag, flag}, ID: id}
		copy(q.Venue[:], venue)
		got, err := quotes.roundTrip(&q)
		if err != nil {
			t.Fatal(err)
		}
		if !sameBytes(&got, &q) {
			t.Fatalf("sent %+v, got back %+v", q, got)
		}
		k := typedTick{Px: [3]uint32{px, px2, px ^ px2}, Side: side, Lot: uint8(qty)}
		copy(k.Venue[:], venue)
		gotk, err := ticks.roundTrip(&k)
		if err != nil {
			t.Fatal(err)
		}
		if gotk != k {
			t.Fatalf("sent %+v, got back %+v", k, gotk)
		}
	})
}
