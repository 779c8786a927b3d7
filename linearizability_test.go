package shqueue

// The linearizability test. Worker processes (the test binary re-executed)
// run random mixes of EnqueueTry, DequeueTry and EnqueueShift on one small
// queue (capacity 1-3), stamping every call with CLOCK_MONOTONIC (bench.Now: one
// clock for every process on the host, read through the vDSO) before the call
// and after its return.
// The parent merges the histories, drains the queue as one more client, and
// asks porcupine whether a sequential bounded FIFO queue explains them.
//
// The strict model is the contract: a Try call fails only when the queue is
// full (EnqueueTry) or empty (DequeueTry), and EnqueueShift drops the oldest
// message exactly when the queue is full. The loose model lets Try calls fail
// at any time and a shift drop any number of the oldest messages while it
// runs; it checks what must hold whatever the protocol: order, exactly-once,
// no invented messages, never more than Cap messages. Every round also checks,
// without a model, that every message arrives intact, and that Stats agrees
// with the history once the queue is drained.
//
// Knobs, for measuring rather than for CI:
//
//	SHQUEUE_LIN_ROUNDS=N     rounds per message size (no time budget)
//	SHQUEUE_LIN_SIZES=8,64   message sizes in bytes (multiples of 8)
//	SHQUEUE_LIN_KEEPGOING=1  run every round and report failed/run per
//	                         model instead of stopping at the first failure
//	SHQUEUE_LIN_VIS=DIR      where to write porcupine's HTML visualization
//	                         of failing rounds (default: a new temporary
//	                         directory, for the first failure only)

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/anishathalye/porcupine"
	"golang.org/x/sys/unix"

	"github.com/shqueue/shqueue/internal/bench"
)

// linQueueOpts are the options every handle in the linearizability test is
// created or opened with. A Try call waits TryWait for another process's
// operation in flight before it answers full or empty anyway (counted in
// Stats().Stalled). On a loaded 2-core machine a process can be descheduled
// mid-operation for many milliseconds, beyond the 2 ms default, so the test's
// handles wait generously, or they would answer early and the strict model
// would rightly reject the answer.
var linQueueOpts = []Option{WithTryWait(2 * time.Second)}

const (
	linWorkers      = 4  // worker processes per round
	linMinOps       = 20 // operations per worker per round, at least
	linMaxOps       = 60 // and at most
	linMaxCap       = 3  // capacities 1..linMaxCap
	linCheckTimeout = 10 * time.Second
)

// linKind is an operation in a history.
type linKind uint8

const (
	linEnqTry linKind = iota
	linDeqTry
	linShift
	// A shift in the models where it is not atomic: see linIn.
	linShiftBegin
	linShiftEnd
)

func (k linKind) String() string {
	switch k {
	case linEnqTry:
		return "EnqueueTry"
	case linDeqTry:
		return "DequeueTry"
	case linShift:
		return "EnqueueShift"
	}
	return fmt.Sprintf("linKind(%d)", uint8(k))
}

// linID names a message: the worker that enqueued it in its top byte, the
// worker's operation number below. Never zero.
func linID(client, op int) uint32 { return uint32(client+1)<<24 | uint32(op+1) }

func linIDString(id uint32) string {
	if id == 0 {
		return "-"
	}
	return fmt.Sprintf("w%d.%d", id>>24-1, id&(1<<24-1)-1)
}

// The message for id: word 0 holds id and, in its top half, a hash of id and
// the round's salt (so even an 8-byte message is self-checking, and a message
// from another round or a stale slot image does not pass); every further word
// is derived from word 0. A consumer checks every byte.
func linWord0(id, salt uint32) uint64 {
	return uint64(id) | uint64(uint32(mix64(uint64(id^salt))))<<32
}

func linWord(w0 uint64, i int) uint64 { return mix64(w0 + uint64(i)*0x9E3779B97F4A7C15) }

// mix64 is splitmix64's finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	return x ^ x>>31
}

