package bench

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// CanPin reports whether PinThread works on this system.
const CanPin = true

// PinThread locks the calling goroutine to its OS thread
// (runtime.LockOSThread) and binds that thread to cpu. It never unlocks: a
// goroutine that exits while pinned takes its thread with it, so the runtime
// never hands a pinned thread to other goroutines. Only the calling thread is
// bound; the runtime's other threads (sysmon, idle Ps) stay free to run
// anywhere, which on a 2-CPU machine is better than stacking them on a
// spinning thread's CPU.
func PinThread(cpu int) error {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_setaffinity(cpu %d): %w", cpu, err)
	}
	return nil
}

// AllowedCPUs lists the CPUs this process may run on, in increasing order.
func AllowedCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cpus []int
	for cpu := range cpuSetSize {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	return cpus, nil
}

// cpuSetSize is how many CPUs a unix.CPUSet describes.
const cpuSetSize = len(unix.CPUSet{}) * 64
