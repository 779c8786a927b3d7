package shqueue

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Producer and consumer processes (the test binary re-executed) sharing one
// queue: every message arrives exactly once, whole and in order per
// producer, whether the processes move messages one at a time, in batches
// or in place (zero-copy), and when processes are SIGKILLed in the middle of
// a claim (TestKillHolding) or at random moments (the chaos tests).

// stopProducer marks the messages that tell a consumer process to finish.
const stopProducer = 1<<32 - 1

func init() {
	// producer KEY ID COUNT: enqueue COUNT self-checking messages.
	registerChild("producer", func(args []string) int {
		q := childOpen("producer", args[0], AsProducer()) // the role matters on single-producer queues only
		defer q.Close()
		id, count := argUint(args, 1), argUint(args, 2)
		msg := make([]byte, q.MsgSize())
		for s := uint64(0); s < count; s++ {
			fillMsg(msg, id, s)
			if err := q.EnqueueBlock(context.Background(), msg); err != nil {
				return childFail("producer", err)
			}
		}
		return 0
	})
	// consumer KEY: dequeue until a stop message, writing (producer, seq)
	// pairs to stdout; exit 3 on a torn message.
	registerChild("consumer", func(args []string) int {
		q := childOpen("consumer", args[0], AsConsumer())
		defer q.Close()
		out := bufio.NewWriterSize(os.Stdout, 1<<16)
		defer out.Flush()
		buf := make([]byte, q.MsgSize())
		var rec [16]byte
		for {
			if err := q.DequeueBlock(context.Background(), buf); err != nil {
				return childFail("consumer", err)
			}
			p, s, ok := readMsg(buf)
			if !ok {
				fmt.Fprintln(os.Stderr, "consumer: torn message")
				return 3
			}
			if p == stopProducer {
				return 0
			}
			binary.LittleEndian.PutUint64(rec[0:], p)
			binary.LittleEndian.PutUint64(rec[8:], s)
			out.Write(rec[:])
		}
	})
}

// readPairs reads a consumer's (producer, seq) records into per-producer lists.
func readPairs(r io.Reader, producers int) ([][]uint64, error) {
	seen := make([][]uint64, producers)
	br := bufio.NewReaderSize(r, 1<<16)
	var rec [16]byte
	for {
		if _, err := io.ReadFull(br, rec[:]); err == io.EOF {
			return seen, nil
		} else if err != nil {
			return nil, err
		}
		p := binary.LittleEndian.Uint64(rec[0:])
		if p >= uint64(producers) {
			return nil, fmt.Errorf("record names producer %d", p)
		}
		seen[p] = append(seen[p], binary.LittleEndian.Uint64(rec[8:]))
	}
}

// TestCrossProcessMPMC: producer and consumer processes (the test binary
// re-executed) share one queue; every message is received exactly once, whole,
// and in order per producer.
func TestCrossProcessMPMC(t *testing.T) {
	for _, tc := range []struct {
		name               string
		producers, workers int
		words, capacity    uint32
	}{
		{"2x2-64B-cap61", 2, 2, 8, 61},
		{"3x2-512B-cap5", 3, 2, 64, 5},
		{"2x3-24B-cap1", 2, 3, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			perProducer := 100000
			if testing.Short() || tc.capacity == 1 {
				perProducer = 10000
			}
			runCrossProcess(t, tc.producers, tc.workers, tc.words, tc.capacity, perProducer)
		})
	}
}

