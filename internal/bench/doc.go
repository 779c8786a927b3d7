// Package bench is the harness both process benchmarks build on: the
// repository root's (go test -bench, bench_ipc_test.go, bench_wake_test.go,
// bench_test.go) and the shqueue bench command (cmd/shqueue). It owns the
// pieces whose contract must be the same on both sides of a measurement, so
// that a figure from one means what the same figure from the other means:
//
//   - Now, the clock every process on the host shares (clock.go);
//   - ProcessCPU, the CPU time of the calling process (cputime.go);
//   - WatchParent and KillWithParent, which keep a benchmark's child
//     processes from outliving it (parent*.go);
//   - PinThread and AllowedCPUs, thread placement (pin_*.go);
//   - Histogram, the latency histogram (histogram.go).
//
// It must not import the shqueue package: the root package's own tests import
// it, and that would be an import cycle. Queue-specific measurement stays
// with its callers.
package bench
