package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The benchmark's producer and consumer are real processes: the bench command
// re-executes its own binary with the hidden subcommand benchChildCommand, once
// per side. Side 0 measures (latency initiator, throughput consumer) and
// writes its result as JSON to stdout, which the parent reads; side 1 echoes
// or produces. Any failed check makes a child print the error and exit 1; the
// parent then kills the other side and aborts the run.
const benchChildCommand = "bench-child"

func init() { register(benchChildCommand, "", runBenchChild) }

// Child roles.
const (
	roleLatencyInitiator = "lat-init"
	roleLatencyEcho      = "lat-echo"
	roleThroughputCons   = "tp-cons"
	roleThroughputProd   = "tp-prod"
)

// childResult is what side 0 reports to the parent.
type childResult struct {
	Hist      *hdrhistogram.Snapshot `json:"hist,omitempty"`
	Count     int64                  `json:"count"`
	ElapsedNs int64                  `json:"elapsed_ns"`
	// Allocs counts heap allocations in the measuring process between the
	// first and the last timed message: it must be 0.
	Allocs uint64 `json:"allocs"`
	// The wake section (bench_wake.go): recorded wake-ups that found the
	// consumer asleep, and an idle waiter's CPU time over ElapsedNs.
	Asleep int64 `json:"asleep,omitempty"`
	CPUNs  int64 `json:"cpu_ns,omitempty"`
}

// Latency histograms hold one-way nanoseconds from 1 ns to 100 s with three
// significant digits (0.1% resolution).
const (
	histMin    = 1
	histMax    = 100 * int64(time.Second)
	histDigits = 3
)

func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMin, histMax, histDigits)
}

// epoch anchors mono. time.Since on a time.Time that carries a monotonic
// reading costs one monotonic clock read (runtime nanotime, vDSO
// clock_gettime: about 20-30 ns here) and does not allocate.
var epoch = time.Now()

func mono() int64 { return int64(time.Since(epoch)) }

type childConfig struct {
	role      string
	transport *transport
	setup     setupConfig
	n, warmup int
	cpu       int
	targs     []string
	progress  string // "tty" or "" (none)
	label     string
	record    string // "hdr" or "samples"
	check     string // "full" or "ends" (see msgFormat.endsOnly)
	maxTime   int64  // ns of timed round trips after which a latency run stops early; 0: none
	pause     int64  // wake section: ns before each wake-up, or of idle waiting
}

// faultEnv makes side 1 corrupt the message with the given sequence number.
const faultEnv = "SHQUEUE_BENCH_FAULT"

// stopSeq marks the message with which a latency initiator whose time is up
// tells the echo side to exit.
const stopSeq = ^uint64(0)

