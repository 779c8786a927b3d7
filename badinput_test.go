package shqueue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestFindFreeKey(t *testing.T) {
	for i := 0; i < 200; i++ {
		key := freeKey(t)
		if key <= 0 || key > math.MaxInt32 {
			t.Fatalf("FindFreeKey = %d, outside the positive 32-bit range", key)
		}
		if _, err := unix.SysvShmGet(key, 0, 0); !errors.Is(err, unix.ENOENT) {
			t.Fatalf("key %#x is in use: %v", key, err)
		}
	}
}

func TestCreateArguments(t *testing.T) {
	// Past 32 bits where int has 64; truncated to 0 (IPC_PRIVATE) where it has 32.
	tooBig := int64(1) << 40
	key := freeKey(t)
	for _, tc := range []struct {
		key           int
		words, maxLen uint32
		want          error
	}{
		{key, 0, 4, ErrInvalidArg},
		{key, 4, 0, ErrInvalidArg},
		{key, maxMsgWords + 1, 1, ErrInvalidSize},
		{0, 1, 1, ErrInvalidKey},
		{int(tooBig), 1, 1, ErrInvalidKey},
		{int(-tooBig), 1, 1, ErrInvalidKey},
	} {
		q, err := Create(tc.key, tc.words, tc.maxLen)
		if !errors.Is(err, tc.want) {
			if q != nil {
				q.Delete()
				q.Close()
			}
			t.Fatalf("Create(%#x, %d, %d) = %v, want %v", tc.key, tc.words, tc.maxLen, err, tc.want)
		}
	}
	// Past the system's limits: 128 MiB messages × 2^32 slots.
	q, err := Create(key, maxMsgWords, math.MaxUint32)
	if err == nil {
		q.Delete()
		q.Close()
		t.Fatal("Create of a 512 PiB queue succeeded")
	}
	if _, err := unix.SysvShmGet(key, 0, 0); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("failed Create left a segment: %v", err)
	}
	if _, err := Open(0); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("Open(0) = %v", err)
	}
}

func TestCreateExisting(t *testing.T) {
	q := newTestQueue(t, 2, 3)
	if q2, err := Create(q.Key(), 2, 3); !errors.Is(err, ErrAlreadyExist) {
		if q2 != nil {
			q2.Close()
		}
		t.Fatalf("Create on an attached queue = %v, want ErrAlreadyExist", err)
	}
	q.EnqueueTry(make([]byte, 16))
	// Detached but not deleted: a leftover holding a message. Create refuses
	// it; with WithReplace it replaces it, with a new shape.
	key := q.Key()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if q2, err := Create(key, 5, 7); !errors.Is(err, ErrAlreadyExist) || !strings.Contains(err.Error(), "holds 1 unread message;") {
		if q2 != nil {
			q2.Close()
		}
		t.Fatalf("Create over a leftover holding a message = %v, want ErrAlreadyExist naming 1 unread message", err)
	}
	q2, err := Create(key, 5, 7, WithReplace())
	if err != nil {
		t.Fatalf("Create over a leftover with WithReplace = %v", err)
	}
	defer func() { q2.Delete(); q2.Close() }()
	if q2.Len() != 0 || q2.MsgSize() != 40 || q2.Cap() != 7 || q2.Stats() != (Stats{}) {
		t.Fatalf("reused queue not fresh: len %d size %d cap %d stats %+v", q2.Len(), q2.MsgSize(), q2.Cap(), q2.Stats())
	}
}

