//go:build linux || darwin

package shqueue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Inspection: what operators and the shqueue command see of a queue without
// joining it. Every function here attaches the segment read-only (SHM_RDONLY),
// so the kernel itself guarantees that looking at a queue never changes it:
// inspection takes no process-table entry, claims no position and wakes no
// sleeper. The layout knowledge stays in the package (layout.go); the command
// only formats what these functions return.

// Info is a snapshot of one queue, read without stopping the processes that
// use it: under traffic, the counters and positions may be a few messages
// apart from each other.
type Info struct {
	Key int // SysV key (0 once the segment is marked for removal)
	ID  int // SysV segment id

	MsgSize int    // message size in bytes
	Cap     int    // capacity in messages
	Len     int    // messages in the queue now, claimed ones included (as Queue.Len)
	Stats   Stats  // counters since Create (as Queue.Stats)
	Head    uint64 // next position consumers claim
	Tail    uint64 // next position producers claim

	LayoutVersion uint32    // the segment's layout version
	Created       time.Time // when Create initialised the segment
	Name          string    // the name Create recorded (WithName), "" if none; a name longer than 40 bytes is cut there and ends in "…"

	SegmentSize int         // the segment's size in bytes, as the kernel reports it
	Mode        os.FileMode // permission bits
	UID         int         // owner's user id
	CreatorPID  int         // pid of the process that created the segment
	Attachments int         // kernel attach count (shm_nattch), not counting this inspection
	LastAttach  time.Time   // last shmat by any process, inspections like this one included; zero where the system does not say
	Removed     bool        // marked for removal: it goes when the last process detaches

	Processes         []Process // handles in the attached-process table
	SleepingConsumers int       // consumers asleep on the futex word now (all handles)
	SleepingProducers int       // producers asleep on the futex word now (all handles)

	name nameRecord
}

// NameIs reports whether the queue carries name (recorded with WithName):
// the test Open makes with WithName, by the name's full hash and length.
func (i *Info) NameIs(name string) bool { return i.name.isSet() && i.name.matches(recordOf(name)) }

// QueueState says who uses a queue (Info.State).
type QueueState int

const (
	// QueueInUse: some process has the segment attached (an inspection
	// like Inspect itself is not counted), or a live process is in its
	// table.
	QueueInUse QueueState = iota
	// QueueIdle: nobody has it attached and its process table is empty:
	// every handle was closed. A queue provisioned with `shqueue create`
	// and not yet opened is idle, and so is one whose users all closed it,
	// whether or not it still holds messages.
	QueueIdle
	// QueueOrphaned: nobody has it attached and its table shows only dead
	// processes: users that exited or were killed without closing.
	QueueOrphaned
)

func (s QueueState) String() string {
	switch s {
	case QueueInUse:
		return "in use"
	case QueueIdle:
		return "idle"
	case QueueOrphaned:
		return "orphaned"
	}
	return fmt.Sprintf("QueueState(%d)", int(s))
}

// State says whether the queue is in use, idle or orphaned. Whether it holds
// messages is Len.
func (i *Info) State() QueueState {
	if i.Attachments > 0 {
		return QueueInUse
	}
	for _, p := range i.Processes {
		if p.Alive {
			return QueueInUse
		}
	}
	if len(i.Processes) == 0 {
		return QueueIdle
	}
	return QueueOrphaned
}

// Process is one handle in a queue's attached-process table.
type Process struct {
	Entry             int       // index in the table
	PID               int       // process id
	Alive             bool      // the process still runs (same start time, not a zombie)
	Attached          time.Time // when the handle attached (Create or Open)
	SleepingConsumers int       // this handle's consumers asleep now
	SleepingProducers int       // this handle's producers asleep now
}

// SegmentKind classifies a System V segment found by List.
type SegmentKind int

