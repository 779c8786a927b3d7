//go:build race

package shqueue

// raceEnabled: the race detector's instrumentation allocates on its own, so
// allocation counts are checked only without it.
const raceEnabled = true
