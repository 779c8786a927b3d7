package shqueue

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// TestRoleOptions: the options are recorded in the header (layout version 3),
// a handle opened without a role is refused the exclusive side with ErrRole
// in each call's own way, before anything in the segment changes, and a
// queue without options stays version 2 and ignores the role options.
func TestRoleOptions(t *testing.T) {
	ctx := context.Background()
	msg, buf := make([]byte, 64), make([]byte, 64)

	plain := newTestQueue(t, 8, 4, AsProducer(), AsConsumer())
	if v := atomic.LoadUint32(u32At(plain.base, offVersion)); v != layoutVersion || atomic.LoadUint32(u32At(plain.base, offFlags)) != 0 {
		t.Fatalf("queue without options: version %d, flags %#x", v, atomic.LoadUint32(u32At(plain.base, offFlags)))
	}
	if plain.SingleProducer() || plain.SingleConsumer() || !plain.IsProducer() || !plain.IsConsumer() || plain.prodMode != roleShared || plain.consMode != roleShared {
		t.Fatal("a queue without options has exclusive sides")
	}
	if atomic.LoadUint64(plain.lease(true)) != 0 || atomic.LoadUint64(plain.lease(false)) != 0 {
		t.Fatal("a role option took a lease on a queue without exclusive sides")
	}

	for _, tc := range []struct {
		name     string
		opts     []Option
		sp, sc   bool
		wantFlag uint32
	}{
		{"SP", []Option{WithSingleProducer()}, true, false, flagSingleProducer},
		{"SC", []Option{WithSingleConsumer()}, false, true, flagSingleConsumer},
		{"SPSC", []Option{WithSingleProducer(), WithSingleConsumer()}, true, true, flagSingleProducer | flagSingleConsumer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newTestQueue(t, 8, 4, tc.opts...) // the creator asks for no role
			if v := atomic.LoadUint32(u32At(q.base, offVersion)); v != layoutVersionRoles {
				t.Fatalf("version %d", v)
			}
			if f := atomic.LoadUint32(u32At(q.base, offFlags)); f != tc.wantFlag {
				t.Fatalf("flags %#x, want %#x", f, tc.wantFlag)
			}
			if q.SingleProducer() != tc.sp || q.SingleConsumer() != tc.sc || q.IsProducer() == tc.sp || q.IsConsumer() == tc.sc {
				t.Fatalf("SingleProducer %v SingleConsumer %v IsProducer %v IsConsumer %v", q.SingleProducer(), q.SingleConsumer(), q.IsProducer(), q.IsConsumer())
			}
			tail, head := atomic.LoadUint64(q.tail), atomic.LoadUint64(q.head)
			if tc.sp {
				if q.EnqueueTry(msg) {
					t.Fatal("EnqueueTry without the producer role succeeded")
				}
				if err := q.EnqueueBlock(ctx, msg); !errors.Is(err, ErrRole) {
					t.Fatalf("EnqueueBlock without the role: %v", err)
				}
				expectPanic(t, ErrRole.Error(), func() { q.EnqueueShift(msg) })
			}
			if tc.sc {
				expectPanic(t, ErrRole.Error(), func() { q.EnqueueShift(msg) })
				if q.DequeueTry(buf) {
					t.Fatal("DequeueTry without the consumer role succeeded")
				}
				if err := q.DequeueBlock(ctx, buf); !errors.Is(err, ErrRole) {
					t.Fatalf("DequeueBlock without the role: %v", err)
				}
			}
			if atomic.LoadUint64(q.tail) != tail || atomic.LoadUint64(q.head) != head {
				t.Fatal("a refused call moved a position")
			}

			// A handle with the roles works; a second one is refused.
			h := mustOpen(t, q.Key(), AsProducer(), AsConsumer())
			if _, err := Open(q.Key(), AsProducer(), AsConsumer()); !errors.Is(err, ErrBusy) {
				t.Fatalf("second Open with the roles: %v, want ErrBusy", err)
			}
			if !h.IsProducer() || !h.IsConsumer() {
				t.Fatal("the role handle may not use its side")
			}
			if tc.sp {
				if _, err := Open(q.Key(), AsProducer()); !errors.Is(err, ErrBusy) {
					t.Fatalf("Open AsProducer while held: %v", err)
				}
			}
			if tc.sc {
				if _, err := Open(q.Key(), AsConsumer()); !errors.Is(err, ErrBusy) {
					t.Fatalf("Open AsConsumer while held: %v", err)
				}
			} else {
				mustPanicWithout(t, func() { h.EnqueueShift(msg) })
				if !h.DequeueTry(buf) || h.Len() != 0 {
					t.Fatal("the shifted message is not in the queue")
				}
			}
			for i := 0; i < 10; i++ {
				fillMsg(msg, 7, uint64(i))
				if err := h.EnqueueBlock(ctx, msg); err != nil {
					t.Fatal(err)
				}
				if err := h.DequeueBlock(ctx, buf); err != nil {
					t.Fatal(err)
				}
				if p, s, ok := readMsg(buf); !ok || p != 7 || s != uint64(i) {
					t.Fatalf("got %d/%d ok=%v, want 7/%d", p, s, ok, i)
				}
			}
			// Close gives the roles back.
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			if atomic.LoadUint64(q.lease(true)) != 0 || atomic.LoadUint64(q.lease(false)) != 0 {
				t.Fatal("Close left a lease taken")
			}
			h2, err := Open(q.Key(), AsProducer(), AsConsumer())
			if err != nil {
				t.Fatalf("Open after the holder closed: %v", err)
			}
			h2.Close()
		})
	}
}

