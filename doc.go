// Package shqueue is a bounded queue of fixed-size messages in a System V
// shared-memory segment, for processes on one host that hand each other
// messages in well under a microsecond.
//
// Any number of producer and consumer processes (and goroutines) may use one
// queue at once. The protocol is lock-free: per-slot sequence numbers (Dmitry
// Vyukov's bounded MPMC queue) over 64-bit head and tail positions in the
// segment, so no process can die holding a lock. A process killed in the middle
// of an operation costs at most the message it had in flight: a waiter stuck
// behind its claim finds it gone and recovers the slot.
//
// A handle must not be closed while other goroutines are still calling its
// methods: Close unmaps the segment.
package shqueue
