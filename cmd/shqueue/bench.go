package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
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
	// The wake section (bench_wake.go).
	wakeups   int
	wakePause time.Duration
	idle      time.Duration
}

func runBench(args []string) error {
	fs := newFlagSet("bench", "")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: shqueue bench [flags]\n%s\nflags:\n", benchUsage)
		fs.PrintDefaults()
	}
	sizes := fs.String("sizes", "64,512,4KiB,64KiB", "message `sizes` in bytes (multiples of 8; K/KiB/M/MiB suffixes allowed)")
	tnames := fs.String("transports", strings.Join(defaultTransports(), ","), "`transports` to measure, comma-separated")
	raw := fs.Bool("raw", false, "measure only the floor (the raw transport): an atomic counter bounced through a SysV segment")
	n := fs.Int("n", 0, "latency round trips per transport and size, after the warm-up (0: 100000, fewer only for 64 KiB and up)")
	warmup := fs.Int("warmup", -1, "warm-up round trips/messages before measuring (-1: n/10, at least 1000)")
	tn := fs.Int("tn", 0, "throughput messages per transport and size (0: by size, about 0.1-0.3 s of shqueue traffic)")
	cpus := fs.String("cpus", "auto", "`CPUs` to pin the two processes to, e.g. 0,1 (measuring side first); auto: the first two allowed CPUs if there are two or more; none: do not pin")
	jsonOut := fs.Bool("json", false, "print the results as JSON instead of a table")
	hgrm := fs.String("hgrm", "", "write each latency distribution as an HdrHistogram percentile file (.hgrm, microseconds) into `dir`")
	plot := fs.String("plot", "", "draw the latency percentile curves into `file`.svg")
	record := fs.String("record", "hdr", "how the measuring loop records latencies: hdr (into the histogram) or samples (into a preallocated slice, histogram built afterwards)")
	timeout := fs.Duration("timeout", 2*time.Minute, "abort if one measurement takes longer than this")
	maxTime := fs.Duration("maxtime", time.Second, "stop a measurement after this much timed traffic even if -n round trips (or -tn messages) are not done: cross-CPU kernel transports take ~100 µs per round trip under a hypervisor; the warm-up gets a tenth; 0: never")
	check := fs.String("check", "full", "what receivers verify: full (sequence number, last word and a checksum of every byte) or ends (sequence number and last word only, like the C floor programs: for bandwidth comparisons with them)")
	quiet := fs.Bool("q", false, "no progress on stderr")
	wakeups := fs.Int("wakeups", 2000, "wake-ups from sleep to time per shqueue wait strategy (0: skip)")
	wakePause := fs.Duration("wakepause", time.Millisecond, "how long the consumer waits on an empty queue before each wake-up (an adaptive waiter sleeps after about 220µs)")
	copies := fs.Bool("copies", false, "instead, compare the slot-copy variants: shqueue-spin throughput per variant and size (bench_copies.go)")
	idle := fs.Duration("idle", time.Second, "how long a consumer blocks on an empty queue to measure its idle CPU, per shqueue wait strategy (0: skip)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	cfg := benchConfig{n: *n, tn: *tn, warmup: *warmup, jsonOut: *jsonOut, hgrmDir: *hgrm,
		plotFile: *plot, record: *record, timeout: *timeout, maxTime: *maxTime, check: *check, quiet: *quiet,
		wakeups: *wakeups, wakePause: *wakePause, idle: *idle}
	var err error
	if cfg.sizes, err = parseSizes(*sizes); err != nil {
		return usagef("-sizes: %v", err)
	}
	if *raw {
		*tnames = "raw"
	}
	for _, name := range splitArgs(*tnames) {
		t := transportByName(strings.TrimSpace(name))
		if t == nil {
			return usagef("-transports: unknown transport %q (have %s)", name, strings.Join(transportNames(), ", "))
		}
		cfg.transports = append(cfg.transports, t)
	}
	if len(cfg.transports) == 0 {
		return usagef("-transports: none given")
	}
	if cfg.cpus, err = parseCPUs(*cpus); err != nil {
		return usagef("-cpus: %v", err)
	}
	cfg.oneCPU = -1
	if allowed, err := allowedCPUs(); err == nil && len(allowed) > 0 && canPin {
		cfg.oneCPU = allowed[0]
	}
	if cfg.n < 0 || cfg.tn < 0 || cfg.warmup < -1 {
		return usagef("-n, -tn and -warmup must not be negative")
	}
	if cfg.wakeups < 0 || cfg.idle < 0 || cfg.wakePause <= 0 {
		return usagef("-wakeups and -idle must not be negative, -wakepause must be positive")
	}
	if cfg.check != "full" && cfg.check != "ends" {
		return usagef("-check: want full or ends, got %q", cfg.check)
	}
	if cfg.record != "hdr" && cfg.record != "samples" {
		return usagef("-record: want hdr or samples, got %q", cfg.record)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *copies {
		return runCopies(ctx, &cfg, os.Stdout, os.Stderr)
	}
	rep, err := runAll(ctx, &cfg, os.Stderr)
	if rep != nil {
		if werr := writeOutputs(rep, &cfg, os.Stdout); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// defaultTransports is every transport this build has: shqueue, the kernel
// transports across two CPUs, the same on one CPU, the floor.
func defaultTransports() []string {
	var names []string
	for _, pass := range []func(t *transport) bool{
		func(t *transport) bool { return t.kind == "shqueue" },
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
	case "shqueue-spin", "unix":
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
		if !canPin {
			return nil, nil
		}
		allowed, err := allowedCPUs()
		if err != nil || len(allowed) < 2 {
			return nil, nil
		}
		return allowed[:2], nil
	}
	if !canPin {
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

// latencyRounds is the default number of timed round trips: 100 000, except
// that messages of 64 KiB and more take 20 000 so that the kernel transports
// (tens of microseconds per round trip there) keep the default run under a
// minute.
func (c *benchConfig) latencyRounds(size int) int {
	if c.n > 0 {
		return c.n
	}
	if size >= 64<<10 {
		return 20000
	}
	return 100000
}

// throughputMessages is the default number of timed messages: about 64 MiB
// of traffic, between 20 000 and 500 000 messages.
func (c *benchConfig) throughputMessages(size int) int {
	if c.tn > 0 {
		return c.tn
	}
	return min(500000, max(20000, (64<<20)/size))
}

func (c *benchConfig) warmupFor(n int) int {
	if c.warmup >= 0 {
		return c.warmup
	}
	return max(1000, n/10)
}

// queueCapacity is the slot count for a queue of size-byte messages: about
// 1 MiB of slots, as in the C ring the floor programs use.
func queueCapacity(size int) int {
	return max(16, min(4096, (1<<20)/size))
}

// A report is everything one run measured.
type report struct {
	Env     envInfo   `json:"env"`
	Results []*result `json:"results"`
	// Wake is the cost of waiting per shqueue wait strategy (bench_wake.go).
	Wake []*wakeResult `json:"wake,omitempty"`
}

type envInfo struct {
	GoVersion string   `json:"go_version"`
	GOOS      string   `json:"goos"`
	GOARCH    string   `json:"goarch"`
	CPU       string   `json:"cpu"`
	Copy      string   `json:"copy"`
	CPUs      []int    `json:"pinned_cpus,omitempty"`
	NumCPU    int      `json:"num_cpu"`
	Record    string   `json:"record"`
	Check     string   `json:"check"`
	Notes     []string `json:"notes,omitempty"`
}

type result struct {
	Transport  string            `json:"transport"`
	Kind       string            `json:"kind"`
	Size       int               `json:"size"`
	Capacity   int               `json:"capacity,omitempty"`
	Latency    *latencyResult    `json:"latency,omitempty"`
	Throughput *throughputResult `json:"throughput,omitempty"`
	Skipped    string            `json:"skipped,omitempty"`
	// Ratios compare a shqueue result with each kernel transport measured
	// at the same size in the same run: kernel latency / shqueue latency
	// and shqueue throughput / kernel throughput, so >1 favours shqueue.
	Ratios map[string]*ratio `json:"ratios,omitempty"`

	hist *hdrhistogram.Histogram
}

type latencyResult struct {
	RoundTrips int64   `json:"round_trips"`
	Warmup     int     `json:"warmup"`
	P50        int64   `json:"p50_ns"`
	P90        int64   `json:"p90_ns"`
	P99        int64   `json:"p99_ns"`
	P999       int64   `json:"p999_ns"`
	P9999      int64   `json:"p9999_ns"`
	Max        int64   `json:"max_ns"`
	Mean       float64 `json:"mean_ns"`
	Allocs     uint64  `json:"allocs"`
}

type throughputResult struct {
	Messages    int64   `json:"messages"`
	ElapsedNs   int64   `json:"elapsed_ns"`
	MsgsPerSec  float64 `json:"msgs_per_sec"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	Allocs      uint64  `json:"allocs"`
}

type ratio struct {
	P50        float64 `json:"p50,omitempty"`
	P99        float64 `json:"p99,omitempty"`
	MsgsPerSec float64 `json:"throughput,omitempty"`
}

// phase is one measurement: a transport, a size and latency or throughput.
type phase struct {
	t          *transport
	size       int
	throughput bool
}

func runAll(ctx context.Context, cfg *benchConfig, stderr io.Writer) (*report, error) {
	rep := &report{Env: environment(cfg)}
	var phases []phase
	var results []*result
	byKey := map[string]*result{}
	add := func(t *transport, size int) *result {
		r := &result{Transport: t.name, Kind: t.kind, Size: size}
		if t.kind == "shqueue" {
			r.Capacity = queueCapacity(size)
		}
		results = append(results, r)
		byKey[t.name+"/"+strconv.Itoa(size)] = r
		return r
	}
	// The floor is the same at every size: measure it once, first.
	for _, t := range cfg.transports {
		if t.kind == "floor" {
			add(t, 8)
			phases = append(phases, phase{t: t, size: 8})
		}
	}
	for _, size := range cfg.sizes {
		for _, t := range cfg.transports {
			if t.kind == "floor" {
				continue
			}
			r := add(t, size)
			if err := t.check(size); err != nil {
				r.Skipped = err.Error()
				continue
			}
			if t.sameCPU && cfg.cpuFor(t, 0) < 0 {
				r.Skipped = "needs CPU pinning"
				continue
			}
			phases = append(phases, phase{t: t, size: size})
			if t.throughput {
				phases = append(phases, phase{t: t, size: size, throughput: true})
			}
		}
	}
	rep.Results = results

	tty := !cfg.quiet && isTerminal(os.Stderr)
	for i, ph := range phases {
		r := byKey[ph.t.name+"/"+strconv.Itoa(ph.size)]
		what := "latency"
		if ph.throughput {
			what = "throughput"
		}
		label := fmt.Sprintf("bench [%d/%d] %s %s %s", i+1, len(phases), ph.t.name, sizeString(ph.size), what)
		if !cfg.quiet && !tty {
			fmt.Fprintln(stderr, label)
		}
		if err := runPhase(ctx, cfg, ph, r, label, tty); err != nil {
			return rep, err
		}
	}
	computeRatios(results)
	if err := runWake(ctx, cfg, rep, stderr); err != nil {
		return rep, err
	}
	return rep, nil
}

func runPhase(ctx context.Context, cfg *benchConfig, ph phase, r *result, label string, tty bool) error {
	sc := setupConfig{size: ph.size, capacity: queueCapacity(ph.size)}
	n := cfg.latencyRounds(ph.size)
	if ph.throughput {
		n = cfg.throughputMessages(ph.size)
	}
	warmup := cfg.warmupFor(n)
	roles := [2]string{roleLatencyInitiator, roleLatencyEcho}
	if ph.throughput {
		roles = [2]string{roleThroughputCons, roleThroughputProd}
	}
	out, err := runChildren(ctx, cfg, ph.t, sc, roles, n, warmup, label, tty)
	if err != nil {
		return err
	}
	var cr childResult
	if err := json.Unmarshal(out, &cr); err != nil {
		return fmt.Errorf("%s: reading the measuring process's result: %w", label, err)
	}
	if ph.throughput {
		secs := float64(cr.ElapsedNs) / 1e9
		r.Throughput = &throughputResult{
			Messages: cr.Count, ElapsedNs: cr.ElapsedNs, Allocs: cr.Allocs,
			MsgsPerSec:  float64(cr.Count) / secs,
			BytesPerSec: float64(cr.Count) * float64(ph.size) / secs,
		}
		return nil
	}
	if cr.Hist == nil {
		return fmt.Errorf("%s: no histogram in the result", label)
	}
	h := hdrhistogram.Import(cr.Hist)
	r.hist = h
	r.Latency = &latencyResult{
		RoundTrips: h.TotalCount(), Warmup: warmup,
		P50: h.ValueAtQuantile(50), P90: h.ValueAtQuantile(90), P99: h.ValueAtQuantile(99),
		P999: h.ValueAtQuantile(99.9), P9999: h.ValueAtQuantile(99.99), Max: h.Max(),
		Mean: h.Mean(), Allocs: cr.Allocs,
	}
	return nil
}

// runChildren sets the transport up, runs the two sides as child processes
// and returns what side 0 printed. Whatever happens, both children are gone
// and the transport is torn down when it returns. extra flags go to both.
func runChildren(ctx context.Context, cfg *benchConfig, t *transport, sc setupConfig, roles [2]string, n, warmup int, label string, tty bool, extra ...string) (_ []byte, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to re-execute: %w", err)
	}
	sr, err := t.setup(sc)
	if err != nil {
		return nil, fmt.Errorf("%s: setup: %w", label, err)
	}
	defer func() {
		if cerr := sr.cleanup(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: cleanup: %w", label, cerr)
		}
	}()
	closeParentCopies := func() {
		for _, c := range sr.closers {
			c()
		}
		sr.closers = nil
	}
	defer closeParentCopies()

	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	var stdout bytes.Buffer
	var cmds [2]*exec.Cmd
	for side := range 2 {
		args := []string{benchChildCommand,
			"-role", roles[side], "-transport", t.name,
			"-size", strconv.Itoa(sc.size), "-capacity", strconv.Itoa(sc.capacity),
			"-n", strconv.Itoa(n), "-warmup", strconv.Itoa(warmup),
			"-targs", joinArgs(sr.args), "-record", cfg.record, "-label", label,
			"-maxtime", strconv.FormatInt(int64(cfg.maxTime), 10), "-check", cfg.check,
		}
		args = append(args, extra...)
		if cpu := cfg.cpuFor(t, side); cpu >= 0 {
			args = append(args, "-cpu", strconv.Itoa(cpu))
		}
		if side == 0 && tty {
			args = append(args, "-progress", "tty")
		}
		cmd := exec.Command(exe, args...)
		dieWithParent(cmd)
		cmd.ExtraFiles = sr.files[side]
		cmd.Stderr = os.Stderr
		if side == 0 {
			cmd.Stdout = &stdout
		}
		cmds[side] = cmd
	}
	// Start the passive side first so the measuring side never waits for a
	// process to start inside its timed loop (the warm-up absorbs the rest).
	type exit struct {
		side int
		err  error
	}
	exits := make(chan exit, 2)
	started := 0
	for _, side := range []int{1, 0} {
		if err := cmds[side].Start(); err != nil {
			for _, c := range cmds {
				if c.Process != nil {
					c.Process.Kill()
				}
			}
			for range started {
				<-exits
			}
			return nil, fmt.Errorf("%s: starting side %d: %w", label, side, err)
		}
		started++
		go func() { exits <- exit{side, cmds[side].Wait()} }()
	}
	// The children hold the inherited descriptors now; closing the parent's
	// copies lets a reader see end-of-file when its peer dies.
	closeParentCopies()

	var first error
	for range 2 {
		var e exit
		select {
		case e = <-exits:
		case <-ctx.Done():
			for _, c := range cmds {
				c.Process.Kill()
			}
			if first == nil {
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					first = fmt.Errorf("%s: no result after %v (-timeout)", label, cfg.timeout)
				} else {
					first = fmt.Errorf("%s: interrupted", label)
				}
			}
			e = <-exits
		}
		if e.err != nil && first == nil {
			first = fmt.Errorf("%s: %s process (side %d) failed: %w", label, roles[e.side], e.side, e.err)
			// The survivor may wait forever for its dead peer.
			for _, c := range cmds {
				c.Process.Kill()
			}
		}
	}
	if first != nil {
		return nil, first
	}
	return stdout.Bytes(), nil
}

func computeRatios(results []*result) {
	for _, r := range results {
		if r.Kind != "shqueue" {
			continue
		}
		for _, k := range results {
			if k.Kind != "kernel" || k.Size != r.Size || k.Skipped != "" {
				continue
			}
			rt := &ratio{}
			if r.Latency != nil && k.Latency != nil && r.Latency.P50 > 0 && r.Latency.P99 > 0 {
				rt.P50 = float64(k.Latency.P50) / float64(r.Latency.P50)
				rt.P99 = float64(k.Latency.P99) / float64(r.Latency.P99)
			}
			if r.Throughput != nil && k.Throughput != nil && k.Throughput.MsgsPerSec > 0 {
				rt.MsgsPerSec = r.Throughput.MsgsPerSec / k.Throughput.MsgsPerSec
			}
			if r.Ratios == nil {
				r.Ratios = map[string]*ratio{}
			}
			r.Ratios[k.Transport] = rt
		}
	}
}

func environment(cfg *benchConfig) envInfo {
	cpu, copyVariant := cpuDescription()
	return envInfo{
		GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		CPU: cpu, Copy: copyVariant, CPUs: cfg.cpus, NumCPU: runtime.NumCPU(), Record: cfg.record, Check: cfg.check,
	}
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), ioctlGetTermios)
	return err == nil
}

func sizeString(size int) string {
	switch {
	case size >= 1<<20 && size%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", size>>20)
	case size >= 1<<10 && size%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", size>>10)
	}
	return fmt.Sprintf("%d B", size)
}

func writeOutputs(rep *report, cfg *benchConfig, stdout io.Writer) error {
	if cfg.hgrmDir != "" {
		if err := writeHgrm(rep, cfg.hgrmDir); err != nil {
			return err
		}
	}
	if cfg.plotFile != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.plotFile), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(cfg.plotFile, plotSVG(rep), 0o644); err != nil {
			return err
		}
	}
	if cfg.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeTable(stdout, rep, cfg)
}

func writeHgrm(rep *report, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, r := range rep.Results {
		if r.hist == nil {
			continue
		}
		var b bytes.Buffer
		// Values are recorded in nanoseconds; the file is in microseconds,
		// the unit HdrHistogram plotters usually label.
		if _, err := r.hist.PercentilesPrint(&b, 5, 1000); err != nil {
			return err
		}
		name := fmt.Sprintf("%s-%d.hgrm", r.Transport, r.Size)
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// kernelBases lists the kernel transports present in results by base name
// (unix for unix and unix-1cpu), in order.
func kernelBases(results []*result) []string {
	var names []string
	for _, r := range results {
		if r.Kind == "kernel" && !slices.Contains(names, baseName(r.Transport)) {
			names = append(names, baseName(r.Transport))
		}
	}
	return names
}

func baseName(transport string) string {
	if t := transportByName(transport); t != nil {
		return t.base
	}
	return transport
}

// bestRatio is r's ratio to the better placement of kernel transport base
// (the smaller ratio: the kernel figure closest to shqueue's), or 0.
func bestRatio(r *result, base string, field func(*ratio) float64) float64 {
	best := 0.0
	for name, rt := range r.Ratios {
		if baseName(name) != base {
			continue
		}
		if v := field(rt); v > 0 && (best == 0 || v < best) {
			best = v
		}
	}
	return best
}
