package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// A transport moves fixed-size messages between the two benchmark processes.
// The parent process sets it up (creates the sockets, queues or segments),
// passes what the children need as arguments and inherited files, and tears
// it down when both children are gone, so that a child killed at any point
// leaves nothing behind. Side 0 is the one that measures (latency initiator,
// throughput consumer is side 1); messages from side 0 to side 1 travel on
// direction 0, replies on direction 1. Children find the files they inherit at
// fd 3 (their send end) and fd 4 (their receive end).
type transport struct {
	name  string
	kind  string // "shqueue", "kernel" or "floor"
	about string // one line for the output
	// throughput is false for transports that only make sense for latency.
	throughput bool
	// throughputOnly is true for transports whose latency is not measured
	// (batches, bench_batch.go).
	throughputOnly bool
	// sameCPU runs both processes on one CPU (the measuring side's). Under
	// a hypervisor a kernel transport's cross-CPU wake-up can cost tens of
	// microseconds while a same-CPU hand-off costs one or two, so each
	// kernel transport is also measured this way and a comparison takes
	// the better of the two.
	sameCPU bool
	// optIn leaves the transport out of the default list: name it with
	// -transports.
	optIn bool
	base  string // the transport this is a placement variant of
	// check reports why the transport cannot carry messages of size bytes
	// on this system (nil if it can).
	check func(size int) error
	// setup runs in the parent.
	setup func(cfg setupConfig) (*setupResult, error)
	// open runs in a child.
	open func(side int, cfg setupConfig, args []string) (endpoint, error)
}

type setupConfig struct {
	size     int
	capacity int // queue capacity in messages, for transports that have one
}

type setupResult struct {
	args    []string       // passed to both children
	files   [2][]*os.File  // inherited by side 0 and side 1 (fd 3, 4, ...)
	cleanup func() error   // removes what setup created; called once
	closers []func() error // parent copies of inherited files, closed after start
}

// An endpoint is one process's end of a transport. The harness writes an
// outgoing message into sendBuf and calls send; recv fills recvBuf. Owning the
// buffers lets a transport that needs a header (SysV msgsnd's type word) or a
// slot keep them without an extra copy.
type endpoint interface {
	sendBuf() []byte
	recvBuf() []byte
	send() error
	recv() error
	close() error
}

// dataless is implemented by endpoints that move no message bytes (the raw
// floor), whose messages the harness therefore neither stamps nor checks.
type dataless interface{ dataless() }

var transports []*transport

// registerTransport adds t and, for a kernel transport, its same-CPU
// variant named t.name+"-1cpu".
func registerTransport(t *transport) {
	t.base = t.name
	transports = append(transports, t)
	if t.kind == "kernel" {
		v := *t
		v.name, v.sameCPU = t.name+"-1cpu", true
		v.about = t.about + ", both processes on one CPU"
		transports = append(transports, &v)
	}
}

func transportByName(name string) *transport {
	for _, t := range transports {
		if t.name == name {
			return t
		}
	}
	return nil
}

func transportNames() []string {
	names := make([]string, len(transports))
	for i, t := range transports {
		names[i] = t.name
	}
	return names
}

func init() {
	registerTransport(&transport{
		name:       "unix",
		kind:       "kernel",
		about:      "Unix domain socket pair (SOCK_STREAM), blocking read/write",
		throughput: true,
		check:      func(int) error { return nil },
		setup:      setupUnixSocket,
		open:       openFDEndpoint,
	})
	registerTransport(&transport{
		name:       "pipe",
		kind:       "kernel",
		about:      "two pipes, blocking read/write",
		throughput: true,
		check:      func(int) error { return nil },
		setup:      setupPipes,
		open:       openFDEndpoint,
	})
}

func setupUnixSocket(setupConfig) (*setupResult, error) {
	// SOCK_CLOEXEC is not portable; hold ForkLock so no child started
	// meanwhile inherits the pair before it is marked close-on-exec.
	syscall.ForkLock.RLock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	a := os.NewFile(uintptr(fds[0]), "unix-0")
	b := os.NewFile(uintptr(fds[1]), "unix-1")
	return &setupResult{
		files:   [2][]*os.File{{a, a}, {b, b}},
		cleanup: func() error { return nil },
		closers: []func() error{a.Close, b.Close},
	}, nil
}

func setupPipes(setupConfig) (*setupResult, error) {
	r0, w0, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	r1, w1, err := os.Pipe()
	if err != nil {
		r0.Close()
		w0.Close()
		return nil, err
	}
	return &setupResult{
		files:   [2][]*os.File{{w0, r1}, {w1, r0}},
		cleanup: func() error { return nil },
		closers: []func() error{r0.Close, w0.Close, r1.Close, w1.Close},
	}, nil
}

// fdEndpoint sends and receives with blocking read(2) and write(2) on
// inherited descriptors, the fastest way a kernel transport can be driven
// (no poller, no goroutine switch), so the comparison flatters the kernel
// rather than shqueue.
type fdEndpoint struct {
	sendFD, recvFD int
	out, in        []byte
}

func openFDEndpoint(side int, cfg setupConfig, _ []string) (endpoint, error) {
	e := &fdEndpoint{sendFD: 3, recvFD: 4, out: make([]byte, cfg.size), in: make([]byte, cfg.size)}
	for _, fd := range []int{e.sendFD, e.recvFD} {
		if err := unix.SetNonblock(fd, false); err != nil {
			return nil, fmt.Errorf("fd %d: %w", fd, err)
		}
	}
	return e, nil
}

func (e *fdEndpoint) sendBuf() []byte { return e.out }
func (e *fdEndpoint) recvBuf() []byte { return e.in }

func (e *fdEndpoint) send() error { return fullIO("write", unix.Write, e.sendFD, e.out, nil) }
func (e *fdEndpoint) recv() error { return fullIO("read", unix.Read, e.recvFD, e.in, errPeerGone) }

// fullIO moves all of b with op (unix.Read or unix.Write, named name) on fd,
// again after EINTR and after a short count. An op that moves nothing
// returns atZero if that is not nil (a read at end of file).
func fullIO(name string, op func(fd int, p []byte) (int, error), fd int, b []byte, atZero error) error {
	for len(b) > 0 {
		n, err := op(fd, b)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		if n == 0 && atZero != nil {
			return atZero
		}
		b = b[n:]
	}
	return nil
}

func (e *fdEndpoint) close() error {
	unix.Close(e.sendFD)
	unix.Close(e.recvFD)
	return nil
}

var errPeerGone = errors.New("peer closed the connection")

// intArgs parses the transport arguments the parent passed as integers.
func intArgs(args []string, want int) ([]int, error) {
	if len(args) != want {
		return nil, fmt.Errorf("want %d transport arguments, got %q", want, args)
	}
	v := make([]int, want)
	for i, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil {
			return nil, fmt.Errorf("transport argument %q: %w", a, err)
		}
		v[i] = n
	}
	return v, nil
}

func joinArgs(args []string) string { return strings.Join(args, ",") }

func splitArgs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
