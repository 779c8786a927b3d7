package main

// The WaitAny transport: shqueue with the adaptive wait, whose measuring
// side receives through shqueue.WaitAny over waitAnyQueues queues (then
// DequeueTry) instead of DequeueBlock on one. Its messages arrive on the
// last of them, the others stay empty, so every look scans all of them. It
// runs in the latency phase (a ping-pong: WaitAny while the peer answers
// within the spin) and in the wake section (WaitAny asleep in futex_waitv on
// all the queues' words) next to shqueue-adaptive's DequeueBlock on one.
// The hook into the shqueue transport is shqueueEndpoint.recvFrom.

import (
	"context"
	"fmt"
	"strconv"

	"github.com/shqueue/shqueue"
)

// waitAnyQueues is how many queues the WaitAny transport waits on.
const waitAnyQueues = 8

const waitAnyTransport = "shqueue-waitany8"

func init() {
	registerTransport(&transport{
		name:  waitAnyTransport,
		kind:  "shqueue",
		base:  "shqueue-adaptive",
		about: fmt.Sprintf("shqueue, adaptive wait, side 0 receives with WaitAny over %d queues (the message on the last) and DequeueTry", waitAnyQueues),
		check: func(int) error { return nil },
		setup: setupWaitAny,
		open:  openWaitAny,
	})
	waitOf[waitAnyTransport] = shqueue.Adaptive
}

// setupWaitAny creates the two queues of the shqueue transport and the
// waitAnyQueues-1 that stay empty.
func setupWaitAny(cfg setupConfig) (*setupResult, error) {
	sr, err := setupShqueue(cfg, false)
	if err != nil {
		return nil, err
	}
	var extra []*shqueue.Queue
	cleanup := sr.cleanup
	sr.cleanup = func() error {
		err := cleanup()
		for _, q := range extra {
			if derr := q.Delete(); derr != nil && err == nil {
				err = derr
			}
			if cerr := q.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
		return err
	}
	for range waitAnyQueues - 1 {
		q, err := createQueue(cfg.size, cfg.capacity)
		if err != nil {
			sr.cleanup()
			return nil, fmt.Errorf("create queue: %w", err)
		}
		extra = append(extra, q)
		sr.args = append(sr.args, strconv.Itoa(q.Key()))
	}
	return sr, nil
}

// openWaitAny opens side's end; side 0 also opens the empty queues and
// receives through WaitAny over them and its receiving queue, last.
func openWaitAny(side int, cfg setupConfig, args []string) (endpoint, error) {
	if len(args) != 2+waitAnyQueues-1 {
		return nil, fmt.Errorf("want %d transport arguments, got %q", 2+waitAnyQueues-1, args)
	}
	ep, err := openShqueue(side, cfg, args[:2], shqueue.Adaptive, false, false)
	if err != nil || side != 0 {
		return ep, err
	}
	se := ep.(*shqueueEndpoint)
	keys, err := intArgs(args[2:], waitAnyQueues-1)
	if err != nil {
		se.close()
		return nil, err
	}
	for _, key := range keys {
		q, err := shqueue.Open(key)
		if err != nil {
			se.close()
			return nil, err
		}
		se.recvFrom = append(se.recvFrom, q)
	}
	se.recvFrom = append(se.recvFrom, se.recvQ)
	return se, nil
}

// recvWithin receives one message until ctx is done: through WaitAny when
// the endpoint has recvFrom, else with DequeueBlock.
func (e *shqueueEndpoint) recvWithin(ctx context.Context) error {
	if e.recvFrom == nil {
		return e.recvQ.DequeueBlock(ctx, e.in)
	}
	for {
		i, err := shqueue.WaitAny(ctx, e.recvFrom...)
		if err != nil {
			return err
		}
		if e.recvFrom[i].DequeueTry(e.in) {
			return nil
		}
	}
}
