package main

// Helpers the queue commands (ls, stat, watch, peek, rm, create) share:
// keys as arguments and as ipcs prints them, owners, times, and the two
// judgements (stale, last open) the commands report. The commands format what
// the library's read-only inspection API returns (shqueue.Inspect, Peek,
// List); none of them knows the segment layout, and only rm and create change
// anything.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/shqueue/shqueue"
)

// queueArg is a queue as the user names it: a key, or name:NAME.
type queueArg struct {
	key  int
	name string // the NAME of name:NAME; "" for a key given as a number
}

// namePrefix introduces a queue name where a command takes a KEY.
const namePrefix = "name:"

// parseQueueArg reads name:NAME (the key KeyFromName gives) or a SysV key in
// decimal or 0x hex. Hex values above 0x7fffffff stand for negative keys, as
// ipcs prints them.
func parseQueueArg(s string) (queueArg, error) {
	if name, ok := strings.CutPrefix(s, namePrefix); ok {
		key, err := shqueue.KeyFromName(name)
		if err != nil {
			return queueArg{}, usagef("bad queue name %q: %v", name, err)
		}
		return queueArg{key, name}, nil
	}
	var key int64
	var err error
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		var u uint64
		u, err = strconv.ParseUint(h, 16, 32)
		key = int64(int32(uint32(u)))
	} else {
		key, err = strconv.ParseInt(s, 10, 32)
	}
	if err != nil || key == 0 {
		return queueArg{}, usagef("bad key %q: want name:NAME, or a non-zero 32-bit value in decimal or 0x hex", s)
	}
	return queueArg{key: int(key)}, nil
}

// parseKeyArgs parses the flags and the one KEY argument of a command that
// takes a single queue.
func parseKeyArgs(fs *flag.FlagSet, args []string) (queueArg, error) {
	rest, err := parseOpsArgs(fs, args)
	if err != nil {
		return queueArg{}, err
	}
	if len(rest) != 1 {
		return queueArg{}, usagef("want one KEY, got %d arguments", len(rest))
	}
	return parseQueueArg(rest[0])
}

// inspect is shqueue.Inspect for a queue the user named: given as name:NAME,
// the queue must carry that name, as Open checks with WithName. Another name
// at the key is another program's queue whose name hashes to the same key.
func inspect(op string, q queueArg) (*shqueue.Info, error) {
	info, err := shqueue.Inspect(q.key)
	if err != nil || q.name == "" || info.NameIs(q.name) {
		return info, err
	}
	carries := "no name"
	if info.Name != "" {
		carries = strconv.Quote(info.Name)
	}
	return nil, fmt.Errorf("%s queue %s: %w: it carries %s, not %q", op, keyHex(q.key), shqueue.ErrNameMismatch, carries, q.name)
}

// describe names a queue for output: its key, in hex and decimal, and its
// name if it has one.
func describe(key int, name string) string {
	if name == "" {
		return fmt.Sprintf("%s (%d)", keyHex(key), key)
	}
	return fmt.Sprintf("%s (%d, %q)", keyHex(key), key, name)
}

// keyHex formats a key as ipcs does.
func keyHex(key int) string { return fmt.Sprintf("0x%08x", uint32(key)) }

func ownerName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

func opsTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func writeOpsJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// lastOpen is when the newest handle in the table attached (Create or Open),
// zero if none is. The kernel's last-attach time would be no use here: every
// inspection, this command's own included, attaches too.
func lastOpen(info *shqueue.Info) time.Time {
	var last time.Time
	for _, p := range info.Processes {
		if p.Attached.After(last) {
			last = p.Attached
		}
	}
	return last
}

// isStale reports what rm -stale removes without -force: an orphaned queue
// (nobody attached, only dead processes in its table) that holds no message.
func isStale(info *shqueue.Info) bool {
	return info.State() == shqueue.QueueOrphaned && info.Len == 0
}

// queueStatus is a queue's STATUS in ls: who uses it and, if nobody does,
// whether it holds messages.
func queueStatus(info *shqueue.Info) string {
	switch {
	case info.Removed:
		return "removed"
	case info.State() == shqueue.QueueInUse:
		return "in use"
	case info.Len == 0:
		return info.State().String() + ", empty"
	}
	return info.State().String() + ", " + plural(info.Len, "message")
}

// plural counts n things: "1 message", "2 messages".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// queueCommand gives a queue command's "not found" and "permission denied"
// failures their own exit status (exitNotFound, exitNoAccess), which main
// reads from the exitError it wraps them in.
func queueCommand(run func([]string) error) func([]string) error {
	return func(args []string) error {
		err := run(args)
		if status := queueExitStatus(err); status != exitFailure {
			return exitError{status, err}
		}
		return err
	}
}

// queueExitStatus is the exit status a queue command's error stands for:
// exitNotFound or exitNoAccess if the error (or every one of several joined
// errors, one per key) says so, exitFailure otherwise.
func queueExitStatus(err error) int {
	var joined interface{ Unwrap() []error }
	switch {
	case errors.As(err, &joined):
		// Several keys failed: a status of their own only if all agree.
		status := 0
		for _, e := range joined.Unwrap() {
			if s := queueExitStatus(e); status == 0 || s == status {
				status = s
			} else {
				return exitFailure
			}
		}
		return status
	case errors.Is(err, shqueue.ErrNotExist):
		return exitNotFound
	case errors.Is(err, shqueue.ErrNoAccess):
		return exitNoAccess
	}
	return exitFailure
}
