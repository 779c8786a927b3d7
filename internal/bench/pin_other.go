//go:build !linux

package bench

import (
	"errors"
	"fmt"
	"runtime"
)

// CanPin reports whether PinThread works on this system: thread affinity is
// a Linux interface here.
const CanPin = false

// PinThread locks the calling goroutine to its OS thread, as on Linux, but
// cannot bind the thread to a CPU: it returns an error that wraps
// errors.ErrUnsupported.
func PinThread(cpu int) error {
	runtime.LockOSThread()
	return fmt.Errorf("pinning a thread to cpu %d: %w (Linux only)", cpu, errors.ErrUnsupported)
}

// AllowedCPUs lists every CPU: without an affinity interface, a process may
// run on any.
func AllowedCPUs() ([]int, error) {
	cpus := make([]int, runtime.NumCPU())
	for i := range cpus {
		cpus[i] = i
	}
	return cpus, nil
}
