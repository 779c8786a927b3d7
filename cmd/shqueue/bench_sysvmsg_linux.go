//go:build linux && (amd64 || arm64)

package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// golang.org/x/sys/unix wraps SysV shared memory but not SysV message
// queues, so this file calls msgget, msgsnd, msgrcv and msgctl directly. On
// amd64 and arm64 they are ordinary system calls (32-bit x86 multiplexes them
// through ipc(2), which is why this file is limited to these two).

func init() {
	registerTransport(&transport{
		name:       "sysvmsg",
		kind:       "kernel",
		about:      "SysV message queues (msgsnd/msgrcv), one per direction",
		throughput: true,
		check:      sysvMsgCheck,
		setup:      setupSysvMsg,
		open:       openSysvMsg,
	})
}

const (
	msgHeader = 8 // the long mtype in front of the text msgsnd sends
	msgType   = 1
)

// sysvMsgCheck refuses sizes above the kernel's per-message limit
// (kernel.msgmax, 8192 bytes by default) rather than splitting messages,
// which would measure something else.
func sysvMsgCheck(size int) error {
	b, err := os.ReadFile("/proc/sys/kernel/msgmax")
	if err != nil {
		return nil // let msgsnd decide
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || size <= limit {
		return nil
	}
	return fmt.Errorf("message larger than kernel.msgmax (%d bytes)", limit)
}

func msgget(key, flags int) (int, error) {
	id, _, errno := unix.Syscall(unix.SYS_MSGGET, uintptr(key), uintptr(flags), 0)
	if errno != 0 {
		return -1, errno
	}
	return int(id), nil
}

func msgRemove(id int) error {
	if _, _, errno := unix.Syscall(unix.SYS_MSGCTL, uintptr(id), uintptr(unix.IPC_RMID), 0); errno != 0 {
		return fmt.Errorf("msgctl(%d, IPC_RMID): %w", id, errno)
	}
	return nil
}

func setupSysvMsg(setupConfig) (*setupResult, error) {
	var ids [2]int
	for i := range ids {
		id, err := msgget(unix.IPC_PRIVATE, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
		if err != nil {
			if i == 1 {
				msgRemove(ids[0])
			}
			return nil, fmt.Errorf("msgget: %w", err)
		}
		ids[i] = id
	}
	return &setupResult{
		args: []string{strconv.Itoa(ids[0]), strconv.Itoa(ids[1])},
		cleanup: func() error {
			err0, err1 := msgRemove(ids[0]), msgRemove(ids[1])
			if err0 != nil {
				return err0
			}
			return err1
		},
	}, nil
}

type sysvMsgEndpoint struct {
	sendID, recvID int
	size           int
	out, in        []byte // msgbuf: mtype, then the message
}

func openSysvMsg(side int, cfg setupConfig, args []string) (endpoint, error) {
	ids, err := intArgs(args, 2)
	if err != nil {
		return nil, err
	}
	e := &sysvMsgEndpoint{
		sendID: ids[side], recvID: ids[1-side], size: cfg.size,
		out: make([]byte, msgHeader+cfg.size), in: make([]byte, msgHeader+cfg.size),
	}
	binary.NativeEndian.PutUint64(e.out, msgType)
	return e, nil
}

func (e *sysvMsgEndpoint) sendBuf() []byte { return e.out[msgHeader:] }
func (e *sysvMsgEndpoint) recvBuf() []byte { return e.in[msgHeader:] }

func (e *sysvMsgEndpoint) send() error {
	switch _, errno := msgCall(unix.SYS_MSGSND, e.sendID, e.out, e.size); errno {
	case 0:
		return nil
	case unix.EIDRM, unix.EINVAL:
		return fmt.Errorf("msgsnd: %w (queue removed?)", errno)
	default:
		return fmt.Errorf("msgsnd: %w", errno)
	}
}

func (e *sysvMsgEndpoint) recv() error {
	n, errno := msgCall(unix.SYS_MSGRCV, e.recvID, e.in, e.size)
	if errno != 0 {
		return fmt.Errorf("msgrcv: %w", errno)
	}
	if int(n) != e.size {
		return fmt.Errorf("msgrcv: %d bytes, want %d", n, e.size)
	}
	return nil
}

// msgCall makes the system call trap, msgsnd or msgrcv, on queue id with
// buf and size (msgflg 0, msgtyp 0: block, take the first message), again
// after EINTR.
func msgCall(trap uintptr, id int, buf []byte, size int) (uintptr, unix.Errno) {
	for {
		n, _, errno := unix.Syscall6(trap, uintptr(id), uintptr(unsafe.Pointer(&buf[0])), uintptr(size), 0, 0, 0)
		if errno != unix.EINTR {
			return n, errno
		}
	}
}

func (e *sysvMsgEndpoint) close() error { return nil }
