package shqueue

import "golang.org/x/sys/unix"

// Darwin's shmid_ds as x/sys exposes it carries no times.
func descTimes(*unix.SysvShmDesc) (atime, ctime int64) { return 0, 0 }

// Darwin's ipc_perm as x/sys exposes it carries no key.
func descKey(*unix.SysvShmDesc) (key int, known bool) { return 0, false }
