//go:build !(amd64 || arm64) || purego || noasm

package shqueue

import "sync/atomic"

// The portable spin-wait hint, for builds without pause_asm.go (its build
// line is the exact complement).

// pauseTicks is loaded once per spin so the compiler keeps the loop; it is
// never written.
var pauseTicks atomic.Uint32

// spinPause is the portable stand-in for the PAUSE/YIELD hint: a short loop of
// atomic loads that burns a little time without a system call or a trip
// through the scheduler.
func spinPause(n int) {
	for i := 0; i < n; i++ {
		pauseTicks.Load()
	}
}
