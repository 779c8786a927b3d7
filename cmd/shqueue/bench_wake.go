package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/shqueue/shqueue"
	"golang.org/x/sys/unix"
)

// The cost of waiting, per shqueue wait strategy: how long a consumer that
// has been blocked on an empty queue long enough to fall asleep takes to
// return once a message arrives, and how much CPU it burns while it waits.
// The ping-pong latency above never lets the waiter sleep; a real consumer
// often does.
//
//	wake-up  side 1 pauses -wakepause, stamps a 64-byte message with its
//	         send time and sends it; side 0, blocked in DequeueBlock,
//	         records receive time - send time and acknowledges on the
//	         reply queue; -wakeups times (plus a warm-up)
//	idle     side 0 blocks in DequeueBlock on an empty queue for -idle and
//	         reports the CPU time its whole process used (getrusage)

// wakeSize is the message size of the wake-up measurement: the cost is the
// wake-up, not the copy.
const wakeSize = 64

// wakeWarmup wake-ups run before the recorded ones (page faults, the first
// futex sleep of each side).
const wakeWarmup = 20

// minSleepPause is what an Adaptive waiter spins (20 µs) and yields (200 µs)
// before it sleeps on the futex, with a margin: a shorter -wakepause measures
// a waiter that is still spinning or yielding.
const minSleepPause = 250 * time.Microsecond

// Child roles (side 0 first).
const (
	roleWakeConsumer = "wake-cons"
	roleWakeSender   = "wake-send"
	roleIdleWaiter   = "idle-wait"
	roleIdlePeer     = "idle-peer"
)

// Word positions of the wake-up message beyond the standard format (see
// msgFormat): the send time and whether side 1 found the consumer
// registered as a sleeper just before sending.
const (
	sentWord   = 2
	asleepWord = 3
)

// wakeResult is one wait strategy's section of the report.
type wakeResult struct {
	Transport string        `json:"transport"`
	Wait      string        `json:"wait"`
	Size      int           `json:"size"`
	Wakeup    *wakeupResult `json:"wakeup,omitempty"`
	Idle      *idleResult   `json:"idle,omitempty"`
}

type wakeupResult struct {
	WakeUps int64 `json:"wake_ups"`
	Warmup  int   `json:"warmup"`
	PauseNs int64 `json:"pause_ns"`
	// Asleep counts the recorded wake-ups that found the consumer
	// registered as a futex sleeper just before the send.
	Asleep int64   `json:"asleep"`
	P50    int64   `json:"p50_ns"`
	P90    int64   `json:"p90_ns"`
	P99    int64   `json:"p99_ns"`
	P999   int64   `json:"p999_ns"`
	Max    int64   `json:"max_ns"`
	Mean   float64 `json:"mean_ns"`
	Allocs uint64  `json:"allocs"`
}

type idleResult struct {
	WallNs     int64   `json:"wall_ns"`
	CPUNs      int64   `json:"cpu_ns"`
	CPUPercent float64 `json:"cpu_percent"` // of one core
}

// waitOf names the wait strategy of a shqueue transport.
var waitOf = map[string]shqueue.WaitStrategy{
	"shqueue-spin":     shqueue.BusySpin,
	"shqueue-adaptive": shqueue.Adaptive,
}

