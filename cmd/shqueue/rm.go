package main

// rm: mark queues for removal, by key or all the stale ones.

import (
	"errors"
	"fmt"
	"os"

	"github.com/shqueue/shqueue"
)

func init() {
	register("rm", "mark queues for removal (-stale: those no live process uses)", queueCommand(runRm))
}

func runRm(args []string) error {
	fs := newFlagSet("rm", "KEY... | -stale [KEY...]")
	staleOnly := fs.Bool("stale", false, "remove only queues no live process has attached (all on the host, or among the KEYs)")
	rest, err := parseOpsArgs(fs, args)
	if err != nil {
		return err
	}
	keys := make([]int, 0, len(rest))
	for _, a := range rest {
		key, err := parseKey(a)
		if err != nil {
			return err
		}
		keys = append(keys, key)
	}
	if *staleOnly {
		removed, err := shqueue.RemoveStale(keys...)
		for _, key := range removed {
			fmt.Printf("removed stale queue %s (%d)\n", keyHex(key), key)
		}
		if len(removed) == 0 && err == nil {
			fmt.Println("no stale queues")
		}
		return err
	}
	if len(keys) == 0 {
		return usagef("name the queues to remove, or use -stale")
	}
	var errs []error
	for _, key := range keys {
		info, _ := shqueue.Inspect(key) // for the report only; Remove checks again
		if err := shqueue.Remove(key); err != nil {
			hint := ""
			if errors.Is(err, shqueue.ErrNoAccess) {
				hint = " (removing needs read permission and being the segment's owner or creator, or root)"
			}
			fmt.Fprintf(os.Stderr, "shqueue rm: %s not removed: %v%s\n", keyHex(key), err, hint)
			errs = append(errs, err)
			continue
		}
		what := "removed"
		if info != nil && info.Attachments > 0 {
			what = fmt.Sprintf("marked for removal: it goes when its %d attachments detach", info.Attachments)
		}
		fmt.Printf("queue %s (%d) %s\n", keyHex(key), key, what)
	}
	if len(errs) > 0 {
		// Each failure is on stderr already; the status says what kind.
		return silentError{errors.Join(errs...), len(errs), len(keys)}
	}
	return nil
}

// silentError carries rm's failures for the exit status after they have been
// reported one by one.
type silentError struct {
	err         error
	failed, all int
}

func (e silentError) Error() string {
	return fmt.Sprintf("%d of %d queues not removed", e.failed, e.all)
}
func (e silentError) Unwrap() error { return e.err }
