package shqueue

import (
	"context"
	"runtime"
	"testing"
)

// These tests are not parallel: lastCall is the process's.

// TestHandoffFence checks the rule of handoff_amd64.go: every dequeue
// fences, an enqueue only when the last call in the process was a dequeue.
func TestHandoffFence(t *testing.T) {
	steps := []struct {
		kind  uint64
		fence bool
	}{
		{callDequeue, true},
		{callEnqueue, true}, // answering: the last call was a dequeue
		{callEnqueue, false},
		{callEnqueue, false}, // streaming out
		{callDequeue, true},
		{callDequeue, true}, // each dequeue attempt
		{callEnqueue, true},
	}
	for i, s := range steps {
		if got := handoffFence(s.kind); got != s.fence {
			t.Fatalf("step %d (kind %d): fenced %v, want %v", i, s.kind, got, s.fence)
		}
	}
}

// TestHandoffFenceCalls checks that the calls of a WithSingleGoroutine
// handle record their kind, and those of a default handle do not.
func TestHandoffFenceCalls(t *testing.T) {
	q := newTestQueue(t, 2, 4, WithSingleGoroutine())
	if !q.oneGoroutine {
		if runtime.GOOS == "linux" && lightWake {
			t.Fatal("WithSingleGoroutine ignored on a system with the expedited membarrier")
		}
		t.Skip("WithSingleGoroutine takes its lanes with a CAS without the expedited membarrier")
	}
	msg, buf := make([]byte, 16), make([]byte, 16)
	if !q.EnqueueTry(msg) || lastCall.kind != callEnqueue {
		t.Fatalf("after EnqueueTry: last call %d, want %d", lastCall.kind, callEnqueue)
	}
	if err := q.DequeueBlock(context.Background(), buf); err != nil || lastCall.kind != callDequeue {
		t.Fatalf("after DequeueBlock: err %v, last call %d, want %d", err, lastCall.kind, callDequeue)
	}
	d := newTestQueue(t, 2, 4)
	if !d.EnqueueTry(msg) || lastCall.kind != callDequeue {
		t.Fatalf("a default handle's enqueue changed the last call to %d", lastCall.kind)
	}
}
