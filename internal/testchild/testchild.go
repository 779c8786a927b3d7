// Package testchild lets a test binary re-execute itself as a child process
// that plays a registered role instead of running the tests, so that
// cross-process tests run producers, consumers and other users of a segment
// as real processes with their own address spaces. The root package's tests,
// internal/bench's and cmd/shqueue's use it; it imports nothing but the
// standard library.
//
// A test file registers roles from an init function; TestMain calls Child
// before m.Run; a test starts a child with Command.
package testchild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// roleEnv names the role a child plays; roleEnv+"_ARGS" carries its
// arguments, separated by argSep.
const (
	roleEnv = "SHQUEUE_TEST_CHILD"
	argsEnv = roleEnv + "_ARGS"
	argSep  = "\x1f"
)

// WrapperEnv names a program to start children under (for example
// "qemu-aarch64" when the arm64 test binary itself runs under user-mode
// emulation and the host cannot execute arm64 binaries directly).
const WrapperEnv = "SHQUEUE_TEST_CHILD_WRAPPER"

// roles maps a role name to the function a child runs; its return value is
// the child's exit code.
var roles = map[string]func(args []string) int{}

// Register makes run the role called role. Call it from init functions.
func Register(role string, run func(args []string) int) {
	if _, dup := roles[role]; dup {
		panic("child role registered twice: " + role)
	}
	roles[role] = run
}

// Child returns at once in the test process. In a child it runs the child's
// role and exits with the code the role returns (2 for an unknown role).
// TestMain calls it first.
func Child() {
	role := os.Getenv(roleEnv)
	if role == "" {
		return
	}
	run, ok := roles[role]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
		os.Exit(2)
	}
	var args []string
	if a := os.Getenv(argsEnv); a != "" {
		args = strings.Split(a, argSep)
	}
	os.Exit(run(args))
}

// Environ is this process's environment with the role and arguments of a
// child set to role and args, in place of any this process has (of two
// settings of a variable, a Go program sees the first).
func Environ(role string, args ...string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, roleEnv+"=") || strings.HasPrefix(kv, argsEnv+"=")
	})
	return append(env, roleEnv+"="+role, argsEnv+"="+strings.Join(args, argSep))
}

// Command returns a command that runs role in a fresh copy of the test
// binary with args, its standard error the test's. The caller starts it
// and waits for it.
func Command(t testing.TB, role string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("test binary path: %v", err)
	}
	var cmd *exec.Cmd
	if wrapper := os.Getenv(WrapperEnv); wrapper != "" {
		cmd = exec.Command(wrapper, exe, "-test.run=^$")
	} else {
		cmd = exec.Command(exe, "-test.run=^$")
	}
	cmd.Env = Environ(role, args...)
	cmd.Stderr = os.Stderr
	return cmd
}

// ReachableCopy copies the program exe, under the name name, into a new
// directory every user may enter, so that a child started as another user
// (nobody) can execute it; the directory is removed when the test ends.
func ReachableCopy(t testing.TB, exe, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "shqueue-reachable-")
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
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
