package bench

import (
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestAllowedCPUs(t *testing.T) {
	cpus, err := AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if len(cpus) == 0 || !slices.IsSorted(cpus) {
		t.Fatalf("AllowedCPUs = %v", cpus)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	if len(cpus) != set.Count() {
		t.Errorf("AllowedCPUs lists %d CPUs, the affinity mask has %d", len(cpus), set.Count())
	}
}

// PinThread binds the calling thread, and only it, and keeps the goroutine
// on that thread.
func TestPinThread(t *testing.T) {
	cpus, err := AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	target := cpus[len(cpus)-1]
	done := make(chan error, 1)
	go func() {
		// The goroutine exits still pinned: its thread goes with it.
		if err := PinThread(target); err != nil {
			done <- err
			return
		}
		for range 100 {
			runtime.Gosched() // a goroutine moved off the thread would show
			var set unix.CPUSet
			if err := unix.SchedGetaffinity(0, &set); err != nil {
				done <- err
				return
			}
			if set.Count() != 1 || !set.IsSet(target) {
				t.Errorf("thread affinity has %d CPUs, want only %d", set.Count(), target)
				break
			}
		}
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The test's own thread is not pinned.
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	if set.Count() != len(cpus) {
		t.Errorf("another thread's affinity changed: %d CPUs, want %d", set.Count(), len(cpus))
	}
}
