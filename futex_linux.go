package shqueue

import (
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Futex operations on 32-bit words in the shared segment. The private flag is
// deliberately absent: waiters and wakers are in different processes.
const (
	futexWaitOp = 0 // FUTEX_WAIT
	futexWakeOp = 1 // FUTEX_WAKE
)

// futexWait sleeps while *addr == val, for at most timeout. It returns early
// on a wake, a signal or a changed value; callers re-check their condition.
func futexWait(addr *uint32, val uint32, timeout time.Duration) {
	if timeout <= 0 {
		return
	}
	ts := unix.NsecToTimespec(int64(timeout))
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitOp, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// wakeAll changes the word (so a waiter that has not slept yet will not) and
// wakes every process sleeping on it. Kept out of line: it is the cold half of
// the wakers in protocol.go, which must inline.
//
//go:noinline
func wakeAll(addr *uint32) {
	atomic.AddUint32(addr, 1)
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakeOp, math.MaxInt32, 0, 0, 0)
}
