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
// for as long as it is open: its process id and start time (to tell whether it
// still runs), its sleeper counts, and its claim lanes, where every claim it
// makes is recorded before it is made (protocol.go). A waiter stuck behind a
// claim that is never finished finds the claimant here and, if that process
// is gone, recovers the slot (recover.go). An entry outlives a dead process
// until none of its recorded claims can still be in flight.

type procEntry struct {
	base unsafe.Pointer
}

func (e procEntry) u32(off uintptr) *uint32 { return (*uint32)(unsafe.Add(e.base, off)) }
func (e procEntry) u64(off uintptr) *uint64 { return (*uint64)(unsafe.Add(e.base, off)) }

func (e procEntry) pid() int               { return int(atomic.LoadUint32(e.u32(offProcPID))) }
func (e procEntry) start() uint64          { return atomic.LoadUint64(e.u64(offProcStart)) }
func (e procEntry) lane(l int) *uint64     { return e.u64(offProcLanes + uintptr(l)*8) }
func (e procEntry) emptySleepers() *uint32 { return e.u32(offProcEmptySlp) }
func (e procEntry) fullSleepers() *uint32  { return e.u32(offProcFullSlp) }

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
	// first. procStartTime reads the kernel's own figure even under a
	// user-mode emulator (liveness_linux.go); the tolerance is a margin for
	// any other layer between a process and its /proc entry.
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
				for l := 0; l < procLanes; l++ {
					atomic.StoreUint64(e.lane(l), 0)
				}
				atomic.StoreUint64(e.u64(offProcAttached), uint64(time.Now().UnixNano()))
				atomic.StoreUint32(e.emptySleepers(), 0)
				atomic.StoreUint32(e.fullSleepers(), 0)
				return i, nil
			}
		}
		if q.reclaimDead() == 0 {
			break
		}
	}
	return -1, keyErr("attach", q.key, ErrTooManyProcs, "%d handles attached", procEntries)
}

// releaseEntry frees this handle's entry on Close, once no call is inside
// the handle: none of its lanes can hold a claim in flight.
func (q *Queue) releaseEntry() {
	e := q.entry(q.self)
	for l := 0; l < procLanes; l++ {
		atomic.StoreUint64(e.lane(l), 0)
	}
	atomic.StoreUint32(e.u32(offProcPID), 0)
}

// reclaimDead frees the entries of dead processes none of whose recorded
// claims can still be in flight, returning how many it freed. An entry with
// an unfinished claim stays: recovery needs its record to name the dead
// claimant, and a new handle in the same entry would be taken for it. Sleeper
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
		if q.entryInFlight(e) {
			continue
		}
		if n := atomic.SwapUint32(e.emptySleepers(), 0); n != 0 {
			atomic.AddUint32(q.emptySleepers, -n)
		}
		if n := atomic.SwapUint32(e.fullSleepers(), 0); n != 0 {
			atomic.AddUint32(q.fullSleepers, -n)
		}
		if atomic.CompareAndSwapUint32(e.u32(offProcPID), uint32(pid), 0) {
			freed++
		}
	}
	return freed
}

// entryInFlight reports whether any claim recorded in an entry's lanes may
// still be unfinished.
func (q *Queue) entryInFlight(e procEntry) bool {
	for l := 0; l < procLanes; l++ {
		if q.recordInFlight(atomic.LoadUint64(e.lane(l))) {
			return true
		}
	}
	return false
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
			EmptySleep: atomic.LoadUint32(e.emptySleepers()),
			FullSleep:  atomic.LoadUint32(e.fullSleepers()),
		})
	}
	return out
}
