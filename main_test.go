package shqueue

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// Cross-process tests re-execute the test binary as a child process. The child
// finds its role in childEnv and runs the function registered for it instead of
// the tests, so producers and consumers are real processes with their own
// address spaces, attached to the segment through shmat like any user.
const childEnv = "SHQUEUE_TEST_CHILD"

// childWrapperEnv names a program to start children under (for example
// "qemu-aarch64" when the arm64 test binary itself runs under user-mode
// emulation and the host cannot execute arm64 binaries directly).
const childWrapperEnv = "SHQUEUE_TEST_CHILD_WRAPPER"

// childRoles maps a role name to the function a child runs; its return value is
// the child's exit code. Register roles from init functions in the test files.
var childRoles = map[string]func(args []string) int{}

func registerChild(role string, run func(args []string) int) {
	if _, dup := childRoles[role]; dup {
		panic("child role registered twice: " + role)
	}
	childRoles[role] = run
}

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		run, ok := childRoles[role]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
			os.Exit(2)
		}
		var args []string
		if a := os.Getenv(childEnv + "_ARGS"); a != "" {
			args = strings.Split(a, "\x1f")
		}
		os.Exit(run(args))
	}
	os.Exit(m.Run())
}

// childCommand returns a command that runs role in a fresh copy of the test
// binary with args. The caller starts it and waits for it.
func childCommand(t testing.TB, role string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("test binary path: %v", err)
	}
	var cmd *exec.Cmd
	if wrapper := os.Getenv(childWrapperEnv); wrapper != "" {
		cmd = exec.Command(wrapper, exe, "-test.run=^$")
	} else {
		cmd = exec.Command(exe, "-test.run=^$")
	}
	cmd.Env = append(os.Environ(), childEnv+"="+role, childEnv+"_ARGS="+strings.Join(args, "\x1f"))
	cmd.Stderr = os.Stderr
	return cmd
}

// childAsNobody is childCommand for a child that runs as user and group
// nobody, from a copy of the test binary that user can execute.
func childAsNobody(t *testing.T, role string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "shqueue-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := dir + "/shqueue.test"
	if err := os.WriteFile(copyPath, data, 0o755); err != nil {
		t.Fatal(err)
	}
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
