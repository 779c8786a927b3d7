//go:build linux || darwin

package shqueue

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// queueTraffic puts a known history into q (capacity 8): 11 enqueued (one of
// them shifting the oldest out), 2 dequeued, so 8 messages sit at positions 3..10.
func queueTraffic(t *testing.T, q *Queue) {
	t.Helper()
	msg := make([]byte, q.MsgSize())
	for i := uint64(0); i < 5; i++ {
		fillMsg(msg, 1, i)
		if !q.EnqueueTry(msg) {
			t.Fatalf("enqueue %d failed", i)
		}
	}
	for i := 0; i < 2; i++ {
		if !q.DequeueTry(msg) {
			t.Fatal("dequeue failed")
		}
	}
	for i := uint64(5); i < 11; i++ {
		fillMsg(msg, 1, i)
		q.EnqueueShift(msg)
	}
}

func TestInspectLiveQueue(t *testing.T) {
	q := newTestQueue(t, 4, 8)
	queueTraffic(t, q)
	other := mustOpen(t, q.Key())
	defer other.Close()

	info, err := Inspect(q.Key())
	if err != nil {
		t.Fatal(err)
	}
	wantStats := Stats{Enqueued: 11, Dequeued: 2, Overwritten: 1}
	if info.Key != q.Key() || info.ID != q.seg.id || info.MsgSize != 32 || info.Cap != 8 || info.Len != 8 ||
		info.Stats != wantStats || info.Head != 3 || info.Tail != 11 || info.LayoutVersion != layoutVersion {
		t.Fatalf("Inspect = %+v\nwant key %#x, 32-byte messages, cap 8, len 8, stats %+v, head 3, tail 11", info, q.Key(), wantStats)
	}
	if info.SegmentSize != int(newGeometry(4, 8).total) || info.Mode != 0o600 || info.UID != os.Getuid() ||
		info.CreatorPID != os.Getpid() || info.Attachments != 2 || info.Removed {
		t.Fatalf("segment facts wrong: size %d mode %v uid %d cpid %d nattch %d removed %v",
			info.SegmentSize, info.Mode, info.UID, info.CreatorPID, info.Attachments, info.Removed)
	}
	if age := time.Since(info.Created); info.Created.IsZero() || age < 0 || age > time.Hour {
		t.Fatalf("Created = %v", info.Created)
	}
	if runtime.GOOS == "linux" && info.LastAttach.IsZero() {
		t.Fatal("LastAttach is zero")
	}
	if len(info.Processes) != 2 {
		t.Fatalf("Processes = %+v, want the two handles", info.Processes)
	}
	for i, p := range info.Processes {
		if p.PID != os.Getpid() || !p.Alive || p.Attached.IsZero() || p.SleepingConsumers != 0 || p.SleepingProducers != 0 {
			t.Fatalf("process %d = %+v", i, p)
		}
	}
	if info.Processes[0].Entry != q.self || info.Processes[1].Entry != other.self {
		t.Fatalf("entries %d, %d; handles hold %d, %d", info.Processes[0].Entry, info.Processes[1].Entry, q.self, other.self)
	}
	if info.SleepingConsumers != 0 || info.SleepingProducers != 0 {
		t.Fatalf("sleepers %d/%d on an idle queue", info.SleepingConsumers, info.SleepingProducers)
	}

	// Inspecting changed nothing: no table entry taken, nothing left attached.
	again, err := Inspect(q.Key())
	if err != nil {
		t.Fatal(err)
	}
	if again.Attachments != 2 || len(again.Processes) != 2 || again.Stats != wantStats || again.Len != 8 {
		t.Fatalf("second Inspect = %+v", again)
	}
	if q.Len() != 8 || q.Stats() != wantStats {
		t.Fatalf("queue changed: len %d stats %+v", q.Len(), q.Stats())
	}

	if runtime.GOOS != "linux" {
		return
	}
	entries, err := List()
	if err != nil {
		t.Fatal(err)
	}
	e := findEntry(entries, q.Key())
	if e == nil || e.Kind != KindQueue || e.Err != nil || e.Info == nil {
		t.Fatalf("List entry for %#x = %+v", q.Key(), e)
	}
	if e.Info.Stats != wantStats || e.Info.Len != 8 || e.Attachments != 2 || e.Info.Attachments != 2 ||
		e.Size != info.SegmentSize || e.Mode != 0o600 || e.UID != os.Getuid() || e.CreatorPID != os.Getpid() {
		t.Fatalf("List entry = %+v, info %+v", e, e.Info)
	}
}

