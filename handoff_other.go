//go:build !amd64

package shqueue

// The hand-off fence is measured on amd64 only (handoff_amd64.go). Elsewhere
// a WithSingleGoroutine handle's call takes its lane with no fence.
func handoffFence(kind uint64) bool { return false }
