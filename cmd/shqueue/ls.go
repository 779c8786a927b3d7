package main

// ls: the shqueue segments on this host, one row each.

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/shqueue/shqueue"
)

func init() {
	register("ls", "list the shqueue segments on this host", queueCommand(runLs))
}

func runLs(args []string) error {
	fs := newFlagSet("ls", "")
	all := fs.Bool("all", false, "also list segments that are not shqueues (half-created queues are always listed)")
	asJSON := fs.Bool("json", false, "print JSON")
	rest, err := parseOpsArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("ls takes no arguments")
	}
	entries, err := shqueue.List()
	if err != nil {
		return err
	}
	entries = slices.DeleteFunc(entries, func(e shqueue.ListEntry) bool {
		return e.Kind == shqueue.KindForeign && !*all
	})
	slices.SortFunc(entries, func(a, b shqueue.ListEntry) int {
		if c := compareUint32(uint32(a.Key), uint32(b.Key)); c != 0 {
			return c
		}
		return a.ID - b.ID
	})
	if *asJSON {
		out := make([]entryJSON, 0, len(entries))
		for _, e := range entries {
			j := entryJSON{
				Key: e.Key, KeyHex: keyHex(e.Key), ID: e.ID, Kind: e.Kind.String(),
				Owner: ownerName(e.UID), UID: e.UID, Mode: fmt.Sprintf("%04o", uint32(e.Mode)),
				Size: e.Size, Attachments: e.Attachments, CreatorPID: e.CreatorPID, Removed: e.Removed,
			}
			if !e.LastAttach.IsZero() {
				j.LastAttach = &e.LastAttach
			}
			if e.Err != nil {
				j.Error = e.Err.Error()
			}
			if e.Info != nil {
				q := toQueueJSON(e.Info)
				j.Queue = &q
			}
			out = append(out, j)
		}
		return writeOpsJSON(os.Stdout, out)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tDECIMAL\tID\tOWNER\tMODE\tMSG\tCAP\tLEN\tNATTCH\tPIDS\tCREATED\tLAST-OPEN\tNAME\tSTATUS")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%04o\t", keyHex(e.Key), e.Key, e.ID, ownerName(e.UID), uint32(e.Mode))
		if e.Info == nil {
			fmt.Fprintf(tw, "-\t-\t-\t%d\t-\t-\t-\t-\t%s\n", e.Attachments, entryStatus(e))
			continue
		}
		i := e.Info
		name := "-"
		if i.Name != "" {
			name = i.Name
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", i.MsgSize, i.Cap, i.Len, i.Attachments,
			pidList(i.Processes), opsTime(i.Created), opsTime(lastOpen(i)), name, entryStatus(e))
	}
	return tw.Flush()
}

func compareUint32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func entryStatus(e shqueue.ListEntry) string {
	switch e.Kind {
	case shqueue.KindQueue:
		return queueStatus(e.Info)
	case shqueue.KindHalfCreated:
		// "creator 1234 died before finishing the header" or "... is still
		// writing it": the cause, without the operation and key.
		return "half-created (" + errCause(e.Err) + ")"
	case shqueue.KindUnreadable:
		if errors.Is(e.Err, shqueue.ErrNoAccess) {
			return "unreadable (permission denied)"
		}
		return "unreadable (" + e.Err.Error() + ")"
	case shqueue.KindInvalid:
		// The error starts with the operation and the key, both in the
		// row already: keep the cause.
		msg := e.Err.Error()
		if _, cause, ok := strings.Cut(msg, ": "); ok {
			msg = cause
		}
		return "invalid (" + msg + ")"
	}
	return e.Kind.String()
}

// errCause is the last part of a library error, after the operation, the key
// and the sentinel's text: "list queue 0x…: queue is half-created: CAUSE".
func errCause(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// pidList names the table's processes, a dead one marked with "(dead)".
func pidList(ps []shqueue.Process) string {
	if len(ps) == 0 {
		return "-"
	}
	const show = 4
	var b strings.Builder
	for i, p := range ps {
		if i == show {
			fmt.Fprintf(&b, ",+%d", len(ps)-show)
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(p.PID))
		if !p.Alive {
			b.WriteString("(dead)")
		}
	}
	return b.String()
}
