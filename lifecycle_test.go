package shqueue

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Lifecycle tests: names, OpenOrCreate, OpenWait, what Create does with what
// it finds at the key, Delete after Close, half-created segments, stale
// queues. Where more than one process is involved, they are real processes.

// testName returns a queue name no other test (or other run on this host)
// uses, and its key; the queue at that key is removed when the test ends.
func testName(t *testing.T) (string, int) {
	t.Helper()
	name := fmt.Sprintf("shqueue-test/%s/%d/%d", t.Name(), os.Getpid(), time.Now().UnixNano())
	key, err := KeyFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.SysvShmGet(key, 0, 0); err == nil {
		t.Fatalf("key %s of a fresh name is taken", keyHex(key))
	}
	t.Cleanup(func() { _ = Remove(key) })
	return name, key
}

func mustInspect(t *testing.T, key int) *Info {
	t.Helper()
	info, err := Inspect(key)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestCreateOverLeftover(t *testing.T) {
	_, key := testName(t)
	q, err := Create(key, 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if !q.EnqueueTry(make([]byte, 16)) {
			t.Fatal("enqueue")
		}
	}
	firstID := q.seg.id
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	// A leftover holding messages: refused, untouched.
	_, err = Create(key, 2, 8)
	if !errors.Is(err, ErrAlreadyExist) || !strings.Contains(err.Error(), "holds 3 unread messages;") || !strings.Contains(err.Error(), "WithReplace") {
		t.Fatalf("Create over a leftover holding 3 messages = %v", err)
	}
	if info := mustInspect(t, key); info.ID != firstID || info.Len != 3 || info.State() != QueueIdle {
		t.Fatalf("after the refused Create: id %d (was %d), len %d, state %v", info.ID, firstID, info.Len, info.State())
	}

	// Drained, it is an empty leftover of the same shape: reused as it is.
	q, err = Open(key)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if !q.DequeueTry(make([]byte, 16)) {
			t.Fatal("dequeue")
		}
	}
	q.Close()
	q, err = Create(key, 2, 8)
	if err != nil {
		t.Fatalf("Create over an empty leftover of the same shape = %v", err)
	}
	if q.seg.id != firstID || q.Stats().Enqueued != 3 {
		t.Fatalf("empty leftover of the same shape not reused: id %d (was %d), stats %+v", q.seg.id, firstID, q.Stats())
	}
	q.Close()

	// Empty, another shape: made anew.
	q, err = Create(key, 3, 8)
	if err != nil {
		t.Fatalf("Create over an empty leftover of another shape = %v", err)
	}
	if q.seg.id == firstID || q.Stats() != (Stats{}) || q.MsgSize() != 24 {
		t.Fatalf("empty leftover of another shape not recreated: id %d, stats %+v, msg %d", q.seg.id, q.Stats(), q.MsgSize())
	}
	secondID := q.seg.id
	q.Close()

	// Empty, same shape, another name: made anew, with the name.
	q, err = Create(key, 3, 8, WithName("x"))
	if err != nil {
		t.Fatalf("Create with a name over an unnamed empty leftover = %v", err)
	}
	if q.seg.id == secondID || mustInspect(t, key).Name != "x" {
		t.Fatalf("leftover with another name not recreated: id %d (was %d), name %q", q.seg.id, secondID, mustInspect(t, key).Name)
	}

	// Attached: refused, naming both shapes and the attachment.
	_, err = Create(key, 4, 4)
	for _, want := range []string{"in use (1 attachment)", `"x"`, "24-byte messages (3 words) × 8", "this call asked for 32-byte messages (4 words) × 4", "Open it instead"} {
		if !errors.Is(err, ErrAlreadyExist) || !strings.Contains(err.Error(), want) {
			t.Fatalf("Create over a queue in use = %v; want ErrAlreadyExist mentioning %q", err, want)
		}
	}

	// WithReplace does not replace a queue in use either.
	if _, err := Create(key, 4, 4, WithReplace()); !errors.Is(err, ErrAlreadyExist) {
		t.Fatalf("Create WithReplace over a queue in use = %v", err)
	}
	q.EnqueueTry(make([]byte, 24))
	q.Close()
	// ... but replaces an unattached one holding a message.
	q, err = Create(key, 4, 4, WithReplace())
	if err != nil || q.Len() != 0 || q.MsgSize() != 32 {
		t.Fatalf("Create WithReplace over a leftover holding a message = %v", err)
	}
	q.Delete()
	q.Close()
}

