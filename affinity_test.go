package shqueue

import (
	"errors"
	"fmt"

	"github.com/shqueue/shqueue/internal/bench"
)

// twoCPUs returns two CPUs this process may run on and can pin threads to,
// for the cross-core ring benchmark (threads pinned with bench.PinThread).
func twoCPUs() ([2]int, error) {
	if !bench.CanPin {
		return [2]int{}, errors.New("pinning threads to CPUs is only implemented on Linux")
	}
	cpus, err := bench.AllowedCPUs()
	if err != nil {
		return [2]int{}, err
	}
	if len(cpus) < 2 {
		return [2]int{}, fmt.Errorf("needs two CPUs, has %d", len(cpus))
	}
	return [2]int{cpus[0], cpus[1]}, nil
}