func findEntry(entries []ListEntry, key int) *ListEntry {
	for i := range entries {
		if entries[i].Key == key {
			return &entries[i]
		}
	}
	return nil
}

func TestPeek(t *testing.T) {
	q := newTestQueue(t, 4, 8)
	queueTraffic(t, q)
	before, after := q.Stats(), 0

	for _, n := range []int{0, 1, 3, 8, 100} {
		msgs, err := Peek(q.Key(), n)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(n, 8); len(msgs) != want {
			t.Fatalf("Peek(%d) returned %d messages, want %d", n, len(msgs), want)
		}
		for i, m := range msgs {
			// Positions 3..10 hold messages 3..10 (0-1 dequeued, 2 shifted out).
			producer, seq, ok := readMsg(m.Data)
			if !ok || producer != 1 || seq != uint64(3+i) || m.Pos != uint64(3+i) || len(m.Data) != 32 {
				t.Fatalf("Peek(%d)[%d] = pos %d, message %d/%d ok=%v", n, i, m.Pos, producer, seq, ok)
			}
		}
	}
	if q.Len() != 8 || q.Stats() != before {
		t.Fatalf("Peek changed the queue: len %d stats %+v, was 8 %+v", q.Len(), q.Stats(), before)
	}
	msgs, err := Peek(q.Key(), 8)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	for _, m := range msgs {
		if !q.DequeueTry(buf) || !bytes.Equal(buf, m.Data) {
			t.Fatalf("dequeued %x, peeked %x at position %d", buf, m.Data, m.Pos)
		}
		after++
	}
	if after != 8 || q.DequeueTry(buf) {
		t.Fatal("queue held more than Peek saw")
	}
	if msgs, err := Peek(q.Key(), 4); err != nil || len(msgs) != 0 {
		t.Fatalf("Peek of an empty queue = %d messages, %v", len(msgs), err)
	}
	if _, err := Peek(q.Key(), -1); !errors.Is(err, ErrInvalidArg) {
		t.Fatalf("Peek(-1) = %v", err)
	}
}

// TestPeekUnfinishedClaims: Peek stops at a claimed but unpublished slot (a
// consumer would wait there) and passes over an abandoned one.
func TestPeekUnfinishedClaims(t *testing.T) {
	q := newTestQueue(t, 3, 4)
	a, b := make([]byte, 24), make([]byte, 24)
	fillMsg(a, 7, 1)
	fillMsg(b, 7, 2)
	q.EnqueueTry(a)
	// A producer that claimed position 1 and has not published.
	pos := atomic.LoadUint64(q.tail)
	if !atomic.CompareAndSwapUint64(q.tail, pos, pos+1) {
		t.Fatal("claim failed")
	}
	q.EnqueueTry(b)
	msgs, err := Peek(q.Key(), 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || !bytes.Equal(msgs[0].Data, a) {
		t.Fatalf("Peek past an unpublished slot: %d messages", len(msgs))
	}
	// Recovery abandons the dead producer's claim.
	atomic.StoreUint64((*uint64)(q.slot(pos)), fullSeq(pos)|seqAbandoned)
	msgs, err = Peek(q.Key(), 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || !bytes.Equal(msgs[0].Data, a) || !bytes.Equal(msgs[1].Data, b) || msgs[1].Pos != pos+1 {
		t.Fatalf("Peek over an abandoned slot: %+v", msgs)
	}
	buf := make([]byte, 24)
	if !q.DequeueTry(buf) || !bytes.Equal(buf, a) || !q.DequeueTry(buf) || !bytes.Equal(buf, b) {
		t.Fatal("dequeue after Peek differs")
	}
}

// TestPeekUnderTraffic: with a producer and a consumer running, every message
// Peek returns is whole (its checksum holds) and they come in order.
func TestPeekUnderTraffic(t *testing.T) {
	q := newTestQueue(t, 8, 4)
	stop := make(chan struct{})
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		msg := make([]byte, 64)
		for i := uint64(0); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			fillMsg(msg, 3, i)
			q.EnqueueShift(msg)
		}
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 64)
		for {
			select {
			case <-stop:
				return
			default:
			}
			q.DequeueTry(buf)
		}
	}()
	defer func() { close(stop); <-done; <-done }()
	seen := 0
	for i := 0; i < 2000 || seen == 0; i++ {
		msgs, err := Peek(q.Key(), 4)
		if err != nil {
			t.Fatal(err)
		}
		for j, m := range msgs {
			producer, seq, ok := readMsg(m.Data)
			if !ok || producer != 3 {
				t.Fatalf("torn message at position %d: %x", m.Pos, m.Data)
			}
			if j > 0 && (m.Pos <= msgs[j-1].Pos || seq <= mustSeq(msgs[j-1].Data)) {
				t.Fatalf("out of order: %d after %d", m.Pos, msgs[j-1].Pos)
			}
			seen++
		}
		if i > 1_000_000 {
			t.Fatal("Peek never saw a message under traffic")
		}
	}
}

