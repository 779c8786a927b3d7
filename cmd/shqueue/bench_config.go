package main

// What a bench run measures, decided from the flags: sizes, transports, CPU
// placement and how many round trips and messages each measurement takes.

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shqueue/shqueue/internal/bench"
)

// benchConfig is what the flags decide.
type benchConfig struct {
	sizes      []int
	transports []*transport
	n, warmup  int // latency round trips; 0 = by size
	tn         int // throughput messages; 0 = by size
	cpus       []int
	oneCPU     int // the CPU for same-CPU variants when not pinning otherwise
	jsonOut    bool
	hgrmDir    string
	plotFile   string
	record     string
	timeout    time.Duration
	maxTime    time.Duration
	check      string
	quiet      bool
	copies     bool // -copies: compare the slot-copy variants instead (bench_copies.go)
	// The wake section (bench_wake.go).
	wakeups   int
	wakePause time.Duration
	idle      time.Duration
}

// The default counts, and what a queue holds.
const (
	// defaultRoundTrips timed round trips per latency measurement, except
	// that messages of largeMsgSize and more take largeRoundTrips, so that
	// the kernel transports (tens of microseconds per round trip there)
	// keep the default run under a minute.
	defaultRoundTrips = 100_000
	largeRoundTrips   = 20_000
	largeMsgSize      = 64 << 10
	// A throughput measurement moves about throughputBytes, in at least
	// minThroughputMsgs and at most maxThroughputMsgs messages.
	throughputBytes   = 64 << 20
	minThroughputMsgs = 20_000
	maxThroughputMsgs = 500_000
	// The warm-up is a warmupShare-th of the timed count (and of -maxtime),
	// at least minWarmup.
	warmupShare = 10
	minWarmup   = 1000
	// A queue holds about queueBytes of slots, as the C ring the floor
	// programs use does, within [minQueueCapacity, maxQueueCapacity].
	queueBytes       = 1 << 20
	minQueueCapacity = 16
	maxQueueCapacity = 4096
)

// resolve reads the list flags into c and checks every value.
func (c *benchConfig) resolve(f benchFlags) error {
	var err error
	if c.sizes, err = parseSizes(f.sizes); err != nil {
		return usagef("-sizes: %v", err)
	}
	if f.raw {
		f.transports = "raw"
	}
	for _, name := range splitArgs(f.transports) {
		t := transportByName(strings.TrimSpace(name))
		if t == nil {
			return usagef("-transports: unknown transport %q (have %s)", name, strings.Join(transportNames(), ", "))
		}
		c.transports = append(c.transports, t)
	}
	if len(c.transports) == 0 {
		return usagef("-transports: none given")
	}
	if c.cpus, err = parseCPUs(f.cpus); err != nil {
		return usagef("-cpus: %v", err)
	}
	c.oneCPU = -1
	if allowed, err := bench.AllowedCPUs(); err == nil && len(allowed) > 0 && bench.CanPin {
		c.oneCPU = allowed[0]
	}
	if c.n < 0 || c.tn < 0 || c.warmup < -1 {
		return usagef("-n, -tn and -warmup must not be negative")
	}
	if c.wakeups < 0 || c.idle < 0 || c.wakePause <= 0 {
		return usagef("-wakeups and -idle must not be negative, -wakepause must be positive")
	}
	if c.check != "full" && c.check != "ends" {
		return usagef("-check: want full or ends, got %q", c.check)
	}
	if c.record != "hdr" && c.record != "samples" {
		return usagef("-record: want hdr or samples, got %q", c.record)
	}
	return nil
}

// defaultTransports is every transport this build has: shqueue, the kernel
// transports across two CPUs, the same on one CPU, the floor.
func defaultTransports() []string {
	var names []string
	for _, pass := range []func(t *transport) bool{
		func(t *transport) bool { return t.kind == "shqueue" && !t.optIn },
		func(t *transport) bool { return t.kind == "kernel" && !t.sameCPU },
		func(t *transport) bool { return t.kind == "kernel" && t.sameCPU },
		func(t *transport) bool { return t.kind == "floor" },
	} {
		var group []*transport
		for _, t := range transports {
			if pass(t) {
				group = append(group, t)
			}
		}
		// Registration order follows file names; print in a fixed order.
		slices.SortStableFunc(group, func(a, b *transport) int { return transportRank(a) - transportRank(b) })
		for _, t := range group {
			names = append(names, t.name)
		}
	}
	return names
}

func transportRank(t *transport) int {
	switch t.base {
	case "shqueue-spin", "shqueue-spsc", "unix":
		return 0
	case "shqueue-adaptive", "pipe":
		return 1
	case "sysvmsg":
		return 2
	}
	return 3
}

func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range splitArgs(s) {
		f = strings.TrimSpace(f)
		mult := 1
		for _, suf := range []struct {
			s string
			m int
		}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"K", 1 << 10}, {"M", 1 << 20}, {"k", 1 << 10}, {"B", 1}} {
			if strings.HasSuffix(f, suf.s) {
				f, mult = strings.TrimSuffix(f, suf.s), suf.m
				break
			}
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("bad size %q", f)
		}
		size := v * mult
		if _, err := newMsgFormat(size); err != nil {
			return nil, err
		}
		sizes = append(sizes, size)
	}
	if len(sizes) == 0 {
		return nil, errors.New("no sizes")
	}
	return sizes, nil
}

// parseCPUs returns the CPUs for side 0 and side 1, or nil for no pinning.
func parseCPUs(s string) ([]int, error) {
	switch s {
	case "none", "":
		return nil, nil
	case "auto":
		if !bench.CanPin {
			return nil, nil
		}
		allowed, err := bench.AllowedCPUs()
		if err != nil || len(allowed) < 2 {
			return nil, nil
		}
		return allowed[:2], nil
	}
	if !bench.CanPin {
		return nil, errors.New("CPU pinning is supported on Linux only")
	}
	var cpus []int
	for _, f := range splitArgs(s) {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 0 {
			return nil, fmt.Errorf("bad CPU %q", f)
		}
		cpus = append(cpus, v)
	}
	if len(cpus) != 2 {
		return nil, fmt.Errorf("want two CPUs (measuring side, other side), got %d", len(cpus))
	}
	return cpus, nil
}

// cpuFor is the CPU to pin side to, or -1.
func (c *benchConfig) cpuFor(t *transport, side int) int {
	switch {
	case t.sameCPU && c.cpus != nil:
		return c.cpus[0]
	case t.sameCPU:
		return c.oneCPU
	case c.cpus != nil:
		return c.cpus[side]
	}
	return -1
}

// latencyRounds is the number of timed round trips for size-byte messages.
func (c *benchConfig) latencyRounds(size int) int {
	if c.n > 0 {
		return c.n
	}
	if size >= largeMsgSize {
		return largeRoundTrips
	}
	return defaultRoundTrips
}

// throughputMessages is the number of timed messages of size bytes.
func (c *benchConfig) throughputMessages(size int) int {
	if c.tn > 0 {
		return c.tn
	}
	return min(maxThroughputMsgs, max(minThroughputMsgs, throughputBytes/size))
}

func (c *benchConfig) warmupFor(n int) int {
	if c.warmup >= 0 {
		return c.warmup
	}
	return max(minWarmup, n/warmupShare)
}

// queueCapacity is the slot count for a queue of size-byte messages.
func queueCapacity(size int) int {
	return max(minQueueCapacity, min(maxQueueCapacity, queueBytes/size))
}
