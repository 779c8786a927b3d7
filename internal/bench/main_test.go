package bench

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/shqueue/shqueue/internal/testchild"
)

// Some tests need a process of their own: the test binary re-executes itself
// as a child (internal/testchild) that plays a registered role.

func init() {
	// Print this process's reading of Now.
	testchild.Register("now", func([]string) int { fmt.Println(Now()); return 0 })
}

func TestMain(m *testing.M) {
	testchild.Child()
	os.Exit(m.Run())
}

func childCommand(t *testing.T, role string) *exec.Cmd {
	t.Helper()
	return testchild.Command(t, role)
}
