//go:build linux || darwin

package shqueue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
	"unsafe"
)

// The queue's lifecycle: Create, Open, OpenOrCreate, OpenWait, Delete, and
// what each does with a segment that is already at the key. The rules:
//
//   - Nothing that holds messages is destroyed without WithReplace (Create)
//     or an explicit Remove.
//   - A segment that is not a shqueue is never touched.
//   - A segment whose creator died before it finished the header
//     (half-created) blocks nobody: Create and OpenOrCreate remove it. Its
//     creator is identified by the record it writes first (layout.go:
//     offCreator), pid and start time, so a later process that reuses the pid
//     does not keep it alive.
//
// This file reads and writes the header's identity words (offCreator,
// offName*); the geometry is queue.go's (readGeometry), the process table
// procs.go's.

// WithReplace lets Create replace a leftover queue (one that no process has
// attached) even when it holds messages, which are then lost. Without it such
// a Create fails with ErrAlreadyExist. A queue some process has attached is
// never replaced. Open ignores it.
func WithReplace() Option {
	return func(o *options) { o.replace = true }
}

// createHook, when set (by tests), runs in Create right after the creator's
// record is written and before the header: the moment a creator killed here
// leaves a half-created segment.
var createHook func()

// Create makes a new queue for key with messages of words 64-bit words
// (words*8 bytes) and room for maxLen messages, and attaches it.
//
// When a segment already holds the key:
//   - a queue some process has attached: ErrAlreadyExist (Open it instead);
//   - a leftover queue nobody has attached that holds messages:
//     ErrAlreadyExist, naming how many, unless WithReplace is given;
//   - an empty leftover of the same shape and name: Create attaches it as it
//     is (its permission bits and counters stay), so a queue an operator
//     provisioned with `shqueue create` is the one the program gets, and two
//     processes that Create it at once share one queue;
//   - an empty leftover of another shape or name: removed and created anew;
//   - a half-created segment whose creator died: removed and created anew;
//   - a segment that is not a shqueue: ErrAlreadyExist; it is never touched.
//
// Between Create's look at a leftover and its removal, another process could
// Open it; Create asks the kernel once more right before removing, which
// narrows that window to a few microseconds but cannot close it (System V
// has no lock to take): do not Create over a queue that programs are opening
// at that moment. Use OpenOrCreate when several processes start together.
func Create(key int, words, maxLen uint32, opts ...Option) (*Queue, error) {
	o := newOptions(opts)
	g, err := checkCreate("create", key, words, maxLen, o)
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 8; attempt++ {
		q, err := createNew(key, g, o)
		if !errors.Is(err, errKeyTaken) {
			return q, err
		}
		q, err = createOver(key, g, o)
		if !errors.Is(err, errRetry) {
			return q, err
		}
	}
	return nil, keyErr("create", key, ErrAlreadyExist, "the key was taken again each time its leftover was removed")
}

// Open attaches the existing queue for key. It checks everything it reads —
// magic, layout version, geometry against the segment's real size, and with
// WithName the queue's name — and keeps its own copy of the geometry. A queue
// whose creator is still writing its header is waited for briefly; one whose
// creator died before finishing gives ErrHalfCreated.
func Open(key int, opts ...Option) (*Queue, error) {
	o := newOptions(opts)
	if err := checkOpen("open", key, o); err != nil {
		return nil, err
	}
	return open(key, o)
}

