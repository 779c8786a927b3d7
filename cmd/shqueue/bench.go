package main

// The bench command: its flags and their checks. What it measures is in the
// other bench_*.go files: the configuration (bench_config.go), the run
// (bench_run.go, bench_children.go), the processes (bench_child.go,
// bench_measure.go), the transports (bench_transport.go, bench_shqueue.go,
// bench_sysvmsg_*.go, bench_raw.go), the wake section (bench_wake*.go), the
// report (bench_report.go) and its output (bench_output.go, bench_table.go,
// bench_plot.go).

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func init() {
	register("bench", "measure shqueue latency and throughput between two processes against kernel transports", runBench)
}

const benchUsage = `
Measures one-way latency (ping-pong over two channels, round trip / 2) and
one-way throughput (one producer, one consumer) between two real processes
for every transport and message size, transports of one size measured one
after another so that ratios compare figures taken moments apart:

  shqueue-spin      shqueue, busy-spin wait strategy
  shqueue-spsc      shqueue-spin on queues with an exclusive producer and
                    consumer (WithSingleProducer, WithSingleConsumer)
  shqueue-adaptive  shqueue, adaptive wait strategy (spin, yield, sleep)
  unix              Unix domain socket pair (SOCK_STREAM)
  pipe              two pipes
  sysvmsg           SysV message queues (Linux; sizes up to kernel.msgmax)
  raw               the floor: one atomic counter bounced through a SysV
                    segment, no queue logic (latency only, 8-byte counter)
  unix-1cpu, pipe-1cpu, sysvmsg-1cpu
                    the kernel transports with both processes on one CPU,
                    where a hand-off needs no cross-CPU wake-up; ratios
                    compare shqueue with the faster placement

Every message carries a sequence number and a checksum the receiver verifies;
any mismatch aborts the run with an error. With no flags the whole comparison
takes well under a minute on a 2-CPU machine.

Then, for each shqueue wait strategy, the cost of waiting: wake-up latency
from sleep (a consumer blocked on an empty queue for -wakepause, then one
message; -wakeups times) and the CPU a consumer blocked on an empty queue
uses over -idle.
`

func runBench(args []string) error {
	cfg, err := parseBenchFlags(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.copies {
		return runCopies(ctx, cfg, os.Stdout, os.Stderr)
	}
	rep, err := runAll(ctx, cfg, os.Stderr)
	if rep != nil {
		if werr := writeOutputs(rep, cfg, os.Stdout); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// benchFlags are the flags as given, before benchConfig.resolve reads the
// lists among them.
type benchFlags struct {
	sizes, transports, cpus string
	raw                     bool
}

func parseBenchFlags(args []string) (*benchConfig, error) {
	fs := newFlagSet("bench", "")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: shqueue bench [flags]\n%s\nflags:\n", benchUsage)
		fs.PrintDefaults()
	}
	var cfg benchConfig
	var f benchFlags
	fs.StringVar(&f.sizes, "sizes", "64,512,4KiB,64KiB", "message `sizes` in bytes (multiples of 8; K/KiB/M/MiB suffixes allowed)")
	fs.StringVar(&f.transports, "transports", strings.Join(defaultTransports(), ","), "`transports` to measure, comma-separated")
	fs.BoolVar(&f.raw, "raw", false, "measure only the floor (the raw transport): an atomic counter bounced through a SysV segment")
	fs.IntVar(&cfg.n, "n", 0, "latency round trips per transport and size, after the warm-up (0: 100000, fewer only for 64 KiB and up)")
	fs.IntVar(&cfg.warmup, "warmup", -1, "warm-up round trips/messages before measuring (-1: n/10, at least 1000)")
	fs.IntVar(&cfg.tn, "tn", 0, "throughput messages per transport and size (0: by size, about 0.1-0.3 s of shqueue traffic)")
	fs.StringVar(&f.cpus, "cpus", "auto", "`CPUs` to pin the two processes to, e.g. 0,1 (measuring side first); auto: the first two allowed CPUs if there are two or more; none: do not pin")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print the results as JSON instead of a table")
	fs.StringVar(&cfg.hgrmDir, "hgrm", "", "write each latency distribution as an HdrHistogram percentile file (.hgrm, microseconds) into `dir`")
	fs.StringVar(&cfg.plotFile, "plot", "", "draw the latency percentile curves into `file`.svg")
	fs.StringVar(&cfg.record, "record", "hdr", "how the measuring loop records latencies: hdr (into the histogram) or samples (into a preallocated slice, histogram built afterwards)")
	fs.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "abort if one measurement takes longer than this")
	fs.DurationVar(&cfg.maxTime, "maxtime", time.Second, "stop a measurement after this much timed traffic even if -n round trips (or -tn messages) are not done: cross-CPU kernel transports take ~100 µs per round trip under a hypervisor; the warm-up gets a tenth; 0: never")
	fs.StringVar(&cfg.check, "check", "full", "what receivers verify: full (sequence number, last word and a checksum of every byte) or ends (sequence number and last word only, like the C floor programs: for bandwidth comparisons with them)")
	fs.BoolVar(&cfg.quiet, "q", false, "no progress on stderr")
	fs.BoolVar(&cfg.copies, "copies", false, "instead, compare the slot-copy variants: shqueue-spin throughput per variant and size (bench_copies.go)")
	fs.IntVar(&cfg.wakeups, "wakeups", 2000, "wake-ups from sleep to time per shqueue wait strategy (0: skip)")
	fs.DurationVar(&cfg.wakePause, "wakepause", time.Millisecond, "how long the consumer waits on an empty queue before each wake-up (an adaptive waiter sleeps after about 220µs)")
	fs.DurationVar(&cfg.idle, "idle", time.Second, "how long a consumer blocks on an empty queue to measure its idle CPU, per shqueue wait strategy (0: skip)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected arguments %q", fs.Args())
	}
	if err := cfg.resolve(f); err != nil {
		return nil, err
	}
	return &cfg, nil
}
