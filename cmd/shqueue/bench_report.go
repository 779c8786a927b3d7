package main

// What a bench run reports: the JSON shapes of -json (field names are part of
// the tool's interface: add fields, do not rename them), the ratios between
// transports and the environment the figures were taken in.

import (
	"runtime"

	"github.com/shqueue/shqueue/internal/bench"
)

// A report is everything one run measured.
type report struct {
	Env     envInfo   `json:"env"`
	Results []*result `json:"results"`
	// Wake is the cost of waiting per shqueue wait strategy (bench_wake.go).
	Wake []*wakeResult `json:"wake,omitempty"`
}

type envInfo struct {
	GoVersion string `json:"go_version"`
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	CPU       string `json:"cpu"`
	Copy      string `json:"copy"`
	CPUs      []int  `json:"pinned_cpus,omitempty"`
	NumCPU    int    `json:"num_cpu"`
	Record    string `json:"record"`
	Check     string `json:"check"`
}

type result struct {
	Transport  string            `json:"transport"`
	Kind       string            `json:"kind"`
	Size       int               `json:"size"`
	Capacity   int               `json:"capacity,omitempty"`
	Latency    *latencyResult    `json:"latency,omitempty"`
	Throughput *throughputResult `json:"throughput,omitempty"`
	Skipped    string            `json:"skipped,omitempty"`
	// Ratios compare a shqueue result with each kernel transport measured
	// at the same size in the same run: kernel latency / shqueue latency
	// and shqueue throughput / kernel throughput, so >1 favours shqueue.
	Ratios map[string]*ratio `json:"ratios,omitempty"`

	hist *bench.Histogram
}

type latencyResult struct {
	RoundTrips int64   `json:"round_trips"`
	Warmup     int     `json:"warmup"`
	P50        int64   `json:"p50_ns"`
	P90        int64   `json:"p90_ns"`
	P99        int64   `json:"p99_ns"`
	P999       int64   `json:"p999_ns"`
	P9999      int64   `json:"p9999_ns"`
	Max        int64   `json:"max_ns"`
	Mean       float64 `json:"mean_ns"`
	Allocs     uint64  `json:"allocs"`
}

type throughputResult struct {
	Messages    int64   `json:"messages"`
	ElapsedNs   int64   `json:"elapsed_ns"`
	MsgsPerSec  float64 `json:"msgs_per_sec"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	Allocs      uint64  `json:"allocs"`
}

type ratio struct {
	P50        float64 `json:"p50,omitempty"`
	P99        float64 `json:"p99,omitempty"`
	MsgsPerSec float64 `json:"throughput,omitempty"`
}

func computeRatios(results []*result) {
	for _, r := range results {
		if r.Kind != "shqueue" {
			continue
		}
		for _, k := range results {
			if k.Kind != "kernel" || k.Size != r.Size || k.Skipped != "" {
				continue
			}
			rt := &ratio{}
			if r.Latency != nil && k.Latency != nil && r.Latency.P50 > 0 && r.Latency.P99 > 0 {
				rt.P50 = float64(k.Latency.P50) / float64(r.Latency.P50)
				rt.P99 = float64(k.Latency.P99) / float64(r.Latency.P99)
			}
			if r.Throughput != nil && k.Throughput != nil && k.Throughput.MsgsPerSec > 0 {
				rt.MsgsPerSec = r.Throughput.MsgsPerSec / k.Throughput.MsgsPerSec
			}
			if r.Ratios == nil {
				r.Ratios = map[string]*ratio{}
			}
			r.Ratios[k.Transport] = rt
		}
	}
}

func environment(cfg *benchConfig) envInfo {
	cpu, copyVariant := cpuDescription()
	return envInfo{
		GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		CPU: cpu, Copy: copyVariant, CPUs: cfg.cpus, NumCPU: runtime.NumCPU(), Record: cfg.record, Check: cfg.check,
	}
}
