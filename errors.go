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
	ErrAlreadyExist  = errors.New("queue already exists")
	ErrNoAccess      = errors.New("no permission to access the segment")
	ErrInvalidSize   = errors.New("queue size out of range")
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
	ErrSystemFailure = errors.New("system call failed")
	ErrBusy          = errors.New("the exclusive role is held by another live handle")
	ErrRole          = errors.New("the queue's side is exclusive and this handle does not hold its role")

	// ErrShape: OpenOrCreate found a queue with another message size or
	// capacity; the error names both shapes.
	ErrShape = errors.New("queue has another shape")
	// ErrNameMismatch: the queue at the key carries another name than the
	// one given with WithName (two names share the key; see KeyFromName),
	// or none.
	ErrNameMismatch = errors.New("queue has another name")
	// ErrHalfCreated: the segment is a queue whose creator has not finished
	// its header: still writing it, or killed before it finished (then
	// Create, OpenOrCreate and Remove clear it).
	ErrHalfCreated = errors.New("queue is half-created")
)

// errnoSentinels maps the errnos of the System V shared-memory calls to
// sentinel errors; any other errno is ErrSystemFailure. EINVAL from shmat
// or shmctl means the segment id no longer exists (from shmget with
// IPC_CREAT it is a size out of range: mapErrno sees to that first).
var errnoSentinels = map[unix.Errno]error{
	unix.ENOENT: ErrNotExist,
	unix.EEXIST: ErrAlreadyExist,
	unix.EACCES: ErrNoAccess,
	unix.EPERM:  ErrNoAccess,
	unix.EINVAL: ErrRemoved,
	unix.EIDRM:  ErrRemoved,
	unix.ENOMEM: ErrNoMem,
	unix.ENOSPC: ErrNoIDs,
	unix.ENFILE: ErrNoIDs,
}

// mapErrno turns a System V shared-memory errno into a sentinel error wrapped
// with the operation, the key and the system's own message.
func mapErrno(op string, key int, err error) error {
	sentinel := ErrSystemFailure
	var errno unix.Errno
	switch {
	case errors.Is(err, unix.EINVAL) && op == "create":
		// shmget with IPC_CREAT: the size is out of the system's range.
		sentinel, err = ErrInvalidSize, fmt.Errorf("the system's shared-memory limits (kernel.shmmax, kernel.shmall, kernel.shmmni) refuse the size: %w", err)
	case errors.As(err, &errno) && errnoSentinels[errno] != nil:
		sentinel = errnoSentinels[errno]
	}
	return fmt.Errorf("%s queue %s: %w (%v)", op, keyHex(key), sentinel, err)
}

// keyErr wraps sentinel with the operation, the key and, if format is not
// empty, the cause.
func keyErr(op string, key int, sentinel error, format string, args ...any) error {
	if format == "" {
		return fmt.Errorf("%s queue %s: %w", op, keyHex(key), sentinel)
	}
	return fmt.Errorf("%s queue %s: %w: %s", op, keyHex(key), sentinel, fmt.Sprintf(format, args...))
}

// keyHex formats a key the one way every message prints it: eight hex
// digits, a negative key in two's complement, as ipcs(1) and shqueue ls show
// it (-5 is 0xfffffffb).
func keyHex(key int) string { return fmt.Sprintf("0x%08x", uint32(key)) }

// plural counts n things: "1 attachment", "2 attachments".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
