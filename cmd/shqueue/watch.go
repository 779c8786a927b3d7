package main

// watch: a queue's counters as rates, one sample per interval.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func init() {
	register("watch", "show a queue's counters as rates, every second until interrupted", queueCommand(runWatch))
}

type watchTickJSON struct {
	Time     time.Time `json:"time"`
	Interval float64   `json:"interval_s"` // seconds since the previous sample
	Len      int       `json:"len"`
	Totals   statsJSON `json:"totals"`
	Rates    struct {
		Enqueued    float64 `json:"enqueued"`
		Dequeued    float64 `json:"dequeued"`
		Overwritten float64 `json:"overwritten"`
		Lost        float64 `json:"lost"`
	} `json:"rates"` // per second over the interval
	Processes int `json:"processes_alive"`
}

func runWatch(args []string) error {
	fs := newFlagSet("watch", "KEY")
	interval := fs.Duration("interval", time.Second, "time between samples")
	count := fs.Int("count", 0, "stop after this many samples (0: until interrupted)")
	asJSON := fs.Bool("json", false, "print one JSON object per sample (JSON Lines)")
	arg, err := parseKeyArgs(fs, args)
	if err != nil {
		return err
	}
	key := arg.key
	if *interval <= 0 || *count < 0 {
		return usagef("-interval must be positive and -count not negative")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	prev, err := inspect("watch", arg)
	if err != nil {
		return err
	}
	prevAt := time.Now()
	if !*asJSON {
		fmt.Printf("queue %s (%d): %d-byte messages, capacity %d; rates per second every %v\n",
			keyHex(key), key, prev.MsgSize, prev.Cap, *interval)
		fmt.Printf("%-8s %8s %10s %10s %10s %8s %12s %12s %10s %8s\n",
			"TIME", "LEN", "ENQ/s", "DEQ/s", "OVERWR/s", "LOST/s", "ENQUEUED", "DEQUEUED", "OVERWR", "LOST")
	}
	ticker := time.NewTicker(*interval)
	defer ticker.Stop()
	for n := 0; *count == 0 || n < *count; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		cur, err := inspect("watch", arg)
		if err != nil {
			return err
		}
		now := time.Now()
		secs := now.Sub(prevAt).Seconds()
		rate := func(a, b uint64) float64 {
			if a < b { // a new queue under the same key
				return 0
			}
			return float64(a-b) / secs
		}
		var t watchTickJSON
		t.Time, t.Interval, t.Len, t.Totals = now, secs, cur.Len, toStatsJSON(cur.Stats)
		t.Rates.Enqueued = rate(cur.Stats.Enqueued, prev.Stats.Enqueued)
		t.Rates.Dequeued = rate(cur.Stats.Dequeued, prev.Stats.Dequeued)
		t.Rates.Overwritten = rate(cur.Stats.Overwritten, prev.Stats.Overwritten)
		t.Rates.Lost = rate(cur.Stats.Lost, prev.Stats.Lost)
		for _, p := range cur.Processes {
			if p.Alive {
				t.Processes++
			}
		}
		if *asJSON {
			b, err := json.Marshal(t)
			if err != nil {
				return err
			}
			fmt.Printf("%s\n", b)
		} else {
			fmt.Printf("%-8s %8d %10s %10s %10s %8s %12d %12d %10d %8d\n", now.Format("15:04:05"), cur.Len,
				opsRate(t.Rates.Enqueued), opsRate(t.Rates.Dequeued), opsRate(t.Rates.Overwritten), opsRate(t.Rates.Lost),
				cur.Stats.Enqueued, cur.Stats.Dequeued, cur.Stats.Overwritten, cur.Stats.Lost)
		}
		prev, prevAt = cur, now
	}
	return nil
}

// opsRate prints a rate with one decimal only where it says something: below
// 100 per second and not a whole number.
func opsRate(r float64) string {
	if r >= 100 || r == math.Trunc(r) {
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}
