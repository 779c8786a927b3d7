package main

// The processor a bench run measured on, and the slot-copy plan the library
// chose for it, for the report's environment.

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/klauspost/cpuid/v2"
	"github.com/shqueue/shqueue"
)

// cpuDescription names the processor and the slot-copy plan the library
// chose for it (shqueue.CopyPlan: the detected features and the routine per
// message size and direction).
func cpuDescription() (cpu, copyPlan string) {
	c := cpuid.CPU
	cpu = strings.TrimSpace(c.BrandName)
	if cpu == "" {
		cpu = runtime.GOARCH
	}
	if c.LogicalCores > 0 {
		cpu = fmt.Sprintf("%s, %d logical CPUs", cpu, runtime.NumCPU())
	}
	return cpu, shqueue.CopyPlan()
}