func runBenchChild(args []string) error {
	fs := newFlagSet(benchChildCommand, "")
	var cfg childConfig
	var tname, targs string
	fs.StringVar(&cfg.role, "role", "", "")
	fs.StringVar(&tname, "transport", "", "")
	fs.IntVar(&cfg.setup.size, "size", 64, "")
	fs.IntVar(&cfg.setup.capacity, "capacity", 0, "")
	fs.IntVar(&cfg.n, "n", 0, "")
	fs.IntVar(&cfg.warmup, "warmup", 0, "")
	fs.IntVar(&cfg.cpu, "cpu", -1, "")
	fs.StringVar(&targs, "targs", "", "")
	fs.StringVar(&cfg.progress, "progress", "", "")
	fs.StringVar(&cfg.label, "label", "", "")
	fs.StringVar(&cfg.record, "record", "hdr", "")
	fs.Int64Var(&cfg.maxTime, "maxtime", 0, "")
	fs.StringVar(&cfg.check, "check", "full", "")
	fs.Int64Var(&cfg.pause, "pause", 0, "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.transport = transportByName(tname)
	if cfg.transport == nil {
		return fmt.Errorf("unknown transport %q", tname)
	}
	cfg.targs = splitArgs(targs)

	watchParent()
	// The measuring loop runs on this goroutine, locked to one OS thread
	// that is pinned to the requested CPU.
	runtime.LockOSThread()
	if cfg.cpu >= 0 {
		if err := pinThread(cfg.cpu); err != nil {
			return err
		}
	}
	side := 1
	switch cfg.role {
	case roleLatencyInitiator, roleThroughputCons, roleWakeConsumer, roleIdleWaiter:
		side = 0
	}
	ep, err := cfg.transport.open(side, cfg.setup, cfg.targs)
	if err != nil {
		return fmt.Errorf("%s: open side %d: %w", cfg.transport.name, side, err)
	}
	defer ep.close()
	_, noData := ep.(dataless)
	h := &harness{cfg: &cfg, ep: ep, data: !noData}
	if v := os.Getenv(faultEnv); v != "" && side == 1 {
		if h.fault, err = strconv.ParseUint(v, 10, 64); err != nil {
			return fmt.Errorf("%s: %w", faultEnv, err)
		}
	}
	if h.data {
		if h.f, err = newMsgFormat(cfg.setup.size); err != nil {
			return err
		}
		h.f.endsOnly = cfg.check == "ends"
		h.f.init(ep.sendBuf())
	}
	if cfg.progress == "tty" {
		h.prog = newProgress(cfg.label)
	}

	// Nothing on the measured path allocates; collect what setup left and
	// keep the collector from running in the middle of a measurement.
	runtime.GC()
	debug.SetGCPercent(-1)

	var res *childResult
	switch cfg.role {
	case roleLatencyInitiator:
		res, err = h.latencyInitiator()
	case roleLatencyEcho:
		err = h.latencyEcho()
	case roleThroughputCons:
		res, err = h.throughputConsumer()
	case roleThroughputProd:
		err = h.throughputProducer()
	case roleWakeConsumer:
		res, err = h.wakeConsumer()
	case roleWakeSender:
		err = h.wakeSender()
	case roleIdleWaiter:
		res, err = h.idleWaiter()
	case roleIdlePeer: // nothing to do: the waiter's queue stays empty
	default:
		err = fmt.Errorf("unknown role %q", cfg.role)
	}
	if h.prog != nil {
		h.prog.clear()
	}
	if err != nil {
		return fmt.Errorf("%s %d B %s: %w", cfg.transport.name, cfg.setup.size, cfg.role, err)
	}
	if res != nil {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	return nil
}

type harness struct {
	// fault, when set, is the sequence number of a message this side
	// corrupts after stamping it (from faultEnv): the tests use it to check
	// that the receiving side notices and the whole run fails.
	fault uint64
	cfg   *childConfig
	ep    endpoint
	f     *msgFormat
	data  bool // whether messages carry bytes to stamp and check
	prog  *progress
}

func (h *harness) badMessage(buf []byte, want uint64) error {
	return fmt.Errorf("message %d corrupt: %s", want, h.f.describe(buf, want))
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// latencyInitiator sends message k and waits for the echo of k, timing each
// round trip from just before the send to just after the receive; stamping
// and checking the initiator's own messages stay outside the timed span.
// One-way latency is recorded as round trip / 2.
//
// The warm-up ends after -warmup round trips or a tenth of -maxtime, and the
// timed part after -n round trips or -maxtime, whichever comes first: the
// kernel transports can take a hundred microseconds per round trip, and the
// whole comparison has to fit in a minute. A stop message tells the echo side
// that the initiator ended early.
func (h *harness) latencyInitiator() (*childResult, error) {
	echoTotal := h.cfg.warmup + h.cfg.n // what the echo side expects at most
	warmEnd, total := h.cfg.warmup, echoTotal
	maxTime := h.cfg.maxTime
	if !h.data {
		maxTime = 0 // dataless endpoints cannot carry the stop message
	}
	out, in := h.ep.sendBuf(), h.ep.recvBuf()
	hist := newLatencyHistogram()
	// Fault in every page the loop will write before it starts: a first
	// touch costs a page fault (several microseconds under a hypervisor),
	// which would land in the tail of whichever round trip paid it.
	hist.Reset()
	var samples []int64
	if h.cfg.record == "samples" {
		samples = make([]int64, h.cfg.n)
		for i := range samples {
			samples[i] = 1
		}
		samples = samples[:0]
	}
	var allocs uint64
	begin := mono()
	started := begin
	if warmEnd == 0 {
		allocs = mallocs()
	}
	for k := 1; k <= total; k++ {
		seq := uint64(k)
		if h.data {
			h.f.stamp(out, seq)
		}
		t0 := mono()
		if err := h.ep.send(); err != nil {
			return nil, err
		}
		if err := h.ep.recv(); err != nil {
			return nil, err
		}
		t1 := mono()
		if h.data && !h.f.check(in, seq) {
			return nil, h.badMessage(in, seq)
		}
		switch {
		case k > warmEnd:
			oneWay := (t1 - t0) / 2
			if samples != nil {
				samples = append(samples, oneWay)
			} else if err := hist.RecordValue(oneWay); err != nil {
				return nil, err
			}
			if maxTime > 0 && t1-started >= maxTime {
				total = k
			}
		case k == warmEnd || (maxTime > 0 && t1-begin >= maxTime/10):
			warmEnd, total = k, k+h.cfg.n
			allocs = mallocs()
			started = mono()
		}
		if h.prog != nil && k&1023 == 0 {
			h.prog.update(t1, k, total)
		}
	}
	if total < echoTotal {
		h.f.stamp(out, stopSeq)
		if err := h.ep.send(); err != nil {
			return nil, err
		}
	}
	elapsed := mono() - started
	allocs = mallocs() - allocs
	for _, v := range samples {
		if err := hist.RecordValue(v); err != nil {
			return nil, err
		}
	}
	return &childResult{Hist: hist.Export(), Count: hist.TotalCount(), ElapsedNs: elapsed, Allocs: allocs}, nil
}

func (h *harness) latencyEcho() error {
	total := h.cfg.warmup + h.cfg.n
	out, in := h.ep.sendBuf(), h.ep.recvBuf()
	for k := 1; k <= total; k++ {
		seq := uint64(k)
		if err := h.ep.recv(); err != nil {
			return err
		}
		if h.data {
			if !h.f.check(in, seq) {
				if h.f.check(in, stopSeq) {
					return nil
				}
				return h.badMessage(in, seq)
			}
			h.f.stamp(out, seq)
			if seq == h.fault {
				out[len(out)/2] ^= 0x10
			}
		}
		if err := h.ep.send(); err != nil {
			return err
		}
	}
	return nil
}

// throughputConsumer receives warmup+n messages and times n of them: from
// the arrival of the last warm-up message to the arrival of the n-th after
// it. The warm-up also ends after a tenth of -maxtime; the messages the
// producer still sends after the timed ones are then drained untimed. If the
// producer runs out of time (-maxtime) it sends a stop message, which counts
// as the final timed one.
func (h *harness) throughputConsumer() (*childResult, error) {
	warmup := max(h.cfg.warmup, 1) // the clock starts at a message's arrival
	total := warmup + h.cfg.n      // what the producer sends at most
	timedEnd := total
	in := h.ep.recvBuf()
	var allocs uint64
	var started, elapsed int64
	count := int64(-1)
	begin := mono()
	for k := 1; k <= total; k++ {
		seq := uint64(k)
		if err := h.ep.recv(); err != nil {
			return nil, err
		}
		if !h.f.check(in, seq) {
			if h.f.check(in, stopSeq) && k > warmup {
				if count < 0 {
					elapsed = mono() - started
					allocs = mallocs() - allocs
					count = int64(k - warmup)
				}
				break
			}
			return nil, h.badMessage(in, seq)
		}
		if k < warmup && h.cfg.maxTime > 0 && mono()-begin >= h.cfg.maxTime/10 {
			warmup = k // the warm-up is over when its time is
		}
		if k == warmup {
			allocs = mallocs()
			started = mono()
			timedEnd = k + h.cfg.n
		}
		if k == timedEnd {
			elapsed = mono() - started
			allocs = mallocs() - allocs
			count = int64(h.cfg.n)
		}
		if h.prog != nil && k&4095 == 0 {
			h.prog.update(mono(), k, total)
		}
	}
	return &childResult{Count: count, ElapsedNs: elapsed, Allocs: allocs}, nil
}

// throughputProducer sends warmup+n messages, or stops with a stop message
// once -maxtime (plus a tenth for the warm-up) has passed.
func (h *harness) throughputProducer() error {
	total := max(h.cfg.warmup, 1) + h.cfg.n
	out := h.ep.sendBuf()
	begin := mono()
	limit := h.cfg.maxTime + h.cfg.maxTime/10
	for k := 1; k <= total; k++ {
		h.f.stamp(out, uint64(k))
		if uint64(k) == h.fault {
			out[len(out)/2] ^= 0x10
		}
		if err := h.ep.send(); err != nil {
			return err
		}
		if limit > 0 && k&255 == 0 && k < total && mono()-begin >= limit {
			h.f.stamp(out, stopSeq)
			return h.ep.send()
		}
	}
	return nil
}

// progress overwrites one status line on a terminal, at most ten times a
// second, without allocating (it runs inside the measured loops).
type progress struct {
	label []byte
	line  []byte
	last  int64
}

func newProgress(label string) *progress {
	return &progress{label: []byte(label), line: make([]byte, 0, 256)}
}

func (p *progress) update(now int64, done, total int) {
	if now-p.last < int64(100*time.Millisecond) {
		return
	}
	p.last = now
	p.line = append(p.line[:0], "\r\x1b[K"...)
	p.line = append(p.line, p.label...)
	p.line = append(p.line, ' ')
	p.line = strconv.AppendInt(p.line, int64(done), 10)
	p.line = append(p.line, '/')
	p.line = strconv.AppendInt(p.line, int64(total), 10)
	p.line = append(p.line, " ("...)
	p.line = strconv.AppendInt(p.line, int64(done)*100/int64(total), 10)
	p.line = append(p.line, "%)"...)
	os.Stderr.Write(p.line)
}

func (p *progress) clear() { os.Stderr.Write([]byte("\r\x1b[K")) }
