package main

// The benchmark's producer and consumer are real processes: the bench command
// re-executes its own binary with the hidden subcommand benchChildCommand, once
// per side. Side 0 measures (latency initiator, throughput consumer) and
// writes its result as JSON to stdout, which the parent reads; side 1 echoes
// or produces. Any failed check makes a child print the error and exit 1; the
// parent then kills the other side and aborts the run. This file is the
// child's setup; the measuring loops are in bench_measure.go and
// bench_wake_child.go.

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/shqueue/shqueue/internal/bench"
)

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
	Hist      *bench.Snapshot `json:"hist,omitempty"`
	Count     int64           `json:"count"`
	ElapsedNs int64           `json:"elapsed_ns"`
	// Allocs counts heap allocations in the measuring process between the
	// first and the last timed message: it must be 0.
	Allocs uint64 `json:"allocs"`
	// The wake section (bench_wake.go): recorded wake-ups that found the
	// consumer asleep, and an idle waiter's CPU time over ElapsedNs.
	Asleep int64 `json:"asleep,omitempty"`
	CPUNs  int64 `json:"cpu_ns,omitempty"`
}

func decodeChildResult(out []byte, label string) (*childResult, error) {
	var cr childResult
	if err := json.Unmarshal(out, &cr); err != nil {
		return nil, fmt.Errorf("%s: reading the measuring process's result: %w", label, err)
	}
	return &cr, nil
}

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

// faultBit is the bit a fault flips in the middle of the message.
const faultBit = 0x10

// stopSeq marks the message with which a latency initiator whose time is up
// tells the echo side to exit.
const stopSeq = ^uint64(0)

func runBenchChild(args []string) error {
	cfg, err := parseChildFlags(args)
	if err != nil {
		return err
	}
	bench.WatchParent()
	// The measuring loop runs on this goroutine, locked to one OS thread
	// that is pinned to the requested CPU.
	runtime.LockOSThread()
	if cfg.cpu >= 0 {
		if err := bench.PinThread(cfg.cpu); err != nil {
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
	h, err := newHarness(cfg, ep, side)
	if err != nil {
		return err
	}

	// Nothing on the measured path allocates; collect what setup left and
	// keep the collector from running in the middle of a measurement.
	runtime.GC()
	debug.SetGCPercent(-1)

	res, err := h.run()
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

// parseChildFlags reads the flags runChildren (bench_children.go) passes.
func parseChildFlags(args []string) (*childConfig, error) {
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
		return nil, err
	}
	cfg.transport = transportByName(tname)
	if cfg.transport == nil {
		return nil, fmt.Errorf("unknown transport %q", tname)
	}
	cfg.targs = splitArgs(targs)
	return &cfg, nil
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

func newHarness(cfg *childConfig, ep endpoint, side int) (*harness, error) {
	_, noData := ep.(dataless)
	h := &harness{cfg: cfg, ep: ep, data: !noData}
	var err error
	if v := os.Getenv(faultEnv); v != "" && side == 1 {
		if h.fault, err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, fmt.Errorf("%s: %w", faultEnv, err)
		}
	}
	if h.data {
		if h.f, err = newMsgFormat(cfg.setup.size); err != nil {
			return nil, err
		}
		h.f.endsOnly = cfg.check == "ends"
		h.f.init(ep.sendBuf())
	}
	if cfg.progress == "tty" {
		h.prog = newProgress(cfg.label)
	}
	return h, nil
}

// run plays the child's role; side 0's roles return the result to report.
func (h *harness) run() (*childResult, error) {
	switch h.cfg.role {
	case roleLatencyInitiator:
		return h.latencyInitiator()
	case roleLatencyEcho:
		return nil, h.latencyEcho()
	case roleThroughputCons:
		return h.throughputConsumer()
	case roleThroughputProd:
		return nil, h.throughputProducer()
	case roleWakeConsumer:
		return h.wakeConsumer()
	case roleWakeSender:
		return nil, h.wakeSender()
	case roleIdleWaiter:
		return h.idleWaiter()
	case roleIdlePeer: // nothing to do: the waiter's queue stays empty
		return nil, nil
	}
	return nil, fmt.Errorf("unknown role %q", h.cfg.role)
}

// corruptIfFault damages out, just stamped as message seq, if seq is the
// message faultEnv names.
func (h *harness) corruptIfFault(out []byte, seq uint64) {
	if seq == h.fault {
		out[len(out)/2] ^= faultBit
	}
}

func (h *harness) badMessage(buf []byte, want uint64) error {
	return fmt.Errorf("message %d corrupt: %s", want, h.f.describe(buf, want))
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}
