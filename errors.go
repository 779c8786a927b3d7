package shqueue

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Sentinel errors. Every error the package returns wraps one of these (or a
// context error) with the operation and the key, so callers test them with
// errors.Is.
var (
	ErrNotExist      = errors.New("queue does not exist")
	ErrAlreadyExist  = errors.New("queue already exists and is attached")
	ErrNoAccess      = errors.New("no permission to access the segment")
	ErrInvalidSize   = errors.New("size does not fit the system's shared memory limits")
	ErrInvalidArg    = errors.New("invalid argument")
	ErrInvalidKey    = errors.New("invalid SysV key")
	ErrInvalidMagic  = errors.New("segment is not a shqueue (bad magic)")
	ErrBadVersion    = errors.New("unsupported shqueue layout version")
	ErrCorrupt       = errors.New("segment header is corrupt or inconsistent")
	ErrMsgSize       = errors.New("message or buffer length differs from the queue's message size")
	ErrClosed        = errors.New("queue handle is closed")
	ErrTooManyProcs  = errors.New("attached-process table is full")
	ErrNoFreeKeys    = errors.New("no free SysV key found")
	ErrNoMem         = errors.New("not enough memory for the segment")
	ErrNoIDs         = errors.New("system limit on shared memory segments reached")
	ErrRemoved       = errors.New("segment was removed")
	ErrNotAttached   = errors.New("segment is not attached")
	ErrSystemFailure = errors.New("system call failed")
	ErrBusy          = errors.New("the exclusive role is held by another live handle")
	ErrRole          = errors.New("the queue's side is exclusive and this handle does not hold its role")
)

// mapErrno turns a System V shared-memory errno into a sentinel error wrapped
// with the operation, the key and the system's own message.
func mapErrno(op string, key int, err error) error {
	var sentinel error
	switch {
	case errors.Is(err, unix.ENOENT):
		sentinel = ErrNotExist
	case errors.Is(err, unix.EEXIST):
		sentinel = ErrAlreadyExist
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		sentinel = ErrNoAccess
	case errors.Is(err, unix.EINVAL):
		sentinel = ErrInvalidSize
	case errors.Is(err, unix.ENOMEM):
		sentinel = ErrNoMem
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.ENFILE):
		sentinel = ErrNoIDs
	case errors.Is(err, unix.EIDRM):
		sentinel = ErrRemoved
	default:
		sentinel = ErrSystemFailure
	}
	return fmt.Errorf("%s queue %#x: %w (%v)", op, key, sentinel, err)
}

func keyErr(op string, key int, sentinel error, format string, args ...any) error {
	if format == "" {
		return fmt.Errorf("%s queue %#x: %w", op, key, sentinel)
	}
	return fmt.Errorf("%s queue %#x: %w: %s", op, key, sentinel, fmt.Sprintf(format, args...))
}
