package bench

import (
	"time"

	"golang.org/x/sys/unix"
)

// ProcessCPU is the CPU time, user and system, that all threads of the
// calling process have used so far (getrusage RUSAGE_SELF).
func ProcessCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		panic("getrusage(RUSAGE_SELF): " + err.Error()) // only EFAULT/EINVAL, impossible here
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
