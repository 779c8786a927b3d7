//go:build linux || darwin

package shqueue

import (
	"errors"
	"math"
	"math/rand/v2"

	"golang.org/x/sys/unix"
)

// FindFreeKey returns a SysV key (a positive 32-bit value, never IPC_PRIVATE)
// that no segment uses at the time of the call. Another process can still
// take it before Create does; Create then fails with ErrAlreadyExist.
func FindFreeKey() (int, error) {
	for range 1 << 12 {
		key := int(rand.Int32N(math.MaxInt32)) + 1
		_, err := unix.SysvShmGet(key, 0, 0)
		if errors.Is(err, unix.ENOENT) {
			return key, nil
		}
	}
	return 0, ErrNoFreeKeys
}