// OpenOrCreate attaches the queue for key if it exists, or creates it with
// messages of words 64-bit words and room for maxLen messages. It is safe
// when several processes call it at once: exactly one creates the queue and
// the others attach it once its header is complete. A queue of another shape
// fails with ErrShape, naming both; with WithName, a queue with another name
// fails with ErrNameMismatch. An existing queue is attached as it is, with the
// messages it holds; nothing is ever removed, except a half-created segment
// whose creator died.
func OpenOrCreate(key int, words, maxLen uint32, opts ...Option) (*Queue, error) {
	o := newOptions(opts)
	g, err := checkCreate("open or create", key, words, maxLen, o)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(openOrCreateWait)
	var zero zeroWatch
	for {
		q, err := open(key, o)
		switch {
		case err == nil:
			if uint64(q.msgSize) != g.msgSize || q.capacity != g.capacity {
				have := newGeometry(uint64(q.msgSize)/8, q.capacity)
				q.Close()
				return nil, keyErr("open", key, ErrShape, "it holds %s; this call asked for %s", shapeString(have), shapeString(g))
			}
			return q, nil
		case errors.Is(err, ErrNotExist):
			q, err = createNew(key, g, o)
			if !errors.Is(err, errKeyTaken) {
				return q, err
			}
			// Another process created it first: open it.
		case errors.Is(err, ErrHalfCreated):
			if err := removeAbandoned("create", key); err != nil {
				return nil, err
			}
		case errors.Is(err, ErrRemoved):
			// Removed between lookup and attach: look again.
		case zero.creating(key, err):
			// Made a moment ago by a process that has not yet written
			// its first word: look again.
		default:
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(time.Millisecond)
	}
}

// openOrCreateWait bounds how long OpenOrCreate keeps trying while another
// process is in the middle of creating the queue (a creator that stalls longer
// than this, or keeps removing and recreating the queue, wins).
const openOrCreateWait = 10 * time.Second

// OpenWait attaches the queue for key, waiting until it exists and its header
// is complete, or until ctx is done (the error then wraps ctx.Err()). It polls
// (1 ms, doubling up to openWaitPoll): System V has no way to be told
// when a key appears. Errors other than "not there yet" (no permission, not a
// shqueue, another name with WithName) return at once.
func OpenWait(ctx context.Context, key int, opts ...Option) (*Queue, error) {
	o := newOptions(opts)
	if err := checkOpen("open", key, o); err != nil {
		return nil, err
	}
	poll := time.Millisecond
	var zero zeroWatch
	for {
		q, err := open(key, o)
		if err == nil {
			return q, nil
		}
		if !errors.Is(err, ErrNotExist) && !errors.Is(err, ErrHalfCreated) && !errors.Is(err, ErrRemoved) && !zero.creating(key, err) {
			return nil, err
		}
		timer := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("open queue %s: waiting for it: %w", keyHex(key), ctx.Err())
		case <-timer.C:
		}
		poll = min(2*poll, openWaitPoll)
	}
}

// openWaitPoll is OpenWait's longest pause between two looks: how late, at
// most, it notices a queue that appears.
const openWaitPoll = 32 * time.Millisecond

// zeroWatch lets OpenOrCreate and OpenWait tell a creator that has not yet
// written its first word from a foreign segment. Between its shmget and its
// first store (the creator's record), a new queue's segment is all zeros,
// like a foreign one. A zeroed segment made at most a second or two ago by a
// live process is taken for such a queue for up to zeroHeaderGrace; after
// that, it is foreign. (Open, Create and the inspection functions do not
// wait: a moment later the record is there.)
type zeroWatch struct{ since time.Time }

const zeroHeaderGrace = time.Second

func (z *zeroWatch) creating(key int, err error) bool {
	if !errors.Is(err, ErrInvalidMagic) || !freshZeroHeader(key) {
		return false
	}
	if z.since.IsZero() {
		z.since = time.Now()
	}
	return time.Since(z.since) < zeroHeaderGrace
}

// freshZeroHeader reports whether the segment at key is worth another look:
// it is gone, or its header now shows a shqueue Create (its record or its
// magic), or it is still all zeros but was made moments ago by a process that
// still runs. The header is read before the creator's liveness: a creator may
// finish, and exit, between the caller's look and this one.
func freshZeroHeader(key int) bool {
	id, err := shmLookup("open", key)
	if errors.Is(err, ErrNotExist) {
		return true
	}
	if err != nil {
		return false
	}
	info, err := shmStat(key, id)
	if errors.Is(err, ErrRemoved) {
		return true
	}
	if err != nil || info.size < headerSize {
		return false
	}
	seg, err := shmAttachReadOnly(key, id)
	if errors.Is(err, ErrRemoved) {
		return true
	}
	if err != nil {
		return false
	}
	base := unsafe.Pointer(&seg.mem[0])
	magic := atomic.LoadUint64(u64At(base, offMagic))
	creator := atomic.LoadUint64(u64At(base, offCreator))
	_ = seg.detach()
	switch {
	case magic == layoutMagic || creator&creatorTag != 0:
		return true
	case magic != 0 || creator != 0:
		return false
	}
	if !processAlive(int(info.cpid), 0) {
		return false
	}
	// shm_ctime has whole seconds; 0 where the system does not say.
	return info.ctime == 0 || time.Since(time.Unix(info.ctime, 0)) <= zeroHeaderGrace+time.Second
}

// Internal outcomes of the create steps.
var (
	errKeyTaken = errors.New("key taken") // shmget(IPC_EXCL) found a segment
	errRetry    = errors.New("retry")     // the segment at the key went away: try again
)

