package main

// The wake section's measuring loops, run in the child processes
// (bench_child.go): a consumer woken from sleep and its sender, and an idle
// waiter. Sender and consumer are different processes, so the send time
// they compare is bench.Now, the clock every process shares.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/shqueue/shqueue"
	"github.com/shqueue/shqueue/internal/bench"
)

// wakeProgressMask: the progress line every 64 wake-ups (each takes at least
// -wakepause).
const wakeProgressMask = 1<<6 - 1

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
	hist := bench.NewHistogram()
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
		now := bench.Now()
		if !h.f.check(in, seq) {
			return nil, h.badMessage(in, seq)
		}
		if k > h.cfg.warmup {
			hist.Record(now - int64(binary.LittleEndian.Uint64(in[8*sentWord:])))
			asleep += int64(binary.LittleEndian.Uint64(in[8*asleepWord:]))
		}
		if k == h.cfg.warmup {
			allocs = mallocs()
		}
		h.f.stamp(out, seq)
		if err := h.ep.send(); err != nil {
			return nil, err
		}
		if h.prog != nil && k&wakeProgressMask == 0 {
			h.prog.update(bench.Now(), k, total)
		}
	}
	allocs = mallocs() - allocs
	return &childResult{Hist: hist.Export(), Count: hist.Count(), Allocs: allocs, Asleep: asleep}, nil
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
		h.stampWake(out, seq, bench.Now(), info.SleepingConsumers > 0)
		h.corruptIfFault(out, seq)
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
	cpu0, wall0 := bench.ProcessCPU(), bench.Now()
	err := se.recvWithin(ctx)
	cpu, wall := bench.ProcessCPU()-cpu0, bench.Now()-wall0
	if !errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("waiting on an empty queue: %v, want the deadline", err)
	}
	return &childResult{ElapsedNs: wall, CPUNs: int64(cpu)}, nil
}
