package shqueue

import (
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

func init() {
	// chaos-producer KEY ID COUNT MODE: enqueue COUNT messages (0: until
	// killed) one at a time, in batches of up to chaosBatch, or in place
	// (crossproc_batch_test.go).
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
