package main

// rm: mark queues for removal, by key or name, or all the stale ones.

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/shqueue/shqueue"
)

func init() {
	register("rm", "remove queues, by key or name, or the stale ones (-stale)", queueCommand(runRm))
}

func runRm(args []string) error {
	fs := newFlagSet("rm", "KEY... | -stale [-force] [-n] [KEY...]")
	staleOnly := fs.Bool("stale", false, "remove the orphaned queues that hold no message (every process in their table died or exited without closing), and half-created segments whose creator died: all on the host, or among the KEYs")
	force := fs.Bool("force", false, "with -stale: remove every queue nobody has attached, idle or orphaned, with the messages it holds")
	dryRun := fs.Bool("n", false, "with -stale: print what would be removed, remove nothing")
	rest, err := parseOpsArgs(fs, args)
	if err != nil {
		return err
	}
	queues := make([]queueArg, 0, len(rest))
	for _, a := range rest {
		q, err := parseQueueArg(a)
		if err != nil {
			return err
		}
		queues = append(queues, q)
	}
	if (*force || *dryRun) && !*staleOnly {
		return usagef("-force and -n go with -stale (rm KEY removes a queue whatever it holds)")
	}
	if *staleOnly {
		return rmStale(queues, *force, *dryRun)
	}
	if len(queues) == 0 {
		return usagef("name the queues to remove, or use -stale")
	}
	var errs []error
	for _, q := range queues {
		info, err := inspect("remove", q) // for the name check and the report; Remove checks again
		if err == nil || !errors.Is(err, shqueue.ErrNameMismatch) {
			err = shqueue.Remove(q.key)
		}
		if err != nil {
			hint := ""
			if errors.Is(err, shqueue.ErrNoAccess) {
				hint = " (removing needs read permission and being the segment's owner or creator, or root)"
			}
			fmt.Fprintf(os.Stderr, "shqueue rm: %s not removed: %v%s\n", keyHex(q.key), err, hint)
			errs = append(errs, err)
			continue
		}
		what := "removed"
		if info != nil && info.Attachments > 0 {
			what = fmt.Sprintf("marked for removal: it goes when its %d attachments detach", info.Attachments)
			if info.Attachments == 1 {
				what = "marked for removal: it goes when its one attachment detaches"
			}
		}
		if info != nil && info.Len > 0 {
			what += fmt.Sprintf(", with %s", plural(info.Len, "message"))
		}
		fmt.Printf("queue %s %s\n", describe(q.key, q.name), what)
	}
	if len(errs) > 0 {
		// Each failure is on stderr already; the status says what kind.
		return silentError{errors.Join(errs...), len(errs), len(queues)}
	}
	return nil
}

// rmStale is rm -stale: what RemoveStaleWith removes, each queue reported
// with the state it was in.
func rmStale(queues []queueArg, force, dryRun bool) error {
	keys := make([]int, len(queues))
	for i, q := range queues {
		keys[i] = q.key
		if q.name != "" {
			// A queue under the name's key that carries another name is
			// not this one: leave it out.
			if _, err := inspect("remove", q); errors.Is(err, shqueue.ErrNameMismatch) {
				fmt.Fprintf(os.Stderr, "shqueue rm: %s not considered: %v\n", keyHex(q.key), err)
				keys[i] = 0
			}
		}
	}
	keys = slices.DeleteFunc(keys, func(k int) bool { return k == 0 })
	if len(queues) > 0 && len(keys) == 0 {
		fmt.Println("no stale queues")
		return nil
	}
	// The state of each candidate, for the report, before it goes.
	before := map[int]string{}
	if entries, err := shqueue.List(); err == nil {
		for _, e := range entries {
			switch {
			case e.Info != nil:
				before[e.Key] = queueStatus(e.Info)
			case e.Kind == shqueue.KindHalfCreated:
				before[e.Key] = "half-created"
			}
		}
	}
	removed, err := shqueue.RemoveStaleWith(shqueue.StaleOptions{Force: force, DryRun: dryRun}, keys...)
	verb := "removed"
	if dryRun {
		verb = "would remove"
	}
	for _, key := range removed {
		state := before[key]
		if state == "" {
			state = "stale"
		}
		fmt.Printf("%s queue %s (%d): %s\n", verb, keyHex(key), key, state)
	}
	if len(removed) == 0 && err == nil {
		fmt.Println("no stale queues")
	}
	return err
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
