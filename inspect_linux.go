package shqueue

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// sysvShmTable is the kernel's table of every System V segment, one line
// each, readable by every user whatever the segments' permissions.
const sysvShmTable = "/proc/sysvipc/shm"

// shmDest is the flag the kernel adds to a segment's mode once IPC_RMID has
// marked it for removal (SHM_DEST in <linux/shm.h>).
const shmDest = 0o1000

// listSegments reads the kernel's table of segments. Its columns are
//
//	key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime rss swap
//
// with perms in octal and times in Unix seconds (0 for never).
func listSegments() ([]ListEntry, error) {
	data, err := os.ReadFile(sysvShmTable)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	return parseSysvShm(data)
}

func parseSysvShm(data []byte) ([]ListEntry, error) {
	var out []ListEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 0; sc.Scan(); line++ {
		f := bytes.Fields(sc.Bytes())
		if line == 0 || len(f) == 0 {
			continue // the header
		}
		if len(f) < 14 {
			return nil, fmt.Errorf("list segments: %s line %d: %d fields, want at least 14", sysvShmTable, line+1, len(f))
		}
		var n [14]int64
		for i := range n {
			base := 10
			if i == 2 {
				base = 8
			}
			v, err := strconv.ParseInt(string(f[i]), base, 64)
			if err != nil {
				return nil, fmt.Errorf("list segments: %s line %d field %d: %w", sysvShmTable, line+1, i+1, err)
			}
			n[i] = v
		}
		e := ListEntry{
			Key:         int(int32(n[0])),
			ID:          int(n[1]),
			Mode:        os.FileMode(n[2]).Perm(),
			Removed:     n[2]&shmDest != 0,
			Size:        int(n[3]),
			CreatorPID:  int(n[4]),
			Attachments: int(n[6]),
			UID:         int(n[7]),
		}
		if n[11] != 0 {
			e.LastAttach = time.Unix(n[11], 0)
		}
		if n[13] != 0 {
			e.Changed = time.Unix(n[13], 0)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
