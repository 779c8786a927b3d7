package shqueue

import (
	"bytes"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// procStartTime returns the start time of process pid in clock ticks since
// boot (field 22 of /proc/PID/stat) and whether the process is a zombie.
// ok is false if the process does not exist or the file cannot be parsed.
//
// The start time tells a live process from a later one that reuses its pid, and
// the zombie state tells a killed child that its parent has not reaped yet:
// kill(pid, 0) succeeds on both, though neither will ever finish its claim.
func procStartTime(pid int) (start uint64, zombie, ok bool) {
	// A fixed buffer and raw system calls: this runs on a waiter's path, which
	// must not allocate. The line is far shorter than the buffer (the command
	// name is at most 16 bytes).
	//
	// It reads the main thread's stat file, /proc/PID/task/PID/stat, which
	// holds the same start time as /proc/PID/stat: user-mode emulators
	// (qemu-user) answer a process's reads of its own /proc/PID/stat with
	// their own, seconds later, start time, and a live process was then
	// taken for a dead one by every other process (the storm tests caught it
	// under qemu-aarch64). The task file they pass through to the kernel.
	var path [48]byte
	p := append(path[:0], "/proc/"...)
	p = strconv.AppendInt(p, int64(pid), 10)
	p = append(p, "/task/"...)
	p = strconv.AppendInt(p, int64(pid), 10)
	p = append(p, "/stat\x00"...)
	r, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&p[0])), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
	if errno != 0 {
		return 0, false, false
	}
	fd := int(r)
	var buf [1024]byte
	n, err := unix.Read(fd, buf[:])
	unix.Close(fd)
	if err != nil || n <= 0 {
		return 0, false, false
	}
	b := buf[:n]
	// The command name (field 2) is in parentheses and may contain spaces and
	// parentheses itself: the fields after it start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false, false
	}
	// Field 3 (the state) is the first after the ')'; field 22 the 20th.
	var fields [20][]byte
	nf := 0
	for rest := b[i+1:]; nf < len(fields); {
		for len(rest) > 0 && rest[0] == ' ' {
			rest = rest[1:]
		}
		end := bytes.IndexAny(rest, " \n")
		if end <= 0 {
			break
		}
		fields[nf], rest = rest[:end], rest[end:]
		nf++
	}
	if nf < len(fields) {
		return 0, false, false
	}
	for _, c := range fields[19] {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		start = start*10 + uint64(c-'0')
	}
	return start, fields[0][0] == 'Z', true
}

// atFDCWD is AT_FDCWD (-100), a variable so it converts to a system-call
// argument at run time.
var atFDCWD = int64(unix.AT_FDCWD)
