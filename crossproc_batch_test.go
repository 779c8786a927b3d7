package shqueue

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Ways a test child moves messages: one at a time with copies, in batches,
// or in place (zero-copy).
const (
	modeSingle = "single"
	modeBatch  = "batch"
	modeZero   = "zc"
)

var modes = []string{modeSingle, modeBatch, modeZero}

// modeProducer enqueues self-checking messages of producer id, from
// sequence number 0 on, the way mode says; maxBatch bounds a batch (sizes
// are drawn from 1..maxBatch). count 0 means until killed.
func modeProducer(q *Queue, mode string, id, count uint64, maxBatch int) error {
	size := q.MsgSize()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(id, uint64(os.Getpid())))
	batch := make([]byte, size*maxBatch)
	for s := uint64(0); count == 0 || s < count; {
		switch mode {
		case modeBatch:
			n := 1 + rng.IntN(maxBatch)
			if count != 0 {
				n = int(min(uint64(n), count-s))
			}
			for i := 0; i < n; i++ {
				fillMsg(batch[i*size:(i+1)*size], id, s+uint64(i))
			}
			got, err := q.EnqueueBatch(ctx, batch[:n*size])
			if err != nil {
				return err
			}
			if got != n {
				return fmt.Errorf("EnqueueBatch added %d of %d without an error", got, n)
			}
			s += uint64(n)
		case modeZero:
			c, err := q.Claim(ctx)
			if err != nil {
				return err
			}
			fillMsg(c.Bytes(), id, s)
			c.Commit()
			s++
		default:
			fillMsg(batch[:size], id, s)
			if err := q.EnqueueBlock(ctx, batch[:size]); err != nil {
				return err
			}
			s++
		}
	}
	return nil
}

// modeConsumer takes messages the way mode says until it meets a stop
// message, and hands report the (producer, seq) records of every message it
// took, a batch at a time. A batch that brings more than one stop message
// puts the others back for the other consumers.
func modeConsumer(q *Queue, mode string, maxBatch int, report func([]byte) error) error {
	size := q.MsgSize()
	ctx := context.Background()
	buf := make([]byte, size*maxBatch)
	recs := make([]byte, 16*maxBatch)
	for {
		var n int
		var held Message
		switch mode {
		case modeBatch:
			var err error
			if n, err = q.DequeueBatch(ctx, buf); err != nil {
				return err
			}
		case modeZero:
			var err error
			if held, err = q.Read(ctx); err != nil {
				return err
			}
			n = 1
		default:
			if err := q.DequeueBlock(ctx, buf[:size]); err != nil {
				return err
			}
			n = 1
		}
		out, stops := recs[:0], 0
		for i := 0; i < n; i++ {
			m := buf[i*size : (i+1)*size]
			if mode == modeZero {
				m = held.Bytes()
			}
			p, s, ok := readMsg(m)
			if !ok {
				return fmt.Errorf("torn message %x", m)
			}
			if p == stopProducer {
				if stops++; stops > 1 {
					if err := q.EnqueueBlock(ctx, m); err != nil {
						return err
					}
				}
				continue
			}
			out = binary.LittleEndian.AppendUint64(out, p)
			out = binary.LittleEndian.AppendUint64(out, s)
		}
		// Report before Release: a consumer killed in between has the
		// message reported and counted lost, never neither.
		if err := report(out); err != nil {
			return err
		}
		if mode == modeZero {
			held.Release()
		}
		if stops > 0 {
			return nil
		}
	}
}

func init() {
	// mode-producer KEY ID COUNT MODE MAXBATCH
	registerChild("mode-producer", func(args []string) int {
		q := childOpen("producer", args[0])
		defer q.Close()
		if err := modeProducer(q, args[3], argUint(args, 1), argUint(args, 2), argInt(args, 4)); err != nil {
			return childFail("producer", err)
		}
		return 0
	})
	// mode-consumer KEY MODE MAXBATCH: records to stdout until a stop message.
	registerChild("mode-consumer", func(args []string) int {
		q := childOpen("consumer", args[0])
		defer q.Close()
		out := bufio.NewWriterSize(os.Stdout, 1<<16)
		defer out.Flush()
		err := modeConsumer(q, args[1], argInt(args, 2), func(b []byte) error {
			_, err := out.Write(b)
			return err
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "consumer:", err)
			return 3
		}
		return 0
	})
}