func init() {
	// life-foreign KEY SIZE: make a zeroed segment, as ipcmk(1) does, and
	// exit.
	registerChild("life-foreign", func(args []string) int {
		key, _ := strconv.Atoi(args[0])
		size, _ := strconv.Atoi(args[1])
		if _, err := unix.SysvShmGet(key, size, unix.IPC_CREAT|unix.IPC_EXCL|0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	})
}

// deadForeignSegment has a child make a zeroed segment of size bytes and exit.
func deadForeignSegment(t *testing.T, size int) int {
	t.Helper()
	key := freeKey(t)
	if err := childCommand(t, "life-foreign", strconv.Itoa(key), strconv.Itoa(size)).Run(); err != nil {
		t.Fatalf("life-foreign: %v", err)
	}
	t.Cleanup(func() {
		if id, err := unix.SysvShmGet(key, 0, 0); err == nil {
			unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		}
	})
	return key
}

func TestCreateOverForeign(t *testing.T) {
	for _, size := range []int{64, 1 << 16} {
		key := deadForeignSegment(t, size) // zeroed, creator gone, nobody attached
		_, err := Create(key, 1, 4)
		if !errors.Is(err, ErrAlreadyExist) || !strings.Contains(err.Error(), "not a shqueue") || strings.Contains(err.Error(), "attach") {
			t.Fatalf("Create over an unattached foreign segment of %d bytes = %v; want ErrAlreadyExist saying it is not a shqueue", size, err)
		}
		if _, err := unix.SysvShmGet(key, 0, 0); err != nil {
			t.Fatalf("foreign segment gone after Create: %v", err)
		}
		if _, err := OpenOrCreate(key, 1, 4); !errors.Is(err, ErrInvalidMagic) {
			t.Fatalf("OpenOrCreate over a foreign segment = %v, want ErrInvalidMagic", err)
		}
		// Errors name the operation performed.
		for op, call := range map[string]func() error{
			"remove":  func() error { return Remove(key) },
			"inspect": func() error { _, err := Inspect(key); return err },
			"peek":    func() error { _, err := Peek(key, 1); return err },
		} {
			if err := call(); !errors.Is(err, ErrInvalidMagic) || !strings.HasPrefix(err.Error(), op+" queue "+keyHex(key)+": ") {
				t.Fatalf("%s of a foreign segment = %v; want ErrInvalidMagic, starting %q", op, err, op+" queue "+keyHex(key))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := OpenWait(ctx, key); !errors.Is(err, ErrInvalidMagic) {
			t.Fatalf("OpenWait on a foreign segment = %v, want ErrInvalidMagic at once", err)
		}
		cancel()
	}
}

func TestKeyFormat(t *testing.T) {
	for _, c := range []struct {
		key  int
		want string
	}{{0x1869f, "0x0001869f"}, {-5, "0xfffffffb"}, {0x7fffffff, "0x7fffffff"}} {
		if got := keyHex(c.key); got != c.want {
			t.Errorf("keyHex(%d) = %s, want %s", c.key, got, c.want)
		}
		if _, err := Open(c.key); err == nil || !strings.Contains(err.Error(), "open queue "+c.want+":") {
			t.Errorf("Open(%d) error %q does not print the key as %s", c.key, err, c.want)
		}
	}
	if plural(1, "attachment") != "1 attachment" || plural(2, "attachment") != "2 attachments" || plural(0, "message") != "0 messages" {
		t.Error("plural")
	}
	_, err := Create(0x7fff_0002, maxMsgWords+1, 1)
	if !errors.Is(err, ErrInvalidSize) || !strings.Contains(err.Error(), "this library's limit") || strings.Contains(err.Error(), "system") {
		t.Errorf("Create over the word limit = %v; want the library's limit named as the cause", err)
	}
}

func TestDeleteAfterClose(t *testing.T) {
	_, key := testName(t)
	// The deferred pattern: Close runs first, then Delete.
	func() {
		q, err := Create(key, 1, 4)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := q.Delete(); err != nil {
				t.Errorf("Delete after Close = %v", err)
			}
		}()
		defer q.Close()
	}()
	if _, err := Inspect(key); !errors.Is(err, ErrNotExist) {
		t.Fatalf("queue still there after Close then Delete: %v", err)
	}

	// A handle's Delete never removes a newer queue under the same key.
	old, err := Create(key, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Delete(); err != nil {
		t.Fatal(err)
	}
	if err := old.Delete(); err != nil {
		t.Fatalf("second Delete while the segment lives = %v", err)
	}
	old.Close() // the last detach: the segment goes
	newer, err := Create(key, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer newer.Close()
	if err := old.Delete(); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Delete of a handle whose segment has gone = %v, want ErrNotExist", err)
	}
	if info := mustInspect(t, key); info.ID != newer.seg.id {
		t.Fatalf("the newer queue was touched: id %d, want %d", info.ID, newer.seg.id)
	}
	newer.Delete()
}

func TestNames(t *testing.T) {
	name, key := testName(t)
	q, err := Create(key, 1, 4, WithName(name))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if info := mustInspect(t, key); !strings.HasPrefix(name, strings.TrimSuffix(info.Name, "…")) || len(info.Name) > nameStored+len("…") {
		t.Fatalf("Info.Name = %q for %q", info.Name, name)
	}
	if info := mustInspect(t, key); !info.NameIs(name) || info.NameIs(name[:len(name)-1]+"X") || info.NameIs("") {
		t.Fatalf("Info.NameIs: the name %v, another %v, empty %v", info.NameIs(name), info.NameIs(name[:len(name)-1]+"X"), info.NameIs(""))
	}
	// The same name opens it; no name opens it; another name does not.
	for _, opts := range [][]Option{{WithName(name)}, nil} {
		q2, err := Open(key, opts...)
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		q2.Close()
	}
	other := name[:len(name)-1] + "X" // same length, same stored prefix if long
	_, err = Open(key, WithName(other))
	if !errors.Is(err, ErrNameMismatch) || !strings.Contains(err.Error(), strconv.Quote(other)) {
		t.Fatalf("Open under another name = %v, want ErrNameMismatch naming it", err)
	}
	if _, err := OpenOrCreate(key, 1, 4, WithName(other)); !errors.Is(err, ErrNameMismatch) {
		t.Fatalf("OpenOrCreate under another name = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := OpenWait(ctx, key, WithName(other)); !errors.Is(err, ErrNameMismatch) {
		t.Fatalf("OpenWait under another name = %v, want ErrNameMismatch at once", err)
	}
	// A queue without a name does not answer to one.
	unnamed := newTestQueue(t, 1, 4)
	if _, err := Open(unnamed.Key(), WithName("anything")); !errors.Is(err, ErrNameMismatch) || !strings.Contains(err.Error(), "no name") {
		t.Fatalf("Open of an unnamed queue with a name = %v", err)
	}
	// Short names are stored whole.
	shortQ := newTestQueue(t, 1, 4, WithName("ticks"))
	if got := mustInspect(t, shortQ.Key()).Name; got != "ticks" {
		t.Fatalf("Info.Name = %q, want ticks", got)
	}
}

func TestOpenOrCreateShape(t *testing.T) {
	name, key := testName(t)
	q, err := OpenOrCreate(key, 2, 8, WithName(name))
	if err != nil {
		t.Fatal(err)
	}
	q.EnqueueTry(make([]byte, 16))
	q.Close()
	// An existing queue is attached with what it holds.
	q, err = OpenOrCreate(key, 2, 8, WithName(name))
	if err != nil || q.Len() != 1 {
		t.Fatalf("OpenOrCreate of an existing queue = %v (len %d)", err, q.Len())
	}
	defer q.Close()
	_, err = OpenOrCreate(key, 4, 8, WithName(name))
	for _, want := range []string{"it holds 16-byte messages (2 words) × 8", "this call asked for 32-byte messages (4 words) × 8"} {
		if !errors.Is(err, ErrShape) || !strings.Contains(err.Error(), want) {
			t.Fatalf("OpenOrCreate with another shape = %v; want ErrShape naming %q", err, want)
		}
	}
	if info := mustInspect(t, key); len(info.Processes) != 1 || info.Len != 1 {
		t.Fatalf("the refused OpenOrCreate left a handle or changed the queue: %+v", info)
	}
}

func init() {
	// life-open-or-create KEY NAME AT: at Unix time AT (ns), OpenOrCreate the
	// queue and enqueue this process's pid.
	registerChild("life-open-or-create", func(args []string) int {
		key, _ := strconv.Atoi(args[0])
		at, _ := strconv.ParseInt(args[2], 10, 64)
		time.Sleep(time.Until(time.Unix(0, at)))
		q, err := OpenOrCreate(key, 1, 64, WithName(args[1]))
		if err != nil {
			fmt.Fprintln(os.Stderr, "OpenOrCreate:", err)
			return 1
		}
		msg := binary.LittleEndian.AppendUint64(nil, uint64(os.Getpid()))
		if !q.EnqueueTry(msg) {
			fmt.Fprintln(os.Stderr, "enqueue: full")
			return 1
		}
		return 0 // exits without Close: the kernel detaches
	})
}

// TestOpenOrCreateRace starts several processes that all OpenOrCreate one
// name at the same instant: each must succeed, and all on one queue, so the
// queue ends with one message from each of them.
func TestOpenOrCreateRace(t *testing.T) {
	rounds, procs := 3, 6
	if testing.Short() {
		rounds, procs = 2, 4
	}
	for round := range rounds {
		name, key := testName(t)
		at := time.Now().Add(300 * time.Millisecond).UnixNano()
		cmds := make([]*exec.Cmd, procs)
		for i := range cmds {
			cmds[i] = childCommand(t, "life-open-or-create", strconv.Itoa(key), name, strconv.FormatInt(at, 10))
			if err := cmds[i].Start(); err != nil {
				t.Fatal(err)
			}
		}
		want := map[uint64]bool{}
		for _, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Fatalf("round %d: child %d: %v", round, c.Process.Pid, err)
			}
			want[uint64(c.Process.Pid)] = true
		}
		msgs, err := Peek(key, procs+1)
		if err != nil {
			t.Fatal(err)
		}
		got := map[uint64]bool{}
		for _, m := range msgs {
			got[binary.LittleEndian.Uint64(m.Data)] = true
		}
		if len(msgs) != procs || len(got) != procs {
			t.Fatalf("round %d: the queue holds %d messages from %d processes, want one from each of %d", round, len(msgs), len(got), procs)
		}
		for pid := range want {
			if !got[pid] {
				t.Fatalf("round %d: no message from process %d: it attached another queue", round, pid)
			}
		}
	}
}

func init() {
	// life-producer NAME N: OpenOrCreate the queue by name, enqueue 0..N-1,
	// Close.
	registerChild("life-producer", func(args []string) int {
		key, err := KeyFromName(args[0])
		if err != nil {
			return childFail("name", err)
		}
		n := argInt(args, 1)
		q, err := OpenOrCreate(key, 1, 16, WithName(args[0]))
		if err != nil {
			return childFail("producer", err)
		}
		defer q.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for i := range n {
			if err := q.EnqueueBlock(ctx, binary.LittleEndian.AppendUint64(nil, uint64(i))); err != nil {
				return childFail("producer", err)
			}
		}
		return 0
	})
	// life-consumer NAME N: OpenWait for the queue by name, dequeue N
	// messages, check they are 0..N-1, print "got N", Delete, Close.
	registerChild("life-consumer", func(args []string) int {
		key, err := KeyFromName(args[0])
		if err != nil {
			return childFail("name", err)
		}
		n := argInt(args, 1)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		fmt.Println("waiting")
		q, err := OpenWait(ctx, key, WithName(args[0]))
		if err != nil {
			return childFail("consumer", err)
		}
		defer q.Close()
		defer q.Delete()
		buf := make([]byte, 8)
		for i := range n {
			if err := q.DequeueBlock(ctx, buf); err != nil {
				return childFail("consumer", err)
			}
			if got := binary.LittleEndian.Uint64(buf); got != uint64(i) {
				fmt.Fprintf(os.Stderr, "consumer: message %d is %d\n", i, got)
				return 1
			}
		}
		fmt.Println("got", n)
		return 0
	})
}

// TestMeetByName: a producer and a consumer process that know only a name
// exchange messages, whichever starts first. The consumer waits with
// OpenWait; the producer creates with OpenOrCreate. 100 messages through 16
// slots, so each side also waits for the other while both run.
func TestMeetByName(t *testing.T) {
	for _, consumerFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("consumerFirst=%v", consumerFirst), func(t *testing.T) {
			name, key := testName(t)
			const n = 100
			consumer := childCommand(t, "life-consumer", name, strconv.Itoa(n))
			producer := childCommand(t, "life-producer", name, strconv.Itoa(n))
			out, err := consumer.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(out)
			if consumerFirst {
				if err := consumer.Start(); err != nil {
					t.Fatal(err)
				}
				if line, err := r.ReadString('\n'); line != "waiting\n" {
					t.Fatalf("consumer: %q, %v", line, err)
				}
				time.Sleep(50 * time.Millisecond) // it polls for the key meanwhile
				if _, err := Inspect(key); !errors.Is(err, ErrNotExist) {
					t.Fatalf("the waiting consumer made the queue: %v", err)
				}
				if err := producer.Start(); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := producer.Start(); err != nil {
					t.Fatal(err)
				}
				// Let it create the queue and fill the 16 slots first.
				for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
					if info, err := Inspect(key); err == nil && info.Len == 16 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("the producer never filled the queue")
					}
				}
				if err := consumer.Start(); err != nil {
					t.Fatal(err)
				}
				r.ReadString('\n') // "waiting"
			}
			if err := producer.Wait(); err != nil {
				t.Fatalf("producer: %v", err)
			}
			line, _ := r.ReadString('\n')
			if err := consumer.Wait(); err != nil || line != fmt.Sprintf("got %d\n", n) {
				t.Fatalf("consumer: %v, printed %q", err, line)
			}
			if _, err := Inspect(key); !errors.Is(err, ErrNotExist) {
				t.Fatalf("the consumer's Delete (after its Close) left the queue: %v", err)
			}
		})
	}
}

