package main

// Operations commands: ls, stat, watch, peek, rm, create. They format what the
// library's read-only inspection API returns (shqueue.Inspect, Peek, List);
// none of them knows the segment layout, and only rm and create change
// anything.
//
// Exit status, for scripts: 0 success; 1 failure; 2 usage error; 3 no
// segment for the key (not found); 4 permission denied.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shqueue/shqueue"
)

const (
	exitNotFound = 3
	exitNoAccess = 4
)

func init() {
	register("ls", "list the shqueue segments on this host", withExitCodes("ls", runLs))
	register("stat", "show a queue: geometry, length, counters, attached processes", withExitCodes("stat", runStat))
	register("watch", "show a queue's counters as rates, every second until interrupted", withExitCodes("watch", runWatch))
	register("peek", "dump the next messages of a queue without dequeuing them", withExitCodes("peek", runPeek))
	register("rm", "mark queues for removal (-stale: those no live process uses)", withExitCodes("rm", runRm))
	register("create", "create a queue and detach, leaving it for others to open", withExitCodes("create", runCreate))
}

// withExitCodes gives "not found" and "permission denied" their own exit
// status. The dispatcher knows only 0, 1 and 2, so for these two the command
// reports the error itself, in the dispatcher's format, and exits.
func withExitCodes(name string, run func([]string) error) func([]string) error {
	return func(args []string) error {
		err := run(args)
		if code := opsExitCode(err); code > 2 {
			fmt.Fprintf(os.Stderr, "shqueue %s: %v\n", name, err)
			os.Exit(code)
		}
		return err
	}
}

func opsExitCode(err error) int {
	var joined interface{ Unwrap() []error }
	switch {
	case err == nil:
		return 0
	case errors.As(err, &joined):
		// Several keys failed: a status of their own only if all agree.
		code := 0
		for _, e := range joined.Unwrap() {
			if c := opsExitCode(e); code == 0 || c == code {
				code = c
			} else {
				return 1
			}
		}
		return code
	case errors.Is(err, shqueue.ErrNotExist):
		return exitNotFound
	case errors.Is(err, shqueue.ErrNoAccess):
		return exitNoAccess
	}
	return 1
}

// parseOpsArgs parses flags wherever they stand among the arguments (the
// documented forms put them after the key: "peek KEY -n 5") and returns the
// rest. After "--" everything is an argument, so a negative key can be given
// as "-- -5".
func parseOpsArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		left := fs.Args()
		if len(left) == 0 {
			return rest, nil
		}
		if n := len(args) - len(left); n > 0 && args[n-1] == "--" {
			return append(rest, left...), nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// parseKey reads a SysV key in decimal or 0x hex. Hex values above
// 0x7fffffff stand for negative keys, as ipcs prints them.
func parseKey(s string) (int, error) {
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
		return 0, usagef("bad key %q: want a non-zero 32-bit value in decimal or 0x hex", s)
	}
	return int(key), nil
}

