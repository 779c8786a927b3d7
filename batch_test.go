package shqueue

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// fillBatch writes count self-checking messages of producer, from sequence
// number first on, back to back into a new buffer.
func fillBatch(size int, producer, first uint64, count int) []byte {
	b := make([]byte, size*count)
	for i := 0; i < count; i++ {
		fillMsg(b[i*size:(i+1)*size], producer, first+uint64(i))
	}
	return b
}

// wantBatch checks that b holds producer's messages first, first+1, ...
func wantBatch(t *testing.T, b []byte, size int, producer, first uint64) {
	t.Helper()
	for i := 0; i < len(b)/size; i++ {
		p, s, ok := readMsg(b[i*size : (i+1)*size])
		if !ok || p != producer || s != first+uint64(i) {
			t.Fatalf("message %d: producer %d seq %d ok %v, want producer %d seq %d", i, p, s, ok, producer, first+uint64(i))
		}
	}
}

// TestBatchSizes runs batches of every size from 1 to cap+1 through queues
// of several capacities, mixed with single calls, and checks what each call
// answers: a full prefix, exact full and empty answers, order.
func TestBatchSizes(t *testing.T) {
	for _, capacity := range []uint32{1, 3, 8, 70} {
		q := newTestQueue(t, 4, capacity)
		size, c := q.MsgSize(), int(capacity)
		var next, read uint64 // sequence numbers written and read
		buf := make([]byte, size*(c+1))
		one := make([]byte, size)
		for n := 1; n <= c+1; n++ {
			// Half the time put one message in first with a single call.
			pre := n % 2
			if pre == 1 {
				fillMsg(one, 0, next)
				if !q.EnqueueTry(one) {
					t.Fatalf("cap %d: EnqueueTry into an empty queue failed", c)
				}
				next++
			}
			msgs := fillBatch(size, 0, next, n)
			got := q.EnqueueBatchTry(msgs)
			if want := min(n, c-pre); got != want {
				t.Fatalf("cap %d: EnqueueBatchTry of %d with %d queued took %d, want %d", c, n, pre, got, want)
			}
			next += uint64(got)
			if q.Len() == c && q.EnqueueBatchTry(msgs[:size]) != 0 {
				t.Fatalf("cap %d: EnqueueBatchTry into a full queue took a message", c)
			}
			// Take one with a single call, the rest with a batch.
			if !q.DequeueTry(one) {
				t.Fatalf("cap %d: DequeueTry found nothing", c)
			}
			wantBatch(t, one, size, 0, read)
			read++
			left := int(next - read)
			if left > 0 {
				m := q.DequeueBatchTry(buf)
				if m != left {
					t.Fatalf("cap %d: DequeueBatchTry took %d of %d", c, m, left)
				}
				wantBatch(t, buf[:m*size], size, 0, read)
				read += uint64(m)
			}
			if q.DequeueBatchTry(buf) != 0 || q.DequeueTry(one) {
				t.Fatalf("cap %d: an empty queue gave a message", c)
			}
		}
		// A batch longer than a run and than the queue, through the
		// blocking calls with a consumer running alongside.
		total := 3*c + int(maxRun) + 5
		msgs := fillBatch(size, 1, 0, total)
		done := make(chan error, 1)
		go func() {
			n, err := q.EnqueueBatch(context.Background(), msgs)
			if err == nil && n != total {
				err = errors.New("EnqueueBatch returned short without an error")
			}
			done <- err
		}()
		var got uint64
		for got < uint64(total) {
			m, err := q.DequeueBatch(context.Background(), buf)
			if err != nil {
				t.Fatal(err)
			}
			wantBatch(t, buf[:m*size], size, 1, got)
			got += uint64(m)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if st := q.Stats(); st.Enqueued != st.Dequeued || st.Lost != 0 || st.Aborted != 0 {
			t.Fatalf("cap %d: stats %+v", c, st)
		}
	}
}

// TestBatchBadInput: lengths that are not whole messages are refused before
// the queue changes; a closed handle answers 0 or ErrClosed.
func TestBatchBadInput(t *testing.T) {
	q := newTestQueue(t, 2, 4)
	ctx := context.Background()
	for _, n := range []int{1, 15, 17} {
		b := make([]byte, n)
		if _, err := q.EnqueueBatch(ctx, b); !errors.Is(err, ErrMsgSize) {
			t.Fatalf("EnqueueBatch of %d bytes: %v", n, err)
		}
		if _, err := q.DequeueBatch(ctx, b); !errors.Is(err, ErrMsgSize) {
			t.Fatalf("DequeueBatch into %d bytes: %v", n, err)
		}
		mustPanic(t, "EnqueueBatchTry", func() { q.EnqueueBatchTry(b) })
		mustPanic(t, "DequeueBatchTry", func() { q.DequeueBatchTry(b) })
	}
	if _, err := q.DequeueBatch(ctx, nil); !errors.Is(err, ErrMsgSize) {
		t.Fatalf("DequeueBatch into nothing: %v", err)
	}
	mustPanic(t, "DequeueBatchTry", func() { q.DequeueBatchTry(nil) })
	if n, err := q.EnqueueBatch(ctx, nil); n != 0 || err != nil {
		t.Fatalf("empty EnqueueBatch: %d, %v", n, err)
	}
	if q.EnqueueBatchTry(nil) != 0 || q.Len() != 0 {
		t.Fatal("an empty batch changed the queue")
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 32)
	if _, err := q.EnqueueBatch(ctx, b); !errors.Is(err, ErrClosed) {
		t.Fatalf("EnqueueBatch on a closed handle: %v", err)
	}
	if _, err := q.DequeueBatch(ctx, b); !errors.Is(err, ErrClosed) {
		t.Fatalf("DequeueBatch on a closed handle: %v", err)
	}
	if q.EnqueueBatchTry(b) != 0 || q.DequeueBatchTry(b) != 0 {
		t.Fatal("a closed handle moved messages")
	}
}

func mustPanic(t *testing.T, what string, f func()) string {
	t.Helper()
	var msg string
	func() {
		defer func() {
			r := recover()
			if r == nil {
				t.Fatalf("%s did not panic", what)
			}
			msg = errString(r)
		}()
		f()
	}()
	return msg
}

func errString(r any) string {
	switch v := r.(type) {
	case error:
		return v.Error()
	case string:
		return v
	}
	return ""
}

// TestEnqueueBatchCancel: a cancelled EnqueueBatch says how many went in,
// and exactly those are in the queue.
func TestEnqueueBatchCancel(t *testing.T) {
	q := newTestQueue(t, 4, 5)
	size := q.MsgSize()
	msgs := fillBatch(size, 2, 0, 12)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once the batch fills the queue and waits for room.
		for q.Len() < q.Cap() {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	n, err := q.EnqueueBatch(ctx, msgs)
	if !errors.Is(err, context.Canceled) || n != 5 {
		t.Fatalf("EnqueueBatch into a queue of 5: %d, %v", n, err)
	}
	buf := make([]byte, 12*size)
	if m := q.DequeueBatchTry(buf); m != n {
		t.Fatalf("%d went in, %d came out", n, m)
	}
	wantBatch(t, buf[:n*size], size, 2, 0)
	// Cancelled before it starts: nothing changes.
	cancel()
	if n, err := q.EnqueueBatch(ctx, msgs); n != 0 || err == nil || q.Len() != 0 {
		t.Fatalf("EnqueueBatch with a done context: %d, %v, len %d", n, err, q.Len())
	}
	if n, err := q.DequeueBatch(ctx, buf); n != 0 || err == nil {
		t.Fatalf("DequeueBatch with a done context: %d, %v", n, err)
	}
}

// TestRunRecords: a run's record names every position inside it and no
// other, and far positions fall back to one claim per message.
func TestRunRecords(t *testing.T) {
	for _, tc := range []struct{ kind, pos, n uint64 }{
		{recEnq, 0, 1}, {recEnq, 7, 2}, {recDeq, 1000, maxRun}, {recDeq, runPosLimit - maxRun, maxRun}, {recEnq, maxPos - 1, 1},
	} {
		r := runRecord(tc.kind, tc.pos, tc.n)
		kind, pos, n := recordSpan(r)
		if kind != tc.kind || pos != tc.pos || n != tc.n {
			t.Fatalf("record %#x of %+v decodes as kind %#x pos %d n %d", r, tc, kind, pos, n)
		}
		other := recEnq ^ recDeq ^ tc.kind
		for p := tc.pos - 2; p != tc.pos+tc.n+2; p++ {
			in := p >= tc.pos && p < tc.pos+tc.n
			if recordNames(r, tc.kind, p) != in || recordNames(r, other, p) {
				t.Fatalf("record of %+v names %d: %v", tc, p, !in)
			}
		}
	}
	if recordNames(0, recEnq, 0) {
		t.Fatal("an empty record names a position")
	}

	// A queue whose positions start just below runPosLimit: a batch across
	// it is claimed one position at a time there, and arrives whole.
	q := newTestQueue(t, 4, 8)
	start := runPosLimit - 3
	atomic.StoreUint64(q.tail, start)
	atomic.StoreUint64(q.head, start)
	for p := start; p < start+8; p++ {
		atomic.StoreUint64(seqWord(q.slot(p)), freeSeq(p))
	}
	lane := q.enter()
	rec := q.record(lane)
	for p := start; p < start+5; p++ {
		if got := q.readyRun(p, maxRun, false); got != 1 {
			t.Fatalf("ready run at %d (run limit %d): %d positions", p, runPosLimit, got)
		}
	}
	pos, n := q.takeRun(rec, false, 6, true)
	if pos != start || n != 1 || atomic.LoadUint64(rec) != recEnq|start {
		t.Fatalf("run at %d: pos %d n %d record %#x", start, pos, n, atomic.LoadUint64(rec))
	}
	q.copyIn(q.slot(pos), fillBatch(32, 3, 0, 1))
	q.publish(q.slot(pos), fullSeq(pos))
	q.leave(lane)
	size := q.MsgSize()
	if got := q.EnqueueBatchTry(fillBatch(size, 3, 1, 6)); got != 6 {
		t.Fatalf("EnqueueBatchTry near the run limit took %d of 6", got)
	}
	buf := make([]byte, 8*size)
	if got := q.DequeueBatchTry(buf); got != 7 {
		t.Fatalf("DequeueBatchTry near the run limit took %d of 7", got)
	}
	wantBatch(t, buf[:7*size], size, 3, 0)
}

// TestBatchTryExact: a batch Try does not answer 0 while the queue is
// neither full nor empty but the slot it needs is still held by another
// claim (here a zero-copy read or claim on the same handle, released a
// moment later): it waits for that claim, as EnqueueTry and DequeueTry do.
func TestBatchTryExact(t *testing.T) {
	q := fullTestQueue(t, 4, 2, 1, WithTryWait(time.Minute))
	size := q.MsgSize()
	m, _ := q.ReadTry() // head moves on: room for one, in the slot m holds
	go func() {
		time.Sleep(10 * time.Millisecond)
		m.Release()
	}()
	if n := q.EnqueueBatchTry(fillBatch(size, 1, 2, 2)); n != 1 {
		t.Fatalf("EnqueueBatchTry with room behind a read in progress: %d, want 1", n)
	}
	buf := make([]byte, 2*size)
	if n := q.DequeueBatchTry(buf); n != 2 {
		t.Fatalf("DequeueBatchTry: %d, want 2", n)
	}
	wantBatch(t, buf, size, 1, 1)
	c, _ := q.ClaimTry() // tail moves on: a message is coming
	go func() {
		time.Sleep(10 * time.Millisecond)
		fillMsg(c.Bytes(), 1, 3)
		c.Commit()
	}()
	if n := q.DequeueBatchTry(buf); n != 1 {
		t.Fatalf("DequeueBatchTry with a message being written: %d, want 1", n)
	}
	wantBatch(t, buf[:size], size, 1, 3)
	if st := q.Stats(); st.Stalled != 0 || st.Enqueued != 4 || st.Dequeued != 4 {
		t.Fatalf("stats %+v", st)
	}
}