func linFill(buf []byte, id, salt uint32) {
	w0 := linWord0(id, salt)
	binary.LittleEndian.PutUint64(buf, w0)
	for i := 1; i < len(buf)/8; i++ {
		binary.LittleEndian.PutUint64(buf[8*i:], linWord(w0, i))
	}
}

// linCheck returns the id of a message linFill wrote with salt, or an error
// naming the first wrong word.
func linCheck(buf []byte, salt uint32) (uint32, error) {
	w0 := binary.LittleEndian.Uint64(buf)
	id := uint32(w0)
	if id == 0 || w0 != linWord0(id, salt) {
		return 0, fmt.Errorf("word 0 is %#016x: no message of this round", w0)
	}
	for i := 1; i < len(buf)/8; i++ {
		if got := binary.LittleEndian.Uint64(buf[8*i:]); got != linWord(w0, i) {
			return id, fmt.Errorf("message %s torn: word %d of %d is %#016x, want %#016x", linIDString(id), i, len(buf)/8, got, linWord(w0, i))
		}
	}
	return id, nil
}

// linOp is one call in a history.
type linOp struct {
	client    int
	kind      linKind
	id        uint32 // the message enqueued, or dequeued when ok
	ok        bool   // the call's result (always true for EnqueueShift)
	call, ret int64  // CLOCK_MONOTONIC before the call and after its return
}

// linRoundSpec is what a worker needs for one round; it travels on the
// worker's stdin as one line.
type linRoundSpec struct {
	key    int
	salt   uint32
	seed   uint64
	client int
	round  uint64 // 1, 2, ...: the round's number, for the start barrier
}