// mustPanicWithout runs f and fails if it panics.
func mustPanicWithout(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if r := recover(); r != nil {
			t.Fatalf("panic: %v", r)
		}
	}()
	f()
}

// TestRoleCorruptFlags: a header whose flags do not match its version, or
// carry unknown bits, is refused.
func TestRoleCorruptFlags(t *testing.T) {
	for _, tc := range []struct {
		version, flags uint32
	}{
		{layoutVersion, flagSingleProducer},
		{layoutVersionRoles, 0},
		{layoutVersionRoles, 1 << 5},
	} {
		key := foreignSegment(t, int(newGeometry(8, 4).total), func(mem []byte) {
			initSegment(mem, newGeometry(8, 4))
			base := unsafe.Pointer(&mem[0])
			atomic.StoreUint32(u32At(base, offVersion), tc.version)
			atomic.StoreUint32(u32At(base, offFlags), tc.flags)
		})
		if _, err := Open(key); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("version %d flags %#x: Open = %v, want ErrCorrupt", tc.version, tc.flags, err)
		}
	}
	if _, err := Create(1, 8, 4, func(o *options) { o.flags = 1 << 7 }); !errors.Is(err, ErrInvalidArg) {
		t.Fatalf("Create with unknown flags: %v", err)
	}
}

