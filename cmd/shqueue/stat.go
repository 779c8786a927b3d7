package main

// stat: one queue in full: geometry, length, counters, processes.

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/shqueue/shqueue"
)

// statusLine says who uses the queue and what rm would do with it.
func statusLine(info *shqueue.Info) string {
	var s string
	switch info.State() {
	case shqueue.QueueInUse:
		return "in use"
	case shqueue.QueueIdle:
		s = "idle: nobody attached, every handle closed"
	case shqueue.QueueOrphaned:
		s = "orphaned: nobody attached, only dead processes in its table"
	}
	if info.Len > 0 {
		s += "; holds " + plural(info.Len, "message")
	} else {
		s += "; empty"
	}
	if isStale(info) {
		return s + " (rm -stale removes it)"
	}
	return s + " (rm -stale -force removes it)"
}

func init() {
	register("stat", "show a queue: geometry, length, counters, attached processes", queueCommand(runStat))
}

func runStat(args []string) error {
	fs := newFlagSet("stat", "KEY")
	asJSON := fs.Bool("json", false, "print JSON")
	arg, err := parseKeyArgs(fs, args)
	if err != nil {
		return err
	}
	info, err := inspect("stat", arg)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeOpsJSON(os.Stdout, toQueueJSON(info))
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "queue\t%s (%d), segment id %d\n", keyHex(info.Key), info.Key, info.ID)
	if info.Name != "" {
		fmt.Fprintf(tw, "name\t%q\n", info.Name)
	}
	fmt.Fprintf(tw, "layout version\t%d\n", info.LayoutVersion)
	fmt.Fprintf(tw, "options\t%s\n", optionRoles(info))
	fmt.Fprintf(tw, "messages\t%d bytes (%d words), capacity %d\n", info.MsgSize, info.MsgSize/8, info.Cap)
	fmt.Fprintf(tw, "length\t%d (head %d, tail %d)\n", info.Len, info.Head, info.Tail)
	fmt.Fprintf(tw, "enqueued\t%d\n", info.Stats.Enqueued)
	fmt.Fprintf(tw, "dequeued\t%d\n", info.Stats.Dequeued)
	fmt.Fprintf(tw, "overwritten\t%d\n", info.Stats.Overwritten)
	fmt.Fprintf(tw, "lost\t%d\n", info.Stats.Lost)
	fmt.Fprintf(tw, "segment\t%d bytes, mode %04o, owner %s (uid %d), creator pid %d\n",
		info.SegmentSize, uint32(info.Mode), ownerName(info.UID), info.UID, info.CreatorPID)
	fmt.Fprintf(tw, "created\t%s\n", opsTime(info.Created))
	fmt.Fprintf(tw, "last open\t%s\n", opsTime(lastOpen(info)))
	fmt.Fprintf(tw, "last shmat\t%s (any process, inspections included)\n", opsTime(info.LastAttach))
	fmt.Fprintf(tw, "kernel attachments\t%d\n", info.Attachments)
	fmt.Fprintf(tw, "sleeping now\t%d consumers, %d producers\n", info.SleepingConsumers, info.SleepingProducers)
	fmt.Fprintf(tw, "copy plan\t%s (this process's; each process derives its own)\n", shqueue.CopyPlan())
	fmt.Fprintf(tw, "status\t%s\n", statusLine(info))
	fmt.Fprintf(tw, "processes\t%d\n", len(info.Processes))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(info.Processes) == 0 {
		return nil
	}
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  PID\tSTATE\tATTACHED\tASLEEP")
	for _, p := range info.Processes {
		state := "alive"
		if !p.Alive {
			state = "dead"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%d consumers, %d producers\n", p.PID, state, opsTime(p.Attached), p.SleepingConsumers, p.SleepingProducers)
	}
	return tw.Flush()
}