func init() {
	// lin-worker: say "ready", then read round specs from stdin, one per
	// line, until EOF; run each round and write its history to stdout,
	// ending with "end".
	registerChild("lin-worker", func(args []string) int {
		barrier, err := openLinBarrier(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, "lin-worker:", err)
			return 1
		}
		in := bufio.NewScanner(os.Stdin)
		out := bufio.NewWriter(os.Stdout)
		fmt.Fprintln(out, "ready")
		if err := out.Flush(); err != nil {
			return 1
		}
		for in.Scan() {
			var s linRoundSpec
			if _, err := fmt.Sscan(in.Text(), &s.key, &s.salt, &s.seed, &s.client, &s.round); err != nil {
				fmt.Fprintln(os.Stderr, "lin-worker: bad spec:", err)
				return 2
			}
			ops, err := linWork(s, barrier)
			for _, op := range ops {
				fmt.Fprintf(out, "op %d %d %t %d %d\n", op.kind, op.id, op.ok, op.call, op.ret)
			}
			if err != nil {
				fmt.Fprintf(out, "error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			}
			fmt.Fprintln(out, "end")
			if err := out.Flush(); err != nil {
				return 1
			}
		}
		return 0
	})
}

// linWork runs one worker's round: 20-60 random calls, in proportions this
// worker draws for the round (so some rounds have producer-heavy workers,
// some consumer-heavy). A torn message ends the round with an error.
func linWork(s linRoundSpec, barrier *linBarrier) ([]linOp, error) {
	q, err := Open(s.key, linQueueOpts...)
	if err != nil {
		barrier.arrive(s.round) // do not hold the others up
		return nil, err
	}
	defer q.Close()
	rng := rand.New(rand.NewPCG(s.seed, uint64(s.client)))
	weights := [3]int{1 + rng.IntN(4), 1 + rng.IntN(4), 1 + rng.IntN(4)}
	n := linMinOps + rng.IntN(linMaxOps-linMinOps+1)
	kinds := make([]linKind, n)
	for i := range kinds {
		r := rng.IntN(weights[0] + weights[1] + weights[2])
		switch {
		case r < weights[0]:
			kinds[i] = linEnqTry
		case r < weights[0]+weights[1]:
			kinds[i] = linDeqTry
		default:
			kinds[i] = linShift
		}
	}
	msg := make([]byte, q.MsgSize())
	ops := make([]linOp, 0, n)
	barrier.arrive(s.round)
	for i, kind := range kinds {
		op := linOp{client: s.client, kind: kind}
		switch kind {
		case linEnqTry, linShift:
			op.id = linID(s.client, i)
			linFill(msg, op.id, s.salt)
			op.call = bench.Now()
			if kind == linEnqTry {
				op.ok = q.EnqueueTry(msg)
			} else {
				q.EnqueueShift(msg)
				op.ok = true
			}
			op.ret = bench.Now()
		case linDeqTry:
			clear(msg)
			op.call = bench.Now()
			op.ok = q.DequeueTry(msg)
			op.ret = bench.Now()
			if op.ok {
				id, err := linCheck(msg, s.salt)
				op.id = id
				if err != nil {
					return append(ops, op), fmt.Errorf("worker %d, call %d: %v", s.client, i, err)
				}
			}
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// linBarrier starts the workers of a round together: on a loaded machine
// processes told to start at the same instant start milliseconds apart, and a
// worker's round takes only a fraction of a millisecond at small sizes. It is
// a counter in a file every worker maps shared.
type linBarrier struct {
	arrived *uint64
}

func openLinBarrier(path string) (*linBarrier, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, 64, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return &linBarrier{arrived: (*uint64)(unsafe.Pointer(&mem[0]))}, nil
}

// arrive counts this worker in for the round and spins until the others are
// in. It spins rather than sleeps: a sleeper wakes tens to hundreds of
// microseconds late, after the first workers are done; spinners that hold a
// CPU start within nanoseconds of the last arrival. A worker that does not
// arrive in 10 s does not hold the round up.
func (b *linBarrier) arrive(round uint64) {
	target := round * linWorkers
	atomic.AddUint64(b.arrived, 1)
	deadline := time.Now().Add(10 * time.Second)
	for spins := 0; atomic.LoadUint64(b.arrived) < target; spins++ {
		if spins%1024 == 0 && time.Now().After(deadline) {
			return
		}
	}
}

// linWorker is a running worker process.
type linWorker struct {
	round uint64 // rounds started
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startLinWorkers starts the worker processes for a test, once for all its
// rounds (a process under the race detector takes a second to start); they
// exit when their stdin closes at the end of it.
func startLinWorkers(t *testing.T) []*linWorker {
	barrier := filepath.Join(t.TempDir(), "barrier")
	if err := os.WriteFile(barrier, make([]byte, 64), 0o600); err != nil {
		t.Fatal(err)
	}
	var workers []*linWorker
	for i := 0; i < linWorkers; i++ {
		cmd := childCommand(t, "lin-worker", barrier)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w := &linWorker{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
		workers = append(workers, w)
		t.Cleanup(func() {
			w.stdin.Close()
			done := make(chan error, 1)
			go func() { done <- w.cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil && !t.Failed() {
					t.Errorf("lin-worker: %v", err)
				}
			case <-time.After(30 * time.Second):
				w.cmd.Process.Kill()
				<-done
				t.Errorf("lin-worker %d did not exit", w.cmd.Process.Pid)
			}
		})
	}
	// Wait until every worker runs, so that no size's time budget pays for
	// starting them.
	for i, w := range workers {
		if line, err := w.out.ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("worker %d: %q, %v", i, line, err)
		}
	}
	return workers
}

// readRound reads one worker's history for a round.
func (w *linWorker) readRound(client int) ([]linOp, error) {
	var ops []linOp
	var workErr error
	for {
		line, err := w.out.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("worker %d: %v", client, err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "end":
			return ops, workErr
		case strings.HasPrefix(line, "error "):
			workErr = errors.New(strings.TrimPrefix(line, "error "))
		case strings.HasPrefix(line, "op "):
			op := linOp{client: client}
			var kind uint8
			if _, err := fmt.Sscan(line[3:], &kind, &op.id, &op.ok, &op.call, &op.ret); err != nil {
				return nil, fmt.Errorf("worker %d: %q: %v", client, line, err)
			}
			op.kind = linKind(kind)
			ops = append(ops, op)
		default:
			return nil, fmt.Errorf("worker %d: unexpected line %q", client, line)
		}
	}
}

// linQueue is a model state: the queue's contents, oldest first, and which
// workers are inside an EnqueueShift call that may still drop messages (only
// in the models where a shift may drop several).
type linQueue struct {
	n        uint8
	shifting uint8 // bit w: worker w is inside an EnqueueShift
	ids      [linMaxCap]uint32
}

func (s linQueue) push(id uint32) linQueue {
	s.ids[s.n] = id
	s.n++
	return s
}

func (s linQueue) drop(k int) linQueue {
	r := linQueue{n: s.n - uint8(k), shifting: s.shifting}
	copy(r.ids[:], s.ids[k:s.n])
	return r
}

func (s linQueue) String() string {
	parts := make([]string, s.n)
	for i := range parts {
		parts[i] = linIDString(s.ids[i])
	}
	str := "[" + strings.Join(parts, " ") + "]"
	if s.shifting != 0 {
		str += fmt.Sprintf(" shifting %04b", s.shifting)
	}
	return str
}

// linIn and linOut are a history's inputs and outputs. Where a shift may drop
// several messages, each EnqueueShift call appears in the history as two
// operations over its interval: linShiftBegin opens the window in which it may
// drop the oldest messages, linShiftEnd adds its message and closes it.
type linIn struct {
	kind   linKind
	client uint8
	id     uint32 // enqueued message; 0 for DequeueTry
}

type linOut struct {
	ok bool
	id uint32 // dequeued message when ok
}

// linModel is a sequential bounded FIFO queue of capacity cap.
//
// With exactTry, EnqueueTry fails only on a full queue and DequeueTry only on
// an empty one; without it either may fail at any time.
//
// With exactShift, EnqueueShift is one atomic step: if the queue is full it
// drops the oldest message, then adds its own. Without it (the history then
// holds each shift as linShiftBegin and linShiftEnd), a shift may drop any
// number of the oldest messages at any instants during the call, and adds its
// own, into room, at the end: that is what a protocol that drops the oldest
// and retries does.
//
// Every variant holds a successful EnqueueTry to there being room, a dequeue
// to returning the oldest message, and every message to leaving the queue at
// most once; so every variant checks order, exactly-once, no invented
// messages, and never more than cap messages.
func linModel(capacity int, exactTry, exactShift bool) porcupine.Model {
	c := uint8(capacity)
	var one [1]interface{}
	nm := porcupine.NondeterministicModel{
		Init: func() []interface{} { return []interface{}{linQueue{}} },
		Step: func(state, input, output interface{}) []interface{} {
			s, in, out := state.(linQueue), input.(linIn), output.(linOut)
			if s.shifting == 0 {
				return linStep(s, in, out, c, exactTry, one[:0])
			}
			// A shift in progress may have dropped any number of the
			// oldest messages by now.
			var next []interface{}
			for k := 0; k <= int(s.n); k++ {
				next = linStep(s.drop(k), in, out, c, exactTry, next)
			}
			return next
		},
		Hash: func(state interface{}) uint64 {
			s := state.(linQueue)
			h := uint64(s.n) | uint64(s.shifting)<<8
			for _, id := range s.ids[:s.n] {
				h = mix64(h ^ uint64(id))
			}
			return h
		},
		DescribeOperation: func(input, output interface{}) string {
			in, out := input.(linIn), output.(linOut)
			return linDescribe(in.kind, in.id, out.ok, out.id)
		},
		DescribeState: func(state interface{}) string { return state.(linQueue).String() },
	}
	return nm.ToModel()
}

// linStep appends to next the states s can step to.
func linStep(s linQueue, in linIn, out linOut, c uint8, exactTry bool, next []interface{}) []interface{} {
	switch in.kind {
	case linEnqTry:
		if out.ok {
			if s.n < c {
				return append(next, s.push(in.id))
			}
		} else if !exactTry || s.n == c {
			return append(next, s)
		}
	case linDeqTry:
		if out.ok {
			if s.n > 0 && s.ids[0] == out.id {
				return append(next, s.drop(1))
			}
		} else if !exactTry || s.n == 0 {
			return append(next, s)
		}
	case linShift:
		if s.n == c {
			s = s.drop(1)
		}
		return append(next, s.push(in.id))
	case linShiftBegin:
		s.shifting |= 1 << in.client
		return append(next, s)
	case linShiftEnd:
		if s.shifting&(1<<in.client) != 0 && s.n < c {
			s.shifting &^= 1 << in.client
			return append(next, s.push(in.id))
		}
	}
	return next
}

func linDescribe(kind linKind, id uint32, ok bool, outID uint32) string {
	switch kind {
	case linDeqTry:
		if ok {
			return "DequeueTry() -> " + linIDString(outID)
		}
		return "DequeueTry() -> false"
	case linEnqTry:
		return fmt.Sprintf("EnqueueTry(%s) -> %t", linIDString(id), ok)
	case linShift:
		return fmt.Sprintf("EnqueueShift(%s)", linIDString(id))
	case linShiftBegin:
		return fmt.Sprintf("EnqueueShift(%s) begins", linIDString(id))
	case linShiftEnd:
		return fmt.Sprintf("EnqueueShift(%s) adds", linIDString(id))
	}
	return kind.String()
}

// linModels are the models every round is checked against: the contract
// first, then each half of it alone (to tell which part a failing round
// breaks), then what must hold whatever the protocol.
var linModels = []linModelSpec{
	{"strict", true, true, true},
	{"exact-try-only", true, false, false},
	{"exact-shift-only", false, true, false},
	{"loose", false, false, true},
}

type linModelSpec struct {
	name                 string
	exactTry, exactShift bool
	mustHold             bool // a failure fails the test
}

// linConfig is the test's size and budget.
type linConfig struct {
	sizes     []int
	rounds    int
	budget    time.Duration // per size; 0: none
	keepGoing bool
	visDir    string
}

func linSettings(t *testing.T) linConfig {
	// CI runs the test plain, with -tags purego, with -race and with -short
	// (natively and under qemu): 6 s per size plain, 1.5 s short, 2 s under
	// the race detector or without assembly (the same protocol, with Go's
	// copy). Plain, that is 300-600 rounds per size on a loaded 2-core
	// machine.
	cfg := linConfig{sizes: []int{8, 64, 4 << 10, 64 << 10}, rounds: 600, budget: 6 * time.Second}
	switch {
	case testing.Short():
		cfg.rounds, cfg.budget = 60, 1500*time.Millisecond
	case raceEnabled || !(asmAMD64 || asmARM64):
		cfg.rounds, cfg.budget = 150, 2*time.Second
	}
	if v := os.Getenv("SHQUEUE_LIN_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("SHQUEUE_LIN_ROUNDS=%q: want a positive number", v)
		}
		cfg.rounds, cfg.budget = n, 0
	}
	if v := os.Getenv("SHQUEUE_LIN_SIZES"); v != "" {
		cfg.sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 8 || n%8 != 0 {
				t.Fatalf("SHQUEUE_LIN_SIZES=%q: want sizes in bytes, multiples of 8", v)
			}
			cfg.sizes = append(cfg.sizes, n)
		}
	}
	cfg.keepGoing = os.Getenv("SHQUEUE_LIN_KEEPGOING") != ""
	cfg.visDir = os.Getenv("SHQUEUE_LIN_VIS")
	return cfg
}

func linSizeName(size int) string {
	switch {
	case size >= 1<<10 && size%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", size>>10)
	}
	return fmt.Sprintf("%dB", size)
}

// TestLinearizable checks histories of real processes against a sequential
// bounded FIFO queue: see the top of this file.
func TestLinearizable(t *testing.T) {
	cfg := linSettings(t)
	workers := startLinWorkers(t)
	for _, size := range cfg.sizes {
		t.Run(linSizeName(size), func(t *testing.T) {
			runLinearizable(t, workers, cfg, size)
		})
	}
}

func runLinearizable(t *testing.T, workers []*linWorker, cfg linConfig, size int) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(size)))
	failed := make([]int, len(linModels))
	var rounds, withShift, calls, overlapping int
	var visWritten bool
	began := time.Now()
	for rounds < cfg.rounds && (cfg.budget == 0 || time.Since(began) < cfg.budget) {
		rounds++
		r := runLinRound(t, workers, size, rng)
		if r.hasShift {
			withShift++
		}
		calls += len(r.ops)
		overlapping += r.overlapping()
		var broken []string
		for m, spec := range linModels {
			model, history := r.model(m)
			switch porcupine.CheckOperationsTimeout(model, history, linCheckTimeout) {
			case porcupine.Ok:
				continue
			case porcupine.Unknown:
				t.Fatalf("round %d: the %s check timed out after %v (not a pass)\n%s", rounds, spec.name, linCheckTimeout, r.summary())
			}
			failed[m]++
			if spec.mustHold {
				broken = append(broken, spec.name)
			}
		}
		if len(broken) == 0 {
			continue
		}
		msg := fmt.Sprintf("round %d (capacity %d, %s messages): not explained by the %s model (Stats after draining: %+v)", rounds, r.capacity, linSizeName(size), strings.Join(broken, " and "), r.stats)
		visualize := cfg.visDir != "" || !visWritten
		msg += "\n" + r.diagnose(broken[len(broken)-1], cfg.visDir, rounds, visualize)
		visWritten = visWritten || visualize
		if !cfg.keepGoing {
			t.Fatalf("%s\n%s", msg, r.summary())
		}
		if len(broken) > 1 || broken[0] != "strict" {
			msg += "\n" + r.summary()
		}
		t.Logf("%s", msg)
	}
	t.Logf("%d rounds (%d with EnqueueShift) in %v; %d calls, %.0f%% of them overlapping another process's call", rounds, withShift, time.Since(began).Round(time.Millisecond), calls, 100*float64(overlapping)/float64(max(calls, 1)))
	for m, model := range linModels {
		if failed[m] == 0 {
			continue
		}
		report := t.Logf
		if model.mustHold {
			report = t.Errorf
		}
		report("%s model: %d/%d rounds failed", model.name, failed[m], rounds)
	}
}

