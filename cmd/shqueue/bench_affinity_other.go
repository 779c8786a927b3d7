//go:build !linux

package main

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"time"
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

func dieWithParent(*exec.Cmd) {}

// watchParent exits the child once its parent is gone: without Linux's
// parent-death signal, a child spinning on a queue would otherwise outlive
// a bench process that was killed.
func watchParent() {
	parent := os.Getppid()
	go func() {
		for range time.Tick(200 * time.Millisecond) {
			if os.Getppid() != parent {
				os.Exit(3)
			}
		}
	}()
}