const (
	// KindQueue is a shqueue this library can read; ListEntry.Info is set.
	KindQueue SegmentKind = iota
	// KindInvalid carries the shqueue magic but cannot be read: another
	// layout version, or an inconsistent header. ListEntry.Err says which.
	KindInvalid
	// KindForeign is a segment some other program made.
	KindForeign
	// KindUnreadable is a segment this user may not read (ListEntry.Err
	// wraps ErrNoAccess), so whether it is a queue is unknown.
	KindUnreadable
	// KindHalfCreated is a queue whose creator has not finished its
	// header: still writing it, or killed before it finished (ListEntry.Err
	// wraps ErrHalfCreated and says which). Remove removes it, and Create
	// and OpenOrCreate replace one whose creator died.
	KindHalfCreated
)

func (k SegmentKind) String() string {
	switch k {
	case KindQueue:
		return "shqueue"
	case KindInvalid:
		return "invalid"
	case KindForeign:
		return "foreign"
	case KindUnreadable:
		return "unreadable"
	case KindHalfCreated:
		return "half-created"
	}
	return fmt.Sprintf("SegmentKind(%d)", int(k))
}

// ListEntry is one System V shared-memory segment on the host. The fields
// other than Info come from the kernel's table, so they are filled in for
// every kind of segment, readable or not.
type ListEntry struct {
	Key         int
	ID          int
	Kind        SegmentKind
	Size        int
	Mode        os.FileMode
	UID         int
	CreatorPID  int
	Attachments int
	LastAttach  time.Time // zero if never attached or unknown
	Changed     time.Time // last IPC_SET/creation (shm_ctime); zero if unknown
	Removed     bool      // marked for removal, still attached
	Info        *Info     // set for KindQueue
	Err         error     // why the segment is not KindQueue (nil for KindQueue)
}

// Inspect reads a snapshot of the queue for key without attaching to it as a
// user: the segment is mapped read-only and no process-table entry is taken.
// It validates the header exactly as Open does. A missing key gives
// ErrNotExist, a segment this user may not read ErrNoAccess, a segment that is
// not a shqueue ErrInvalidMagic, all wrapped with the key.
func Inspect(key int) (*Info, error) {
	if err := checkKey("inspect", key); err != nil {
		return nil, err
	}
	id, err := shmLookup("inspect", key)
	if err != nil {
		return nil, err
	}
	var info *Info
	err = withReadOnly("inspect", key, id, true, func(v *queueView) error {
		info = v.info()
		return nil
	})
	return info, err
}

// PeekedMessage is a copy of one message Peek found in a queue.
type PeekedMessage struct {
	Pos  uint64 // the message's position (Info.Head is the next to be dequeued)
	Data []byte // a copy of the message, MsgSize bytes
}

// peekRetries bounds how often Peek starts again from the head when a consumer
// took the first message while it was being copied.
const peekRetries = 8

// Peek copies up to n of the oldest messages in the queue for key, oldest
// first, without dequeuing them: the segment is mapped read-only.
//
// Peek reads as a consumer would, but claims nothing: it copies a published
// message and then checks that the slot still holds it; a message that a
// consumer took (or a producer overwrote) during the copy is not returned.
// It stops early at a position whose producer has not finished publishing,
// and passes over slots abandoned by a dead producer (they hold no message).
// Under traffic the result is a snapshot: those messages may be gone by the
// time the caller looks.
func Peek(key, n int) ([]PeekedMessage, error) {
	if err := checkKey("peek", key); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, keyErr("peek", key, ErrInvalidArg, "negative count %d", n)
	}
	id, err := shmLookup("peek", key)
	if err != nil {
		return nil, err
	}
	var msgs []PeekedMessage
	err = withReadOnly("peek", key, id, true, func(v *queueView) error {
		msgs = v.peek(n)
		return nil
	})
	return msgs, err
}

