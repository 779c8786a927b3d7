//go:build !linux

package shqueue

// Without membarrier, wakers keep the full barrier on every operation.
const lightWake, sleeperFence = false, false

func sleeperBarrier() {}
