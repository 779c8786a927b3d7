package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/shqueue/shqueue"
	"github.com/shqueue/shqueue/internal/bench"
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
		cr, err := measure(ctx, cfg, childRun{t: s.t, sc: sc, roles: roles, n: n, warmup: warmup,
			label: label, tty: tty, extra: []string{"-pause", fmt.Sprint(int64(pause))}})
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
		h := bench.Import(cr.Hist)
		s.r.Wakeup = &wakeupResult{
			WakeUps: h.Count(), Warmup: warmup, PauseNs: int64(pause), Asleep: cr.Asleep,
			P50: h.Percentile(50), P90: h.Percentile(90), P99: h.Percentile(99),
			P999: h.Percentile(99.9), Max: h.Max(), Mean: h.Mean(), Allocs: cr.Allocs,
		}
	}
	return nil
}

// writeWakeTable prints the wake section.
func writeWakeTable(w io.Writer, rep *report) error {
	if len(rep.Wake) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nWaking from sleep and idle cost, %s messages, ns unless marked\n", sizeString(wakeSize))
	fmt.Fprintf(w, "wake-up = send -> DequeueBlock returns in a consumer blocked on an empty queue for the pause (%s: WaitAny over %d queues, then DequeueTry)\n", waitAnyTransport, waitAnyQueues)
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