// linRound is one round's merged history.
type linRound struct {
	capacity int
	ops      []linOp // by call time
	hasShift bool
	stats    Stats // after draining
	// The history for porcupine, with each EnqueueShift as one operation
	// (for the models where a shift is atomic) or as two (where it is not).
	atomic, split []porcupine.Operation
}

func (r *linRound) model(m int) (porcupine.Model, []porcupine.Operation) {
	return linModels[m].model(r.capacity, r.atomic, r.split)
}

// model returns the model for a queue of capacity and the history it reads.
func (spec linModelSpec) model(capacity int, atomic, split []porcupine.Operation) (porcupine.Model, []porcupine.Operation) {
	if spec.exactShift {
		return linModel(capacity, spec.exactTry, true), atomic
	}
	return linModel(capacity, spec.exactTry, false), split
}

// runLinRound runs one round on a new queue and checks everything that does not
// need a model: every message intact, none invented or received twice, and the
// queue's counters agreeing with the history once it is drained.
func runLinRound(t *testing.T, workers []*linWorker, size int, rng *rand.Rand) *linRound {
	t.Helper()
	capacity := 1 + rng.IntN(linMaxCap)
	q := newTestQueue(t, uint32(size/8), uint32(capacity), linQueueOpts...)
	defer func() {
		_ = q.Delete()
		_ = q.Close()
	}()
	salt := rng.Uint32()
	seed := rng.Uint64()
	round := workers[0].round + 1
	for i, w := range workers {
		w.round = round
		if _, err := fmt.Fprintln(w.stdin, q.Key(), salt, seed, i, round); err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
	}
	r := &linRound{capacity: capacity}
	var workErrs []string
	for i, w := range workers {
		ops, err := w.readRound(i)
		if err != nil {
			workErrs = append(workErrs, err.Error())
		}
		r.ops = append(r.ops, ops...)
	}
	// Drain what is left, as one more client, so the final contents are part
	// of the history too. More than capacity+1 calls the models reject.
	buf := make([]byte, size)
	for range capacity + 2 {
		op := linOp{client: linWorkers, kind: linDeqTry}
		op.call = bench.Now()
		op.ok = q.DequeueTry(buf)
		op.ret = bench.Now()
		if op.ok {
			id, err := linCheck(buf, salt)
			op.id = id
			if err != nil {
				workErrs = append(workErrs, "drain: "+err.Error())
			}
		}
		r.ops = append(r.ops, op)
		if !op.ok {
			break
		}
	}
	slices.SortFunc(r.ops, func(a, b linOp) int { return cmp.Compare(a.call, b.call) })
	if len(workErrs) > 0 {
		t.Fatalf("capacity %d, %s messages: %s\n%s", capacity, linSizeName(size), strings.Join(workErrs, "; "), r.summary())
	}

	enqueued := map[uint32]bool{}  // by calls that reported it in the queue
	attempted := map[uint32]bool{} // by EnqueueTry calls that reported false
	var dequeued []uint32
	for _, op := range r.ops {
		switch {
		case op.kind == linShift:
			r.hasShift = true
			enqueued[op.id] = true
		case op.kind == linEnqTry && op.ok:
			enqueued[op.id] = true
		case op.kind == linEnqTry:
			attempted[op.id] = true
		case op.ok:
			dequeued = append(dequeued, op.id)
		}
	}
	seen := map[uint32]bool{}
	for _, id := range dequeued {
		switch {
		case seen[id]:
			t.Fatalf("message %s received twice\n%s", linIDString(id), r.summary())
		case attempted[id]:
			t.Fatalf("message %s received although its EnqueueTry reported false\n%s", linIDString(id), r.summary())
		case !enqueued[id]:
			t.Fatalf("message %s received but never sent\n%s", linIDString(id), r.summary())
		}
		seen[id] = true
	}
	// Every message sent and not received was dropped by a shift, and no
	// process died: the counters must say exactly that.
	st := q.Stats()
	r.stats = st
	if st.Enqueued != uint64(len(enqueued)) || st.Dequeued != uint64(len(dequeued)) ||
		st.Overwritten != uint64(len(enqueued)-len(dequeued)) || st.Lost != 0 {
		t.Fatalf("after draining: Stats() = %+v; the history says %d enqueued, %d dequeued, %d overwritten, none lost\n%s",
			st, len(enqueued), len(dequeued), len(enqueued)-len(dequeued), r.summary())
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("after draining: Len() = %d\n%s", n, r.summary())
	}

	r.atomic, r.split = linHistories(r.ops)
	return r
}