func runCrossProcess(t *testing.T, producers, consumers int, words, capacity uint32, perProducer int, opts ...Option) {
	q := newTestQueue(t, words, capacity, opts...)
	key := strconv.Itoa(q.Key())
	pc := &pairConsumers{producers: producers}
	for c := 0; c < consumers; c++ {
		pc.start(t, childCommand(t, "consumer", key), fmt.Sprintf("consumer %d", c))
	}
	var prods []*childProc
	for p := 0; p < producers; p++ {
		cmd := childCommand(t, "producer", key, strconv.Itoa(p), strconv.Itoa(perProducer))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		prods = append(prods, &childProc{cmd: cmd, name: fmt.Sprintf("producer %d", p)})
	}
	for _, p := range prods {
		p.wait(t)
	}
	if q.SingleProducer() {
		// The producers are gone: this process takes the role to stop the
		// consumers.
		var err error
		if q, err = Open(q.Key(), AsProducer()); err != nil {
			t.Fatal(err)
		}
		defer q.Close()
	}
	checkExactlyOnce(t, pc.stop(t, q), producers, perProducer)
	if st := q.Stats(); st.Lost != 0 || st.Overwritten != 0 || st.Enqueued != st.Dequeued {
		t.Fatalf("stats %+v", st)
	}
}

// pairConsumers are consumer processes that write (producer, seq) records
// of producers producers, each read by a goroutine of this process.
type pairConsumers struct {
	producers int
	procs     []*pairConsumer
	readers   sync.WaitGroup
}

type pairConsumer struct {
	childProc
	seen [][]uint64 // what its reader read, per producer
	err  error      // why its reader stopped early
}

// start starts cmd, a consumer process called name, and reads its records.
func (pc *pairConsumers) start(t *testing.T, cmd *exec.Cmd, name string) {
	t.Helper()
	stdout := startReading(t, cmd)
	c := &pairConsumer{childProc: childProc{cmd: cmd, name: name}}
	pc.procs = append(pc.procs, c)
	pc.readers.Add(1)
	go func() {
		defer pc.readers.Done()
		c.seen, c.err = readPairs(stdout, pc.producers)
	}()
}