func mustSeq(b []byte) uint64 {
	_, seq, _ := readMsg(b)
	return seq
}

func TestInspectNotAQueue(t *testing.T) {
	garbage := func(mem []byte) {
		for i := range mem {
			mem[i] = byte(i*131 + 7)
		}
	}
	small := foreignSegment(t, 100, garbage)
	big := foreignSegment(t, 1<<16, garbage)
	zero := foreignSegment(t, 1<<16, func([]byte) {})
	badVersion := foreignSegment(t, int(newGeometry(8, 4).total), func(mem []byte) {
		initSegment(mem, newGeometry(8, 4))
		*u32At(unsafe.Pointer(&mem[0]), offVersion) = 99
	})
	for _, tc := range []struct {
		name string
		key  int
		want error
	}{
		{"small", small, ErrInvalidMagic},
		{"garbage", big, ErrInvalidMagic},
		{"zeroed", zero, ErrInvalidMagic},
		{"version", badVersion, ErrBadVersion},
		{"zero-key", 0, ErrInvalidKey},
	} {
		if _, err := Inspect(tc.key); !errors.Is(err, tc.want) {
			t.Errorf("%s: Inspect = %v, want %v", tc.name, err, tc.want)
		}
		if _, err := Peek(tc.key, 3); !errors.Is(err, tc.want) {
			t.Errorf("%s: Peek = %v, want %v", tc.name, err, tc.want)
		}
		if err := Remove(tc.key); !errors.Is(err, tc.want) {
			t.Errorf("%s: Remove = %v, want %v", tc.name, err, tc.want)
		}
		if tc.key != 0 {
			if _, err := unix.SysvShmGet(tc.key, 0, 0); err != nil {
				t.Errorf("%s: segment gone after a refused Remove: %v", tc.name, err)
			}
		}
	}
	missing := freeKey(t)
	if _, err := Inspect(missing); !errors.Is(err, ErrNotExist) {
		t.Errorf("Inspect of a missing key = %v", err)
	}
	if err := Remove(missing); !errors.Is(err, ErrNotExist) {
		t.Errorf("Remove of a missing key = %v", err)
	}

	if runtime.GOOS != "linux" {
		return
	}
	entries, err := List()
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[int]SegmentKind{small: KindForeign, big: KindForeign, zero: KindForeign, badVersion: KindInvalid} {
		e := findEntry(entries, key)
		if e == nil || e.Kind != want || e.Info != nil || e.Err == nil {
			t.Errorf("List entry for %#x = %+v, want kind %v", key, e, want)
		}
	}
}

func TestRemove(t *testing.T) {
	q := newTestQueue(t, 1, 2)
	key, id := q.Key(), q.seg.id
	if err := Remove(key); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(key); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Inspect after Remove = %v", err)
	}
	if !q.EnqueueTry(make([]byte, 8)) {
		t.Fatal("the open handle stopped working")
	}
	if runtime.GOOS != "linux" {
		return
	}
	entries, err := List()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.ID == id {
			if e.Kind != KindQueue || !e.Removed || e.Key != 0 || e.Info.Len != 1 || !e.Info.Removed {
				t.Fatalf("removed but attached queue listed as %+v, info %+v", e, e.Info)
			}
			return
		}
	}
	t.Fatal("a removed queue that is still attached is missing from List")
}

