package main

// The order of a bench run: one phase per transport, size and kind of
// measurement, each run by a fresh pair of child processes, then the ratios
// and the wake section.

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/shqueue/shqueue/internal/bench"
)

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
			if !t.throughputOnly {
				phases = append(phases, phase{t: t, size: size})
			}
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
	cr, err := measure(ctx, cfg, childRun{t: ph.t, sc: sc, roles: roles, n: n, warmup: warmup, label: label, tty: tty})
	if err != nil {
		return err
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
	h := bench.Import(cr.Hist)
	r.hist = h
	r.Latency = &latencyResult{
		RoundTrips: h.Count(), Warmup: warmup,
		P50: h.Percentile(50), P90: h.Percentile(90), P99: h.Percentile(99),
		P999: h.Percentile(99.9), P9999: h.Percentile(99.99), Max: h.Max(),
		Mean: h.Mean(), Allocs: cr.Allocs,
	}
	return nil
}