// stop sends one stop message per consumer through q, waits for the
// consumers and their readers, and returns what each consumer received (a
// failed reader fails the test).
func (pc *pairConsumers) stop(t *testing.T, q *Queue) [][][]uint64 {
	t.Helper()
	stop := make([]byte, q.MsgSize())
	fillMsg(stop, stopProducer, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for range pc.procs {
		if err := q.EnqueueBlock(ctx, stop); err != nil {
			t.Fatal(err)
		}
	}
	pc.readers.Wait()
	for _, c := range pc.procs {
		c.wait(t)
	}
	results := make([][][]uint64, len(pc.procs))
	for i, c := range pc.procs {
		if c.err != nil {
			t.Fatalf("%s output: %v", c.name, c.err)
		}
		results[i] = c.seen
	}
	return results
}

type childProc struct {
	cmd  interface{ Wait() error }
	name string
}

func (c *childProc) wait(t *testing.T) {
	t.Helper()
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
}

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

func init() {
	// chaos-producer KEY ID COUNT MODE: enqueue COUNT messages (0: until
	// killed) one at a time, in batches of up to chaosBatch, or in place
	// (modeProducer).
	registerChild("chaos-producer", func(args []string) int {
		q := childOpen("chaos producer", args[0], AsProducer()) // the role matters on single-producer queues only
		if err := modeProducer(q, args[3], argUint(args, 1), argUint(args, 2), chaosBatch); err != nil {
			return childFail("chaos producer", err)
		}
		q.Close()
		return 0
	})
	// chaos-consumer KEY MODE: report what each call took at once (one write
	// each, so a kill loses at most what the call had in hand) until a stop
	// message.
	registerChild("chaos-consumer", func(args []string) int {
		q := childOpen("chaos consumer", args[0], AsConsumer())
		err := modeConsumer(q, args[1], chaosBatch, func(b []byte) error {
			_, err := os.Stdout.Write(b)
			return err
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos consumer:", err)
			return 3
		}
		q.Close()
		return 0
	})
}

// chaosBatch bounds the chaos test's batches: a killed batch producer or
// consumer may lose up to that many messages (the rest of its run).
const chaosBatch = 8

// chaosLog gathers what consumer processes report.
type chaosLog struct {
	mu         sync.Mutex
	perProd    map[uint64]map[uint64]int // producer → seq → times received
	orderFault string
	readers    sync.WaitGroup
}

func (l *chaosLog) read(r io.Reader) {
	defer l.readers.Done()
	last := map[uint64]uint64{}
	var rec [16]byte
	for {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			return
		}
		p, s := binary.LittleEndian.Uint64(rec[0:]), binary.LittleEndian.Uint64(rec[8:])
		l.mu.Lock()
		if prev, ok := last[p]; ok && s <= prev && l.orderFault == "" {
			l.orderFault = fmt.Sprintf("producer %d: seq %d after %d in one consumer", p, s, prev)
		}
		last[p] = s
		if l.perProd[p] == nil {
			l.perProd[p] = map[uint64]int{}
		}
		l.perProd[p][s]++
		l.mu.Unlock()
	}
}

type chaosChild struct {
	cmd      *exec.Cmd
	producer bool
	mode     string
	id       uint64
}

// lossBound is how many messages a kill of the child may cost: the one in
// hand, or the rest of a batch's run.
func (c *chaosChild) lossBound() int {
	if c.mode == modeBatch {
		return chaosBatch
	}
	return 1
}

// TestChaosKill SIGKILLs producer and consumer processes at random moments
// during traffic and starts replacements; they move messages one at a time,
// in batches and in place (zero-copy), in turn. Afterwards every message that
// arrived arrived exactly once and whole, per-producer order held in every
// consumer, the queue still carries fresh messages end to end, and no more
// messages were lost than the killed processes had in hand: one each, or a
// batch's run.
func TestChaosKill(t *testing.T) { runChaos(t, 2, 2) }

// TestChaosKillSPSC is TestChaosKill on a queue with an exclusive producer
// and an exclusive consumer: each replacement takes over the role of the
// process it replaces (Open fails with ErrBusy unless the holder is dead),
// settling the claim the dead one left in flight.
func TestChaosKillSPSC(t *testing.T) { runChaos(t, 1, 1, WithSingleProducer(), WithSingleConsumer()) }

// TestChaosKillMPSC and TestChaosKillSPMC mix an exclusive side with a
// shared one.
func TestChaosKillMPSC(t *testing.T) { runChaos(t, 2, 1, WithSingleConsumer()) }
func TestChaosKillSPMC(t *testing.T) { runChaos(t, 1, 2, WithSingleProducer()) }

// runChaos runs the chaos test with producers and consumerProcs processes at a
// time on a queue created with opts. The queues with an exclusive side run
// a quarter of the kills, four times as far apart.
func runChaos(t *testing.T, producers, consumerProcs int, opts ...Option) {
	kills := 200
	if testing.Short() {
		kills = 40
	}
	pause := 8000 // µs, the longest pause between two kills
	if len(opts) > 0 {
		// Fewer processes, so each lives longer between kills: a process
		// takes milliseconds to start on a loaded machine, and traffic
		// needs a producer and a consumer running at once.
		kills, pause = kills/4, 4*pause
	}
	if s := os.Getenv("SHQUEUE_CHAOS_KILLS"); s != "" {
		kills, _ = strconv.Atoi(s)
	}
	q := newTestQueue(t, 8, 16, opts...)
	key := strconv.Itoa(q.Key())
	log := &chaosLog{perProd: map[uint64]map[uint64]int{}}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var nextID uint64
	var started int
	start := func(producer bool, count int) *chaosChild {
		var cmd *exec.Cmd
		c := &chaosChild{producer: producer, mode: modes[started/2%len(modes)]}
		started++
		if !producer && c.mode == modeBatch && q.SingleProducer() {
			// A batch consumer puts back the stop messages its batch took
			// beyond its own, which only the producer role may do.
			c.mode = modeSingle
		}
		if producer {
			c.id = nextID
			nextID++
			cmd = childCommand(t, "chaos-producer", key, strconv.FormatUint(c.id, 10), strconv.Itoa(count), c.mode)
		} else {
			// A pipe of our own, not StdoutPipe: Wait closes that one, and
			// a killed consumer's last records must still be read.
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd = childCommand(t, "chaos-consumer", key, c.mode)
			cmd.Stdout = w
			defer w.Close()
			log.readers.Add(1)
			go func() {
				defer r.Close()
				log.read(r)
			}()
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c.cmd = cmd
		return c
	}
	var live []*chaosChild
	for i := 0; i < max(producers, consumerProcs); i++ {
		if i < producers {
			live = append(live, start(true, 0))
		}
		if i < consumerProcs {
			live = append(live, start(false, 0))
		}
	}
	defer func() {
		for _, c := range live {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	}()
	var prodKills, consKills int
	var prodBound, consBound int // messages the kills may cost
	killedModes := map[string]int{}
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(rng.IntN(pause)) * time.Microsecond)
		i := rng.IntN(len(live))
		victim := live[i]
		victim.cmd.Process.Signal(syscall.SIGKILL)
		err := victim.cmd.Wait()
		if st, ok := victim.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !st.Signaled() {
			t.Fatalf("child exited before it was killed: %v", err)
		}
		if victim.producer {
			prodKills++
			prodBound += victim.lossBound()
		} else {
			consKills++
			consBound += victim.lossBound()
		}
		killedModes[victim.mode]++
		live[i] = start(victim.producer, 0)
	}
	// Stop the endless producers, then prove the queue still flows: fresh
	// producers' messages must all arrive.
	var consumers []*chaosChild
	for _, c := range live {
		if c.producer {
			c.cmd.Process.Signal(syscall.SIGKILL)
			c.cmd.Wait()
			prodKills++
			prodBound += c.lossBound()
		} else {
			consumers = append(consumers, c)
		}
	}
	const finalCount = 3000
	var finals []*chaosChild
	for i := 0; i < producers; i++ {
		finals = append(finals, start(true, finalCount))
	}
	live = append(consumers, finals...)
	for _, c := range finals {
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("final producer: %v", err)
		}
	}
	if q.SingleProducer() {
		// The producers are done: take their role to stop the consumers.
		h := mustOpen(t, q.Key(), AsProducer())
		defer h.Close()
		q = h
	}
	stop := make([]byte, q.MsgSize())
	fillMsg(stop, stopProducer, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for range consumers {
		if err := q.EnqueueBlock(ctx, stop); err != nil {
			t.Fatalf("queue wedged: %v (stats %+v)", err, q.Stats())
		}
	}
	for _, c := range consumers {
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("consumer: %v", err)
		}
	}
	live = nil
	log.readers.Wait()

	if log.orderFault != "" {
		t.Fatal(log.orderFault)
	}
	received, gaps := 0, 0
	for p, seqs := range log.perProd {
		maxSeq := receivedOnce(t, fmt.Sprintf("producer %d", p), seqs)
		received += len(seqs)
		gaps += int(maxSeq) + 1 - len(seqs)
	}
	for _, c := range finals {
		if n := len(log.perProd[c.id]); n != finalCount {
			t.Fatalf("final producer %d: %d of %d messages arrived", c.id, n, finalCount)
		}
	}
	st := q.Stats()
	t.Logf("kills %d (producers %d, consumers %d; by mode %v); received %d messages; lost in the middle of a sequence %d; stats %+v",
		prodKills+consKills, prodKills, consKills, killedModes, received, gaps, st)
	if gaps > consBound {
		t.Fatalf("%d messages missing from the middle of sequences, the %d killed consumers had at most %d in hand", gaps, consKills, consBound)
	}
	if st.Lost > uint64(prodBound+consBound) {
		t.Fatalf("%d messages lost, more than the %d the %d kills had in hand", st.Lost, prodBound+consBound, prodKills+consKills)
	}
}
