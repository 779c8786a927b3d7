//go:build darwin

package shqueue

import (
	"errors"
	"fmt"
)

// Only Linux lists its System V segments to every user (/proc/sysvipc/shm);
// elsewhere a key has to be named to be inspected.
func listSegments() ([]ListEntry, error) {
	return nil, fmt.Errorf("list segments: listing every segment needs Linux (/proc/sysvipc/shm): %w", errors.ErrUnsupported)
}
