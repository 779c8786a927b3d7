package shqueue

import "golang.org/x/sys/unix"

// The sleeper check is a Dekker pattern: a waker stores (publish or release)
// then loads the sleeper count; a sleeper adds itself to the count then loads
// the slot. Without a full barrier on both sides each can miss the other and
// the sleeper sleeps through a message. The waker runs on every operation,
// the sleeper only after 220 µs of spinning and yielding, so the barrier is
// made asymmetric: wakers use release stores (no barrier), and a sleeper calls
// membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), which makes every running
// thread of every registered process pass through a full barrier before it
// returns (a thread that is not running passed one when it was switched out).
// Every process that loads this package registers at start-up.

const (
	membarrierQuery                   = 0
	membarrierGlobalExpedited         = 1 << 1
	membarrierRegisterGlobalExpedited = 1 << 2
)

// lightWake is true when this process registered, so its wakers may skip the
// barrier; sleeperFence is true when the kernel offers the expedited fence,
// which sleepers then always issue (a waker in another process may rely on it).
var lightWake, sleeperFence = registerMembarrier()

func registerMembarrier() (registered, supported bool) {
	mask, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierQuery, 0, 0)
	need := uintptr(membarrierGlobalExpedited | membarrierRegisterGlobalExpedited)
	if errno != 0 || mask&need != need {
		return false, false
	}
	_, _, errno = unix.Syscall(unix.SYS_MEMBARRIER, membarrierRegisterGlobalExpedited, 0, 0)
	return errno == 0, true
}

// sleeperBarrier is the heavy side of the fence, issued by a sleeper between
// registering and its last look at the queue. Close of a WithSingleGoroutine
// handle issues it too (roles.go: enterAt): where this process registered
// (lightWake), it reaches every running thread of this process as well.
func sleeperBarrier() {
	if sleeperFence {
		unix.Syscall(unix.SYS_MEMBARRIER, membarrierGlobalExpedited, 0, 0)
	}
}
