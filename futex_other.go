//go:build !linux

package shqueue

import (
	"sync/atomic"
	"time"
)

// Without futexes, a sleeper polls the word with short sleeps: a bounded
// back-off that wakes within sleepPoll of a change.
const sleepPoll = 500 * time.Microsecond

func futexWait(addr *uint32, val uint32, timeout time.Duration) {
	for timeout > 0 && atomic.LoadUint32(addr) == val {
		d := min(timeout, sleepPoll)
		time.Sleep(d)
		timeout -= d
	}
}

func wakeAll(addr *uint32) { atomic.AddUint32(addr, 1) }
