package main

// The measuring loops of the latency and throughput phases, run in the child
// processes (bench_child.go): a latency initiator and its echo, a throughput
// consumer and its producer. Nothing in a timed span allocates, prints or
// reads more than the clock.

import (
	"github.com/shqueue/shqueue/internal/bench"
)

// How often the loops look up from their work, as masks of the message
// count: the progress line every 1024 round trips or 4096 messages (a few
// times a second at the slowest transport), the producer's clock every 256
// messages (its -maxtime check costs a clock read).
const (
	latencyProgressMask    = 1<<10 - 1
	throughputProgressMask = 1<<12 - 1
	producerClockMask      = 1<<8 - 1
)

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
	hist := bench.NewHistogram() // its pages faulted in already
	// Fault in every page of the samples before the loop too: a first
	// touch costs a page fault (several microseconds under a hypervisor),
	// which would land in the tail of whichever round trip paid it.
	var samples []int64
	if h.cfg.record == "samples" {
		samples = make([]int64, h.cfg.n)
		for i := range samples {
			samples[i] = 1
		}
		samples = samples[:0]
	}
	var allocs uint64
	begin := bench.Now()
	started := begin
	if warmEnd == 0 {
		allocs = mallocs()
	}
	for k := 1; k <= total; k++ {
		seq := uint64(k)
		if h.data {
			h.f.stamp(out, seq)
		}
		t0 := bench.Now()
		if err := h.ep.send(); err != nil {
			return nil, err
		}
		if err := h.ep.recv(); err != nil {
			return nil, err
		}
		t1 := bench.Now()
		if h.data && !h.f.check(in, seq) {
			return nil, h.badMessage(in, seq)
		}
		switch {
		case k > warmEnd:
			oneWay := (t1 - t0) / 2
			if samples != nil {
				samples = append(samples, oneWay)
			} else {
				hist.Record(oneWay)
			}
			if maxTime > 0 && t1-started >= maxTime {
				total = k
			}
		case k == warmEnd || (maxTime > 0 && t1-begin >= maxTime/warmupShare):
			warmEnd, total = k, k+h.cfg.n
			allocs = mallocs()
			started = bench.Now()
		}
		if h.prog != nil && k&latencyProgressMask == 0 {
			h.prog.update(t1, k, total)
		}
	}
	if total < echoTotal {
		h.f.stamp(out, stopSeq)
		if err := h.ep.send(); err != nil {
			return nil, err
		}
	}
	elapsed := bench.Now() - started
	allocs = mallocs() - allocs
	for _, v := range samples {
		hist.Record(v)
	}
	return &childResult{Hist: hist.Export(), Count: hist.Count(), ElapsedNs: elapsed, Allocs: allocs}, nil
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
			h.corruptIfFault(out, seq)
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
	begin := bench.Now()
	for k := 1; k <= total; k++ {
		seq := uint64(k)
		if err := h.ep.recv(); err != nil {
			return nil, err
		}
		if !h.f.check(in, seq) {
			if h.f.check(in, stopSeq) && k > warmup {
				if count < 0 {
					elapsed = bench.Now() - started
					allocs = mallocs() - allocs
					count = int64(k - warmup)
				}
				break
			}
			return nil, h.badMessage(in, seq)
		}
		if k < warmup && h.cfg.maxTime > 0 && bench.Now()-begin >= h.cfg.maxTime/warmupShare {
			warmup = k // the warm-up is over when its time is
		}
		if k == warmup {
			allocs = mallocs()
			started = bench.Now()
			timedEnd = k + h.cfg.n
		}
		if k == timedEnd {
			elapsed = bench.Now() - started
			allocs = mallocs() - allocs
			count = int64(h.cfg.n)
		}
		if h.prog != nil && k&throughputProgressMask == 0 {
			h.prog.update(bench.Now(), k, total)
		}
	}
	return &childResult{Count: count, ElapsedNs: elapsed, Allocs: allocs}, nil
}

// throughputProducer sends warmup+n messages, or stops with a stop message
// once -maxtime (plus a tenth for the warm-up) has passed.
func (h *harness) throughputProducer() error {
	total := max(h.cfg.warmup, 1) + h.cfg.n
	out := h.ep.sendBuf()
	begin := bench.Now()
	limit := h.cfg.maxTime + h.cfg.maxTime/warmupShare
	for k := 1; k <= total; k++ {
		h.f.stamp(out, uint64(k))
		h.corruptIfFault(out, uint64(k))
		if err := h.ep.send(); err != nil {
			return err
		}
		if limit > 0 && k&producerClockMask == 0 && k < total && bench.Now()-begin >= limit {
			h.f.stamp(out, stopSeq)
			return h.ep.send()
		}
	}
	return nil
}
