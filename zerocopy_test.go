package shqueue

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestZeroCopy: claimed slots written in place arrive through copying
// dequeues and in-place reads alike, in order; an aborted claim is passed
// over and counted Aborted, not as a message and not as Lost.
func TestZeroCopy(t *testing.T) {
	for _, words := range []uint32{4, 64, 1024} {
		q := newTestQueue(t, words, 3)
		size := q.MsgSize()
		ctx := context.Background()
		buf := make([]byte, size)
		var seq uint64
		for round := 0; round < 10; round++ {
			c, ok := q.ClaimTry()
			if !ok {
				t.Fatal("ClaimTry on an empty queue failed")
			}
			if len(c.Bytes()) != size {
				t.Fatalf("Claim.Bytes is %d bytes", len(c.Bytes()))
			}
			fillMsg(c.Bytes(), 5, seq)
			c.Commit()
			aborted, err := q.Claim(ctx)
			if err != nil {
				t.Fatal(err)
			}
			copy(aborted.Bytes(), "garbage that must never be read")
			aborted.Abort()
			fillMsg(buf, 5, seq+1)
			if err := q.EnqueueBlock(ctx, buf); err != nil {
				t.Fatal(err)
			}
			if round%2 == 0 {
				m, ok := q.ReadTry()
				if !ok {
					t.Fatal("ReadTry found nothing")
				}
				wantBatch(t, m.Bytes(), size, 5, seq)
				m.Release()
			} else if !q.DequeueTry(buf) {
				t.Fatal("DequeueTry found nothing")
			} else {
				wantBatch(t, buf, size, 5, seq)
			}
			m, err := q.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wantBatch(t, m.Bytes(), size, 5, seq+1)
			m.Release()
			seq += 2
			if _, ok := q.ReadTry(); ok {
				t.Fatal("ReadTry on an empty queue took something")
			}
		}
		st := q.Stats()
		if st.Enqueued != 20 || st.Dequeued != 20 || st.Aborted != 10 || st.Lost != 0 {
			t.Fatalf("stats %+v", st)
		}
		// Full: ClaimTry answers false; a claim holds up readers behind it.
		for i := 0; i < 3; i++ {
			c, ok := q.ClaimTry()
			if !ok {
				t.Fatalf("ClaimTry %d failed", i)
			}
			fillMsg(c.Bytes(), 6, uint64(i))
			if i > 0 {
				c.Commit()
				continue
			}
			defer c.Commit()
		}
		if _, ok := q.ClaimTry(); ok {
			t.Fatal("ClaimTry on a full queue succeeded")
		}
	}
}

// TestZeroCopyMisuse: a second Commit, Abort or Release, a use after it (also
// through a stale copy of the value, once its lane holds another claim), and
// the zero value panic with a clear message, and leave the queue working.
func TestZeroCopyMisuse(t *testing.T) {
	q := newTestQueue(t, 4, 4)
	c, _ := q.ClaimTry()
	stale := c
	fillMsg(c.Bytes(), 1, 0)
	c.Commit()
	for what, f := range map[string]func(){
		"second Commit":      c.Commit,
		"Abort after Commit": c.Abort,
		"Bytes after Commit": func() { _ = c.Bytes() },
		"zero Claim":         Claim{}.Commit,
		"zero Message":       Message{}.Release,
		"zero Message.Bytes": func() { _ = Message{}.Bytes() },
	} {
		if msg := mustPanic(t, what, f); !strings.HasPrefix(msg, "shqueue: ") {
			t.Fatalf("%s panicked with %q", what, msg)
		}
	}
	// The stale copy's lane now holds another claim: the copy is still refused.
	c2, _ := q.ClaimTry()
	if c2.lane != stale.lane {
		t.Fatalf("second claim on lane %d, first on %d", c2.lane, stale.lane)
	}
	mustPanic(t, "Commit of a stale copy", stale.Commit)
	fillMsg(c2.Bytes(), 1, 1)
	c2.Commit()

	m, _ := q.ReadTry()
	m2 := m
	wantBatch(t, m.Bytes(), q.MsgSize(), 1, 0)
	m.Release()
	mustPanic(t, "second Release", m2.Release)
	mustPanic(t, "Bytes after Release", func() { _ = m.Bytes() })
	m, _ = q.ReadTry()
	wantBatch(t, m.Bytes(), q.MsgSize(), 1, 1)
	mustPanic(t, "Release of a stale copy", m2.Release)
	m.Release()

	if st := q.Stats(); st.Enqueued != 2 || st.Dequeued != 2 || q.Len() != 0 {
		t.Fatalf("stats %+v, len %d", st, q.Len())
	}
}