// TestCrossProcessModes: producer processes enqueueing one at a time, in
// batches of 1..cap+1 and in place, and consumer processes dequeueing each of
// those ways, share one queue: every message arrives exactly once, whole,
// in order per producer.
func TestCrossProcessModes(t *testing.T) {
	for _, tc := range []struct {
		name            string
		words, capacity uint32
	}{
		{"64B-cap16", 8, 16},
		{"512B-cap5", 64, 5},
		{"32B-cap1", 4, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			perProducer := 30000
			if testing.Short() || tc.capacity == 1 {
				perProducer = 5000
			}
			q := newTestQueue(t, tc.words, tc.capacity)
			key := strconv.Itoa(q.Key())
			maxBatch := strconv.Itoa(int(tc.capacity) + 1)
			pc := &pairConsumers{producers: len(modes)}
			for _, mode := range modes {
				pc.start(t, childCommand(t, "mode-consumer", key, mode, maxBatch), mode+" consumer")
			}
			var producers []*childProc
			for p, mode := range modes {
				cmd := childCommand(t, "mode-producer", key, strconv.Itoa(p), strconv.Itoa(perProducer), mode, maxBatch)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				producers = append(producers, &childProc{cmd: cmd, name: mode + " producer"})
			}
			for _, p := range producers {
				p.wait(t)
			}
			checkExactlyOnce(t, pc.stop(t, q), len(modes), perProducer)
			if st := q.Stats(); st.Lost != 0 || st.Aborted != 0 || st.Enqueued != st.Dequeued {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func init() {
	// hold KEY WHAT N K: take a claim and stop in the middle of it, then
	// print "holding" and wait to be killed. WHAT: enq-run (claim a run of
	// N positions, publish K of them), deq-run (claim a run of N messages,
	// release K), claim (Claim, half written), read (Read, unreleased).
	registerChild("hold", func(args []string) int {
		q := childOpen("hold", args[0])
		n, k := argUint(args, 2), argUint(args, 3)
		msg := make([]byte, q.MsgSize())
		switch args[1] {
		case "enq-run", "deq-run":
			consumer := args[1] == "deq-run"
			lane := q.enter()
			pos, got := q.takeRun(q.record(lane), consumer, n, true)
			if got != n {
				fmt.Fprintf(os.Stderr, "hold: run of %d, want %d\n", got, n)
				return 1
			}
			for i := uint64(0); i < k; i++ {
				slot := q.slot(pos + i)
				if consumer {
					q.copyOut(msg, slot)
					q.publish(slot, freeSeq(pos+i+q.capacity))
				} else {
					fillMsg(msg, 7, pos+i)
					q.copyIn(slot, msg)
					q.publish(slot, fullSeq(pos+i))
				}
			}
		case "claim":
			c, ok := q.ClaimTry()
			if !ok {
				fmt.Fprintln(os.Stderr, "hold: ClaimTry failed")
				return 1
			}
			copy(c.Bytes()[:q.MsgSize()/2], "half a message")
		case "read":
			if _, ok := q.ReadTry(); !ok {
				fmt.Fprintln(os.Stderr, "hold: ReadTry failed")
				return 1
			}
		}
		fmt.Println("holding")
		time.Sleep(time.Hour)
		return 0
	})
}

// holdAndKill starts a hold child, waits until it holds its claim, and
// SIGKILLs it.
func holdAndKill(t *testing.T, q *Queue, what string, n, k int) {
	t.Helper()
	cmd := childCommand(t, "hold", strconv.Itoa(q.Key()), what, strconv.Itoa(n), strconv.Itoa(k))
	stdout := startReading(t, cmd)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "holding\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("hold child: %q, %v", line, err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	io.Copy(io.Discard, stdout)
	cmd.Wait()
}

// wantCounts fails the test unless q's Stats count lost, enqueued and
// dequeued messages.
func wantCounts(t *testing.T, q *Queue, lost, enqueued, dequeued uint64) {
	t.Helper()
	if st := q.Stats(); st.Lost != lost || st.Enqueued != enqueued || st.Dequeued != dequeued {
		t.Fatalf("stats %+v", st)
	}
}

// TestKillHolding: a process SIGKILLed in the middle of a batch's run (as
// producer or consumer), of a zero-copy claim, or holding an unreleased
// message is recovered like a dead single-message claimant: the queue moves
// on, the messages it held (and only those) count in Stats().Lost, and every
// other message arrives in order.
func TestKillHolding(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Run("enq-run", func(t *testing.T) {
		q := newTestQueue(t, 8, 16)
		size := q.MsgSize()
		holdAndKill(t, q, "enq-run", 6, 2) // positions 0-5, 0 and 1 published
		if n, err := q.EnqueueBatch(ctx, fillBatch(size, 8, 0, 3)); n != 3 || err != nil {
			t.Fatalf("EnqueueBatch after the dead run: %d, %v", n, err)
		}
		buf := make([]byte, 16*size)
		var got []byte
		for len(got) < 5*size {
			n, err := q.DequeueBatch(ctx, buf)
			if err != nil {
				t.Fatalf("queue wedged behind a dead run: %v (stats %+v)", err, q.Stats())
			}
			got = append(got, buf[:n*size]...)
		}
		if len(got) != 5*size {
			t.Fatalf("%d messages, want 5", len(got)/size)
		}
		wantBatch(t, got[:2*size], size, 7, 0)
		wantBatch(t, got[2*size:], size, 8, 0)
		wantCounts(t, q, 4, 5, 5)
	})
	t.Run("deq-run", func(t *testing.T) {
		q := fullTestQueue(t, 8, 8, 8)
		size := q.MsgSize()
		holdAndKill(t, q, "deq-run", 6, 2) // messages 0-5 taken, 0 and 1 released
		// Room for 2 at once; the next 4 slots wait for recovery.
		if n, err := q.EnqueueBatch(ctx, fillBatch(size, 8, 8, 6)); n != 6 || err != nil {
			t.Fatalf("queue wedged behind a dead consumer's run: %d, %v (stats %+v)", n, err, q.Stats())
		}
		buf := make([]byte, 8*size)
		if n := q.DequeueBatchTry(buf); n != 8 {
			t.Fatalf("%d messages after the dead run, want 8", n)
		}
		wantBatch(t, buf, size, 8, 6)
		wantCounts(t, q, 4, 14, 10)
	})
	t.Run("claim", func(t *testing.T) {
		q := newTestQueue(t, 8, 4)
		size := q.MsgSize()
		holdAndKill(t, q, "claim", 0, 0)
		if err := q.EnqueueBlock(ctx, fillBatch(size, 8, 0, 1)); err != nil {
			t.Fatal(err)
		}
		m, err := q.Read(ctx)
		if err != nil {
			t.Fatalf("queue wedged behind a dead claim: %v", err)
		}
		wantBatch(t, m.Bytes(), size, 8, 0)
		m.Release()
		wantCounts(t, q, 1, 1, 1)
	})
	t.Run("read", func(t *testing.T) {
		q := fullTestQueue(t, 8, 2, 8)
		size := q.MsgSize()
		holdAndKill(t, q, "read", 0, 0) // takes message 0
		c, err := q.Claim(ctx)          // needs message 0's slot
		if err != nil {
			t.Fatalf("queue wedged behind a dead reader: %v", err)
		}
		fillMsg(c.Bytes(), 8, 2)
		c.Commit()
		buf := make([]byte, 2*size)
		if n := q.DequeueBatchTry(buf); n != 2 {
			t.Fatalf("%d messages, want 2", n)
		}
		wantBatch(t, buf, size, 8, 1)
		wantCounts(t, q, 1, 3, 2)
	})
}