func checkOpen(op string, key int, o options) error {
	if err := checkKey(op, key); err != nil {
		return err
	}
	if o.named {
		if err := checkName(o.name); err != nil {
			return fmt.Errorf("%s queue %s: %w", op, keyHex(key), err)
		}
	}
	return nil
}

// checkCreate refuses bad arguments before anything changes and returns the
// geometry they give.
func checkCreate(op string, key int, words, maxLen uint32, o options) (geometry, error) {
	if err := checkOpen(op, key, o); err != nil {
		return geometry{}, err
	}
	if words == 0 || maxLen == 0 {
		return geometry{}, keyErr(op, key, ErrInvalidArg, "message words (%d) and capacity (%d) must be positive", words, maxLen)
	}
	if words > maxMsgWords {
		return geometry{}, keyErr(op, key, ErrInvalidSize, "messages of %d words are over this library's limit of %d words (%d MiB)", words, maxMsgWords, maxMsgWords*8>>20)
	}
	if o.flags&^flagsKnown != 0 {
		return geometry{}, keyErr(op, key, ErrInvalidArg, "unknown option flags %#x", o.flags)
	}
	g := newGeometry(uint64(words), uint64(maxLen))
	g.flags = o.flags
	if g.total > math.MaxInt {
		return geometry{}, keyErr(op, key, ErrInvalidSize, "%d slots of %d bytes need %d bytes, more than this platform can address", g.capacity, g.slotStride, g.total)
	}
	return g, nil
}

// createNew creates the segment with IPC_EXCL and initialises it; errKeyTaken
// if a segment holds the key.
func createNew(key int, g geometry, o options) (*Queue, error) {
	id, err := shmCreateExcl(key, int(g.total), o.mode)
	if isAlreadyExist(err) {
		return nil, errKeyTaken
	}
	if err != nil {
		return nil, err
	}
	seg, err := shmAttach(key, id)
	if err != nil {
		_ = shmRemove(key, id)
		return nil, err
	}
	base := unsafe.Pointer(&seg.mem[0])
	// First: who is creating it. From here on a crash leaves a segment
	// known for a half-created shqueue of this process.
	atomic.StoreUint64(u64At(base, offCreator), creatorTag|selfStart)
	if createHook != nil {
		createHook()
	}
	if uint64(len(seg.mem)) < g.total {
		_ = seg.detach()
		_ = shmRemove(key, id)
		return nil, keyErr("create", key, ErrInvalidSize, "the system made a segment of %d bytes, %d needed", len(seg.mem), g.total)
	}
	if o.named {
		writeName(base, o.name)
	}
	initSegment(seg.mem, g) // stores the magic last
	q, err := newQueue("create", seg, g, o)
	if err != nil {
		_ = seg.detach()
		_ = shmRemove(key, id)
		return nil, err
	}
	return q, nil
}

