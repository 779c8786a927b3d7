package shqueue

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// twoCPUs returns two CPUs this process may run on, for the cross-core ring
// benchmark.
func twoCPUs() ([2]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return [2]int{}, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cpus []int
	for cpu := 0; cpu < len(set)*64 && len(cpus) < 2; cpu++ {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	if len(cpus) < 2 {
		return [2]int{}, fmt.Errorf("needs two CPUs, has %d", len(cpus))
	}
	return [2]int{cpus[0], cpus[1]}, nil
}

// pinThread locks the calling goroutine to its OS thread and that thread to
// cpu. The goroutine must exit without unlocking, so the runtime discards the
// pinned thread instead of reusing it.
func pinThread(cpu int) error {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	return unix.SchedSetaffinity(0, &set)
}