// linHistories turns calls into porcupine's histories: with each EnqueueShift
// as one operation (for the models where a shift is atomic), and as two (for
// the models where it is not).
func linHistories(ops []linOp) (atomic, split []porcupine.Operation) {
	for _, op := range ops {
		in, out := linIn{kind: op.kind, client: uint8(op.client)}, linOut{ok: op.ok}
		if op.kind == linDeqTry {
			out.id = op.id
		} else {
			in.id = op.id
		}
		atomic = append(atomic, porcupine.Operation{ClientId: op.client, Input: in, Call: op.call, Output: out, Return: op.ret})
		if op.kind != linShift {
			split = append(split, porcupine.Operation{ClientId: op.client, Input: in, Call: op.call, Output: out, Return: op.ret})
			continue
		}
		for _, kind := range []linKind{linShiftBegin, linShiftEnd} {
			in.kind = kind
			split = append(split, porcupine.Operation{ClientId: op.client, Input: in, Call: op.call, Output: out, Return: op.ret})
		}
	}
	return atomic, split
}

// overlapping counts the calls that overlap a call of another process: the
// calls whose order the history leaves open.
func (r *linRound) overlapping() int {
	n := 0
	for i, a := range r.ops {
		for j, b := range r.ops {
			if i != j && a.client != b.client && a.call <= b.ret && b.call <= a.ret {
				n++
				break
			}
		}
	}
	return n
}

