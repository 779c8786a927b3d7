//go:build !linux

package shqueue

import (
	"context"
	"sync/atomic"
	"time"
)

// Without futex_waitv, WaitAny polls its words with the bounded back-off
// (pollWords).
func sleepWords(ctx context.Context, words []waitWord, cancelSeen uint32, timeout time.Duration) {
	pollWords(ctx, words, cancelSeen, timeout)
}

func wakeContextWaiters() { atomic.AddUint32(&ctxWake, 1) }

// noWaitv is WaitAny's switch to polling on Linux; here it always polls.
var noWaitv atomic.Bool
