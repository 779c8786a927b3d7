//go:build amd64

package shqueue

import "sync/atomic"

// The hand-off fence of WithSingleGoroutine handles on amd64. Such a handle
// takes its lane without the locked CAS a default handle pays (roles.go:
// enterAt), and that CAS, measured, is what made a default handle answer a
// ping-pong between two processes sooner. On the AMD EPYC (Zen 5) VM of
// docs/performance.md, a 64-byte SPSC ping-pong of WithSingleGoroutine
// handles took 315-320 ns one way with a locked add at the start of every
// call, 380-420 ns with none, and 390-400 ns with one only where the calls
// change direction (the first dequeue attempt after an enqueue, the first
// enqueue after a dequeue): each attempt of a waiting dequeue needs one. A producer that only streams gains nothing from it and loses a fifth
// of its rate to it (10 against 12.5-13 M msgs/s: a full barrier per message
// keeps one message's line transfers in flight at a time). So:
//
//   - every dequeue attempt starts with a locked add;
//   - an enqueue starts with one when the last such call in this process was
//     a dequeue, that is, when the process answers or asks rather than
//     streams.
//
// Why the fence shortens a hand-off there was not established (the VM has no
// hardware counters); it is measured on amd64 only, so handoff_other.go
// leaves it out.
//
// The fence orders nothing the protocol relies on: leaving it out, or issuing
// it when it is not needed, changes timing only. So the last call's kind is a
// process-wide hint, not kept per goroutine: Go offers no cheap goroutine or
// thread identity, and each key tried lost on that VM (the P, through
// runtime.procPin: the stream fell from 12-13.5 to 9.5-9.7 M msgs/s; the
// goroutine's stack address: 486 ns and 5.7-7.2 M msgs/s; the g pointer read
// in assembly: 456-506 ns for every handle, default handles included). Two
// goroutines of one process, one enqueueing and one dequeueing, flip the hint
// at every call: measured so (a producer and a consumer goroutine on one SPSC
// queue, 64 B, three runs each, the word not yet on a line of its own),
// 83-98 ns per message against 91-100 ns without the fence. The word is written only when it changes, and sits on a
// line of its own.

// lastCall holds the kind of the last call in this process that entered a
// WithSingleGoroutine handle: callEnqueue or callDequeue.
var lastCall struct {
	_    [cacheLine - 8]byte
	kind uint64
	_    [cacheLine - 8]byte
}

// handoffFence is called by a WithSingleGoroutine handle's call, before it
// takes its lane, with the call's kind. It reports whether it fenced.
func handoffFence(kind uint64) bool {
	last := atomic.LoadUint64(&lastCall.kind)
	if last != kind {
		storeRelease64(&lastCall.kind, kind)
	}
	if kind == callDequeue || last != kind {
		lockedAdd()
		return true
	}
	return false
}

// lockedAdd is a locked read-modify-write of a word no one else sees: a full
// barrier (LOCK XADD) with no shared line to contend for.
func lockedAdd() {
	var w uint64
	atomic.AddUint64(&w, 1)
}