// foreignSegment creates a non-shqueue segment of size bytes filled by fill.
func foreignSegment(t *testing.T, size int, fill func([]byte)) int {
	t.Helper()
	key := freeKey(t)
	id, err := unix.SysvShmGet(key, size, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	mem, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	fill(mem)
	if err := unix.SysvShmDetach(mem); err != nil {
		t.Fatal(err)
	}
	return key
}

func TestOpenForeignAndCorrupt(t *testing.T) {
	if _, err := Open(0x7fff_fff1); !errors.Is(err, ErrNotExist) {
		// The key could be taken by something else on this host; say so.
		t.Fatalf("Open of a missing key = %v, want ErrNotExist", err)
	}
	garbage := func(mem []byte) {
		for i := range mem {
			mem[i] = byte(i*131 + 7)
		}
	}
	small := foreignSegment(t, 100, garbage)
	if _, err := Open(small); !errors.Is(err, ErrInvalidMagic) {
		t.Fatalf("Open of a 100-byte segment = %v", err)
	}
	big := foreignSegment(t, 1<<16, garbage)
	if _, err := Open(big); !errors.Is(err, ErrInvalidMagic) {
		t.Fatalf("Open of a garbage segment = %v", err)
	}
	// Create must not destroy a segment that is not ours.
	if q, err := Create(big, 1, 1); !errors.Is(err, ErrAlreadyExist) {
		if q != nil {
			q.Close()
		}
		t.Fatalf("Create over a foreign segment = %v", err)
	}
	id, _ := unix.SysvShmGet(big, 0, 0)
	mem, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1000*131 + 7; mem[1000] != byte(want) {
		t.Fatal("foreign segment was changed")
	}
	unix.SysvShmDetach(mem)

	// A real header, damaged one field at a time.
	for _, tc := range []struct {
		name string
		off  uintptr
		val  uint64
		want error
	}{
		{"version", offVersion, 99, ErrBadVersion},
		{"msgsize-zero", offMsgSize, 0, ErrCorrupt},
		{"msgsize-odd", offMsgSize, 12, ErrCorrupt},
		{"msgsize-huge", offMsgSize, 1 << 40, ErrCorrupt},
		{"capacity-zero", offCapacity, 0, ErrCorrupt},
		{"capacity-past-segment", offCapacity, 1 << 20, ErrCorrupt},
		{"stride", offSlotStride, 8, ErrCorrupt},
		{"dataoffset", offDataOffset, 1 << 30, ErrCorrupt},
		{"slotsstart", offSlotsStart, 1 << 62, ErrCorrupt},
	} {
		key := foreignSegment(t, int(newGeometry(8, 4).total), func(mem []byte) {
			initSegment(mem, newGeometry(8, 4))
			base := unsafe.Pointer(&mem[0])
			if tc.off == offVersion {
				*u32At(base, tc.off) = uint32(tc.val)
			} else {
				*u64At(base, tc.off) = tc.val
			}
		})
		q, err := Open(key)
		if !errors.Is(err, tc.want) {
			if q != nil {
				q.Close()
			}
			t.Fatalf("%s: Open = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestDeleteKeepsHandles(t *testing.T) {
	q := newTestQueue(t, 1, 4)
	other := mustOpen(t, q.Key())
	defer other.Close()
	if err := q.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(q.Key()); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Open after Delete = %v, want ErrNotExist", err)
	}
	if !q.EnqueueTry([]byte("12345678")) {
		t.Fatal("enqueue after Delete failed")
	}
	buf := make([]byte, 8)
	if !other.DequeueTry(buf) || string(buf) != "12345678" {
		t.Fatalf("dequeue after Delete: %q", buf)
	}
}

func TestClosedHandle(t *testing.T) {
	q := newTestQueue(t, 1, 4)
	q.EnqueueTry(make([]byte, 8))
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
	msg := make([]byte, 8)
	if q.EnqueueTry(msg) || q.DequeueTry(msg) {
		t.Fatal("Try succeeded on a closed handle")
	}
	if err := q.EnqueueBlock(context.Background(), msg); !errors.Is(err, ErrClosed) {
		t.Fatalf("EnqueueBlock = %v", err)
	}
	if err := q.DequeueBlock(context.Background(), msg); !errors.Is(err, ErrClosed) {
		t.Fatalf("DequeueBlock = %v", err)
	}
	if q.Len() != 0 || q.Stats() != (Stats{}) {
		t.Fatal("Len/Stats on a closed handle")
	}
	expectPanic(t, "closed", func() { q.EnqueueShift(msg) })
	// The queue itself is still there for others.
	q2 := mustOpen(t, q.Key())
	if q2.Len() != 1 {
		t.Fatalf("queue lost its message: len %d", q2.Len())
	}
	q2.Close()
	// Delete works on a closed handle (lifecycle_test.go tests it further).
	if err := q.Delete(); err != nil {
		t.Fatalf("Delete after Close = %v", err)
	}
}

func TestWrongSizes(t *testing.T) {
	q := newTestQueue(t, 2, 4)
	good := make([]byte, 16)
	for _, n := range []int{0, 8, 15, 17, 24} {
		bad := make([]byte, n)
		want := fmt.Sprintf("got %d bytes, the queue's messages are 16", n)
		expectPanic(t, want, func() { q.EnqueueTry(bad) })
		expectPanic(t, want, func() { q.EnqueueShift(bad) })
		expectPanic(t, want, func() { q.DequeueTry(bad) })
		if err := q.EnqueueBlock(context.Background(), bad); !errors.Is(err, ErrMsgSize) {
			t.Fatalf("EnqueueBlock(%d bytes) = %v", n, err)
		}
		if err := q.DequeueBlock(context.Background(), bad); !errors.Is(err, ErrMsgSize) {
			t.Fatalf("DequeueBlock(%d bytes) = %v", n, err)
		}
	}
	if q.Len() != 0 || q.Stats() != (Stats{}) {
		t.Fatalf("refused calls changed the queue: len %d stats %+v", q.Len(), q.Stats())
	}
	q.EnqueueTry(good)
	expectPanic(t, "got 8 bytes", func() { q.DequeueTry(make([]byte, 8)) })
	if q.Len() != 1 {
		t.Fatal("a refused dequeue took the message")
	}
}

func TestPermissions(t *testing.T) {
	for _, mode := range []os.FileMode{0, 0o660} {
		var opts []Option
		want := uint32(0o600)
		if mode != 0 {
			opts, want = append(opts, WithMode(mode)), uint32(mode)
		}
		q := newTestQueue(t, 1, 1, opts...)
		info, err := shmStat(q.Key(), q.seg.id)
		if err != nil {
			t.Fatal(err)
		}
		if info.mode != want {
			t.Fatalf("segment mode %#o, want %#o", info.mode, want)
		}
	}
	// A user without access gets ErrNoAccess. As root, check it from a child
	// process running as nobody; otherwise from a segment with no permissions.
	q := newTestQueue(t, 1, 1)
	if os.Getuid() != 0 {
		q2 := newTestQueue(t, 1, 1, WithMode(0o200))
		if _, err := Open(q2.Key()); !errors.Is(err, ErrNoAccess) {
			t.Fatalf("Open without read permission = %v, want ErrNoAccess", err)
		}
		return
	}
	cmd := childAsNobody(t, "open-expect-noaccess", strconv.Itoa(q.Key()))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child as nobody: %v\n%s", err, out)
	}
}

func init() {
	registerChild("open-expect-noaccess", func(args []string) int {
		key, _ := strconv.Atoi(args[0])
		q, err := Open(key)
		if err == nil {
			q.Close()
			fmt.Println("Open succeeded without permission")
			return 1
		}
		if !errors.Is(err, ErrNoAccess) {
			fmt.Println("Open:", err)
			return 1
		}
		return 0
	})
}

// TestTooManyHandles: the attached-process table holds procEntries handles;
// one more is refused with ErrTooManyProcs, and a closed handle's entry is
// free again.
func TestTooManyHandles(t *testing.T) {
	q := newTestQueue(t, 1, 1)
	var handles []*Queue
	defer func() {
		for _, h := range handles {
			h.Close()
		}
	}()
	for len(handles) < procEntries-1 {
		h, err := Open(q.Key())
		if err != nil {
			t.Fatalf("Open number %d: %v", len(handles)+2, err)
		}
		handles = append(handles, h)
	}
	if h, err := Open(q.Key()); !errors.Is(err, ErrTooManyProcs) {
		if h != nil {
			h.Close()
		}
		t.Fatalf("Open past %d handles = %v, want ErrTooManyProcs", procEntries, err)
	}
	handles[0].Close()
	h, err := Open(q.Key())
	if err != nil {
		t.Fatalf("Open after a Close: %v", err)
	}
	handles[0] = h
}
