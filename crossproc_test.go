package shqueue

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

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
