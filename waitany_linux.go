package shqueue

import (
	"context"
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// WaitAny's sleep on Linux: futex_waitv (Linux 5.16) sleeps on every queue's
// word at once and returns when any of them is woken or no longer holds the
// value read before the last look at the queues.

// futexWaitv is the kernel's struct futex_waitv. uaddr is a 64-bit field on
// every architecture, 32-bit ones included.
type futexWaitv struct {
	val      uint64
	uaddr    uint64
	flags    uint32
	reserved uint32
}

// kernelTimespec is struct __kernel_timespec, 64-bit on every architecture
// (unix.Timespec is 32-bit on linux/386).
type kernelTimespec struct {
	sec, nsec int64
}

const (
	// futex2Size32 says the word is 32 bits. The queues' words are in a
	// shared segment, so they are waited on without futex2Private: the
	// wakers are other processes.
	futex2Size32  = 2
	futex2Private = 128
	// futexWakePrivate wakes waiters on a word in this process's memory.
	futexWakePrivate = futexWakeOp | 128
)

// noWaitv is set once futex_waitv has answered with an error other than a
// wake-up's, a changed word's, a timeout's or a signal's (it does not exist,
// or a seccomp filter refused it); from then on WaitAny polls. Tests set it to run
// the polling path on a kernel that has futex_waitv.
var noWaitv atomic.Bool

// sleepWords sleeps until a word no longer holds the value seen, ctxWake no
// longer holds cancelSeen (only when ctx can be cancelled), a wake-up, a
// signal, or timeout. Callers look at their queues again whatever the reason.
func sleepWords(ctx context.Context, words []waitWord, cancelSeen uint32, timeout time.Duration) {
	if noWaitv.Load() {
		pollWords(ctx, words, cancelSeen, timeout)
		return
	}
	var v [MaxWaitAny + 1]futexWaitv
	for i, w := range words {
		v[i] = futexWaitv{val: uint64(w.seen), uaddr: uint64(uintptr(unsafe.Pointer(w.addr))), flags: futex2Size32}
	}
	n := len(words)
	if ctx.Done() != nil {
		v[n] = futexWaitv{val: uint64(cancelSeen), uaddr: uint64(uintptr(unsafe.Pointer(&ctxWake))), flags: futex2Size32 | futex2Private}
		n++
	}
	// The timeout is absolute, on the clock named in the call.
	var now unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &now); err != nil {
		pollWords(ctx, words, cancelSeen, timeout)
		return
	}
	ns := int64(now.Nsec) + int64(timeout)
	abs := kernelTimespec{sec: int64(now.Sec) + ns/1e9, nsec: ns % 1e9}
	_, _, errno := unix.Syscall6(unix.SYS_FUTEX_WAITV, uintptr(unsafe.Pointer(&v[0])), uintptr(n), 0,
		uintptr(unsafe.Pointer(&abs)), unix.CLOCK_MONOTONIC, 0)
	switch errno {
	case 0, unix.EAGAIN, unix.ETIMEDOUT, unix.EINTR:
		// Woken, a word had changed, the slice ended, or a signal.
	default:
		// ENOSYS: a kernel before 5.16; EPERM: a seccomp filter that does
		// not know the call (futex_waitv itself never answers it). Any
		// other error would return at once on every call and turn the
		// sleep into a spin: poll from now on instead.
		noWaitv.Store(true)
		pollWords(ctx, words, cancelSeen, timeout)
	}
}

// wakeContextWaiters wakes every WaitAny of this process that sleeps under a
// cancellable context (see watchContext).
func wakeContextWaiters() {
	atomic.AddUint32(&ctxWake, 1)
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&ctxWake)), futexWakePrivate, math.MaxInt32, 0, 0, 0)
}