// Remove marks the queue for key for removal (IPC_RMID): the key is free at
// once and the segment goes when the last process detaches, so open handles
// keep working. Only a segment that is a shqueue (or a half-created one,
// KindHalfCreated) is removed: for any other, Remove returns ErrInvalidMagic
// and changes nothing. Removing needs read access (to check the segment) and
// ownership (or privilege); otherwise the error wraps ErrNoAccess. Remove
// removes whatever the queue holds: it is the explicit way to discard
// messages.
func Remove(key int) error {
	if err := checkKey("remove", key); err != nil {
		return err
	}
	id, err := shmLookup("remove", key)
	if err != nil {
		return err
	}
	err = withReadOnly("remove", key, id, true, func(*queueView) error { return nil })
	if err != nil && !errors.Is(err, ErrHalfCreated) {
		return err
	}
	return shmRemove(key, id)
}

// RemoveStale removes the queues that are orphaned and empty, and the
// half-created segments whose creator died, and returns their keys: it is
// RemoveStaleWith(StaleOptions{}, keys...). It never removes a queue that
// holds messages, or an idle one.
func RemoveStale(keys ...int) ([]int, error) {
	return RemoveStaleWith(StaleOptions{}, keys...)
}

// StaleOptions say what RemoveStaleWith removes.
type StaleOptions struct {
	// Force removes every queue that nobody has attached, idle or
	// orphaned, with the messages it holds.
	Force bool
	// DryRun removes nothing: the keys returned are those that would
	// have been removed.
	DryRun bool
}

// RemoveStaleWith removes stale queues and returns their keys. With no keys
// it considers every segment on the host (which needs Linux: see List); with
// keys, only those. Stale means nobody has the segment attached and:
//   - without Force: the queue is orphaned (QueueOrphaned: every process in
//     its table died or exited without closing) and holds no message, or it
//     is half-created and its creator died;
//   - with Force: any queue nobody has attached, idle or orphaned, whatever
//     it holds.
//
// Segments that are not shqueues, and keys that have no segment, are never
// touched; a segment this user may not remove is reported in the error
// (wrapping ErrNoAccess) after the others are done. A segment with any
// attachment is left alone even if every table entry is dead: the attachment
// may be a process between shmat and taking its entry, or another inspector.
func RemoveStaleWith(opts StaleOptions, keys ...int) ([]int, error) {
	type candidate struct{ key, id int }
	var candidates []candidate
	if len(keys) == 0 {
		entries, err := List()
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if (e.Kind == KindQueue || e.Kind == KindHalfCreated) && e.Key != 0 && e.Attachments == 0 {
				candidates = append(candidates, candidate{e.Key, e.ID})
			}
		}
	} else {
		for _, key := range keys {
			if checkKey("remove", key) != nil {
				continue
			}
			if id, err := shmLookup("remove", key); err == nil {
				candidates = append(candidates, candidate{key, id})
			}
		}
	}
	var removed []int
	var errs []error
	for _, c := range candidates {
		err := withReadOnly("remove", c.key, c.id, false, func(v *queueView) error {
			if v.stat.nattach > 0 {
				return errNotStale
			}
			info := v.info()
			if opts.Force || (info.State() == QueueOrphaned && info.Len == 0) {
				return nil
			}
			return errNotStale
		})
		if errors.Is(err, ErrHalfCreated) && !creatorAliveAt(c.key, c.id) {
			err = nil
		}
		if err != nil {
			if errors.Is(err, ErrNoAccess) {
				errs = append(errs, err)
			}
			continue // not stale, not a shqueue, or gone meanwhile
		}
		// Ask the kernel once more right before removing, to keep the window
		// in which a process can attach after the check as short as it gets.
		if info, err := shmStat(c.key, c.id); err != nil || info.nattach > 0 {
			continue
		}
		if !opts.DryRun {
			if err := shmRemove(c.key, c.id); err != nil {
				if errors.Is(err, ErrNoAccess) {
					errs = append(errs, err)
				}
				continue
			}
		}
		removed = append(removed, c.key)
	}
	return removed, errors.Join(errs...)
}

