//go:build !race

package shqueue

const raceEnabled = false
