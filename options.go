package shqueue

import (
	"fmt"
	"os"
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
	wait WaitStrategy
	mode uint32

	// Lifecycle (lifecycle.go, names.go).
	name    string
	named   bool
	replace bool
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

func newOptions(opts []Option) options {
	o := options{wait: Adaptive, mode: 0o600}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.wait > BusySpin {
		o.wait = Adaptive
	}
	return o
}