// runWake measures the wake section for every shqueue transport in the run.
func runWake(ctx context.Context, cfg *benchConfig, rep *report, stderr io.Writer) error {
	type step struct {
		r    *wakeResult
		t    *transport
		idle bool
	}
	var steps []step
	for _, t := range cfg.transports {
		w, ok := waitOf[t.name]
		if t.kind != "shqueue" || !ok {
			continue
		}
		r := &wakeResult{Transport: t.name, Wait: w.String(), Size: wakeSize}
		rep.Wake = append(rep.Wake, r)
		if cfg.wakeups > 0 {
			steps = append(steps, step{r: r, t: t})
		}
		if cfg.idle > 0 {
			steps = append(steps, step{r: r, t: t, idle: true})
		}
	}
	tty := !cfg.quiet && isTerminal(os.Stderr)
	sc := setupConfig{size: wakeSize, capacity: queueCapacity(wakeSize)}
	for i, s := range steps {
		what := fmt.Sprintf("wake-up from sleep (%v pauses)", cfg.wakePause)
		roles := [2]string{roleWakeConsumer, roleWakeSender}
		n, warmup, pause := cfg.wakeups, wakeWarmup, cfg.wakePause
		if s.idle {
			what = fmt.Sprintf("idle CPU (%v)", cfg.idle)
			roles = [2]string{roleIdleWaiter, roleIdlePeer}
			n, warmup, pause = 0, 0, cfg.idle
		}
		label := fmt.Sprintf("bench wake [%d/%d] %s %s", i+1, len(steps), s.t.name, what)
		if !cfg.quiet && !tty {
			fmt.Fprintln(stderr, label)
		}
		out, err := runChildren(ctx, cfg, s.t, sc, roles, n, warmup, label, tty,
			"-pause", fmt.Sprint(int64(pause)))
		if err != nil {
			return err
		}
		cr, err := decodeChildResult(out, label)
		if err != nil {
			return err
		}
		if s.idle {
			if cr.ElapsedNs <= 0 {
				return fmt.Errorf("%s: no idle time in the result", label)
			}
			s.r.Idle = &idleResult{WallNs: cr.ElapsedNs, CPUNs: cr.CPUNs,
				CPUPercent: 100 * float64(cr.CPUNs) / float64(cr.ElapsedNs)}
			continue
		}
		if cr.Hist == nil {
			return fmt.Errorf("%s: no histogram in the result", label)
		}
		h := hdrhistogram.Import(cr.Hist)
		s.r.Wakeup = &wakeupResult{
			WakeUps: h.TotalCount(), Warmup: warmup, PauseNs: int64(pause), Asleep: cr.Asleep,
			P50: h.ValueAtQuantile(50), P90: h.ValueAtQuantile(90), P99: h.ValueAtQuantile(99),
			P999: h.ValueAtQuantile(99.9), Max: h.Max(), Mean: h.Mean(), Allocs: cr.Allocs,
		}
	}
	return nil
}

func decodeChildResult(out []byte, label string) (*childResult, error) {
	var cr childResult
	if err := json.Unmarshal(out, &cr); err != nil {
		return nil, fmt.Errorf("%s: reading the measuring process's result: %w", label, err)
	}
	return &cr, nil
}

