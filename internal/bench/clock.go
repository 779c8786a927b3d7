package bench

import _ "unsafe" // for go:linkname

// Now returns the monotonic clock every process on the host shares, in
// nanoseconds (CLOCK_MONOTONIC on Linux), so one process can stamp a message
// with Now and another subtract it from its own reading. It does not
// allocate and is a vDSO read on Linux (about 20-30 ns), not a system call.
//
// time.Now's monotonic reading cannot serve: it is relative to the start of
// the process that took it. unix.ClockGettime can, but it is a system call
// (a few hundred nanoseconds under a hypervisor), which would land in every
// figure it times.
func Now() int64 { return nanotime() }

// nanotime is the runtime's monotonic clock, the one behind time.Now. The
// runtime keeps it available to linkname on purpose (it is on its list of
// symbols widely used that way).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64