// TestRoleGoroutines: goroutines sharing a role handle take turns on its
// exclusive side; every message arrives once and in order per goroutine.
func TestRoleGoroutines(t *testing.T) {
	for _, opts := range [][]Option{
		{WithSingleProducer(), WithSingleConsumer()},
		{WithSingleProducer()},
		{WithSingleConsumer()},
	} {
		q := newTestQueue(t, 8, 8, append(opts, AsProducer(), AsConsumer())...)
		const producers, consumers, per = 4, 3, 20000
		ctx := context.Background()
		var wg sync.WaitGroup
		seen := make([][]uint64, consumers)
		for c := 0; c < consumers; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 64)
				for {
					if err := q.DequeueBlock(ctx, buf); err != nil {
						t.Error(err)
						return
					}
					p, s, ok := readMsg(buf)
					if !ok {
						t.Error("torn message")
						return
					}
					if p == stopProducer {
						return
					}
					seen[c] = append(seen[c], p<<32|s)
				}
			}()
		}
		var pw sync.WaitGroup
		for p := 0; p < producers; p++ {
			pw.Add(1)
			go func() {
				defer pw.Done()
				msg := make([]byte, 64)
				for s := 0; s < per; s++ {
					fillMsg(msg, uint64(p), uint64(s))
					if err := q.EnqueueBlock(ctx, msg); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		pw.Wait()
		stop := make([]byte, 64)
		fillMsg(stop, stopProducer, 0)
		for c := 0; c < consumers; c++ {
			if err := q.EnqueueBlock(ctx, stop); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
		got := map[uint64]bool{}
		for c := range seen {
			last := map[uint64]uint64{}
			for _, v := range seen[c] {
				p, s := v>>32, v&(1<<32-1)
				if l, ok := last[p]; ok && s <= l {
					t.Fatalf("consumer %d: producer %d seq %d after %d", c, p, s, l)
				}
				last[p] = s
				if got[v] {
					t.Fatalf("producer %d seq %d twice", p, s)
				}
				got[v] = true
			}
		}
		if len(got) != producers*per {
			t.Fatalf("%d of %d messages", len(got), producers*per)
		}
		if st := q.Stats(); st.Lost != 0 || st.Enqueued != st.Dequeued {
			t.Fatalf("stats %+v", st)
		}
	}
}

// TestRoleExactTry: on exclusive sides the Try calls answer full and empty
// exactly as on shared ones, across laps.
func TestRoleExactTry(t *testing.T) {
	q := newTestQueue(t, 8, 3, WithSingleProducer(), WithSingleConsumer(), AsProducer(), AsConsumer())
	msg, buf := make([]byte, 64), make([]byte, 64)
	var next, want uint64
	for round := 0; round < 50; round++ { // 50 laps of the three slots
		for i := 0; i < 3; i++ {
			fillMsg(msg, 1, next)
			if ok := q.EnqueueTry(msg); ok != (i < 3) {
				t.Fatalf("round %d: enqueue %d answered %v", round, i, ok)
			}
			next++
		}
		if q.EnqueueTry(msg) {
			t.Fatal("EnqueueTry on a full queue succeeded")
		}
		if q.Len() != 3 {
			t.Fatalf("Len %d", q.Len())
		}
		for i := 0; i < 3; i++ {
			if !q.DequeueTry(buf) {
				t.Fatalf("round %d: DequeueTry %d on a non-empty queue failed", round, i)
			}
			if _, s, ok := readMsg(buf); !ok || s != want {
				t.Fatalf("got seq %d ok=%v, want %d", s, ok, want)
			}
			want++
		}
		if q.DequeueTry(buf) {
			t.Fatal("DequeueTry on an empty queue succeeded")
		}
	}
	if st := q.Stats(); st.Enqueued != 150 || st.Dequeued != 150 || st.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRoleShiftSingleProducer: the producer role's holder may EnqueueShift on
// a single-producer queue whose consumers are shared; it drops exactly one
// message from a full queue.
func TestRoleShiftSingleProducer(t *testing.T) {
	q := newTestQueue(t, 8, 2, WithSingleProducer(), AsProducer())
	msg, buf := make([]byte, 64), make([]byte, 64)
	for s := uint64(0); s < 5; s++ {
		fillMsg(msg, 2, s)
		q.EnqueueShift(msg)
	}
	dequeueSeqs(t, q, buf, 3, 4)
	if st := q.Stats(); st.Overwritten != 3 || st.Enqueued != 5 || st.Dequeued != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRoleNoAllocs: the exclusive paths do not allocate.
func TestRoleNoAllocs(t *testing.T) {
	q := newTestQueue(t, 8, 4, WithSingleProducer(), WithSingleConsumer(), AsProducer(), AsConsumer())
	other := mustOpen(t, q.Key())
	defer other.Close()
	msg, buf := make([]byte, 64), make([]byte, 64)
	ctx := context.Background()
	for name, f := range map[string]func(){
		"Try":       func() { q.EnqueueTry(msg); q.DequeueTry(buf) },
		"Block":     func() { _ = q.EnqueueBlock(ctx, msg); _ = q.DequeueBlock(ctx, buf) },
		"TryEmpty":  func() { q.DequeueTry(buf) },
		"RoleTry":   func() { other.EnqueueTry(msg); other.DequeueTry(buf) },
		"TryOnFull": func() { q.EnqueueTry(msg) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocs per run", name, n)
		}
	}
}

// BenchmarkRoles measures one goroutine enqueueing a 64-byte message and
// dequeueing it again on a queue with shared sides (roles=mpmc) and with an
// exclusive producer and consumer (roles=spsc): the instructions of the two
// paths, without the cross-CPU traffic (cmd/shqueue bench's shqueue-spsc
// measures that).
func BenchmarkRoles(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"mpmc", nil},
		{"spsc", []Option{WithSingleProducer(), WithSingleConsumer(), AsProducer(), AsConsumer()}},
	} {
		b.Run("op=enqueue-dequeue/roles="+tc.name+"/size=64", func(b *testing.B) {
			q := newTestQueue(b, 8, 64, tc.opts...)
			msg, buf := bufferAt(64, 0), bufferAt(64, 2048)
			msg[63] = 7
			benchTryPair(b, q, msg, buf)
		})
	}
}

// TestRoleClose: Close ends the calls blocked on a role handle's exclusive
// sides (ErrClosed), waits for them, and gives the roles back.
func TestRoleClose(t *testing.T) {
	q := newTestQueue(t, 8, 2, WithSingleProducer(), WithSingleConsumer())
	h := mustOpen(t, q.Key(), AsProducer(), AsConsumer())
	msg, ctx := make([]byte, 64), context.Background()
	for i := 0; i < 2; i++ {
		if err := h.EnqueueBlock(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 4)
	for i := 0; i < 2; i++ {
		go func() { errs <- h.EnqueueBlock(ctx, make([]byte, 64)) }() // the queue is full
	}
	e, err := Open(q.Key(), AsConsumer()) // taken: h holds it
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Open AsConsumer while held: %v, %v", e, err)
	}
	time.Sleep(20 * time.Millisecond) // let them block
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked EnqueueBlock after Close: %v", err)
		}
	}
	if h.EnqueueTry(msg) || h.DequeueTry(msg) {
		t.Fatal("a closed role handle moved a message")
	}
	h2, err := Open(q.Key(), AsProducer(), AsConsumer())
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer h2.Close()
	if st := q.Stats(); st.Enqueued != 2 || h2.Len() != 2 {
		t.Fatalf("stats %+v, Len %d", st, h2.Len())
	}
}

