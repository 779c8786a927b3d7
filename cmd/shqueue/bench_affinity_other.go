//go:build !linux

package main

import (
	"errors"
	"runtime"
)

// Thread affinity is a Linux interface; elsewhere the benchmark runs unpinned.

func pinThread(int) error { return errors.New("CPU pinning is supported on Linux only") }

func allowedCPUs() ([]int, error) {
	cpus := make([]int, runtime.NumCPU())
	for i := range cpus {
		cpus[i] = i
	}
	return cpus, nil
}

const canPin = false