// createOver decides what Create does with the segment at key (see Create):
// it returns the reused queue, an error, or errRetry once it has removed the
// segment (or found it gone).
func createOver(key int, want geometry, o options) (*Queue, error) {
	id, err := shmLookup("create", key)
	if errors.Is(err, ErrNotExist) {
		return nil, errRetry
	}
	if err != nil {
		return nil, err
	}
	info, err := shmStat(key, id)
	if errors.Is(err, ErrRemoved) {
		return nil, errRetry
	}
	if err != nil {
		return nil, err
	}
	if info.size < headerSize {
		return nil, keyErr("create", key, ErrAlreadyExist, "a segment that is not a shqueue (%d bytes, made by pid %d) holds the key", info.size, info.cpid)
	}
	seg, err := shmAttachReadOnly(key, id)
	if errors.Is(err, ErrRemoved) {
		return nil, errRetry
	}
	if err != nil {
		return nil, err
	}
	defer seg.detach()
	base := unsafe.Pointer(&seg.mem[0])
	switch headerOf(base, info) {
	case headerForeign:
		return nil, keyErr("create", key, ErrAlreadyExist, "a segment that is not a shqueue (%d bytes, made by pid %d) holds the key", info.size, info.cpid)
	case headerCreating:
		return nil, keyErr("create", key, ErrAlreadyExist, "process %d is creating it now", info.cpid)
	case headerAbandoned:
		return nil, removeChecked(key, id, nil)
	}
	have, err := readGeometry("create", seg, info)
	if err != nil {
		if o.replace && info.nattach == 0 {
			return nil, removeChecked(key, id, nil)
		}
		return nil, keyErr("create", key, ErrAlreadyExist, "a shqueue this library cannot read holds the key (%v); WithReplace replaces it", errors.Unwrap(err))
	}
	view := mapQueue(seg, have)
	name := readName(base)
	if info.nattach > 0 {
		shape := shapeString(have)
		if have != want {
			shape += "; this call asked for " + shapeString(want)
		}
		return nil, keyErr("create", key, ErrAlreadyExist, "in use (%s), %s, %s; Open it instead", plural(info.nattach, "attachment"), name, shape)
	}
	if o.replace {
		return nil, removeChecked(key, id, nil)
	}
	if n := view.length(); n > 0 {
		return nil, keyErr("create", key, ErrAlreadyExist, "a leftover queue nobody has attached (%s, %s) holds %s; Open it to read them, or pass WithReplace to replace it",
			name, shapeString(have), plural(n, "unread message"))
	}
	if have == want && name.matches(recordOf(o.name)) {
		// An empty leftover of this shape and name: use it as it is.
		rw, err := shmAttach(key, id)
		if errors.Is(err, ErrRemoved) {
			return nil, errRetry
		}
		if err != nil {
			return nil, err
		}
		if g, err := readGeometry("create", rw, info); err != nil || g != want {
			_ = rw.detach()
			return nil, errRetry
		}
		q, err := newQueue("create", rw, want, o)
		if err != nil {
			_ = rw.detach()
			return nil, err
		}
		return q, nil
	}
	return nil, removeChecked(key, id, view)
}

// removeChecked removes segment id of key after asking the kernel once more
// that nobody has attached it and, for a queue, that it is still empty:
// the last look before the removal, to keep the window in which another
// process can attach it as short as it gets. It returns errRetry once the
// segment is gone, or ErrAlreadyExist if the second look found it in use.
func removeChecked(key, id int, view *Queue) error {
	info, err := shmStat(key, id)
	if errors.Is(err, ErrRemoved) {
		return errRetry
	}
	if err != nil {
		return err
	}
	// The caller's own read-only attachment counts once.
	if info.nattach > 1 || (view != nil && view.length() > 0) {
		return keyErr("create", key, ErrAlreadyExist, "another process attached it while Create looked at it; Open it instead")
	}
	if err := shmRemove(key, id); err != nil && !errors.Is(err, ErrRemoved) {
		return err
	}
	return errRetry
}

// removeAbandoned removes the segment at key if it is a half-created shqueue
// whose creator died; nil if it removed it, found it gone, or found its
// creator still at work.
func removeAbandoned(op string, key int) error {
	id, err := shmLookup(op, key)
	if err != nil {
		if errors.Is(err, ErrNotExist) {
			return nil
		}
		return err
	}
	info, err := shmStat(key, id)
	if err != nil || info.size < headerSize {
		return nil // gone, or not ours: the next look says which
	}
	seg, err := shmAttachReadOnly(key, id)
	if err != nil {
		return nil
	}
	state := headerOf(unsafe.Pointer(&seg.mem[0]), info)
	_ = seg.detach()
	if state == headerAbandoned {
		if err := shmRemove(key, id); err != nil && !errors.Is(err, ErrRemoved) {
			return err
		}
	}
	return nil
}

// headerState is what a segment's first line says about it.
type headerState int

const (
	headerReady     headerState = iota // the magic is there: a complete header
	headerCreating                     // a live shqueue Create is writing it
	headerAbandoned                    // a shqueue Create died before finishing it
	headerForeign                      // not written by a shqueue Create
)

func headerOf(base unsafe.Pointer, info segInfo) headerState {
	if atomic.LoadUint64(u64At(base, offMagic)) == layoutMagic {
		return headerReady
	}
	creator := atomic.LoadUint64(u64At(base, offCreator))
	switch {
	case creator&creatorTag == 0:
		return headerForeign
	case creatorAlive(int(info.cpid), creator&^creatorTag):
		return headerCreating
	}
	// The creator may have finished between the two loads.
	if atomic.LoadUint64(u64At(base, offMagic)) == layoutMagic {
		return headerReady
	}
	return headerAbandoned
}

// creatorAlive reports whether the process that created a segment still
// runs: pid from the kernel (shm_cpid), start time from the creator's record.
// A process that reused the pid has another start time.
func creatorAlive(pid int, start uint64) bool { return processAlive(pid, start) }