func TestInspectNoAccess(t *testing.T) {
	if os.Getuid() != 0 {
		q := newTestQueue(t, 1, 1, WithMode(0o200))
		if _, err := Inspect(q.Key()); !errors.Is(err, ErrNoAccess) {
			t.Fatalf("Inspect without read permission = %v", err)
		}
		return
	}
	q := newTestQueue(t, 1, 1)
	cmd := childAsNobody(t, "inspect-expect-noaccess", strconv.Itoa(q.Key()))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child as nobody: %v\n%s", err, out)
	}
}

// TestRemoveStale: a queue whose only user was killed is removed; a live
// queue, a foreign segment and a missing key are left alone.
func TestRemoveStale(t *testing.T) {
	key := freeKey(t)
	stale, err := Create(key, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	staleID := stale.seg.id
	t.Cleanup(func() { unix.SysvShmCtl(staleID, unix.IPC_RMID, nil) })
	stale.EnqueueTry(make([]byte, 16))
	child := childCommand(t, "inspect-hold-open", strconv.Itoa(key))
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "attached\n" {
		child.Process.Kill()
		child.Wait()
		t.Fatalf("child: %q, %v", line, err)
	}
	if err := stale.Close(); err != nil {
		t.Fatal(err)
	}
	live := newTestQueue(t, 2, 4)
	foreign := foreignSegment(t, 1<<16, func([]byte) {})
	missing := freeKey(t)

	// While the child runs, nothing is stale.
	if removed, err := RemoveStale(key, live.Key(), foreign, missing); err != nil || len(removed) != 0 {
		t.Fatalf("RemoveStale with a live user = %v, %v", removed, err)
	}
	child.Process.Signal(unix.SIGKILL)
	child.Wait() // reaped: the kernel has detached it
	info, err := Inspect(key)
	if err != nil {
		t.Fatal(err)
	}
	if info.Attachments != 0 || len(info.Processes) != 1 || info.Processes[0].PID != child.Process.Pid || info.Processes[0].Alive {
		t.Fatalf("after the kill: %d attachments, processes %+v (child %d)", info.Attachments, info.Processes, child.Process.Pid)
	}
	// Orphaned, but it holds a message: only Force removes it.
	if removed, err := RemoveStale(key, live.Key(), foreign, missing); err != nil || len(removed) != 0 {
		t.Fatalf("RemoveStale of an orphaned queue holding a message = %v, %v; want nothing removed", removed, err)
	}
	removed, err := RemoveStaleWith(StaleOptions{Force: true}, key, live.Key(), foreign, missing)
	if err != nil || !slices.Equal(removed, []int{key}) {
		t.Fatalf("RemoveStaleWith(Force) = %v, %v; want [%#x]", removed, err, key)
	}
	if _, err := Inspect(key); !errors.Is(err, ErrNotExist) {
		t.Fatalf("stale queue still there: %v", err)
	}
	if _, err := Inspect(live.Key()); err != nil {
		t.Fatalf("live queue: %v", err)
	}
	if _, err := unix.SysvShmGet(foreign, 0, 0); err != nil {
		t.Fatalf("foreign segment: %v", err)
	}
}

func init() {
	registerChild("inspect-hold-open", func(args []string) int {
		key, _ := strconv.Atoi(args[0])
		q, err := Open(key)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		fmt.Println("attached")
		_ = q
		time.Sleep(time.Hour)
		return 0
	})
	registerChild("inspect-expect-noaccess", func(args []string) int {
		key, _ := strconv.Atoi(args[0])
		if _, err := Inspect(key); !errors.Is(err, ErrNoAccess) {
			fmt.Println("Inspect:", err)
			return 1
		}
		if _, err := Peek(key, 1); !errors.Is(err, ErrNoAccess) {
			fmt.Println("Peek:", err)
			return 1
		}
		if err := Remove(key); !errors.Is(err, ErrNoAccess) {
			fmt.Println("Remove:", err)
			return 1
		}
		if runtime.GOOS == "linux" {
			entries, err := List()
			if err != nil {
				fmt.Println("List:", err)
				return 1
			}
			e := findEntry(entries, key)
			if e == nil || e.Kind != KindUnreadable || !errors.Is(e.Err, ErrNoAccess) || e.UID != 0 || e.Mode != 0o600 {
				fmt.Printf("List entry = %+v\n", e)
				return 1
			}
		}
		return 0
	})
}
