package bench

import (
	"os"
	"time"
)

// ExitParentGone is the status a child exits with when WatchParent finds
// its parent gone.
const ExitParentGone = 3

// parentPoll is how often WatchParent looks for its parent: rare enough to
// cost nothing measurable, soon enough that a spinning orphan burns at most
// a fifth of a second of CPU.
const parentPoll = 200 * time.Millisecond

// WatchParent makes the calling process exit with status ExitParentGone
// within parentPoll of the process that started it going away, however it
// went (SIGKILL included), so that an interrupted benchmark leaves no child
// spinning or waiting on a queue. A benchmark's child calls it first thing: a
// parent already gone when it is called is not noticed.
// It works on every system; on Linux the parent can also have the kernel kill
// the child at once with KillWithParent.
func WatchParent() {
	parent := os.Getppid()
	go func() {
		for range time.Tick(parentPoll) {
			if os.Getppid() != parent {
				os.Exit(ExitParentGone)
			}
		}
	}()
}