// TestRoleDequeueLatest: DequeueLatest moves head, so on a single-consumer
// queue it needs the consumer role: false without it, and with it the holder
// takes the newest message and passes the older ones over.
func TestRoleDequeueLatest(t *testing.T) {
	q := newTestQueue(t, 8, 4, WithSingleConsumer())
	msg, buf := make([]byte, 64), make([]byte, 64)
	enqueueMsgs(t, q, msg, 1, 3)
	if ok, skipped := q.DequeueLatest(buf); ok || skipped != 0 || q.Len() != 3 {
		t.Fatalf("DequeueLatest without the role: %v, %d, Len %d", ok, skipped, q.Len())
	}
	h := mustOpen(t, q.Key(), AsConsumer())
	defer h.Close()
	ok, skipped := h.DequeueLatest(buf)
	if _, s, whole := readMsg(buf); !ok || skipped != 2 || !whole || s != 2 {
		t.Fatalf("DequeueLatest with the role: %v, skipped %d, seq %d", ok, skipped, s)
	}
	if st := q.Stats(); st.Dequeued != 3 || q.Len() != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRoleBatchAndZeroCopy: batches and zero-copy calls take the exclusive
// path on a side whose role the handle holds (tail and head move by plain
// stores), and a handle without the role is refused with ErrRole by each of
// them, before anything in the segment changes.
func TestRoleBatchAndZeroCopy(t *testing.T) {
	ctx := context.Background()
	q := newTestQueue(t, 1, 8, WithSingleProducer(), WithSingleConsumer(), AsProducer(), AsConsumer())
	other := mustOpen(t, q.Key())
	defer other.Close()
	msgs := make([]byte, 5*8)
	for i := range 5 {
		msgs[i*8] = byte(i + 1)
	}
	if n, err := q.EnqueueBatch(ctx, msgs); n != 5 || err != nil {
		t.Fatalf("holder's EnqueueBatch = %d, %v", n, err)
	}
	c, ok := q.ClaimTry()
	if !ok {
		t.Fatal("holder's ClaimTry")
	}
	c.Bytes()[0] = 6
	c.Commit()
	if n := other.EnqueueBatchTry(msgs[:8]); n != 0 {
		t.Fatalf("EnqueueBatchTry without the role put in %d", n)
	}
	if _, err := other.EnqueueBatch(ctx, msgs[:8]); !errors.Is(err, ErrRole) {
		t.Fatalf("EnqueueBatch without the role: %v", err)
	}
	if _, ok := other.ClaimTry(); ok {
		t.Fatal("ClaimTry without the role")
	}
	if _, err := other.Claim(ctx); !errors.Is(err, ErrRole) {
		t.Fatalf("Claim without the role: %v", err)
	}
	buf := make([]byte, 8*8)
	if n := other.DequeueBatchTry(buf); n != 0 {
		t.Fatalf("DequeueBatchTry without the role took %d", n)
	}
	if _, err := other.Read(ctx); !errors.Is(err, ErrRole) {
		t.Fatalf("Read without the role: %v", err)
	}
	if q.Len() != 6 {
		t.Fatalf("Len = %d after the refused calls, want 6", q.Len())
	}
	m, ok := q.ReadTry()
	if !ok || m.Bytes()[0] != 1 {
		t.Fatal("holder's ReadTry")
	}
	m.Release()
	if n, err := q.DequeueBatch(ctx, buf); n != 5 || err != nil || buf[0] != 2 || buf[4*8] != 6 {
		t.Fatalf("holder's DequeueBatch = %d, %v, first %d, last %d", n, err, buf[0], buf[4*8])
	}
	if st := q.Stats(); st.Enqueued != 6 || st.Dequeued != 6 || q.Len() != 0 {
		t.Fatalf("stats %+v, Len %d", st, q.Len())
	}
}
