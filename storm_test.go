//go:build linux

package shqueue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Storms: goroutines that share one handle must be as safe as separate
// handles. Producer and consumer processes (the test binary re-executed) move
// 1 MiB self-checking messages through 8 slots while the test SIGKILLs and
// restarts them, as a supervisor would, or SIGSTOPs and SIGCONTs them.
// Each storm asserts:
//
//   - no wedge: after every kill (or SIGCONT) the head moves a full lap plus
//     one within stormProgressBound, so it has passed every claim that stood
//     at that moment; a wedge fails with a dump of positions, slots and table;
//   - nothing goes backwards: a monitor samples head, tail and every slot's
//     sequence word and fails if any of them decreases or names a position
//     that cannot belong to its slot;
//   - no tear: a consumer checks every word of the message;
//   - no duplicate, and per-producer order in every consumer goroutine;
//   - losses within the kills: messages missing from the middle of a
//     producer's sequence, and Stats().Lost, at most one per goroutine that
//     a killed process had inside the queue.
//
// BenchmarkRecovery, at the end, measures how long that recovery takes.
//
// Linux only: it uses SIGSTOP and the /proc liveness the recovery relies on.

const (
	stormWords    = 1 << 17 // 1 MiB messages
	stormCapacity = 8
	stormShared   = 4 // goroutines sharing one handle
)

func init() {
	// storm-producer KEY BASE GOROUTINES COUNT: GOROUTINES goroutines share
	// one handle; goroutine g enqueues messages of producer stream BASE+g,
	// sequence 0, 1, …, COUNT of them (0: until stdin closes or the process
	// is killed). When stdin closes each goroutine finishes the message in
	// hand; the process then prints "stream count" lines and exits.
	registerChild("storm-producer", func(args []string) int {
		q := childOpen("storm producer", args[0])
		base, goroutines, count := argUint(args, 1), argInt(args, 2), argUint(args, 3)
		var stop atomic.Bool
		go func() {
			io.Copy(io.Discard, os.Stdin)
			stop.Store(true)
		}()
		counts := make([]uint64, goroutines)
		ok, err := shareHandle(q, goroutines, func(g int) bool {
			msg := make([]byte, q.MsgSize())
			for s := uint64(0); (count == 0 || s < count) && !stop.Load(); s++ {
				fillWords(msg, base+uint64(g), s)
				if err := q.EnqueueBlock(context.Background(), msg); err != nil {
					fmt.Fprintln(os.Stderr, "storm producer:", err)
					return false
				}
				counts[g] = s + 1
			}
			return true
		})
		if err != nil {
			return childFail("storm producer", err)
		}
		for g, n := range counts {
			fmt.Printf("%d %d\n", base+uint64(g), n)
		}
		return exitCode(ok)
	})
	// storm-consumer KEY BASE GOROUTINES: GOROUTINES goroutines share one
	// handle; goroutine g dequeues, checks each message whole, and reports
	// it at once as a 24-byte record (producer stream, sequence, reader
	// BASE+g) in one write, so a kill loses at most the message in hand.
	// A goroutine ends at a stop message; exit 3 on a torn message.
	registerChild("storm-consumer", func(args []string) int {
		q := childOpen("storm consumer", args[0])
		base, goroutines := argUint(args, 1), argInt(args, 2)
		ok, err := shareHandle(q, goroutines, func(g int) bool {
			buf := make([]byte, q.MsgSize())
			var rec [24]byte
			for {
				if err := q.DequeueBlock(context.Background(), buf); err != nil {
					fmt.Fprintln(os.Stderr, "storm consumer:", err)
					return false
				}
				p, s, bad := checkWords(buf)
				if bad >= 0 {
					fmt.Fprintf(os.Stderr, "storm consumer %d: %s\n", os.Getpid(), describeTear(buf))
					os.Exit(3)
				}
				if p == stopProducer {
					return true
				}
				binary.LittleEndian.PutUint64(rec[0:], p)
				binary.LittleEndian.PutUint64(rec[8:], s)
				binary.LittleEndian.PutUint64(rec[16:], base+uint64(g))
				if _, err := os.Stdout.Write(rec[:]); err != nil {
					return false
				}
			}
		})
		if err != nil {
			return childFail("storm consumer", err)
		}
		return exitCode(ok)
	})
}

// shareHandle runs work(g) in goroutines g = 0..goroutines-1 that share the
// handle q, waits for them and closes q. ok says whether every work call
// succeeded; err is Close's.
func shareHandle(q *Queue, goroutines int, work func(g int) bool) (ok bool, err error) {
	var failed atomic.Bool
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !work(g) {
				failed.Store(true)
			}
		}()
	}
	wg.Wait()
	return !failed.Load(), q.Close()
}

