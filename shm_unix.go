//go:build linux || darwin

package shqueue

import (
	"golang.org/x/sys/unix"
)

// The System V segment: every system call the package makes on it is here,
// each failure mapped to a sentinel error by mapErrno.

// segment is one attachment of a System V segment to this process.
type segment struct {
	key int
	id  int
	mem []byte // the whole segment, as shmat mapped it
}

// segInfo is what IPC_STAT tells about a segment.
type segInfo struct {
	size     int
	nattach  int
	mode     uint32
	uid      uint32
	cpid     int32
	key      int   // the key the kernel holds for it (0 once marked for removal)
	keyKnown bool  // whether the system says (Linux does, Darwin does not)
	atime    int64 // last attach, Unix seconds (0 where the system does not say)
	ctime    int64 // last change, Unix seconds (0 where the system does not say)
}

// shmCreateExcl creates a new segment for key, failing with ErrAlreadyExist if
// the key is taken.
func shmCreateExcl(key, size int, mode uint32) (int, error) {
	id, err := unix.SysvShmGet(key, size, unix.IPC_CREAT|unix.IPC_EXCL|int(mode&0o777))
	if err != nil {
		return 0, mapErrno("create", key, err)
	}
	return id, nil
}

// shmLookup returns the id of the existing segment for key; op names the
// caller's operation in an error.
func shmLookup(op string, key int) (int, error) {
	id, err := unix.SysvShmGet(key, 0, 0)
	if err != nil {
		return 0, mapErrno(op, key, err)
	}
	return id, nil
}

func shmStat(key, id int) (segInfo, error) {
	var d unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &d); err != nil {
		return segInfo{}, mapErrno("stat", key, err)
	}
	info := segInfo{
		size:    int(d.Segsz),
		nattach: int(d.Nattch),
		mode:    uint32(d.Perm.Mode) & 0o777,
		uid:     uint32(d.Perm.Uid),
		cpid:    int32(d.Cpid),
	}
	info.atime, info.ctime = descTimes(&d)
	info.key, info.keyKnown = descKey(&d)
	return info, nil
}

// shmAttach maps the segment read-write into this process.
func shmAttach(key, id int) (*segment, error) {
	mem, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return nil, mapErrno("attach", key, err)
	}
	return &segment{key: key, id: id, mem: mem}, nil
}

func (s *segment) detach() error {
	if err := unix.SysvShmDetach(s.mem); err != nil {
		return mapErrno("detach", s.key, err)
	}
	s.mem = nil
	return nil
}

// shmRemove marks the segment for removal: it disappears when the last process
// detaches, and the key is free at once.
func shmRemove(key, id int) error {
	if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err != nil {
		return mapErrno("remove", key, err)
	}
	return nil
}
