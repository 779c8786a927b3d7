package shqueue

import (
	"fmt"
	"os"
	"time"
)

// WaitStrategy says how a handle's blocking calls wait.
type WaitStrategy uint8

const (
	// Adaptive spins for a few microseconds (the first attempts hot, the
	// rest with the CPU's spin-wait hint), then yields the processor, then
	// sleeps on a futex word in the segment
	// until a producer (or consumer) wakes it. An idle waiter costs almost
	// nothing; a waiter that sleeps pays a system call's latency to wake.
	Adaptive WaitStrategy = iota
	// BusySpin never leaves the CPU and spins without the spin-wait hint:
	// the lowest latency, a whole core per waiter (and, on a core shared
	// with a hyperthread sibling, a slower sibling).
	BusySpin
)

func (s WaitStrategy) String() string {
	switch s {
	case Adaptive:
		return "adaptive"
	case BusySpin:
		return "busy-spin"
	}
	return fmt.Sprintf("WaitStrategy(%d)", uint8(s))
}

// Option configures Create or Open. Options come after the original
// arguments, so the original call forms still compile.
type Option func(*options)

type options struct {
	wait    WaitStrategy
	mode    uint32
	tryWait time.Duration

	// Lifecycle (lifecycle.go, names.go).
	name    string
	named   bool
	replace bool

	flags uint32 // Create: the queue's exclusive sides (flagSingleProducer, flagSingleConsumer)
	roles uint32 // the roles this handle asks for, as the same bits

	oneGoroutine bool // WithSingleGoroutine
}

// WithSingleGoroutine promises that the handle's calls never overlap: one
// goroutine uses it at a time (Close may still come from any goroutine at any
// moment). A call then takes its lane (protocol.go) with a plain load and
// store instead of a locked CAS, so a producer that only streams runs with
// no locked instruction: on an AMD EPYC Zen 5 VM a 64 B stream between two
// processes ran 1.16x the C floor's ring against 0.84x with default handles
// (docs/performance.md, "One goroutine per handle"). On amd64 a dequeue
// attempt, and an enqueue that follows a dequeue in the same process, still
// pass a locked add, because on that VM it answered a ping-pong sooner
// (handoff_amd64.go); so an enqueue-dequeue pair in one goroutine costs what
// it costs with default handles (BenchmarkQueue). It changes only this
// handle, nothing in the segment. Calls that do overlap break the
// promise: they may share one claim record, so crash recovery can misname a
// claimant, and Close may detach the segment under one of them. Where the
// system has no expedited membarrier (Close's half of the bargain,
// fence_linux.go), the option is ignored.
func WithSingleGoroutine() Option {
	return func(o *options) { o.oneGoroutine = true }
}

// WithSingleProducer makes Create's queue a single-producer queue: one
// handle at a time may enqueue, the one opened AsProducer, and it claims
// without a locked instruction. Open ignores it (a queue keeps the options it
// was created with).
func WithSingleProducer() Option {
	return func(o *options) { o.flags |= flagSingleProducer }
}

// WithSingleConsumer makes Create's queue a single-consumer queue: one handle
// at a time may dequeue, the one opened AsConsumer. EnqueueShift panics on
// such a queue (it would move head, which the consumer alone moves). Open
// ignores it.
func WithSingleConsumer() Option {
	return func(o *options) { o.flags |= flagSingleConsumer }
}

// AsProducer asks Create or Open for the producer role of a single-producer
// queue: the call fails with ErrBusy while another live process's handle
// holds it, takes it over when that process is dead, and Close gives it
// back. On a queue with shared producers it changes nothing.
func AsProducer() Option {
	return func(o *options) { o.roles |= flagSingleProducer }
}

// AsConsumer asks for the consumer role of a single-consumer queue, as
// AsProducer does for producers.
func AsConsumer() Option {
	return func(o *options) { o.roles |= flagSingleConsumer }
}

// WithWait sets how this handle's blocking calls wait (default Adaptive).
func WithWait(s WaitStrategy) Option {
	return func(o *options) { o.wait = s }
}

// WithMode sets the permission bits of a segment Create makes (default 0600:
// only the creating user). Use 0660 to share a queue with a group. Open
// ignores it.
func WithMode(perm os.FileMode) Option {
	return func(o *options) { o.mode = uint32(perm.Perm()) }
}

// WithTryWait sets how long this handle's Try calls wait for another
// process's operation in flight before they answer anyway (default 2 ms,
// DefaultTryWait). A Try call answers full or empty only when the queue was
// full or empty at some instant of the call; when the slot it needs is in the
// middle of another process's copy it waits for that copy, and if the process
// has died, recovery settles the slot. Only a live process stopped or
// descheduled mid-operation for longer than d makes a Try call answer false
// while the queue was not full (or not empty); each such answer is counted in
// Stats().Stalled. A d of zero or less means the default.
func WithTryWait(d time.Duration) Option {
	return func(o *options) { o.tryWait = d }
}

// DefaultTryWait is the Try calls' wait for another process's operation in
// flight when WithTryWait is not given: a running process finishes any
// operation in microseconds, so this is reached only by one that the system
// has stopped or descheduled.
const DefaultTryWait = 2 * time.Millisecond

func newOptions(opts []Option) options {
	o := options{wait: Adaptive, mode: 0o600, tryWait: DefaultTryWait}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.wait > BusySpin {
		o.wait = Adaptive
	}
	if o.tryWait <= 0 {
		o.tryWait = DefaultTryWait
	}
	return o
}