// exitCode is a child's exit code: 0 if it succeeded, 1 if not.
func exitCode(ok bool) int {
	if ok {
		return 0
	}
	return 1
}

// stormProgressBound is how long the head may take to move a full lap after a
// kill or a SIGCONT. Recovery takes milliseconds and a lap tens of them; the
// bound leaves a loaded machine a wide margin, yet stays under 5 s, so a
// claim settled only by a timeout of that length (rather than found dead)
// fails. The race detector slows every process several-fold (laps of over
// a second measured on a loaded two-core machine) and emulators more: they
// get more time, and the plain run keeps the tight bound.
func stormProgressBound() time.Duration {
	switch {
	case os.Getenv(childWrapperEnv) != "":
		return time.Minute
	case raceEnabled:
		return 15 * time.Second
	}
	return 4 * time.Second
}

type stormProc struct {
	cmd        *exec.Cmd
	producer   bool
	base       uint64 // first producer stream or reader id
	goroutines int
	stdin      io.WriteCloser // producers: closing it stops them
	out        *bytes.Buffer  // producers: their final counts
	stopped    bool
	exited     chan struct{} // closed when Wait returns
	waitErr    error
}

func (p *stormProc) String() string {
	state := "running"
	select {
	case <-p.exited:
		state = "exited (" + fmt.Sprint(p.waitErr) + ")"
	default:
		if p.stopped {
			state = "stopped"
		}
	}
	kind := "consumer"
	if p.producer {
		kind = "producer"
	}
	return fmt.Sprintf("%s pid %d (ids %d..%d, %s)", kind, p.cmd.Process.Pid, p.base, p.base+uint64(p.goroutines)-1, state)
}

// storm runs the processes of one storm and gathers what consumers report.
type storm struct {
	t   *testing.T
	q   *Queue
	key string

	mu        sync.Mutex
	perStream map[uint64]map[uint64]int // producer stream → seq → times received
	last      map[[2]uint64]uint64      // (reader, stream) → last seq
	fault     string
	records   atomic.Int64
	readers   sync.WaitGroup

	nextStream, nextReader uint64
	procs                  []*stormProc // every process started, live or not
	finalCounts            map[uint64]uint64

	monitorStop chan struct{}
	monitorDone chan struct{}
	monitorErr  atomic.Pointer[string]
	event       atomic.Pointer[string] // what the storm did last, for the monitor's report
	samples     atomic.Int64
}

func newStorm(t *testing.T) *storm {
	q := newTestQueue(t, stormWords, stormCapacity)
	s := &storm{
		t:           t,
		q:           q,
		key:         strconv.Itoa(q.Key()),
		perStream:   map[uint64]map[uint64]int{},
		last:        map[[2]uint64]uint64{},
		finalCounts: map[uint64]uint64{},
		monitorStop: make(chan struct{}),
		monitorDone: make(chan struct{}),
	}
	// Registered after newTestQueue's cleanup, so it runs first: no process
	// is left behind, stopped or not, before the segment is removed.
	t.Cleanup(func() {
		for _, p := range s.procs {
			select {
			case <-p.exited:
				continue
			default:
			}
			p.cmd.Process.Signal(syscall.SIGKILL)
			p.cmd.Process.Signal(syscall.SIGCONT)
			<-p.exited
		}
		s.stopMonitor()
	})
	go s.monitor()
	return s
}