// creatorAliveAt reports whether a half-created segment's creator still
// works on it (true also when it cannot tell).
func creatorAliveAt(key, id int) bool {
	stat, err := shmStat(key, id)
	if err != nil {
		return true
	}
	seg, err := shmAttachReadOnly(key, id)
	if err != nil {
		return true
	}
	defer seg.detach()
	return headerOf(unsafe.Pointer(&seg.mem[0]), stat) != headerAbandoned
}

var errNotStale = errors.New("queue in use")

// queueView is a read-only look at a segment: a Queue value built from the
// validated geometry (so Len, Stats, slot and attached work exactly as for a
// real handle) that owns no table entry. Only methods that load from shared
// memory may be called on q: the mapping is read-only, and a store would
// fault.
type queueView struct {
	q    *Queue
	stat segInfo // IPC_STAT taken before this process attached
}

// withReadOnly validates the segment id for key, maps it read-only, runs f on
// the view and detaches. waitForCreator lets a header that a live creator is
// still writing settle (as Open does); List does not wait, so one segment
// being created cannot slow a listing of the whole host.
func withReadOnly(op string, key, id int, waitForCreator bool, f func(*queueView) error) error {
	stat, err := shmStat(key, id)
	if err != nil {
		return err
	}
	if stat.size < headerSize {
		return keyErr(op, key, ErrInvalidMagic, "a segment of %d bytes is too small for a shqueue header", stat.size)
	}
	seg, err := shmAttachReadOnly(key, id)
	if err != nil {
		return err
	}
	defer seg.detach()
	if !waitForCreator {
		if err := notReadyErr(op, key, unsafe.Pointer(&seg.mem[0]), stat); err != nil {
			return err
		}
	}
	g, err := readGeometry(op, seg, stat)
	if err != nil {
		return err
	}
	return f(&queueView{q: mapQueue(seg, g), stat: stat})
}

// shmAttachReadOnly maps the segment read-only into this process.
func shmAttachReadOnly(key, id int) (*segment, error) {
	mem, err := unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
	if err != nil {
		return nil, mapErrno("attach", key, err)
	}
	return &segment{key: key, id: id, mem: mem}, nil
}

func (v *queueView) info() *Info {
	q := v.q
	info := &Info{
		Key:               q.key,
		ID:                q.seg.id,
		MsgSize:           q.msgSize,
		Cap:               int(q.capacity),
		Len:               q.length(),
		Stats:             q.stats(),
		Head:              atomic.LoadUint64(q.head),
		Tail:              atomic.LoadUint64(q.tail),
		LayoutVersion:     atomic.LoadUint32(u32At(q.base, offVersion)),
		Created:           time.Unix(0, int64(atomic.LoadUint64(u64At(q.base, offCreatedNs)))),
		Name:              readName(q.base).display(),
		name:              readName(q.base),
		SegmentSize:       v.stat.size,
		Mode:              os.FileMode(v.stat.mode).Perm(),
		UID:               int(v.stat.uid),
		CreatorPID:        int(v.stat.cpid),
		Attachments:       v.stat.nattach,
		SleepingConsumers: int(atomic.LoadUint32(q.emptySleepers)),
		SleepingProducers: int(atomic.LoadUint32(q.fullSleepers)),
	}
	if v.stat.atime != 0 {
		info.LastAttach = time.Unix(v.stat.atime, 0)
	}
	for _, p := range q.attached() {
		info.Processes = append(info.Processes, Process{
			Entry:             p.Index,
			PID:               p.PID,
			Alive:             p.Alive,
			Attached:          p.Attached,
			SleepingConsumers: int(p.EmptySleep),
			SleepingProducers: int(p.FullSleep),
		})
	}
	return info
}