func TestOpenWaitContext(t *testing.T) {
	_, key := testName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	q, err := OpenWait(ctx, key)
	if !errors.Is(err, context.DeadlineExceeded) || q != nil || !strings.Contains(err.Error(), keyHex(key)) {
		t.Fatalf("OpenWait on a key nobody creates = %v, want the context's error with the key", err)
	}
	// A queue that appears while it waits is found.
	done := make(chan error, 1)
	go func() {
		q, err := OpenWait(context.Background(), key)
		if err == nil {
			err = q.Close()
		}
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	q, err = Create(key, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := <-done; err != nil {
		t.Fatalf("OpenWait for a queue created meanwhile = %v", err)
	}
}

func init() {
	// life-half-create KEY: Create the queue, stopping for good right after
	// the creator's record is written; print "recorded" then.
	registerChild("life-half-create", func(args []string) int {
		key, _ := strconv.Atoi(args[0])
		createHook = func() {
			fmt.Println("recorded")
			time.Sleep(time.Hour)
		}
		_, err := Create(key, 1, 4)
		fmt.Fprintln(os.Stderr, "Create returned:", err)
		return 1
	})
	// life-pause: wait to be killed.
	registerChild("life-pause", func([]string) int {
		fmt.Println("started")
		time.Sleep(time.Hour)
		return 0
	})
}

// halfCreated starts a child that creates a queue at key and is killed right
// after writing its creator record. It returns the dead creator's pid, once
// the child has been reaped.
func halfCreated(t *testing.T, key int) (pid int, started time.Time) {
	t.Helper()
	child := childCommand(t, "life-half-create", strconv.Itoa(key))
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	started = time.Now()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "recorded\n" {
		child.Process.Kill()
		child.Wait()
		t.Fatalf("half-creating child: %q, %v", line, err)
	}
	// While the creator lives, the queue is being created: Create refuses,
	// Open (after a brief wait) says so, List shows it.
	if _, err := Create(key, 1, 4); !errors.Is(err, ErrAlreadyExist) || !strings.Contains(err.Error(), "is creating it now") {
		t.Errorf("Create while another process creates the queue = %v", err)
	}
	if _, err := Open(key); !errors.Is(err, ErrHalfCreated) || !strings.Contains(err.Error(), "still writing") {
		t.Errorf("Open of a queue being created = %v", err)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	return child.Process.Pid, started
}

// reusePid starts a process with pid, handing it over through
// /proc/sys/kernel/ns_last_pid. It returns the process, to be killed by the
// caller, or nil if another process on the host took the pid first (a thread
// of another program, as likely on a busy machine): the pid is reused either
// way.
func reusePid(t *testing.T, pid int) *exec.Cmd {
	t.Helper()
	for attempt := 0; attempt < 200; attempt++ {
		if !errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
			t.Logf("pid %d taken by another process", pid)
			return nil
		}
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Fatalf("handing out pid %d: %v", pid, err)
		}
		c := childCommand(t, "life-pause")
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		if c.Process.Pid == pid {
			bufio.NewReader(out).ReadString('\n') // running, with its own start time
			return c
		}
		c.Process.Kill()
		c.Wait()
	}
	t.Fatalf("could not start a process with pid %d", pid)
	return nil
}

// TestHalfCreatedPidReuse: a creator killed between shmget and the magic
// leaves a half-created segment. Once it is dead, another process that runs
// under its pid must not keep the key blocked: Create replaces the segment,
// List shows it as half-created, Remove and RemoveStale remove it.
func TestHalfCreatedPidReuse(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("handing a pid to a new process through ns_last_pid needs root")
	}
	var keys [3]int
	var pids [3]int
	var starts [3]time.Time
	for i := range keys {
		keys[i], _ = FindFreeKey()
		k := keys[i]
		t.Cleanup(func() { _ = Remove(k) })
	}
	for i := range keys {
		pids[i], starts[i] = halfCreated(t, keys[i])
	}
	// The liveness check tolerates 2 s between a recorded start time and
	// the one /proc reports (startTolerance): a process reusing the pid
	// sooner than that would pass for the creator. Let that time pass.
	time.Sleep(time.Until(starts[len(starts)-1].Add((startTolerance + 20) * 10 * time.Millisecond)))
	for i := range keys {
		if c := reusePid(t, pids[i]); c != nil {
			t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		}
	}

	entries, err := List()
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range entries {
		if slices.Contains(keys[:], e.Key) {
			found++
			if e.Kind != KindHalfCreated || !errors.Is(e.Err, ErrHalfCreated) || !strings.Contains(e.Err.Error(), "died") {
				t.Errorf("List entry for %s: kind %v, err %v; want half-created, creator dead", keyHex(e.Key), e.Kind, e.Err)
			}
		}
	}
	if found != len(keys) {
		t.Fatalf("List found %d of the %d half-created segments", found, len(keys))
	}

	// Create replaces the first one.
	q, err := Create(keys[0], 1, 4)
	if err != nil {
		t.Fatalf("Create over a half-created segment whose creator's pid now runs another process = %v", err)
	}
	q.Delete()
	q.Close()
	// Remove removes the second.
	if err := Remove(keys[1]); err != nil {
		t.Fatalf("Remove of a half-created segment = %v", err)
	}
	// RemoveStale removes the third.
	removed, err := RemoveStale(keys[2])
	if err != nil || !slices.Equal(removed, []int{keys[2]}) {
		t.Fatalf("RemoveStale of a half-created segment = %v, %v", removed, err)
	}
	for _, k := range keys {
		if _, err := unix.SysvShmGet(k, 0, 0); !errors.Is(err, unix.ENOENT) {
			t.Errorf("key %s still taken: %v", keyHex(k), err)
		}
	}
}