func (s *storm) start(producer bool, goroutines int, count int) *stormProc {
	t := s.t
	p := &stormProc{producer: producer, goroutines: goroutines, exited: make(chan struct{})}
	var closeAfterStart []io.Closer
	if producer {
		p.base = s.nextStream
		s.nextStream += uint64(goroutines)
		p.cmd = childCommand(t, "storm-producer", s.key, strconv.FormatUint(p.base, 10), strconv.Itoa(goroutines), strconv.Itoa(count))
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		p.cmd.Stdin, p.stdin = r, w
		closeAfterStart = append(closeAfterStart, r)
		p.out = &bytes.Buffer{}
		p.cmd.Stdout = p.out
	} else {
		p.base = s.nextReader
		s.nextReader += uint64(goroutines)
		p.cmd = childCommand(t, "storm-consumer", s.key, strconv.FormatUint(p.base, 10), strconv.Itoa(goroutines))
		// A pipe of our own, not StdoutPipe: Wait closes that one, and a
		// killed consumer's last records must still be read.
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		p.cmd.Stdout = w
		closeAfterStart = append(closeAfterStart, w)
		s.readers.Add(1)
		go func() {
			defer s.readers.Done()
			defer r.Close()
			s.read(r)
		}()
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, c := range closeAfterStart {
		c.Close()
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	s.procs = append(s.procs, p)
	return p
}

func (s *storm) read(r io.Reader) {
	var rec [24]byte
	for {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			return
		}
		stream := binary.LittleEndian.Uint64(rec[0:])
		seq := binary.LittleEndian.Uint64(rec[8:])
		reader := binary.LittleEndian.Uint64(rec[16:])
		s.records.Add(1)
		s.mu.Lock()
		k := [2]uint64{reader, stream}
		if prev, ok := s.last[k]; ok && seq <= prev && s.fault == "" {
			s.fault = fmt.Sprintf("producer stream %d: reader %d received seq %d after %d", stream, reader, seq, prev)
		}
		s.last[k] = seq
		if s.perStream[stream] == nil {
			s.perStream[stream] = map[uint64]int{}
		}
		s.perStream[stream][seq]++
		s.mu.Unlock()
	}
}

// kill SIGKILLs p and waits until it is gone.
func (s *storm) kill(p *stormProc) {
	s.t.Helper()
	s.note("SIGKILL to %v", p)
	p.cmd.Process.Signal(syscall.SIGKILL)
	if p.stopped {
		p.cmd.Process.Signal(syscall.SIGCONT)
		p.stopped = false
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		s.t.Fatalf("%v did not die from SIGKILL", p)
	}
	if p.stdin != nil {
		p.stdin.Close()
	}
	if st, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !st.Signaled() {
		s.fail("%v exited before it was killed: %v", p, p.waitErr)
	}
}

func (s *storm) stop(p *stormProc) {
	s.note("SIGSTOP to %v", p)
	p.cmd.Process.Signal(syscall.SIGSTOP)
	p.stopped = true
}

func (s *storm) cont(p *stormProc) {
	s.note("SIGCONT to %v", p)
	p.cmd.Process.Signal(syscall.SIGCONT)
	p.stopped = false
}

// note records what the storm does, for the monitor's report.
func (s *storm) note(format string, args ...any) {
	e := fmt.Sprintf("%s (at %s)", fmt.Sprintf(format, args...), time.Now().Format("15:04:05.000"))
	s.event.Store(&e)
}

// replace starts a process like p (a new one: new producer streams and
// reader ids) in its place in list.
func (s *storm) replace(list []*stormProc, i int) {
	p := list[i]
	list[i] = s.start(p.producer, p.goroutines, 0)
}

// head is the consumers' position.
func (s *storm) head() uint64 { return atomic.LoadUint64(s.q.head) }

// awaitProgress fails unless the head moves a full lap plus one beyond from
// (the head when the event happened) within the bound: only then has it
// passed every claim that stood at that moment.
func (s *storm) awaitProgress(from uint64, after string) time.Duration {
	s.t.Helper()
	start := time.Now()
	deadline := start.Add(stormProgressBound())
	target := from + stormCapacity + 1
	for s.head() < target {
		s.checkMonitor()
		for _, p := range s.procs {
			select {
			case <-p.exited:
				if st, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && !st.Signaled() {
					s.fail("%v exited by itself while waiting for progress after %s", p, after)
				}
			default:
			}
		}
		if time.Now().After(deadline) {
			s.fail("wedged: head %d has not reached %d within %v after %s", s.head(), target, stormProgressBound(), after)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// fail stops the test with everything needed to tell what went wrong.
func (s *storm) fail(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("%s\n%s", fmt.Sprintf(format, args...), s.dump())
}

// dump describes the queue as Inspect sees it, every slot's words, the table
// and the storm's processes.
func (s *storm) dump() string {
	var b strings.Builder
	key, _ := strconv.Atoi(s.key)
	info, err := Inspect(key)
	if err != nil {
		fmt.Fprintf(&b, "inspect: %v\n", err)
	} else {
		fmt.Fprintf(&b, "queue %#x: head %d, tail %d, len %d, stats %+v, sleeping consumers %d, producers %d\n",
			key, info.Head, info.Tail, info.Len, info.Stats, info.SleepingConsumers, info.SleepingProducers)
		for _, p := range info.Processes {
			fmt.Fprintf(&b, "  table entry %d: pid %d alive %v sleeping consumers %d producers %d\n",
				p.Entry, p.PID, p.Alive, p.SleepingConsumers, p.SleepingProducers)
		}
	}
	b.WriteString(describeSlots(s.q))
	s.mu.Lock()
	fmt.Fprintf(&b, "records received: %d\n", s.records.Load())
	s.mu.Unlock()
	for _, p := range s.procs {
		fmt.Fprintf(&b, "  %v\n", p)
	}
	return b.String()
}

// slotSeqPos is the position a slot sequence word names, flags removed.
func slotSeqPos(seq uint64) uint64 { return (seq &^ seqAbandoned) >> 1 }

// describeSlots lists every slot's sequence word and what it says, and the
// claims recorded in the table's lanes.
func describeSlots(q *Queue) string {
	var b strings.Builder
	head, tail := atomic.LoadUint64(q.head), atomic.LoadUint64(q.tail)
	fmt.Fprintf(&b, "  head %d, tail %d\n", head, tail)
	for i := uint64(0); i < q.capacity; i++ {
		seq := atomic.LoadUint64((*uint64)(q.slot(i)))
		pos := slotSeqPos(seq)
		state := "free"
		if seq&1 == 1 {
			state = "published"
			if seq&seqAbandoned != 0 {
				state = "abandoned"
			}
		}
		note := ""
		switch {
		case state == "free" && pos < tail:
			note = " (claimed by a producer, not published)"
		case state != "free" && pos < head:
			note = " (claimed by a consumer, not released)"
		}
		fmt.Fprintf(&b, "  slot %d: seq %#x = %s for position %d%s\n", i, seq, state, pos, note)
	}
	kinds := map[uint64]string{recEnq: "enqueue", recDeq: "dequeue", recShift: "shift"}
	for i := 0; i < procEntries; i++ {
		e := q.entry(i)
		pid := e.pid()
		if pid == 0 {
			continue
		}
		fmt.Fprintf(&b, "  entry %d: pid %d, alive %v, claims on record:", i, pid, processAlive(pid, e.start()))
		for l := 0; l < procLanes; l++ {
			if r := atomic.LoadUint64(e.lane(l)); r != 0 {
				fmt.Fprintf(&b, " lane %d %s %d;", l, kinds[r&recKindMask], r&recPosMask)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// monitor samples positions and slot sequence words until stopped, and
// records the first sample in which something went backwards or names a
// position its slot cannot hold.
func (s *storm) monitor() {
	defer close(s.monitorDone)
	q := s.q
	prevSeq := make([]uint64, q.capacity)
	var prevHead, prevTail uint64
	for i := range prevSeq {
		prevSeq[i] = freeSeq(uint64(i))
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.monitorStop:
			return
		case <-tick.C:
		}
		headA := atomic.LoadUint64(q.head)
		tail := atomic.LoadUint64(q.tail)
		var bad string
		switch {
		case headA < prevHead || tail < prevTail:
			bad = fmt.Sprintf("positions went backwards: head %d → %d, tail %d → %d", prevHead, headA, prevTail, tail)
		case headA > tail:
			bad = fmt.Sprintf("head %d is past tail %d", headA, tail)
		}
		for i := uint64(0); i < q.capacity && bad == ""; i++ {
			seq := atomic.LoadUint64((*uint64)(q.slot(i)))
			pos := slotSeqPos(seq)
			switch {
			case pos%q.capacity != i:
				bad = fmt.Sprintf("slot %d: sequence %#x names position %d, which belongs to slot %d", i, seq, pos, pos%q.capacity)
			case seq&^seqAbandoned < prevSeq[i]&^seqAbandoned:
				bad = fmt.Sprintf("slot %d: sequence went backwards, %#x → %#x", i, prevSeq[i], seq)
			}
			prevSeq[i] = seq
		}
		headB := atomic.LoadUint64(q.head)
		if bad == "" && tail > headB+q.capacity {
			bad = fmt.Sprintf("tail %d is more than a lap past head %d", tail, headB)
		}
		// A slot released for the next lap names pos+capacity with pos below
		// the head, so below the tail read after it.
		tailB := atomic.LoadUint64(q.tail)
		for i := uint64(0); i < q.capacity && bad == ""; i++ {
			if pos := slotSeqPos(prevSeq[i]); pos >= tailB+q.capacity {
				bad = fmt.Sprintf("slot %d: sequence %#x names position %d, a lap or more past tail %d", i, prevSeq[i], pos, tailB)
			}
		}
		s.samples.Add(1)
		if bad != "" {
			msg := bad + " (seen at " + time.Now().Format("15:04:05.000") + ")\n" + describeSlots(q)
			if e := s.event.Load(); e != nil {
				msg = "after " + *e + ": " + msg
			}
			s.monitorErr.CompareAndSwap(nil, &msg)
			return
		}
		prevHead, prevTail = headA, tail
	}
}

func (s *storm) stopMonitor() {
	select {
	case <-s.monitorStop:
	default:
		close(s.monitorStop)
	}
	<-s.monitorDone
}

func (s *storm) checkMonitor() {
	s.t.Helper()
	if m := s.monitorErr.Load(); m != nil {
		s.t.Fatalf("monitor: %s", *m)
	}
}

// waitExit waits for p to exit by itself within d and fails unless it
// exited with status 0.
func (s *storm) waitExit(p *stormProc, d time.Duration, what string) {
	s.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		s.fail("%v did not finish within %v (%s)", p, d, what)
	}
	if p.waitErr != nil {
		if st, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && st.ExitStatus() == 3 {
			s.fail("%v delivered a torn message (see its output above)", p)
		}
		s.fail("%v: %v (%s)", p, p.waitErr, what)
	}
}

// finish ends a storm: it resumes and stops every producer (each finishes
// the message in hand), sends every consumer goroutine a stop message, waits
// for all of them, and checks what the consumers received. lossBound is the
// most messages the storm's kills may have cost.
func (s *storm) finish(live []*stormProc, lossBound int, gapsAllowed bool) (received, gaps int, st Stats) {
	t := s.t
	t.Helper()
	// Winding down is not a recovery: it may take a few laps on a loaded
	// machine, so it gets more time, but a wedge still fails.
	bound := 8 * stormProgressBound()
	for _, p := range live {
		if p.stopped {
			s.cont(p)
		}
	}
	consumerGoroutines := 0
	for _, p := range live {
		if p.producer {
			p.stdin.Close()
		} else {
			consumerGoroutines += p.goroutines
		}
	}
	for _, p := range live {
		if !p.producer {
			continue
		}
		s.waitExit(p, bound, "stopping producers")
		for _, line := range strings.Split(strings.TrimSpace(p.out.String()), "\n") {
			var stream, n uint64
			if _, err := fmt.Sscan(line, &stream, &n); err != nil {
				t.Fatalf("%v: output %q: %v", p, p.out.String(), err)
			}
			s.finalCounts[stream] = n
		}
	}
	stop := make([]byte, s.q.MsgSize())
	fillWords(stop, stopProducer, 0)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	for range consumerGoroutines {
		if err := s.q.EnqueueBlock(ctx, stop); err != nil {
			s.fail("wedged at the end: stop message: %v", err)
		}
	}
	for _, p := range live {
		if !p.producer {
			s.waitExit(p, bound, "stopping consumers")
		}
	}
	readersDone := make(chan struct{})
	go func() {
		s.readers.Wait()
		close(readersDone)
	}()
	select {
	case <-readersDone:
	case <-time.After(bound):
		s.fail("consumer output still open %v after they exited", bound)
	}
	s.stopMonitor()
	s.checkMonitor()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fault != "" {
		t.Fatal(s.fault)
	}
	for stream, seqs := range s.perStream {
		maxSeq := receivedOnce(t, fmt.Sprintf("producer stream %d", stream), seqs)
		received += len(seqs)
		if n, ok := s.finalCounts[stream]; ok {
			// A producer that stopped cleanly: every message it enqueued
			// is accounted for.
			if len(seqs) > 0 && maxSeq >= n {
				t.Fatalf("producer stream %d enqueued %d messages, seq %d arrived", stream, n, maxSeq)
			}
			gaps += int(n) - len(seqs)
		} else {
			gaps += int(maxSeq) + 1 - len(seqs)
		}
	}
	for stream, n := range s.finalCounts {
		if _, ok := s.perStream[stream]; !ok {
			gaps += int(n)
		}
	}
	st = s.q.Stats()
	if !gapsAllowed && gaps > 0 {
		t.Fatalf("%d messages missing from producers' sequences with no consumer killed (stats %+v)", gaps, st)
	}
	if gaps > lossBound {
		t.Fatalf("%d messages missing from producers' sequences, more than the %d the kills may cost (stats %+v)", gaps, lossBound, st)
	}
	if st.Lost > uint64(lossBound) {
		t.Fatalf("Stats().Lost %d, more than the %d the kills may cost", st.Lost, lossBound)
	}
	return received, gaps, st
}

// killRandomly waits for the storm to start moving, then SIGKILLs a random
// one of victims at random moments (30 times, 8 in short runs, or
// SHQUEUE_STORM_KILLS), replacing each at once and requiring the head to
// move a full lap after each kill. It returns the number of kills and the
// slowest of those laps. seed tells the tests' random sequences apart.
func (s *storm) killRandomly(t *testing.T, victims []*stormProc, seed uint64) (kills int, worst time.Duration) {
	kills = 30
	if stormShort() {
		kills = 8
	}
	kills = stormEnvInt(t, "SHQUEUE_STORM_KILLS", kills)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), seed))
	s.awaitProgress(0, "start")
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(rng.IntN(20000)) * time.Microsecond)
		i := rng.IntN(len(victims))
		from := s.head()
		victim := victims[i]
		s.kill(victim)
		s.replace(victims, i)
		worst = max(worst, s.awaitProgress(from, fmt.Sprintf("kill %d of %d (%v)", k+1, kills, victim)))
	}
	return kills, worst
}

// TestStormKillSharedConsumers SIGKILLs consumer processes whose goroutines
// share one handle, at random moments, and restarts each at once.
func TestStormKillSharedConsumers(t *testing.T) {
	s := newStorm(t)
	producers := []*stormProc{s.start(true, 1, 0), s.start(true, 1, 0)}
	consumers := []*stormProc{s.start(false, stormShared, 0), s.start(false, stormShared, 0)}
	kills, worst := s.killRandomly(t, consumers, 2)
	// Each goroutine of a killed consumer may have had one message in hand.
	received, gaps, st := s.finish(append(producers, consumers...), kills*stormShared, true)
	// Producers all stopped cleanly, so every message counted lost was
	// taken by a consumer that died: it cannot have arrived.
	if st.Lost > uint64(gaps) {
		t.Fatalf("Stats().Lost %d, but only %d messages are missing", st.Lost, gaps)
	}
	t.Logf("%d consumer kills; received %d messages; %d missing from the middle; stats %+v; slowest lap after a kill %v; %d monitor samples",
		kills, received, gaps, st, worst, s.samples.Load())
}

// TestStormKillSharedProducers SIGKILLs producer processes whose goroutines
// share one handle, at random moments, and restarts each at once. No
// consumer dies, so no published message may go missing.
func TestStormKillSharedProducers(t *testing.T) {
	s := newStorm(t)
	producers := []*stormProc{s.start(true, stormShared, 0), s.start(true, stormShared, 0)}
	consumers := []*stormProc{s.start(false, 1, 0), s.start(false, 1, 0)}
	kills, worst := s.killRandomly(t, producers, 3)
	// Each goroutine of a killed producer may have died inside a claim.
	received, gaps, st := s.finish(append(producers, consumers...), kills*stormShared, false)
	t.Logf("%d producer kills; received %d messages; %d missing from the middle; stats %+v; slowest lap after a kill %v; %d monitor samples",
		kills, received, gaps, st, worst, s.samples.Load())
}

// pendingClaims counts positions claimed and not yet finished: by producers
// (tail passed them, not published) and by consumers (head passed them, not
// released).
func pendingClaims(q *Queue) (producer, consumer int) {
	head, tail := atomic.LoadUint64(q.head), atomic.LoadUint64(q.tail)
	for i := uint64(0); i < q.capacity; i++ {
		seq := atomic.LoadUint64((*uint64)(q.slot(i)))
		pos := slotSeqPos(seq)
		switch {
		case seq&1 == 0 && pos < tail:
			producer++
		case seq&1 == 1 && pos < head:
			consumer++
		}
	}
	return producer, consumer
}

// TestStormStopShared SIGSTOPs producer and consumer processes whose
// goroutines share one handle, for up to a few seconds, and resumes them.
// Some stops last over 5 s and catch the process inside a claim while
// another process has died and is still in the table: a live claim must
// not be given away, or if it is, its owner must notice when it resumes.
func TestStormStopShared(t *testing.T) {
	stops, long := 6, 1
	if stormShort() {
		stops, long = 6, 0
	}
	stops = stormEnvInt(t, "SHQUEUE_STORM_STOPS", stops)
	long = stormEnvInt(t, "SHQUEUE_STORM_LONG_STOPS", long)
	s := newStorm(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	procs := []*stormProc{
		s.start(true, stormShared, 0), s.start(true, stormShared, 0),
		s.start(false, stormShared, 0), s.start(false, stormShared, 0),
	}
	s.awaitProgress(0, "start")
	kills, longDone, inClaim := 0, 0, 0
	var worst time.Duration
	for k := 0; k < stops || longDone < long; k++ {
		time.Sleep(time.Duration(rng.IntN(20000)) * time.Microsecond)
		i := rng.IntN(len(procs))
		victim := procs[i]
		s.stop(victim)
		time.Sleep(20 * time.Millisecond) // let the others run into its claims
		prodClaims, consClaims := pendingClaims(s.q)
		claimed := (victim.producer && prodClaims > 0) || (!victim.producer && consClaims > 0)
		what := fmt.Sprintf("stop %d (%v)", k+1, victim)
		if claimed {
			inClaim++
		}
		// The long stops alternate between a producer and a consumer,
		// producer first: a producer's claim is the one the owner word
		// does not record.
		if claimed && longDone < long && victim.producer == (longDone%2 == 0) {
			// Kill another process, and leave it dead in the table while
			// the victim stands still inside its claim for over 5 s.
			j := (i + 1 + rng.IntN(len(procs)-1)) % len(procs)
			other := procs[j]
			lostBefore := s.q.Stats().Lost
			s.kill(other)
			kills++
			time.Sleep(5500*time.Millisecond + time.Duration(rng.IntN(1000))*time.Millisecond)
			lostStopped := s.q.Stats().Lost
			from := s.head()
			s.cont(victim)
			s.replace(procs, j)
			longDone++
			what = fmt.Sprintf("long stop %d inside a claim with %v dead", longDone, other)
			took := s.awaitProgress(from, "SIGCONT after "+what+" of "+victim.String())
			worst = max(worst, took)
			t.Logf("%s: %v held %d producer and %d consumer claims; Lost %d before the kill, %d at SIGCONT, %d a lap later (%v)",
				what, victim, prodClaims, consClaims, lostBefore, lostStopped, s.q.Stats().Lost, took)
			continue
		}
		time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
		from := s.head()
		s.cont(victim)
		worst = max(worst, s.awaitProgress(from, "SIGCONT after "+what))
		if k > 10*max(stops, 1) && longDone < long {
			t.Fatalf("no stop of %d landed inside a claim for the long stop", k)
		}
	}
	received, gaps, st := s.finish(procs, kills*stormShared, true)
	t.Logf("%d stops (%d inside a claim, %d long), %d kills; received %d messages; %d missing from the middle; stats %+v; slowest lap after SIGCONT %v; %d monitor samples",
		max(stops, long), inClaim, longDone, kills, received, gaps, st, worst, s.samples.Load())
}

// Recovery time: from the SIGKILL of a process that holds a claim to the next
// message delivered to a survivor waiting behind that claim. Messages are
// 8 MiB, so a victim spends most of its time inside a claim (copying).
//
//   - dead=producer: the victim enqueues; the survivor is a consumer blocked
//     at the victim's claimed position. After the kill a live producer
//     enqueues one message behind it; the sample ends when the survivor's
//     DequeueBlock returns that message.
//   - dead=consumer: the victim dequeues; the survivor is the producer,
//     blocked once the queue is full behind the victim's unreleased slot.
//     The sample ends when the survivor's EnqueueBlock into that slot
//     returns.
//   - dead=none: no kill, the floor: from the start of one enqueue to the
//     return of a waiting consumer's DequeueBlock (two 8 MiB copies).
//
// The victim is stopped (SIGSTOP) at a random moment and killed only if it
// stopped inside a claim; otherwise it resumes and is stopped again later.
// It reports p50-ms, p99-ms and max-ms over b.N samples, and missed-stops
// (stops that found no claim). Run it with -benchtime 300x or so: every
// sample starts a new victim process.

const (
	recoveryWords = 1 << 20 // 8 MiB messages
	recoveryCap   = 2
	recoveryLive  = 1 << 20 // producer id of the survivors' messages
)

func init() {
	// recovery-victim KEY producer|consumer: open, say "ready", wait for a
	// byte on stdin, then enqueue (or dequeue) 8 MiB messages until killed.
	registerChild("recovery-victim", func(args []string) int {
		q := childOpen("recovery victim", args[0])
		msg := make([]byte, q.MsgSize())
		fillWords(msg, 7, 0)
		fmt.Println("ready")
		var go1 [1]byte
		if _, err := os.Stdin.Read(go1[:]); err != nil {
			return 1
		}
		for {
			if err := moveBlocking(q, args[1] == "producer", msg); err != nil {
				return childFail("recovery victim", err)
			}
		}
	})
}

type recoveryVictim struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startRecoveryVictim(b *testing.B, key int, role string) *recoveryVictim {
	cmd := childCommand(b, "recovery-victim", strconv.Itoa(key), role)
	stdin, stdout := startPiped(b, cmd)
	v := &recoveryVictim{cmd: cmd, stdin: stdin}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("said %q", line)
		}
		ready <- err
	}()
	var err error
	select {
	case err = <-ready:
	case <-time.After(time.Minute):
		err = fmt.Errorf("not ready after a minute")
	}
	if err != nil {
		v.kill()
		b.Fatalf("recovery victim: %v", err)
	}
	return v
}

