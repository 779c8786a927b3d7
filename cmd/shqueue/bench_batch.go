package main

import (
	"fmt"

	"github.com/shqueue/shqueue"
)

// The batch and zero-copy calls, measured for throughput only (a batch has
// no one-way latency of its own): shqueue-batchN moves messages with
// EnqueueBatch/DequeueBatch in batches of N, built in place in the batch
// buffer as a user would; shqueue-zc writes each message into its slot with
// Claim, one copy of the stamped message into Bytes(), and checks it where
// it lies with Read, before Release. They are not in the default transport
// list: name them with -transports.
const kindShqueueAPI = "shqueue-api"

// batchSizes are the shqueue-batchN transports.
var batchSizes = []int{1, 8, 32, 256}

func init() {
	for _, b := range batchSizes {
		registerTransport(apiTransport(fmt.Sprintf("shqueue-batch%d", b),
			fmt.Sprintf("shqueue, busy-spin wait, EnqueueBatch/DequeueBatch of %d messages, throughput only", b),
			func(ep *shqueueEndpoint) endpoint { return newBatchEndpoint(ep, b) }))
	}
	registerTransport(apiTransport("shqueue-zc",
		"shqueue, busy-spin wait, Claim/Commit and Read/Release (zero-copy), throughput only",
		func(ep *shqueueEndpoint) endpoint { return &zeroCopyEndpoint{shqueueEndpoint: ep} }))
}

// apiTransport is a kindShqueueAPI transport: a busy-spinning shqueue
// endpoint that wrap turns into one moving messages its own way,
// throughput only.
func apiTransport(name, about string, wrap func(*shqueueEndpoint) endpoint) *transport {
	return &transport{
		name:           name,
		kind:           kindShqueueAPI,
		about:          about,
		throughput:     true,
		throughputOnly: true,
		check:          func(int) error { return nil },
		setup:          func(cfg setupConfig) (*setupResult, error) { return setupShqueue(cfg, false) },
		open: func(side int, cfg setupConfig, args []string) (endpoint, error) {
			// Throughput only, each handle used by one goroutine: the
			// configuration that streams fastest (bench_shqueue.go).
			ep, err := openShqueue(side, cfg, args, shqueue.BusySpin, false, true)
			if err != nil {
				return nil, err
			}
			return wrap(ep.(*shqueueEndpoint)), nil
		},
	}
}

// Optional endpoint methods the throughput loops (bench_measure.go) use.
type (
	// stagedSender hands out a new send buffer for each message; the
	// producer asks for it before stamping every message, and calls flush
	// once after its last one.
	stagedSender interface {
		stagedSend()
		flush() error
	}
	// inPlaceReceiver's receive buffer moves with each message; the
	// consumer asks for it after every recv.
	inPlaceReceiver interface{ inPlaceRecv() }
	// multiBuffer has several send buffers to initialise with the template.
	multiBuffer interface{ initBuffers(init func([]byte)) }
)

// batchEndpoint stages n messages in a buffer and sends them with one
// EnqueueBatch; it receives up to n at once with DequeueBatch and hands them
// out one by one.
type batchEndpoint struct {
	*shqueueEndpoint
	n, size      int
	sbuf, rbuf   []byte
	staged       int // messages stamped into sbuf, not yet sent
	got, handed  int // messages in rbuf, handed out
	out, current []byte
}

func newBatchEndpoint(ep *shqueueEndpoint, n int) *batchEndpoint {
	size := len(ep.out)
	e := &batchEndpoint{shqueueEndpoint: ep, n: n, size: size, sbuf: make([]byte, n*size), rbuf: make([]byte, n*size)}
	e.out, e.current = e.sbuf[:size], e.rbuf[:size]
	return e
}

func (e *batchEndpoint) stagedSend()     {}
func (e *batchEndpoint) inPlaceRecv()    {}
func (e *batchEndpoint) sendBuf() []byte { return e.out }
func (e *batchEndpoint) recvBuf() []byte { return e.current }

func (e *batchEndpoint) initBuffers(init func([]byte)) {
	for i := 0; i < e.n; i++ {
		init(e.sbuf[i*e.size : (i+1)*e.size])
	}
}

func (e *batchEndpoint) send() error {
	e.staged++
	if e.staged == e.n {
		return e.flush()
	}
	e.out = e.sbuf[e.staged*e.size : (e.staged+1)*e.size]
	return nil
}

func (e *batchEndpoint) flush() error {
	if e.staged > 0 {
		if _, err := e.sendQ.EnqueueBatch(e.ctx, e.sbuf[:e.staged*e.size]); err != nil {
			return err
		}
	}
	e.staged, e.out = 0, e.sbuf[:e.size]
	return nil
}

func (e *batchEndpoint) recv() error {
	if e.handed == e.got {
		n, err := e.recvQ.DequeueBatch(e.ctx, e.rbuf)
		if err != nil {
			return err
		}
		e.got, e.handed = n, 0
	}
	e.current = e.rbuf[e.handed*e.size : (e.handed+1)*e.size]
	e.handed++
	return nil
}

// zeroCopyEndpoint copies each stamped message into a claimed slot once
// (Claim, copy into Bytes, Commit) and hands the consumer the slot's own
// bytes (Read), releasing each message at the next recv.
type zeroCopyEndpoint struct {
	*shqueueEndpoint
	held bool
	msg  shqueue.Message
}

func (e *zeroCopyEndpoint) inPlaceRecv() {}

func (e *zeroCopyEndpoint) recvBuf() []byte {
	if e.held {
		return e.msg.Bytes()
	}
	return e.in
}

func (e *zeroCopyEndpoint) send() error {
	c, err := e.sendQ.Claim(e.ctx)
	if err != nil {
		return err
	}
	copy(c.Bytes(), e.out)
	c.Commit()
	return nil
}

func (e *zeroCopyEndpoint) recv() error {
	e.release()
	m, err := e.recvQ.Read(e.ctx)
	if err != nil {
		return err
	}
	e.msg, e.held = m, true
	return nil
}

func (e *zeroCopyEndpoint) release() {
	if e.held {
		e.msg.Release()
		e.held = false
	}
}

func (e *zeroCopyEndpoint) close() error {
	e.release()
	return e.shqueueEndpoint.close()
}
