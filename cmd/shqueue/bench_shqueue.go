package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/shqueue/shqueue"
)

// shqueue is measured once per wait strategy, through the blocking calls a
// user makes (EnqueueBlock, DequeueBlock), with one queue per direction;
// shqueue-spsc is shqueue-spin on queues created WithSingleProducer and
// WithSingleConsumer, each side opened with its role. The handles are
// default ones: each call takes its lane with a CAS. The -1g variants open
// them WithSingleGoroutine instead (no locked instruction to take a lane),
// which streams faster and answers a ping-pong more slowly on the machine
// docs/performance.md names ("One goroutine per handle"); they are not in
// the default list.
func init() {
	for _, w := range []struct {
		name       string
		wait       shqueue.WaitStrategy
		spsc, oneG bool
	}{
		{"shqueue-spin", shqueue.BusySpin, false, false},
		{"shqueue-spsc", shqueue.BusySpin, true, false},
		{"shqueue-adaptive", shqueue.Adaptive, false, false},
		{"shqueue-spin-1g", shqueue.BusySpin, false, true},
		{"shqueue-spsc-1g", shqueue.BusySpin, true, true},
	} {
		about := "shqueue, " + w.wait.String() + " wait, EnqueueBlock/DequeueBlock, one queue per direction"
		if w.spsc {
			about += ", exclusive producer and consumer"
		}
		if w.oneG {
			about += ", handles WithSingleGoroutine"
		}
		registerTransport(&transport{
			name:       w.name,
			kind:       "shqueue",
			optIn:      w.oneG,
			about:      about,
			throughput: true,
			check:      func(int) error { return nil },
			setup: func(cfg setupConfig) (*setupResult, error) {
				return setupShqueue(cfg, w.spsc)
			},
			open: func(side int, cfg setupConfig, args []string) (endpoint, error) {
				return openShqueue(side, cfg, args, w.wait, w.spsc, w.oneG)
			},
		})
	}
}

// createAttempts bounds createQueue's retries: each lost race means another
// process created a queue in between, and ten in a row mean something else
// is wrong.
const createAttempts = 10

// createQueue makes a queue under a free key, retrying when another process
// takes the key between FindFreeKey and Create.
func createQueue(size, capacity int, opts ...shqueue.Option) (*shqueue.Queue, error) {
	for attempt := 0; ; attempt++ {
		key, err := shqueue.FindFreeKey()
		if err != nil {
			return nil, err
		}
		q, err := shqueue.Create(key, uint32(size/8), uint32(capacity), opts...)
		if errors.Is(err, shqueue.ErrAlreadyExist) && attempt < createAttempts {
			continue
		}
		return q, err
	}
}

func setupShqueue(cfg setupConfig, spsc bool) (*setupResult, error) {
	var opts []shqueue.Option
	if spsc {
		opts = []shqueue.Option{shqueue.WithSingleProducer(), shqueue.WithSingleConsumer()}
	}
	var qs [2]*shqueue.Queue
	remove := func() error {
		var first error
		for _, q := range qs {
			if q == nil {
				continue
			}
			if err := q.Delete(); err != nil && first == nil {
				first = err
			}
			if err := q.Close(); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	for i := range qs {
		q, err := createQueue(cfg.size, cfg.capacity, opts...)
		if err != nil {
			remove()
			return nil, fmt.Errorf("create queue: %w", err)
		}
		qs[i] = q
	}
	// The parent keeps both queues attached until the children are done,
	// then deletes them: Delete frees the key at once, so it cannot come
	// before the children have opened the queues.
	return &setupResult{
		args:    []string{strconv.Itoa(qs[0].Key()), strconv.Itoa(qs[1].Key())},
		cleanup: remove,
	}, nil
}

type shqueueEndpoint struct {
	sendQ, recvQ *shqueue.Queue
	out, in      []byte
	ctx          context.Context
	// recvFrom, when set, makes this side receive through WaitAny over
	// these queues, recvQ among them (bench_waitany.go).
	recvFrom []*shqueue.Queue
}

// openShqueue opens side's ends of the two queues; oneG opens them
// WithSingleGoroutine (each side uses each handle from one goroutine).
func openShqueue(side int, cfg setupConfig, args []string, wait shqueue.WaitStrategy, spsc, oneG bool) (endpoint, error) {
	keys, err := intArgs(args, 2)
	if err != nil {
		return nil, err
	}
	var qs [2]*shqueue.Queue
	for i, key := range keys {
		opts := []shqueue.Option{shqueue.WithWait(wait)}
		if oneG {
			opts = append(opts, shqueue.WithSingleGoroutine())
		}
		switch {
		case !spsc:
		case i == side: // this side sends on queue i
			opts = append(opts, shqueue.AsProducer())
		default:
			opts = append(opts, shqueue.AsConsumer())
		}
		q, err := shqueue.Open(key, opts...)
		if err != nil {
			if i == 1 {
				qs[0].Close()
			}
			return nil, err
		}
		if q.MsgSize() != cfg.size {
			q.Close()
			return nil, fmt.Errorf("queue %#x: message size %d, want %d", key, q.MsgSize(), cfg.size)
		}
		qs[i] = q
	}
	return &shqueueEndpoint{
		sendQ: qs[side], recvQ: qs[1-side],
		out: make([]byte, cfg.size), in: make([]byte, cfg.size),
		ctx: context.Background(),
	}, nil
}

func (e *shqueueEndpoint) sendBuf() []byte { return e.out }
func (e *shqueueEndpoint) recvBuf() []byte { return e.in }
func (e *shqueueEndpoint) send() error     { return e.sendQ.EnqueueBlock(e.ctx, e.out) }
func (e *shqueueEndpoint) recv() error {
	if e.recvFrom != nil {
		return e.recvWithin(e.ctx)
	}
	return e.recvQ.DequeueBlock(e.ctx, e.in)
}

func (e *shqueueEndpoint) close() error {
	err := e.sendQ.Close()
	if err2 := e.recvQ.Close(); err == nil {
		err = err2
	}
	for _, q := range e.recvFrom {
		if q != e.recvQ {
			q.Close()
		}
	}
	return err
}