// summary lists the round's calls by call time, in microseconds from the
// first call, for a failure message.
func (r *linRound) summary() string {
	if len(r.ops) == 0 {
		return "(no calls)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "history (capacity %d; worker %d is the parent draining the queue; µs from the first call):\n", r.capacity, linWorkers)
	t0 := r.ops[0].call
	for _, op := range r.ops {
		what := linDescribe(op.kind, op.id, op.ok, op.id)
		fmt.Fprintf(&b, "  w%d [%9.3f, %9.3f] %s\n", op.client, float64(op.call-t0)/1e3, float64(op.ret-t0)/1e3, what)
	}
	return b.String()
}

// diagnose checks the round again under the named model, verbosely, and
// explains the failure: the longest order porcupine found that explains a
// prefix of the history, the state it leaves, and the calls that could come
// next, none of which the model accepts. It writes porcupine's HTML view of
// the round into dir (a new temporary directory if dir is empty, none if
// visualize is false).
func (r *linRound) diagnose(modelName, dir string, round int, visualize bool) string {
	m := slices.IndexFunc(linModels, func(x linModelSpec) bool { return x.name == modelName })
	model, history := r.model(m)
	res, info := porcupine.CheckOperationsVerbose(model, history, linCheckTimeout)
	if res != porcupine.Illegal {
		return fmt.Sprintf("the verbose check of the %s model says %s", modelName, res)
	}
	var b strings.Builder
	var longest []int
	for _, part := range info.PartialLinearizations() {
		for _, lin := range part {
			if len(lin) > len(longest) {
				longest = lin
			}
		}
	}
	t0 := r.ops[0].call
	describe := func(i int) string {
		op := history[i]
		return fmt.Sprintf("w%d [%9.3f, %9.3f] %s", op.ClientId, float64(op.Call-t0)/1e3, float64(op.Return-t0)/1e3, model.DescribeOperation(op.Input, op.Output))
	}
	fmt.Fprintf(&b, "%s model: the longest explained order covers %d of %d calls; it ends\n", modelName, len(longest), len(history))
	state := model.Init()
	for k, i := range longest {
		_, state = model.Step(state, history[i].Input, history[i].Output)
		if k >= len(longest)-6 {
			fmt.Fprintf(&b, "    %s  => %s\n", describe(i), model.DescribeState(state))
		}
	}
	// The calls that could be next: not yet in the order and called before
	// the first of them returned.
	done := make([]bool, len(history))
	for _, i := range longest {
		done[i] = true
	}
	firstReturn := int64(1<<63 - 1)
	for i, op := range history {
		if !done[i] && op.Return < firstReturn {
			firstReturn = op.Return
		}
	}
	b.WriteString("  and none of these calls can come next:\n")
	for i, op := range history {
		if !done[i] && op.Call <= firstReturn {
			fmt.Fprintf(&b, "    %s\n", describe(i))
		}
	}
	if !visualize {
		return b.String()
	}
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "shqueue-lin-"); err != nil {
			return b.String() + "visualization: " + err.Error()
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return b.String() + "visualization: " + err.Error()
	}
	path := filepath.Join(dir, fmt.Sprintf("round%d-cap%d-%s.html", round, r.capacity, modelName))
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		return b.String() + "visualization: " + err.Error()
	}
	return b.String() + "visualization: " + path
}
