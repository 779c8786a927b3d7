//go:build linux || darwin

package shqueue

import (
	"errors"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The attached-process table. Each handle (each Create or Open) owns one entry
// for as long as it is open. Before a handle claims a position it records the
// position in its entry (the intent); right after the claim it also records
// itself in the slot's owner word. A waiter stuck behind a claim that is never
// finished uses the two to find the claimant and, if that process is gone,
// recovers the slot. See recover.go.

type procEntry struct {
	base unsafe.Pointer
}

func (e procEntry) u32(off uintptr) *uint32 { return (*uint32)(unsafe.Add(e.base, off)) }
func (e procEntry) u64(off uintptr) *uint64 { return (*uint64)(unsafe.Add(e.base, off)) }

func (e procEntry) pid() int           { return int(atomic.LoadUint32(e.u32(offProcPID))) }
func (e procEntry) start() uint64      { return atomic.LoadUint64(e.u64(offProcStart)) }
func (e procEntry) enqIntent() *uint64 { return e.u64(offProcEnqIntent) }
func (e procEntry) deqIntent() *uint64 { return e.u64(offProcDeqIntent) }

// procAttach is what a table entry says about one attached handle.
type procAttach struct {
	Index      int       // entry index in the table
	PID        int       // process id
	Attached   time.Time // when the handle attached
	Alive      bool      // whether the process still runs (kill(pid, 0), start time, not a zombie)
	EmptySleep uint32    // consumers of this handle asleep now
	FullSleep  uint32    // producers of this handle asleep now
}

var selfPID = os.Getpid()

var selfStart = func() uint64 {
	s, _, _ := procStartTime(os.Getpid())
	return s
}()

// processAlive reports whether the process that took an entry with this pid
// and start time still runs.
func processAlive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	if pid == selfPID {
		// This process is running: its own claims are never recovered,
		// whatever /proc says (and user-mode emulators say odd things).
		return true
	}
	if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
		return false
	}
	s, zombie, ok := procStartTime(pid)
	if !ok {
		// No /proc here (or the process ended between the two calls):
		// ask kill once more.
		return !errors.Is(unix.Kill(pid, 0), unix.ESRCH)
	}
	if zombie {
		return false
	}
	// A reused pid belongs to a process started after the recorded one
	// died: long after, since the kernel cycles through the whole pid range
	// first. The tolerance covers user-mode emulators (qemu-user), which
	// report their own, slightly later, start time in /proc/self/stat.
	return start == 0 || (s >= start && s-start <= startTolerance) || (start > s && start-s <= startTolerance)
}

// startTolerance is how far (in clock ticks, 1/100 s on Linux) a recorded
// start time may be from the one /proc reports for the same process.
const startTolerance = 200

func (q *Queue) entry(i int) procEntry {
	return procEntry{base: unsafe.Add(q.base, offProcTable+uintptr(i)*procEntrySize)}
}

// takeEntry claims a free table entry for this handle, first reclaiming the
// entries of dead processes whose claims are all settled.
func (q *Queue) takeEntry() (int, error) {
	pid := uint32(os.Getpid())
	q.reclaimDead()
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < procEntries; i++ {
			e := q.entry(i)
			if atomic.CompareAndSwapUint32(e.u32(offProcPID), 0, pid) {
				atomic.StoreUint64(e.u64(offProcStart), selfStart)
				atomic.StoreUint64(e.enqIntent(), 0)
				atomic.StoreUint64(e.deqIntent(), 0)
				atomic.StoreUint64(e.u64(offProcAttached), uint64(time.Now().UnixNano()))
				atomic.StoreUint32(e.u32(offProcEmptySlp), 0)
				atomic.StoreUint32(e.u32(offProcFullSlp), 0)
				return i, nil
			}
		}
		if q.reclaimDead() == 0 {
			break
		}
	}
	return -1, keyErr("attach", q.key, ErrTooManyProcs, "%d handles attached", procEntries)
}

// releaseEntry frees this handle's entry on Close.
func (q *Queue) releaseEntry() {
	e := q.entry(q.self)
	atomic.StoreUint64(e.enqIntent(), 0)
	atomic.StoreUint64(e.deqIntent(), 0)
	atomic.StoreUint32(e.u32(offProcPID), 0)
}

// reclaimDead frees the entries of dead processes whose recorded claims are
// settled (the slot moved on, or the claim never happened), returning how many
// it freed. An entry with an unsettled claim stays: recovery needs it. Sleeper
// counts the dead process left registered are taken back, so wakers stop
// making system calls for sleepers that no longer exist.
func (q *Queue) reclaimDead() int {
	freed := 0
	for i := 0; i < procEntries; i++ {
		e := q.entry(i)
		pid := e.pid()
		if pid == 0 || i == q.self || processAlive(pid, e.start()) {
			continue
		}
		if !q.enqSettled(atomic.LoadUint64(e.enqIntent())) || !q.deqSettled(atomic.LoadUint64(e.deqIntent())) {
			continue
		}
		if n := atomic.SwapUint32(e.u32(offProcEmptySlp), 0); n != 0 {
			atomic.AddUint32(q.emptySleepers, -n)
		}
		if n := atomic.SwapUint32(e.u32(offProcFullSlp), 0); n != 0 {
			atomic.AddUint32(q.fullSleepers, -n)
		}
		if atomic.CompareAndSwapUint32(e.u32(offProcPID), uint32(pid), 0) {
			freed++
		}
	}
	return freed
}

// attached lists the table's entries in use.
func (q *Queue) attached() []procAttach {
	var out []procAttach
	for i := 0; i < procEntries; i++ {
		e := q.entry(i)
		pid := e.pid()
		if pid == 0 {
			continue
		}
		out = append(out, procAttach{
			Index:      i,
			PID:        pid,
			Attached:   time.Unix(0, int64(atomic.LoadUint64(e.u64(offProcAttached)))),
			Alive:      processAlive(pid, e.start()),
			EmptySleep: atomic.LoadUint32(e.u32(offProcEmptySlp)),
			FullSleep:  atomic.LoadUint32(e.u32(offProcFullSlp)),
		})
	}
	return out
}