// peek copies up to n published messages from the head on. It only loads
// from shared memory.
func (v *queueView) peek(n int) []PeekedMessage {
	q := v.q
	n = min(n, int(q.capacity))
	var msgs []PeekedMessage
	for attempt := 0; attempt < peekRetries; attempt++ {
		msgs = msgs[:0]
		pos := atomic.LoadUint64(q.head)
		tail := atomic.LoadUint64(q.tail)
		torn := false
		for len(msgs) < n && pos < tail {
			slot := q.slot(pos)
			seq := atomic.LoadUint64(seqWord(slot))
			if seq == fullSeq(pos)|seqAbandoned {
				pos++ // a dead producer's slot: no message here
				continue
			}
			if seq != fullSeq(pos) {
				// Not published yet (stop: consumers stop there too), or
				// consumed since head was read (start again).
				torn = atomic.LoadUint64(q.head) > pos
				break
			}
			data := loadMessage(q, slot)
			// The copy is the message only if the slot still holds it: a
			// consumer that took it releases the slot, and a producer may
			// then be writing the next lap's message over the copy; and an
			// EnqueueShift that dropped it writes over it before the
			// sequence word changes, but only after it has moved head past
			// pos (protocol.go), which the load of head after the copy sees.
			if atomic.LoadUint64(seqWord(slot)) != seq || atomic.LoadUint64(q.head) > pos {
				torn = true
				break
			}
			msgs = append(msgs, PeekedMessage{Pos: pos, Data: data})
			pos++
		}
		// Messages checked before a torn one are still a true, ordered
		// snapshot; start again only if nothing was.
		if !torn || len(msgs) > 0 {
			break
		}
	}
	return msgs
}

// loadMessage copies the message in slot with atomic loads, a word at a time.
// A plain copy could be reordered after the load of the sequence word that
// checks it (arm64 lets earlier loads pass a load-acquire), so a torn copy
// could pass the check; successive atomic loads keep their order on every
// architecture. Messages are whole words and start 8-byte aligned.
func loadMessage(q *Queue, slot unsafe.Pointer) []byte {
	data := make([]byte, q.msgSize)
	src := unsafe.Add(slot, q.dataOff)
	for i := 0; i < len(data); i += 8 {
		binary.NativeEndian.PutUint64(data[i:], atomic.LoadUint64((*uint64)(unsafe.Add(src, i))))
	}
	return data
}

// List returns every System V shared-memory segment on the host, each
// classified: a shqueue (with its Info), a half-created one, a segment with the
// shqueue magic this library cannot read, a foreign segment, or one this user
// may not read.
// Listing needs the kernel's table of all segments, which only Linux exposes
// (/proc/sysvipc/shm); elsewhere List returns an error wrapping
// errors.ErrUnsupported.
func List() ([]ListEntry, error) {
	segs, err := listSegments()
	if err != nil {
		return nil, err
	}
	out := segs[:0]
	for _, e := range segs {
		err := withReadOnly("list", e.Key, e.ID, false, func(v *queueView) error {
			e.Info = v.info()
			e.Info.Key, e.Info.Removed = e.Key, e.Removed
			return nil
		})
		switch {
		case err == nil:
			e.Kind = KindQueue
		case errors.Is(err, ErrNotExist), errors.Is(err, ErrRemoved), errors.Is(err, ErrInvalidSize):
			continue // removed since the kernel listed it (IPC_STAT on a dead id is EINVAL)
		case errors.Is(err, ErrInvalidMagic):
			e.Kind, e.Err = KindForeign, err
		case errors.Is(err, ErrHalfCreated):
			e.Kind, e.Err = KindHalfCreated, err
		case errors.Is(err, ErrBadVersion), errors.Is(err, ErrCorrupt):
			e.Kind, e.Err = KindInvalid, err
		default:
			e.Kind, e.Err = KindUnreadable, err
		}
		out = append(out, e)
	}
	return out, nil
}