// TestStaleStates: idle and orphaned queues, empty and not; what RemoveStale
// removes with and without Force, and that DryRun removes nothing.
func TestStaleStates(t *testing.T) {
	type queue struct {
		key      int
		orphaned bool
		msgs     int
	}
	var qs []*queue
	for _, orphaned := range []bool{false, true} {
		for _, msgs := range []int{0, 2} {
			key := freeKey(t)
			q, err := Create(key, 1, 4)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = Remove(key) })
			for range msgs {
				q.EnqueueTry(make([]byte, 8))
			}
			if orphaned {
				// A user killed with its handle open.
				child := childCommand(t, "inspect-hold-open", strconv.Itoa(key))
				out, _ := child.StdoutPipe()
				if err := child.Start(); err != nil {
					t.Fatal(err)
				}
				if line, err := bufio.NewReader(out).ReadString('\n'); line != "attached\n" {
					t.Fatalf("child: %q, %v", line, err)
				}
				child.Process.Kill()
				child.Wait()
			}
			q.Close()
			qs = append(qs, &queue{key, orphaned, msgs})
		}
	}
	keys := make([]int, len(qs))
	for i, q := range qs {
		keys[i] = q.key
		info := mustInspect(t, q.key)
		want := QueueIdle
		if q.orphaned {
			want = QueueOrphaned
		}
		if info.State() != want || info.Len != q.msgs {
			t.Fatalf("queue %d: state %v, len %d; want %v, %d", i, info.State(), info.Len, want, q.msgs)
		}
	}
	// Default: only the orphaned, empty one. Dry run first.
	for _, dry := range []bool{true, false} {
		removed, err := RemoveStaleWith(StaleOptions{DryRun: dry}, keys...)
		if err != nil || !slices.Equal(removed, []int{qs[2].key}) {
			t.Fatalf("RemoveStaleWith(DryRun: %v) = %v, %v; want only the orphaned empty queue %s", dry, removed, err, keyHex(qs[2].key))
		}
		_, err = Inspect(qs[2].key)
		if dry != (err == nil) {
			t.Fatalf("after RemoveStaleWith(DryRun: %v): Inspect = %v", dry, err)
		}
	}
	// Force: every other one, messages and all.
	removed, err := RemoveStaleWith(StaleOptions{Force: true}, keys...)
	want := []int{qs[0].key, qs[1].key, qs[3].key}
	if err != nil || !slices.Equal(removed, want) {
		t.Fatalf("RemoveStaleWith(Force) = %v, %v; want %v", removed, err, want)
	}
}
