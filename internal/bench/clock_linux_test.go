package bench

import (
	"testing"

	"golang.org/x/sys/unix"
)

// On Linux, Now is CLOCK_MONOTONIC itself: the system call's readings
// bracket it.
func TestNowIsClockMonotonic(t *testing.T) {
	read := func() int64 {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			t.Fatal(err)
		}
		return ts.Nano()
	}
	for range 100 {
		before := read()
		now := Now()
		after := read()
		if now < before || now > after {
			t.Fatalf("Now = %d, outside CLOCK_MONOTONIC's [%d, %d]", now, before, after)
		}
	}
}

// BenchmarkClock compares Now with the clock_gettime system call the wake-up
// benchmarks used before (the same clock, read without the vDSO).
func BenchmarkClock(b *testing.B) {
	b.Run("read=now", func(b *testing.B) {
		b.ReportAllocs()
		var sum int64
		for b.Loop() {
			sum += Now()
		}
		_ = sum
	})
	b.Run("read=syscall", func(b *testing.B) {
		b.ReportAllocs()
		var ts unix.Timespec
		for b.Loop() {
			unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		}
	})
}