// TestHeldLimit: a handle holds at most maxHeld claims and messages.
func TestHeldLimit(t *testing.T) {
	q := newTestQueue(t, 4, 2*maxHeld)
	var claims []Claim
	for i := 0; i < maxHeld/2; i++ {
		c, _ := q.ClaimTry()
		fillMsg(c.Bytes(), 1, uint64(i))
		c.Commit()
	}
	var msgs []Message
	for i := 0; i < maxHeld/2; i++ {
		m, ok := q.ReadTry()
		if !ok {
			t.Fatal("ReadTry failed")
		}
		msgs = append(msgs, m)
	}
	for i := 0; i < maxHeld/2; i++ {
		c, ok := q.ClaimTry()
		if !ok {
			t.Fatal("ClaimTry failed")
		}
		claims = append(claims, c)
	}
	mustPanic(t, "ClaimTry over the limit", func() { q.ClaimTry() })
	mustPanic(t, "ReadTry over the limit", func() { q.ReadTry() })
	mustPanic(t, "Claim over the limit", func() { q.Claim(context.Background()) })
	// Every other call still finds a lane.
	if q.Len() != maxHeld/2 || !q.EnqueueTry(make([]byte, q.MsgSize())) {
		t.Fatal("calls on a handle at its claim limit failed")
	}
	for _, m := range msgs {
		m.Release()
	}
	for _, c := range claims {
		c.Abort()
	}
	if st := q.Stats(); st.Aborted != maxHeld/2 || st.Dequeued != maxHeld/2 || st.Enqueued != maxHeld/2+1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestCloseWaitsForClaim: Close waits for a claim or a read to be finished,
// so the bytes being written stay mapped; blocked Claim and Read calls end
// with ErrClosed.
func TestCloseWaitsForClaim(t *testing.T) {
	for _, consumer := range []bool{false, true} {
		q := newTestQueue(t, 4, 1)
		var finish func()
		if consumer {
			q.EnqueueTry(make([]byte, q.MsgSize()))
			m, _ := q.ReadTry()
			finish = m.Release
		} else {
			c, _ := q.ClaimTry()
			finish = c.Commit
		}
		// A second caller waits for the slot.
		waiting := make(chan error, 1)
		go func() {
			var err error
			if consumer {
				_, err = q.Claim(context.Background())
			} else {
				_, err = q.Read(context.Background())
			}
			waiting <- err
		}()
		closed := make(chan error, 1)
		go func() { closed <- q.Close() }()
		select {
		case err := <-closed:
			t.Fatalf("Close returned (%v) while a slot was held", err)
		case <-time.After(50 * time.Millisecond):
		}
		finish()
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		if err := <-waiting; !errors.Is(err, ErrClosed) {
			t.Fatalf("a Claim or Read blocked across Close: %v", err)
		}
	}
}

// TestNewPathsAllocate: the batch and zero-copy calls allocate nothing.
func TestNewPathsAllocate(t *testing.T) {
	q := newTestQueue(t, 8, 64)
	size := q.MsgSize()
	msgs := fillBatch(size, 1, 0, 32)
	buf := make([]byte, 32*size)
	ctx := context.Background()
	for name, f := range map[string]func(){
		"EnqueueBatchTry+DequeueBatchTry": func() {
			q.EnqueueBatchTry(msgs)
			q.DequeueBatchTry(buf)
		},
		"EnqueueBatch+DequeueBatch": func() {
			q.EnqueueBatch(ctx, msgs)
			q.DequeueBatch(ctx, buf)
		},
		"ClaimTry+ReadTry": func() {
			c, _ := q.ClaimTry()
			copy(c.Bytes(), msgs)
			c.Commit()
			m, _ := q.ReadTry()
			copy(buf, m.Bytes())
			m.Release()
		},
		"Claim+Read+Abort": func() {
			c, _ := q.Claim(ctx)
			c.Abort()
			c, _ = q.Claim(ctx)
			c.Commit()
			m, _ := q.Read(ctx)
			m.Release()
		},
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per run", name, n)
		}
	}
}