// writeWakeTable prints the wake section.
func writeWakeTable(w io.Writer, rep *report) error {
	if len(rep.Wake) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nWaking from sleep and idle cost, %s messages, ns unless marked\n", sizeString(wakeSize))
	fmt.Fprintf(w, "wake-up = send -> DequeueBlock returns in a consumer blocked on an empty queue for the pause\n")
	fmt.Fprintf(w, "asleep = wake-ups that found the consumer asleep on the futex; idle CPU = a blocked consumer's process, %% of one core\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "transport \twait \tpause\twake-ups\tasleep\tp50\tp90\tp99\tp99.9\tmax\tallocs\tidle\tidle CPU\t")
	for _, r := range rep.Wake {
		row := r.Transport + " \t" + r.Wait + " \t"
		if u := r.Wakeup; u != nil {
			row += fmt.Sprintf("%v\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t", time.Duration(u.PauseNs), u.WakeUps, u.Asleep,
				fmtNs(u.P50), fmtNs(u.P90), fmtNs(u.P99), fmtNs(u.P999), fmtNs(u.Max), u.Allocs)
		} else {
			row += "-\t-\t-\t-\t-\t-\t-\t-\t-\t"
		}
		if i := r.Idle; i != nil {
			row += fmt.Sprintf("%v\t%.2f%%\t", time.Duration(i.WallNs).Round(time.Millisecond), i.CPUPercent)
		} else {
			row += "-\t-\t"
		}
		fmt.Fprintln(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rep.Wake {
		if r.Wakeup != nil && time.Duration(r.Wakeup.PauseNs) < minSleepPause {
			fmt.Fprintf(w, "pause below %v: an adaptive consumer may still be spinning or yielding, not asleep\n", minSleepPause)
			break
		}
	}
	return nil
}

// monoClock reads CLOCK_MONOTONIC, which every process on the host shares:
// mono (time.Since) is relative to this process's start and cannot time a
// message between two processes. clock_gettime through x/sys/unix is a
// system call, not the vDSO: it adds about one system call (a few hundred
// nanoseconds under a hypervisor) to every wake-up figure, small against a
// futex wake-up, not against a spinning consumer's hand-off.
func monoClock() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// processCPU is the CPU time, user and system, of all this process's threads.
func processCPU() int64 {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// stampWake makes buf message seq carrying the send time and the asleep
// flag, with the checksum recomputed over the whole message (the format's
// incremental stamp covers only the sequence words).
func (h *harness) stampWake(buf []byte, seq uint64, sent int64, asleep bool) {
	h.f.stamp(buf, seq)
	binary.LittleEndian.PutUint64(buf[8*sentWord:], uint64(sent))
	flag := uint64(0)
	if asleep {
		flag = 1
	}
	binary.LittleEndian.PutUint64(buf[8*asleepWord:], flag)
	// The checksum is linear in word 1 with coefficient coefSum, and check
	// wants checksum(buf) - stored*coefSum == stored: the checksum of the
	// message with word 1 zero.
	binary.LittleEndian.PutUint64(buf[8*sumWord:], 0)
	binary.LittleEndian.PutUint64(buf[8*sumWord:], checksum(buf))
}

// wakeConsumer (side 0) receives warmup+n wake-up messages, each after the
// sender's pause, records receive time - send time for the last n and
// acknowledges every one, so the sender's pause starts only once this side
// is back in DequeueBlock.
func (h *harness) wakeConsumer() (*childResult, error) {
	total := h.cfg.warmup + h.cfg.n
	out, in := h.ep.sendBuf(), h.ep.recvBuf()
	hist := newLatencyHistogram()
	hist.Reset() // fault the pages in before the loop
	var allocs uint64
	var asleep int64
	if h.cfg.warmup == 0 {
		allocs = mallocs()
	}
	for k := 1; k <= total; k++ {
		seq := uint64(k)
		if err := h.ep.recv(); err != nil {
			return nil, err
		}
		now := monoClock()
		if !h.f.check(in, seq) {
			return nil, h.badMessage(in, seq)
		}
		if k > h.cfg.warmup {
			if err := hist.RecordValue(max(now-int64(binary.LittleEndian.Uint64(in[8*sentWord:])), histMin)); err != nil {
				return nil, err
			}
			asleep += int64(binary.LittleEndian.Uint64(in[8*asleepWord:]))
		}
		if k == h.cfg.warmup {
			allocs = mallocs()
		}
		h.f.stamp(out, seq)
		if err := h.ep.send(); err != nil {
			return nil, err
		}
		if h.prog != nil && k&63 == 0 {
			h.prog.update(mono(), k, total)
		}
	}
	allocs = mallocs() - allocs
	return &childResult{Hist: hist.Export(), Count: hist.TotalCount(), Allocs: allocs, Asleep: asleep}, nil
}

// wakeSender (side 1) pauses, sends a message stamped with the time, and
// waits for its acknowledgement, warmup+n times.
func (h *harness) wakeSender() error {
	total := h.cfg.warmup + h.cfg.n
	out, in := h.ep.sendBuf(), h.ep.recvBuf()
	se, ok := h.ep.(*shqueueEndpoint)
	if !ok {
		return errors.New("the wake-up measurement needs a shqueue transport")
	}
	key := se.sendQ.Key()
	for k := 1; k <= total; k++ {
		seq := uint64(k)
		time.Sleep(time.Duration(h.cfg.pause))
		// Inspect attaches the segment read-only and reads the sleeper
		// count, before the send time is taken. Leaving it out changed
		// neither strategy's p50 beyond the run-to-run noise.
		info, err := shqueue.Inspect(key)
		if err != nil {
			return err
		}
		h.stampWake(out, seq, monoClock(), info.SleepingConsumers > 0)
		if seq == h.fault {
			out[len(out)/2] ^= 0x10
		}
		if err := h.ep.send(); err != nil {
			return err
		}
		if err := h.ep.recv(); err != nil {
			return err
		}
		if !h.f.check(in, seq) {
			return h.badMessage(in, seq)
		}
	}
	return nil
}

// idleWaiter (side 0) blocks on the empty queue for the pause and reports
// its process's CPU time over that span.
func (h *harness) idleWaiter() (*childResult, error) {
	se, ok := h.ep.(*shqueueEndpoint)
	if !ok {
		return nil, errors.New("the idle measurement needs a shqueue transport")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(h.cfg.pause))
	defer cancel()
	cpu0, wall0 := processCPU(), monoClock()
	err := se.recvQ.DequeueBlock(ctx, se.in)
	cpu, wall := processCPU()-cpu0, monoClock()-wall0
	if !errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("DequeueBlock on an empty queue: %v, want the deadline", err)
	}
	return &childResult{ElapsedNs: wall, CPUNs: cpu}, nil
}
