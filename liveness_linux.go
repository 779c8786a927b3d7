package shqueue

import (
	"bytes"
	"os"
	"strconv"
)

// procStartTime returns the start time of process pid in clock ticks since
// boot (field 22 of /proc/PID/stat) and whether the process is a zombie.
// ok is false if the process does not exist or the file cannot be parsed.
//
// The start time tells a live process from a later one that reuses its pid, and
// the zombie state tells a killed child that its parent has not reaped yet:
// kill(pid, 0) succeeds on both, though neither will ever finish its claim.
func procStartTime(pid int) (start uint64, zombie, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, false
	}
	// The command name (field 2) is in parentheses and may contain spaces and
	// parentheses itself: the fields after it start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false, false
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0, false, false
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, false, false
	}
	return start, fields[0][0] == 'Z', true
}