// notReadyErr is the error for a segment without the magic: half-created
// (ErrHalfCreated) or not a shqueue (ErrInvalidMagic).
func notReadyErr(op string, key int, base unsafe.Pointer, info segInfo) error {
	switch headerOf(base, info) {
	case headerCreating:
		return keyErr(op, key, ErrHalfCreated, "creator %d is still writing the header", info.cpid)
	case headerAbandoned:
		return keyErr(op, key, ErrHalfCreated, "creator %d died before finishing the header", info.cpid)
	case headerReady:
		return nil
	}
	return keyErr(op, key, ErrInvalidMagic, "magic %#x", atomic.LoadUint64(u64At(base, offMagic)))
}

// open is Open after the argument checks.
func open(key int, o options) (*Queue, error) {
	id, err := shmLookup("open", key)
	if err != nil {
		return nil, err
	}
	info, err := shmStat(key, id)
	if err != nil {
		return nil, err
	}
	if info.size < headerSize {
		return nil, keyErr("open", key, ErrInvalidMagic, "segment of %d bytes is too small for a shqueue header", info.size)
	}
	seg, err := shmAttach(key, id)
	if err != nil {
		return nil, err
	}
	g, err := readGeometry("open", seg, info)
	if err == nil && o.named {
		if have := readName(unsafe.Pointer(&seg.mem[0])); !have.matches(recordOf(o.name)) {
			err = keyErr("open", key, ErrNameMismatch, "the queue carries %s, this call names %q", have, o.name)
		}
	}
	if err == nil {
		var q *Queue
		if q, err = newQueue("open", seg, g, o); err == nil {
			return q, nil
		}
	}
	_ = seg.detach()
	return nil, err
}

// writeName records name in a header being created (before the magic).
func writeName(base unsafe.Pointer, name string) {
	var buf [nameStored]byte
	copy(buf[:], name)
	for i := 0; i < nameStored; i += 8 {
		w := uint64(0)
		for j := 7; j >= 0; j-- {
			w = w<<8 | uint64(buf[i+j])
		}
		atomic.StoreUint64(u64At(base, offName+uintptr(i)), w)
	}
	atomic.StoreUint64(u64At(base, offNameLen), uint64(len(name)))
	atomic.StoreUint64(u64At(base, offNameHash), nameHash(name))
}

// readName reads the name a header records (little-endian bytes in words, as
// writeName stores them).
func readName(base unsafe.Pointer) nameRecord {
	r := nameRecord{
		hash:   atomic.LoadUint64(u64At(base, offNameHash)),
		length: atomic.LoadUint64(u64At(base, offNameLen)),
	}
	if r.length == 0 {
		return nameRecord{}
	}
	var buf [nameStored]byte
	for i := 0; i < nameStored; i += 8 {
		w := atomic.LoadUint64(u64At(base, offName+uintptr(i)))
		for j := 0; j < 8; j++ {
			buf[i+j] = byte(w >> (8 * j))
		}
	}
	r.prefix = string(buf[:min(r.length, nameStored)])
	return r
}

// shapeString describes a queue's shape for errors: "64-byte messages (8
// words) × 256".
func shapeString(g geometry) string {
	return fmt.Sprintf("%d-byte messages (%s) × %d", g.msgSize, plural(int(g.msgSize/8), "word"), g.capacity)
}

// Delete marks the queue for removal: its key is free at once, and the
// segment lives on until the last process detaches, so handles that are open
// keep working. It works on a closed handle too, so
//
//	defer q.Delete()
//	defer q.Close()
//
// (Close runs first) removes the queue. It removes the segment this handle
// attached, never a newer queue made under the same key since: once that
// segment is gone the error wraps ErrNotExist. Deleting twice is no error
// while the segment still exists. To remove a queue without a handle, use
// Remove(key).
func (q *Queue) Delete() error {
	info, err := shmStat(q.key, q.seg.id)
	if errors.Is(err, ErrRemoved) {
		return keyErr("delete", q.key, ErrNotExist, "its segment (id %d) has already gone", q.seg.id)
	}
	if err != nil {
		return err
	}
	if info.keyKnown && info.key != q.key {
		if info.key == 0 {
			return nil // already marked for removal (IPC_RMID sets the key to IPC_PRIVATE)
		}
		return keyErr("delete", q.key, ErrNotExist, "its segment (id %d) has already gone", q.seg.id)
	}
	return shmRemove(q.key, q.seg.id)
}
