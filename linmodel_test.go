package shqueue

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/anishathalye/porcupine"

	"github.com/shqueue/shqueue/internal/bench"
)

// TestLinearizableModels holds the models of the linearizability test to
// histories whose verdicts are known, so that neither a model that accepts
// everything nor one that rejects a correct queue goes unnoticed.
func TestLinearizableModels(t *testing.T) {
	const a, b, c = 1, 2, 3 // message ids
	enq := func(client int, id uint32, ok bool, call, ret int64) linOp {
		return linOp{client: client, kind: linEnqTry, id: id, ok: ok, call: call, ret: ret}
	}
	deq := func(client int, id uint32, ok bool, call, ret int64) linOp {
		return linOp{client: client, kind: linDeqTry, id: id, ok: ok, call: call, ret: ret}
	}
	shift := func(client int, id uint32, call, ret int64) linOp {
		return linOp{client: client, kind: linShift, id: id, ok: true, call: call, ret: ret}
	}
	// want: the verdicts of strict, exact-try-only, exact-shift-only, loose.
	for _, tc := range []struct {
		name     string
		capacity int
		ops      []linOp
		want     [4]bool
	}{
		{"sequential FIFO", 2, []linOp{
			enq(0, a, true, 0, 1), enq(0, b, true, 2, 3), enq(0, c, false, 4, 5),
			deq(0, a, true, 6, 7), deq(0, b, true, 8, 9), deq(0, 0, false, 10, 11),
		}, [4]bool{true, true, true, true}},
		{"overlapping calls in either order", 2, []linOp{
			enq(0, a, true, 0, 10), enq(1, b, true, 1, 9), deq(0, b, true, 11, 12), deq(1, a, true, 13, 14),
		}, [4]bool{true, true, true, true}},
		{"shift on a full queue drops the oldest", 1, []linOp{
			enq(0, a, true, 0, 1), shift(0, b, 2, 3), deq(0, b, true, 4, 5), deq(0, 0, false, 6, 7),
		}, [4]bool{true, true, true, true}},
		{"EnqueueTry fails on an empty queue", 2, []linOp{
			enq(0, a, false, 0, 1),
		}, [4]bool{false, false, true, true}},
		{"DequeueTry fails with a message waiting", 2, []linOp{
			enq(0, a, true, 0, 1), deq(0, 0, false, 2, 3), deq(0, a, true, 4, 5),
		}, [4]bool{false, false, true, true}},
		{"empty seen while a shift replaces the only message", 1, []linOp{
			enq(0, a, true, 0, 1), shift(1, b, 2, 10), deq(0, 0, false, 3, 5), deq(0, b, true, 11, 12),
		}, [4]bool{false, true, true, true}},
		{"one shift drops two", 1, []linOp{
			enq(0, a, true, 0, 1), shift(1, b, 2, 10), enq(0, c, true, 3, 5), deq(0, b, true, 11, 12), deq(0, 0, false, 13, 14),
		}, [4]bool{false, true, false, true}},
		{"shift drops with room to spare", 2, []linOp{
			enq(0, a, true, 0, 1), shift(0, b, 2, 3), deq(0, b, true, 4, 5),
		}, [4]bool{false, true, false, true}},
		{"a message dropped after its shift returned", 2, []linOp{
			enq(0, a, true, 0, 1), shift(0, b, 2, 3), enq(0, c, true, 4, 5), deq(0, c, true, 6, 7),
		}, [4]bool{false, false, false, false}},
		{"a shift that leaves more than Cap", 1, []linOp{
			enq(0, a, true, 0, 1), shift(0, b, 2, 3), deq(0, a, true, 4, 5),
		}, [4]bool{false, false, false, false}},
		{"out of order", 2, []linOp{
			enq(0, a, true, 0, 1), enq(0, b, true, 2, 3), deq(0, b, true, 4, 5),
		}, [4]bool{false, false, false, false}},
		{"received twice", 2, []linOp{
			enq(0, a, true, 0, 1), deq(0, a, true, 2, 3), deq(1, a, true, 4, 5),
		}, [4]bool{false, false, false, false}},
		{"received, never sent", 2, []linOp{
			deq(0, a, true, 0, 1),
		}, [4]bool{false, false, false, false}},
		{"more than Cap", 1, []linOp{
			enq(0, a, true, 0, 1), enq(1, b, true, 2, 3),
		}, [4]bool{false, false, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			atomic, split := linHistories(tc.ops)
			for m, spec := range linModels {
				model, history := spec.model(tc.capacity, atomic, split)
				res := porcupine.CheckOperationsTimeout(model, history, linCheckTimeout)
				if got := res == porcupine.Ok; got != tc.want[m] || res == porcupine.Unknown {
					t.Errorf("%s model: %s, want linearizable=%t", spec.name, res, tc.want[m])
				}
			}
		})
	}
}

// TestLinearizableReference runs the test's workload on a queue that is
// linearizable by construction (a slice under a mutex), from goroutines with
// the same clock, and requires every model to explain every round: the
// harness (timestamps, merge, histories) must not fail a correct queue.
func TestLinearizableReference(t *testing.T) {
	rounds := 200
	if testing.Short() || raceEnabled {
		rounds = 40
	}
	rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
	for round := 0; round < rounds; round++ {
		capacity := 1 + rng.IntN(linMaxCap)
		ref := &lockedQueue{capacity: capacity}
		seed := rng.Uint64()
		perClient := make([][]linOp, linWorkers)
		var wg sync.WaitGroup
		for client := range linWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				perClient[client] = ref.work(seed, client)
			}()
		}
		wg.Wait()
		var ops []linOp
		for _, o := range perClient {
			ops = append(ops, o...)
		}
		atomic, split := linHistories(ops)
		for _, spec := range linModels {
			model, history := spec.model(capacity, atomic, split)
			if res := porcupine.CheckOperationsTimeout(model, history, linCheckTimeout); res != porcupine.Ok {
				r := &linRound{capacity: capacity, ops: ops}
				t.Fatalf("round %d: the %s model says %s for a locked queue\n%s", round, spec.name, res, r.summary())
			}
		}
	}
}

// lockedQueue is a bounded FIFO queue under a mutex: linearizable, each call
// taking effect while it holds the lock.
type lockedQueue struct {
	mu       sync.Mutex
	capacity int
	ids      []uint32
}

func (q *lockedQueue) work(seed uint64, client int) []linOp {
	rng := rand.New(rand.NewPCG(seed, uint64(client)))
	n := linMinOps + rng.IntN(linMaxOps-linMinOps+1)
	ops := make([]linOp, 0, n)
	for i := range n {
		op := linOp{client: client, kind: linKind(rng.IntN(3))}
		if op.kind != linDeqTry {
			op.id = linID(client, i)
		}
		op.call = bench.Now()
		q.mu.Lock()
		switch op.kind {
		case linEnqTry:
			if op.ok = len(q.ids) < q.capacity; op.ok {
				q.ids = append(q.ids, op.id)
			}
		case linShift:
			if len(q.ids) == q.capacity {
				q.ids = q.ids[1:]
			}
			q.ids = append(q.ids, op.id)
			op.ok = true
		case linDeqTry:
			if op.ok = len(q.ids) > 0; op.ok {
				op.id, q.ids = q.ids[0], q.ids[1:]
			}
		}
		q.mu.Unlock()
		op.ret = bench.Now()
		ops = append(ops, op)
	}
	return ops
}
