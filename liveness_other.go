//go:build !linux

package shqueue

// Without /proc there is no start time: liveness rests on kill(pid, 0) alone.
func procStartTime(pid int) (start uint64, zombie, ok bool) { return 0, false, false }
