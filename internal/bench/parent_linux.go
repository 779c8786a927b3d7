package bench

import (
	"os/exec"
	"syscall"
)

// KillWithParent makes the kernel send the child cmd starts SIGKILL when the
// thread that started it exits (Linux's parent-death signal), sooner than
// the child's WatchParent notices. Call it before cmd.Start, and not from a
// goroutine locked to a thread it lets exit (PinThread's): the signal follows
// the thread, not the process.
func KillWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