func oneKey(args []string) (int, error) {
	if len(args) != 1 {
		return 0, usagef("want one KEY, got %d arguments", len(args))
	}
	return parseKey(args[0])
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

// isStale reports what rm -stale goes by: no kernel attachment, no live process
// in the table.
func isStale(info *shqueue.Info) bool {
	if info.Attachments > 0 {
		return false
	}
	for _, p := range info.Processes {
		if p.Alive {
			return false
		}
	}
	return true
}

// The -json shapes. Field names are part of the tool's interface (see
// docs/operations.md); add fields, do not rename them.

type statsJSON struct {
	Enqueued    uint64 `json:"enqueued"`
	Dequeued    uint64 `json:"dequeued"`
	Overwritten uint64 `json:"overwritten"`
	Lost        uint64 `json:"lost"`
}

type processJSON struct {
	PID               int       `json:"pid"`
	Alive             bool      `json:"alive"`
	Attached          time.Time `json:"attached"`
	Entry             int       `json:"entry"`
	SleepingConsumers int       `json:"sleeping_consumers"`
	SleepingProducers int       `json:"sleeping_producers"`
}

type queueJSON struct {
	Key               int           `json:"key"`
	KeyHex            string        `json:"key_hex"`
	ID                int           `json:"id"`
	Owner             string        `json:"owner"`
	UID               int           `json:"uid"`
	Mode              string        `json:"mode"`
	LayoutVersion     uint32        `json:"layout_version"`
	MsgSize           int           `json:"msg_size"`
	Capacity          int           `json:"capacity"`
	Len               int           `json:"len"`
	Head              uint64        `json:"head"`
	Tail              uint64        `json:"tail"`
	Stats             statsJSON     `json:"stats"`
	SegmentSize       int           `json:"segment_size"`
	CreatorPID        int           `json:"creator_pid"`
	Created           time.Time     `json:"created"`
	LastAttach        *time.Time    `json:"last_attach,omitempty"` // kernel's last shmat, inspections included
	LastOpen          *time.Time    `json:"last_open,omitempty"`   // newest handle in the process table
	Attachments       int           `json:"attachments"`
	Removed           bool          `json:"removed"`
	Stale             bool          `json:"stale"`
	SleepingConsumers int           `json:"sleeping_consumers"`
	SleepingProducers int           `json:"sleeping_producers"`
	Processes         []processJSON `json:"processes"`
}

func toStatsJSON(s shqueue.Stats) statsJSON {
	return statsJSON{Enqueued: s.Enqueued, Dequeued: s.Dequeued, Overwritten: s.Overwritten, Lost: s.Lost}
}

func toQueueJSON(info *shqueue.Info) queueJSON {
	j := queueJSON{
		Key: info.Key, KeyHex: keyHex(info.Key), ID: info.ID,
		Owner: ownerName(info.UID), UID: info.UID, Mode: fmt.Sprintf("%04o", uint32(info.Mode)),
		LayoutVersion: info.LayoutVersion, MsgSize: info.MsgSize, Capacity: info.Cap, Len: info.Len,
		Head: info.Head, Tail: info.Tail, Stats: toStatsJSON(info.Stats),
		SegmentSize: info.SegmentSize, CreatorPID: info.CreatorPID, Created: info.Created,
		Attachments: info.Attachments, Removed: info.Removed, Stale: isStale(info),
		SleepingConsumers: info.SleepingConsumers, SleepingProducers: info.SleepingProducers,
		Processes: []processJSON{},
	}
	if !info.LastAttach.IsZero() {
		j.LastAttach = &info.LastAttach
	}
	if t := lastOpen(info); !t.IsZero() {
		j.LastOpen = &t
	}
	for _, p := range info.Processes {
		j.Processes = append(j.Processes, processJSON{
			PID: p.PID, Alive: p.Alive, Attached: p.Attached, Entry: p.Entry,
			SleepingConsumers: p.SleepingConsumers, SleepingProducers: p.SleepingProducers,
		})
	}
	return j
}

type entryJSON struct {
	Key         int        `json:"key"`
	KeyHex      string     `json:"key_hex"`
	ID          int        `json:"id"`
	Kind        string     `json:"kind"` // shqueue, invalid, foreign, unreadable
	Owner       string     `json:"owner"`
	UID         int        `json:"uid"`
	Mode        string     `json:"mode"`
	Size        int        `json:"size"`
	Attachments int        `json:"attachments"`
	CreatorPID  int        `json:"creator_pid"`
	LastAttach  *time.Time `json:"last_attach,omitempty"`
	Removed     bool       `json:"removed"`
	Error       string     `json:"error,omitempty"`
	Queue       *queueJSON `json:"queue,omitempty"`
}

// ---- ls ----

func runLs(args []string) error {
	fs := newFlagSet("ls", "")
	all := fs.Bool("all", false, "also list segments that are not shqueues")
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
	fmt.Fprintln(tw, "KEY\tDECIMAL\tID\tOWNER\tMODE\tMSG\tCAP\tLEN\tNATTCH\tPIDS\tCREATED\tLAST-OPEN\tSTATUS")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%04o\t", keyHex(e.Key), e.Key, e.ID, ownerName(e.UID), uint32(e.Mode))
		if e.Info == nil {
			fmt.Fprintf(tw, "-\t-\t-\t%d\t-\t-\t-\t%s\n", e.Attachments, entryStatus(e))
			continue
		}
		i := e.Info
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", i.MsgSize, i.Cap, i.Len, i.Attachments,
			pidList(i.Processes), opsTime(i.Created), opsTime(lastOpen(i)), entryStatus(e))
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
		switch {
		case e.Removed:
			return "removed"
		case isStale(e.Info):
			return "stale"
		}
		return "ok"
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

// ---- stat ----

func runStat(args []string) error {
	fs := newFlagSet("stat", "KEY")
	asJSON := fs.Bool("json", false, "print JSON")
	rest, err := parseOpsArgs(fs, args)
	if err != nil {
		return err
	}
	key, err := oneKey(rest)
	if err != nil {
		return err
	}
	info, err := shqueue.Inspect(key)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeOpsJSON(os.Stdout, toQueueJSON(info))
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "queue\t%s (%d), segment id %d\n", keyHex(info.Key), info.Key, info.ID)
	fmt.Fprintf(tw, "layout version\t%d\n", info.LayoutVersion)
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
	if isStale(info) {
		fmt.Fprintf(tw, "status\tstale: no live process attached (rm -stale removes it)\n")
	}
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

// ---- watch ----

type watchTickJSON struct {
	Time     time.Time `json:"time"`
	Interval float64   `json:"interval_s"` // seconds since the previous sample
	Len      int       `json:"len"`
	Totals   statsJSON `json:"totals"`
	Rates    struct {
		Enqueued    float64 `json:"enqueued"`
		Dequeued    float64 `json:"dequeued"`
		Overwritten float64 `json:"overwritten"`
		Lost        float64 `json:"lost"`
	} `json:"rates"` // per second over the interval
	Processes int `json:"processes_alive"`
}

func runWatch(args []string) error {
	fs := newFlagSet("watch", "KEY")
	interval := fs.Duration("interval", time.Second, "time between samples")
	count := fs.Int("count", 0, "stop after this many samples (0: until interrupted)")
	asJSON := fs.Bool("json", false, "print one JSON object per sample (JSON Lines)")
	rest, err := parseOpsArgs(fs, args)
	if err != nil {
		return err
	}
	key, err := oneKey(rest)
	if err != nil {
		return err
	}
	if *interval <= 0 || *count < 0 {
		return usagef("-interval must be positive and -count not negative")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	prev, err := shqueue.Inspect(key)
	if err != nil {
		return err
	}
	prevAt := time.Now()
	if !*asJSON {
		fmt.Printf("queue %s (%d): %d-byte messages, capacity %d; rates per second every %v\n",
			keyHex(key), key, prev.MsgSize, prev.Cap, *interval)
		fmt.Printf("%-8s %8s %10s %10s %10s %8s %12s %12s %10s %8s\n",
			"TIME", "LEN", "ENQ/s", "DEQ/s", "OVERWR/s", "LOST/s", "ENQUEUED", "DEQUEUED", "OVERWR", "LOST")
	}
	ticker := time.NewTicker(*interval)
	defer ticker.Stop()
	for n := 0; *count == 0 || n < *count; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		cur, err := shqueue.Inspect(key)
		if err != nil {
			return err
		}
		now := time.Now()
		secs := now.Sub(prevAt).Seconds()
		rate := func(a, b uint64) float64 {
			if a < b { // a new queue under the same key
				return 0
			}
			return float64(a-b) / secs
		}
		var t watchTickJSON
		t.Time, t.Interval, t.Len, t.Totals = now, secs, cur.Len, toStatsJSON(cur.Stats)
		t.Rates.Enqueued = rate(cur.Stats.Enqueued, prev.Stats.Enqueued)
		t.Rates.Dequeued = rate(cur.Stats.Dequeued, prev.Stats.Dequeued)
		t.Rates.Overwritten = rate(cur.Stats.Overwritten, prev.Stats.Overwritten)
		t.Rates.Lost = rate(cur.Stats.Lost, prev.Stats.Lost)
		for _, p := range cur.Processes {
			if p.Alive {
				t.Processes++
			}
		}
		if *asJSON {
			b, err := json.Marshal(t)
			if err != nil {
				return err
			}
			fmt.Printf("%s\n", b)
		} else {
			fmt.Printf("%-8s %8d %10s %10s %10s %8s %12d %12d %10d %8d\n", now.Format("15:04:05"), cur.Len,
				opsRate(t.Rates.Enqueued), opsRate(t.Rates.Dequeued), opsRate(t.Rates.Overwritten), opsRate(t.Rates.Lost),
				cur.Stats.Enqueued, cur.Stats.Dequeued, cur.Stats.Overwritten, cur.Stats.Lost)
		}
		prev, prevAt = cur, now
	}
	return nil
}

func opsRate(r float64) string {
	if r >= 100 || r == math.Trunc(r) {
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// ---- peek ----

type peekJSON struct {
	Key      int               `json:"key"`
	KeyHex   string            `json:"key_hex"`
	MsgSize  int               `json:"msg_size"`
	Len      int               `json:"len"`
	Messages []peekMessageJSON `json:"messages"`
}

type peekMessageJSON struct {
	Pos uint64 `json:"pos"`
	Hex string `json:"hex"`
}

func runPeek(args []string) error {
	fs := newFlagSet("peek", "KEY")
	n := fs.Int("n", 10, "how many messages")
	limit := fs.Int("bytes", 0, "dump at most this many bytes of each message (0: all)")
	asJSON := fs.Bool("json", false, "print JSON (message bytes in hex)")
	rest, err := parseOpsArgs(fs, args)
	if err != nil {
		return err
	}
	key, err := oneKey(rest)
	if err != nil {
		return err
	}
	if *n < 0 || *limit < 0 {
		return usagef("-n and -bytes must not be negative")
	}
	info, err := shqueue.Inspect(key)
	if err != nil {
		return err
	}
	msgs, err := shqueue.Peek(key, *n)
	if err != nil {
		return err
	}
	if *asJSON {
		out := peekJSON{Key: key, KeyHex: keyHex(key), MsgSize: info.MsgSize, Len: info.Len, Messages: []peekMessageJSON{}}
		for _, m := range msgs {
			out.Messages = append(out.Messages, peekMessageJSON{Pos: m.Pos, Hex: hex.EncodeToString(m.Data)})
		}
		return writeOpsJSON(os.Stdout, out)
	}
	fmt.Printf("queue %s (%d): %d of %d messages, %d bytes each\n", keyHex(key), key, len(msgs), info.Len, info.MsgSize)
	for i, m := range msgs {
		data := m.Data
		note := ""
		if *limit > 0 && len(data) > *limit {
			data, note = data[:*limit], fmt.Sprintf(", first %d bytes", *limit)
		}
		fmt.Printf("\nmessage %d (position %d%s):\n%s", i, m.Pos, note, hex.Dump(data))
	}
	return nil
}

// ---- rm ----

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

// ---- create ----

func runCreate(args []string) error {
	fs := newFlagSet("create", "KEY|auto")
	words := fs.Uint("words", 8, "message size in 64-bit words (bytes = 8 × words)")
	capacity := fs.Uint("cap", 1024, "capacity in messages")
	mode := fs.String("mode", "0600", "permission bits of the segment, in octal")
	asJSON := fs.Bool("json", false, "print the new queue as stat -json does")
	rest, err := parseOpsArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("want one KEY (or auto for a free one), got %d arguments", len(rest))
	}
	var key int
	if rest[0] == "auto" {
		if key, err = shqueue.FindFreeKey(); err != nil {
			return err
		}
	} else if key, err = parseKey(rest[0]); err != nil {
		return err
	}
	perm, err := strconv.ParseUint(*mode, 8, 32)
	if err != nil || perm > 0o777 {
		return usagef("bad -mode %q: want octal permission bits such as 0660", *mode)
	}
	if *words == 0 || *words > math.MaxUint32 || *capacity == 0 || *capacity > math.MaxUint32 {
		return usagef("-words and -cap must be positive 32-bit values")
	}
	q, err := shqueue.Create(key, uint32(*words), uint32(*capacity), shqueue.WithMode(os.FileMode(perm)))
	if err != nil {
		return err
	}
	if err := q.Close(); err != nil {
		return err
	}
	if *asJSON {
		info, err := shqueue.Inspect(key)
		if err != nil {
			return err
		}
		return writeOpsJSON(os.Stdout, toQueueJSON(info))
	}
	fmt.Printf("created queue %s (%d): %d-byte messages, capacity %d, mode %04o\n",
		keyHex(key), key, *words*8, *capacity, perm)
	return nil
}
