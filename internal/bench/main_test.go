package bench

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Some tests need a process of their own: the test binary re-executes itself
// with childEnv naming what the child does.
const childEnv = "SHQUEUE_BENCH_TEST_CHILD"

var childRoles = map[string]func() int{
	// Print this process's reading of Now.
	"now": func() int { fmt.Println(Now()); return 0 },
}

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		run, ok := childRoles[role]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
			os.Exit(2)
		}
		os.Exit(run())
	}
	os.Exit(m.Run())
}

func childCommand(t *testing.T, role string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role)
	cmd.Stderr = os.Stderr
	return cmd
}
