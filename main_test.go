package shqueue

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/shqueue/shqueue/internal/testchild"
)

// Cross-process tests re-execute the test binary as a child process
// (internal/testchild): the child runs the function registered for its role
// instead of the tests, so producers and consumers are real processes with
// their own address spaces, attached to the segment through shmat like any
// user.

// childWrapperEnv names the program children run under, if any (qemu when
// this binary runs under emulation).
const childWrapperEnv = testchild.WrapperEnv

// registerChild registers a role; its return value is the child's exit
// code. Register roles from init functions in the test files.
func registerChild(role string, run func(args []string) int) { testchild.Register(role, run) }

func TestMain(m *testing.M) {
	testchild.Child()
	os.Exit(m.Run())
}

// childCommand returns a command that runs role in a fresh copy of the test
// binary with args. The caller starts it and waits for it.
func childCommand(t testing.TB, role string, args ...string) *exec.Cmd {
	t.Helper()
	return testchild.Command(t, role, args...)
}

// childAsNobody is childCommand for a child that runs as user and group
// nobody, from a copy of the test binary that user can execute.
func childAsNobody(t *testing.T, role string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyPath := testchild.ReachableCopy(t, exe, "shqueue.test")
	cmd := childCommand(t, role, args...)
	if cmd.Args[0] == exe {
		cmd.Path, cmd.Args[0] = copyPath, copyPath
	} else {
		cmd.Args[1] = copyPath // under a wrapper
	}
	cmd.Stderr = nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd
}

// startReading starts cmd with its standard output on the returned pipe.
func startReading(t testing.TB, cmd *exec.Cmd) io.ReadCloser {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return stdout
}

// startPiped starts cmd with pipes to its standard input and from its
// standard output.
func startPiped(t testing.TB, cmd *exec.Cmd) (io.WriteCloser, io.ReadCloser) {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	return stdin, startReading(t, cmd)
}

// A child's arguments are numbers the parent wrote with strconv: argInt and
// argUint read them back.
func argInt(args []string, i int) int {
	n, _ := strconv.Atoi(args[i])
	return n
}

func argUint(args []string, i int) uint64 {
	n, _ := strconv.ParseUint(args[i], 10, 64)
	return n
}

// childFail is how a child gives up: it says why, under the name given, and
// returns exit code 1.
func childFail(who string, err error) int {
	fmt.Fprintln(os.Stderr, who+":", err)
	return 1
}

// childOpen opens the queue whose key is the child argument key, with opts.
// A child that cannot open it says why, under the name who, and exits 1
// (nothing is open yet that an exit could skip the closing of).
func childOpen(who, key string, opts ...Option) *Queue {
	k, _ := strconv.Atoi(key)
	q, err := Open(k, opts...)
	if err != nil {
		os.Exit(childFail(who, err))
	}
	return q
}

// moveBlocking does one blocking enqueue of buf (enqueue true) or dequeue
// into it.
func moveBlocking(q *Queue, enqueue bool, buf []byte) error {
	if enqueue {
		return q.EnqueueBlock(context.Background(), buf)
	}
	return q.DequeueBlock(context.Background(), buf)
}
