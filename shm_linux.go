package shqueue

import "golang.org/x/sys/unix"

func descTimes(d *unix.SysvShmDesc) (atime, ctime int64) {
	return int64(d.Atime), int64(d.Ctime)
}

func descKey(d *unix.SysvShmDesc) (key int, known bool) { return int(d.Perm.Key), true }
