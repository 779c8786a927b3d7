package main

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The raw floor: one 64-bit counter in a SysV shared-memory segment bounced
// between the two processes with no queue logic at all. Side 0 stores 2k+1
// and spins until it reads 2k+2; side 1 spins for 2k+1 and stores 2k+2. Its
// round trip is two cache-line transfers between the CPUs plus the cost of
// the Go loop and the clock reads, which is as fast as any shared-memory
// queue measured by this tool can possibly be (the C "pingpong line" program
// measures the same thing without Go).
func init() {
	registerTransport(&transport{
		name:  "raw",
		kind:  "floor",
		about: "floor: one atomic counter bounced through a SysV segment, no queue logic",
		check: func(int) error { return nil },
		setup: setupRaw,
		open:  openRaw,
	})
}

const rawSegmentSize = 4096

func setupRaw(setupConfig) (*setupResult, error) {
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, rawSegmentSize, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		return nil, fmt.Errorf("shmget: %w", err)
	}
	return &setupResult{
		args: []string{strconv.Itoa(id)},
		cleanup: func() error {
			if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err != nil {
				return fmt.Errorf("shmctl(%d, IPC_RMID): %w", id, err)
			}
			return nil
		},
	}, nil
}

type rawEndpoint struct {
	seg     []byte
	counter *uint64
	side    uint64
	round   uint64
	buf     [minMsgSize]byte
}

func openRaw(side int, _ setupConfig, args []string) (endpoint, error) {
	ids, err := intArgs(args, 1)
	if err != nil {
		return nil, err
	}
	seg, err := unix.SysvShmAttach(ids[0], 0, 0)
	if err != nil {
		return nil, fmt.Errorf("shmat(%d): %w", ids[0], err)
	}
	return &rawEndpoint{
		seg:     seg,
		counter: (*uint64)(unsafe.Pointer(&seg[0])), // page aligned
		side:    uint64(side),
	}, nil
}

func (e *rawEndpoint) dataless()       {}
func (e *rawEndpoint) sendBuf() []byte { return e.buf[:] }
func (e *rawEndpoint) recvBuf() []byte { return e.buf[:] }

// send stores this side's next value: 2k+1 from side 0, 2k+2 from side 1.
func (e *rawEndpoint) send() error {
	atomic.StoreUint64(e.counter, 2*e.round+1+e.side)
	if e.side == 1 {
		e.round++
	}
	return nil
}

// recv spins until the other side's value arrives.
func (e *rawEndpoint) recv() error {
	want := 2*e.round + 2 - e.side
	for atomic.LoadUint64(e.counter) != want {
	}
	if e.side == 0 {
		e.round++
	}
	return nil
}

func (e *rawEndpoint) close() error { return unix.SysvShmDetach(e.seg) }
