//go:build !linux

package shqueue

import "errors"

// Thread affinity is Linux-only here; the ring benchmark skips elsewhere.
func twoCPUs() ([2]int, error) {
	return [2]int{}, errors.New("pinning threads to CPUs is only implemented on Linux")
}

func pinThread(cpu int) error { return errors.ErrUnsupported }
