package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// cpuDescription names the processor and the slot-copy plan the library
// chose for it (shqueue.CopyPlan); the feature list is the fallback should
// the plan be empty.
func cpuDescription() (cpu, copyVariant string) {
	c := cpuid.CPU
	cpu = strings.TrimSpace(c.BrandName)
	if cpu == "" {
		cpu = runtime.GOARCH
	}
	if c.LogicalCores > 0 {
		cpu = fmt.Sprintf("%s, %d logical CPUs", cpu, runtime.NumCPU())
	}
	var feats []string
	for _, f := range []struct {
		id   cpuid.FeatureID
		name string
	}{
		{cpuid.AVX512F, "AVX512F"}, {cpuid.AVX512BW, "AVX512BW"}, {cpuid.AVX512VL, "AVX512VL"},
		{cpuid.AVX2, "AVX2"}, {cpuid.ERMS, "ERMS"}, {cpuid.FSRM, "FSRM"},
		{cpuid.ASIMD, "NEON"}, {cpuid.SVE, "SVE"},
	} {
		if c.Supports(f.id) {
			feats = append(feats, f.name)
		}
	}
	if len(feats) == 0 {
		feats = []string{"no vector copy features"}
	}
	copyVariant = libraryCopyVariant()
	if copyVariant == "" {
		copyVariant = "chosen by the library from: " + strings.Join(feats, " ")
	}
	return cpu, copyVariant
}
