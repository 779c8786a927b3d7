package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shqueue/shqueue/internal/testchild"
	"golang.org/x/sys/unix"
)

func init() {
	// Start a watcher and exit at once, leaving it orphaned.
	testchild.Register("orphan-maker", func([]string) int {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		r, w, err := os.Pipe()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		p, err := os.StartProcess(exe, []string{exe, "-test.run=^$"}, &os.ProcAttr{
			Env:   testchild.Environ("watcher"),
			Files: []*os.File{nil, w, os.Stderr},
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		w.Close()
		// Exit only once the watcher watches: a parent gone before
		// WatchParent is called is not noticed.
		if _, err := r.Read(make([]byte, 1)); err != nil {
			fmt.Fprintln(os.Stderr, "watcher did not start:", err)
			return 1
		}
		fmt.Println(p.Pid)
		return 0
	})
	// Watch the parent, then outlive it by far unless WatchParent acts.
	testchild.Register("watcher", func([]string) int {
		WatchParent()
		os.Stdout.Write([]byte{'w'})
		time.Sleep(time.Minute)
		return 0
	})
}

// A child that called WatchParent exits with ExitParentGone once its parent
// is gone. This process makes itself the orphan's new parent (a child
// subreaper) so that it can collect the orphan's exit status.
func TestWatchParent(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("cannot become a child subreaper: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	out, err := childCommand(t, "orphan-maker").Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("orphan maker printed %q", out)
	}
	type exit struct {
		status unix.WaitStatus
		err    error
	}
	exited := make(chan exit, 1)
	go func() {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		exited <- exit{ws, err}
	}()
	select {
	case e := <-exited:
		if e.err != nil {
			t.Fatal(e.err)
		}
		if !e.status.Exited() || e.status.ExitStatus() != ExitParentGone {
			t.Errorf("orphan ended with %v, want exit status %d", e.status, ExitParentGone)
		}
	case <-time.After(30 * time.Second): // far above parentPoll, for a loaded machine
		unix.Kill(pid, unix.SIGKILL)
		t.Fatal("the orphan still runs 30 s after its parent exited")
	}
}