// stop SIGSTOPs the victim and waits until the kernel reports it stopped.
func (v *recoveryVictim) stop(b *testing.B) {
	v.cmd.Process.Signal(syscall.SIGSTOP)
	stat := fmt.Sprintf("/proc/%d/stat", v.cmd.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); ; {
		data, err := os.ReadFile(stat)
		if err != nil {
			b.Fatalf("victim: %v", err)
		}
		// The state is the field after the command name, which ends at
		// the last ')'.
		if i := bytes.LastIndexByte(data, ')'); i >= 0 && i+2 < len(data) && data[i+2] == 'T' {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("victim not stopped 10 s after SIGSTOP: %s", data)
		}
		time.Sleep(20 * time.Microsecond)
	}
}

func (v *recoveryVictim) kill() {
	v.cmd.Process.Signal(syscall.SIGKILL)
	v.cmd.Wait()
	v.stdin.Close()
}

func BenchmarkRecovery(b *testing.B) {
	for _, dead := range []string{"producer", "consumer", "none"} {
		b.Run("dead="+dead, func(b *testing.B) { benchRecovery(b, dead) })
	}
}

func benchRecovery(b *testing.B, dead string) {
	q := newTestQueue(b, recoveryWords, recoveryCap)
	survivor, err := Open(q.Key())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	delivered := map[uint64]time.Time{} // survivor's messages: position (dead=consumer) or count (otherwise) → when
	var survivorDone sync.WaitGroup
	survivorDone.Add(1)
	var victim *recoveryVictim
	b.Cleanup(func() {
		if victim != nil {
			victim.kill()
		}
		cancel()
		survivorDone.Wait()
		survivor.Close()
	})
	go func() {
		defer survivorDone.Done()
		msg := make([]byte, q.MsgSize())
		fillWords(msg, recoveryLive, 0)
		for n := uint64(0); ; {
			if dead == "consumer" {
				if survivor.EnqueueBlock(ctx, msg) != nil {
					return
				}
				// The only producer: the tail is one past its message.
				pos := atomic.LoadUint64(q.tail) - 1
				mu.Lock()
				delivered[pos] = time.Now()
				mu.Unlock()
				continue
			}
			if survivor.DequeueBlock(ctx, msg) != nil {
				return
			}
			if binary.LittleEndian.Uint64(msg) == recoveryLive {
				mu.Lock()
				delivered[n] = time.Now()
				n++
				mu.Unlock()
			}
		}
	}()
	await := func(k uint64, what string) time.Time {
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			at, ok := delivered[k]
			mu.Unlock()
			if ok {
				return at
			}
			if time.Now().After(deadline) {
				b.Fatalf("wedged: no %s within 10 s\n%s", what, describeSlots(q))
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	live := make([]byte, q.MsgSize())
	fillWords(live, recoveryLive, 0)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	samples := make([]time.Duration, 0, b.N)
	var liveSent uint64
	missed := 0
	b.ResetTimer()
	for len(samples) < b.N {
		if dead == "none" {
			time.Sleep(time.Duration(1000+rng.IntN(4000)) * time.Microsecond)
			t0 := time.Now()
			if err := q.EnqueueBlock(ctx, live); err != nil {
				b.Fatal(err)
			}
			samples = append(samples, await(liveSent, "message").Sub(t0))
			liveSent++
			continue
		}
		b.StopTimer()
		victim = startRecoveryVictim(b, q.Key(), dead)
		b.StartTimer()
		victim.stdin.Write([]byte{1})
		// Stop the victim, and kill it only if it stopped inside a claim:
		// checking after the kill would miss the claims that recovery
		// settled before the check, the fastest recoveries.
		var pos uint64
		for try := 0; ; try++ {
			time.Sleep(time.Duration(1000+rng.IntN(5000)) * time.Microsecond)
			victim.stop(b)
			var claimed bool
			if dead == "producer" {
				n, _ := pendingClaims(q)
				claimed = n > 0
			} else {
				pos, claimed = consumerClaim(q)
			}
			if claimed {
				break
			}
			missed++
			if try == 1000 {
				b.Fatalf("the victim never stopped inside a claim in 1000 tries\n%s", describeSlots(q))
			}
			victim.cmd.Process.Signal(syscall.SIGCONT)
		}
		t0 := time.Now()
		victim.kill()
		victim = nil
		var t1 time.Time
		if dead == "producer" {
			if err := q.EnqueueBlock(ctx, live); err != nil {
				b.Fatal(err)
			}
			t1 = await(liveSent, "message delivered past the dead producer's claim")
			liveSent++
		} else {
			t1 = await(pos+q.capacity, "enqueue into the dead consumer's slot")
		}
		samples = append(samples, t1.Sub(t0))
	}
	b.StopTimer()
	slices.Sort(samples)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	n := len(samples)
	b.ReportMetric(ms(samples[n/2]), "p50-ms")
	b.ReportMetric(ms(samples[min(n-1, n*99/100)]), "p99-ms")
	b.ReportMetric(ms(samples[n-1]), "max-ms")
	b.ReportMetric(float64(missed)/float64(n), "missed-stops/op")
}

// consumerClaim finds a position a consumer claimed and has not released.
func consumerClaim(q *Queue) (uint64, bool) {
	head := atomic.LoadUint64(q.head)
	for i := uint64(0); i < q.capacity; i++ {
		seq := atomic.LoadUint64((*uint64)(q.slot(i)))
		if pos := slotSeqPos(seq); seq&1 == 1 && pos < head {
			return pos, true
		}
	}
	return 0, false
}
