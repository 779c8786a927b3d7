//go:build (amd64 || arm64) && !purego && !noasm

package shqueue

// The spin-wait hint in assembly (pause_amd64.s, pause_arm64.s);
// pause_other.go, with the exact complement of this build line, is the
// portable stand-in.

// pauseN executes the spin-wait hint n times (PAUSE on amd64, YIELD on
// arm64); n <= 0 returns at once. The pure-Go reference is pause_other.go's
// spinPause; asm is needed because Go has no intrinsic for either
// instruction.
//
//go:noescape
func pauseN(n int)

// spinPause executes the CPU spin-wait hint n times, telling the core (and
// its hyperthread sibling) that this is a busy-wait loop.
func spinPause(n int) {
	pauseN(n)
}
