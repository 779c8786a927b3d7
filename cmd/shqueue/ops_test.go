//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shqueue/shqueue"
	"github.com/shqueue/shqueue/internal/testchild"
	"golang.org/x/sys/unix"
)

// The operations commands run as the real program against real segments.
// Copies of this test binary play two roles (internal/testchild).
func init() {
	// ops-half KEY: leave a half-created queue at KEY and exit: a segment
	// whose first line has only the creator's record (layout.go:
	// offCreator at byte 64, creatorTag, no start time), as a creator
	// killed before writing the rest leaves it.
	testchild.Register("ops-half", func(args []string) int {
		key, _ := strconv.Atoi(args[0])
		id, err := unix.SysvShmGet(key, 1<<16, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		mem, err := unix.SysvShmAttach(id, 0, 0)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		binary.LittleEndian.PutUint64(mem[64:], 1<<63)
		return 0
	})
	// ops-hold KEY: open the queue at KEY, say "attached" and wait to be
	// killed: the user a stale queue outlives.
	testchild.Register("ops-hold", func(args []string) int {
		key, _ := strconv.Atoi(args[0])
		if _, err := shqueue.Open(key); err != nil {
			fmt.Println(err)
			return 1
		}
		fmt.Println("attached")
		time.Sleep(time.Hour)
		return 0
	})
}

// holdQueue starts a copy of this test binary that opens the queue and waits
// to be killed (ops-hold), and returns once it has attached.
func holdQueue(t *testing.T, key int) *exec.Cmd {
	t.Helper()
	child := testchild.Command(t, "ops-hold", strconv.Itoa(key))
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "attached\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	return child
}

type opsRun struct {
	stdout, stderr string
	code           int
}

func runTool(t *testing.T, exe string, cred *syscall.Credential, args ...string) opsRun {
	t.Helper()
	cmd := exec.Command(exe, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	err := cmd.Run()
	r := opsRun{stdout.String(), stderr.String(), 0}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("shqueue %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustRun runs the tool and fails the test unless it exits with want.
func mustRun(t *testing.T, exe string, want int, args ...string) opsRun {
	t.Helper()
	r := runTool(t, exe, nil, args...)
	if r.code != want {
		t.Fatalf("shqueue %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

// removeAtEnd removes whatever segment holds key when the test ends.
func removeAtEnd(t *testing.T, key int) {
	t.Cleanup(func() {
		if id, err := unix.SysvShmGet(key, 0, 0); err == nil {
			unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		}
	})
}

func freeKey(t *testing.T) int {
	t.Helper()
	key, err := shqueue.FindFreeKey()
	if err != nil {
		t.Fatal(err)
	}
	removeAtEnd(t, key)
	return key
}

// createAt creates a queue at key, closed when the test ends.
func createAt(t *testing.T, key int, words, capacity uint32, opts ...shqueue.Option) *shqueue.Queue {
	t.Helper()
	q, err := shqueue.Create(key, words, capacity, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// foreignSegment makes a segment some other program could have made.
func foreignSegment(t *testing.T) int {
	t.Helper()
	key := freeKey(t)
	id, err := unix.SysvShmGet(key, 1<<16, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	copy(mem, "not a queue")
	unix.SysvShmDetach(mem)
	return key
}

// lsLine returns the ls row for key, split into its columns.
func lsLine(t *testing.T, out string, key int) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, keyHex(key)+" ") {
			return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		}
	}
	return nil
}

func testMsg(i int) []byte {
	return []byte(fmt.Sprintf("msg-%04d:abcdefghijklmnopqrstuvw", i)) // 32 bytes
}

func TestOps(t *testing.T) {
	exe := shqueueBinary(t)

	t.Run("queue", func(t *testing.T) { testOpsQueue(t, exe) })
	t.Run("errors", func(t *testing.T) { testOpsErrors(t, exe) })
	t.Run("unreadable", func(t *testing.T) { testOpsUnreadable(t, exe) })
	t.Run("stale", func(t *testing.T) { testOpsStale(t, exe) })
	t.Run("lifecycle", func(t *testing.T) { testOpsLifecycle(t, exe) })
	t.Run("half-created", func(t *testing.T) { testOpsHalfCreated(t, exe) })
	t.Run("help", func(t *testing.T) { testOpsHelp(t, exe) })
	t.Run("roles", func(t *testing.T) { testOpsRoles(t, exe) })
}

// testOpsQueue: create, fill through the library, stat, ls, peek, watch, rm.
func testOpsQueue(t *testing.T, exe string) {
	key := freeKey(t)
	r := mustRun(t, exe, 0, "create", fmt.Sprintf("%#x", key), "-words", "4", "-cap", "8", "-mode", "0640")
	if want := fmt.Sprintf("created queue %s (%d): 32-byte messages, capacity 8, mode 0640", keyHex(key), key); strings.TrimSpace(r.stdout) != want {
		t.Fatalf("create said %q, want %q", r.stdout, want)
	}
	q, err := shqueue.Open(key)
	if err != nil {
		t.Fatalf("Open after create: %v", err)
	}
	defer q.Close()
	for i := 0; i < 5; i++ {
		if !q.EnqueueTry(testMsg(i)) {
			t.Fatal("enqueue failed")
		}
	}
	buf := make([]byte, 32)
	if !q.DequeueTry(buf) {
		t.Fatal("dequeue failed")
	}
	pid := os.Getpid()

	// stat, in decimal.
	r = mustRun(t, exe, 0, "stat", strconv.Itoa(key))
	for _, re := range []string{
		fmt.Sprintf(`queue +%s \(%d\)`, keyHex(key), key),
		`layout version +2\n`,
		`messages +32 bytes \(4 words\), capacity 8\n`,
		`length +4 \(head 1, tail 5\)\n`,
		`enqueued +5\n`, `dequeued +1\n`, `overwritten +0\n`, `lost +0\n`,
		`mode 0640`,
		`kernel attachments +1\n`,
		`sleeping now +0 consumers, 0 producers\n`,
		`processes +1\n`,
		fmt.Sprintf(`\n +%d +alive +`, pid),
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("stat output lacks %q:\n%s", re, r.stdout)
		}
	}
	r = mustRun(t, exe, 0, "stat", keyHex(key), "-json")
	var st queueJSON
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("stat -json: %v\n%s", err, r.stdout)
	}
	if st.Key != key || st.KeyHex != keyHex(key) || st.MsgSize != 32 || st.Capacity != 8 || st.Len != 4 ||
		st.Head != 1 || st.Tail != 5 || st.Stats != (statsJSON{Enqueued: 5, Dequeued: 1}) || st.Mode != "0640" ||
		st.LayoutVersion != 2 || st.Attachments != 1 || st.Stale || st.Removed ||
		len(st.Processes) != 1 || st.Processes[0].PID != pid || !st.Processes[0].Alive ||
		st.LastOpen == nil || !st.LastOpen.Equal(st.Processes[0].Attached) {
		t.Fatalf("stat -json = %+v", st)
	}

	// ls: the row and the JSON entry.
	r = mustRun(t, exe, 0, "ls")
	row := lsLine(t, r.stdout, key)
	if len(row) != 15 || row[1] != strconv.Itoa(key) || row[4] != "0640" || row[5] != "32" || row[6] != "8" ||
		row[7] != "4" || row[8] != "1" || row[9] != strconv.Itoa(pid) || row[12] != "-" || row[13] != "in use" || row[14] != "-" {
		t.Fatalf("ls row for %s = %q\n%s", keyHex(key), row, r.stdout)
	}
	r = mustRun(t, exe, 0, "ls", "-json")
	var entries []entryJSON
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatalf("ls -json: %v\n%s", err, r.stdout)
	}
	found := false
	for _, e := range entries {
		if e.Key == key {
			found = true
			if e.Kind != "shqueue" || e.Queue == nil || e.Queue.Len != 4 || e.Queue.Stats.Enqueued != 5 || e.Error != "" {
				t.Fatalf("ls -json entry = %+v", e)
			}
		}
	}
	if !found {
		t.Fatalf("ls -json has no entry for %s", keyHex(key))
	}

	// peek: the next two, as a dump, then all four as JSON; nothing dequeued.
	r = mustRun(t, exe, 0, "peek", keyHex(key), "-n", "2")
	if !strings.Contains(r.stdout, fmt.Sprintf("queue %s (%d): 2 of 4 messages, 32 bytes each", keyHex(key), key)) ||
		!strings.Contains(r.stdout, "message 0 (position 1):\n00000000  6d 73 67 2d 30 30 30 31") ||
		!strings.Contains(r.stdout, "|msg-0001:abcdefg|") || !strings.Contains(r.stdout, "|msg-0002:abcdefg|") ||
		strings.Contains(r.stdout, "msg-0003") {
		t.Fatalf("peek -n 2:\n%s", r.stdout)
	}
	r = mustRun(t, exe, 0, "peek", keyHex(key), "-json")
	var pk peekJSON
	if err := json.Unmarshal([]byte(r.stdout), &pk); err != nil {
		t.Fatalf("peek -json: %v\n%s", err, r.stdout)
	}
	if pk.Key != key || pk.MsgSize != 32 || pk.Len != 4 || len(pk.Messages) != 4 {
		t.Fatalf("peek -json = %+v", pk)
	}
	for i, m := range pk.Messages {
		data, err := hex.DecodeString(m.Hex)
		if err != nil || m.Pos != uint64(i+1) || !bytes.Equal(data, testMsg(i+1)) {
			t.Fatalf("peek -json message %d = %+v (%q)", i, m, data)
		}
	}
	if q.Len() != 4 || q.Stats() != (shqueue.Stats{Enqueued: 5, Dequeued: 1}) {
		t.Fatalf("peek changed the queue: len %d, %+v", q.Len(), q.Stats())
	}

	// watch, two ticks of text.
	r = mustRun(t, exe, 0, "watch", keyHex(key), "-interval", "50ms", "-count", "2")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], fmt.Sprintf("queue %s (%d): 32-byte messages, capacity 8", keyHex(key), key)) ||
		!strings.HasPrefix(lines[1], "TIME ") {
		t.Fatalf("watch output:\n%s", r.stdout)
	}
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if want := []string{"4", "0", "0", "0", "0", "5", "1", "0", "0"}; len(f) != 10 || strings.Join(f[1:], " ") != strings.Join(want, " ") {
			t.Fatalf("watch line %q, want len 4, rates 0, totals 5 1 0 0", l)
		}
	}

	// watch -json until interrupted: traffic between samples shows as a
	// rate, and the rates times the intervals add up to the traffic.
	watch := exec.Command(exe, "watch", keyHex(key), "-interval", "20ms", "-json")
	out, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	watch.Stderr = os.Stderr
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer watch.Process.Kill()
	lineReader := bufio.NewScanner(out)
	var ticks []watchTickJSON
	next := func() watchTickJSON {
		t.Helper()
		if !lineReader.Scan() {
			t.Fatalf("watch -json ended: %v", lineReader.Err())
		}
		var tick watchTickJSON
		if err := json.Unmarshal(lineReader.Bytes(), &tick); err != nil {
			t.Fatalf("watch -json line %q: %v", lineReader.Text(), err)
		}
		ticks = append(ticks, tick)
		return tick
	}
	if first := next(); first.Totals != (statsJSON{Enqueued: 5, Dequeued: 1}) || first.Len != 4 || first.Processes != 1 {
		t.Fatalf("first watch sample %+v", first)
	}
	for i := 5; i < 8; i++ {
		q.EnqueueTry(testMsg(i))
	}
	q.DequeueTry(buf)
	for deadline := time.Now().Add(time.Minute); ; {
		if tick := next(); tick.Totals.Enqueued == 8 && tick.Totals.Dequeued == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("watch never saw the traffic: %+v", ticks)
		}
	}
	var enq, deq float64
	for _, tick := range ticks {
		if tick.Interval <= 0 {
			t.Fatalf("sample with interval %v", tick.Interval)
		}
		enq += tick.Rates.Enqueued * tick.Interval
		deq += tick.Rates.Dequeued * tick.Interval
	}
	if enq < 2.999 || enq > 3.001 || deq < 0.999 || deq > 1.001 {
		t.Fatalf("rates add up to %.4f enqueued, %.4f dequeued; want 3 and 1: %+v", enq, deq, ticks)
	}
	watch.Process.Signal(os.Interrupt)
	if err := watch.Wait(); err != nil {
		t.Fatalf("watch after an interrupt: %v", err)
	}

	// rm while attached: marked for removal; the handle keeps working.
	r = mustRun(t, exe, 0, "rm", keyHex(key))
	if want := fmt.Sprintf("queue %s (%d) marked for removal: it goes when its one attachment detaches, with 6 messages\n", keyHex(key), key); r.stdout != want {
		t.Fatalf("rm said %q, want %q", r.stdout, want)
	}
	r = mustRun(t, exe, exitNotFound, "stat", keyHex(key))
	if !strings.Contains(r.stderr, keyHex(key)) || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("stat of a removed queue: %q", r.stderr)
	}
	if !q.EnqueueTry(testMsg(9)) {
		t.Fatal("the open handle stopped working after rm")
	}
}

func testOpsErrors(t *testing.T, exe string) {
	missing := freeKey(t)
	for _, cmd := range [][]string{{"stat"}, {"peek"}, {"watch", "-count", "1"}, {"rm"}} {
		r := mustRun(t, exe, exitNotFound, append(cmd, strconv.Itoa(missing))...)
		if !strings.Contains(r.stderr, keyHex(missing)) || !strings.Contains(r.stderr, "does not exist") {
			t.Errorf("%s of a missing key: %q", cmd[0], r.stderr)
		}
	}
	foreign := foreignSegment(t)
	for _, cmd := range []string{"stat", "peek", "rm"} {
		r := mustRun(t, exe, 1, cmd, keyHex(foreign))
		if !strings.Contains(r.stderr, keyHex(foreign)) || !strings.Contains(r.stderr, "not a shqueue") {
			t.Errorf("%s of a foreign segment: %q", cmd, r.stderr)
		}
	}
	if _, err := unix.SysvShmGet(foreign, 0, 0); err != nil {
		t.Fatalf("rm removed a foreign segment: %v", err)
	}
	r := mustRun(t, exe, 0, "ls")
	if lsLine(t, r.stdout, foreign) != nil {
		t.Errorf("ls lists a foreign segment without -all:\n%s", r.stdout)
	}
	r = mustRun(t, exe, 0, "ls", "-all")
	if row := lsLine(t, r.stdout, foreign); len(row) != 15 || row[13] != "foreign" || row[5] != "-" {
		t.Errorf("ls -all row for the foreign segment: %q", row)
	}
	for _, args := range [][]string{{"stat"}, {"stat", "zz"}, {"stat", "0"}, {"stat", "0x1ffffffff"}, {"stat", "1", "2"}, {"rm"}, {"create", "5", "-mode", "999"}} {
		mustRun(t, exe, 2, args...)
	}
}

// testOpsUnreadable: a segment this user may not read is listed as such, and
// stat and rm refuse it with exit status 4.
func testOpsUnreadable(t *testing.T, exe string) {
	key := freeKey(t)
	var cred *syscall.Credential
	if os.Getuid() == 0 {
		// Root reads everything: run the tool as nobody, from a copy that
		// user can reach.
		exe = testchild.ReachableCopy(t, exe, "shqueue")
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
		createAt(t, key, 1, 4) // mode 0600, owner root
	} else {
		createAt(t, key, 1, 4, shqueue.WithMode(0o200))
	}
	r := runTool(t, exe, cred, "ls")
	row := lsLine(t, r.stdout, key)
	if r.code != 0 || len(row) != 15 || row[13] != "unreadable (permission denied)" || row[5] != "-" {
		t.Fatalf("ls as a user who may not read %s: exit %d, row %q\n%s%s", keyHex(key), r.code, row, r.stdout, r.stderr)
	}
	r = runTool(t, exe, cred, "ls", "-json")
	var entries []entryJSON
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatalf("ls -json: %v\n%s", err, r.stdout)
	}
	for _, e := range entries {
		if e.Key == key && (e.Kind != "unreadable" || e.Queue != nil || !strings.Contains(e.Error, "permission")) {
			t.Fatalf("ls -json entry %+v", e)
		}
	}
	for _, cmd := range []string{"stat", "peek", "rm"} {
		r := runTool(t, exe, cred, cmd, keyHex(key))
		if r.code != exitNoAccess || !strings.Contains(r.stderr, keyHex(key)) || !strings.Contains(r.stderr, "no permission") {
			t.Errorf("%s without permission: exit %d, %q", cmd, r.code, r.stderr)
		}
	}
	if _, err := shqueue.Inspect(key); os.Getuid() == 0 && err != nil {
		t.Fatalf("the queue is gone after a refused rm: %v", err)
	}
}

// testOpsStale: a queue whose only user was killed is what rm -stale removes;
// a live queue and a foreign segment stay.
func testOpsStale(t *testing.T, exe string) {
	key := freeKey(t)
	mustRun(t, exe, 0, "create", strconv.Itoa(key), "-words", "2", "-cap", "4")
	child := holdQueue(t, key)
	liveKey := freeKey(t)
	createAt(t, liveKey, 2, 4) // attached until the test ends: a live queue
	foreign := foreignSegment(t)
	keys := []string{keyHex(key), keyHex(liveKey), keyHex(foreign)}

	r := mustRun(t, exe, 0, append([]string{"rm", "-stale"}, keys...)...)
	if r.stdout != "no stale queues\n" {
		t.Fatalf("rm -stale with every queue in use: %q", r.stdout)
	}
	child.Process.Kill()
	child.Wait()
	r = mustRun(t, exe, 0, "ls")
	if row := lsLine(t, r.stdout, key); len(row) != 15 || row[8] != "0" || row[9] != strconv.Itoa(child.Process.Pid)+"(dead)" || row[13] != "orphaned, empty" {
		t.Fatalf("ls row of the killed child's queue: %q\n%s", row, r.stdout)
	}
	r = mustRun(t, exe, 0, "stat", keyHex(key))
	if !regexp.MustCompile(fmt.Sprintf(`\n +%d +dead +`, child.Process.Pid)).MatchString(r.stdout) || !strings.Contains(r.stdout, "orphaned: nobody attached, only dead processes in its table; empty (rm -stale removes it)") {
		t.Fatalf("stat of the stale queue:\n%s", r.stdout)
	}
	r = mustRun(t, exe, 0, append([]string{"rm", "-stale"}, keys...)...)
	if want := fmt.Sprintf("removed queue %s (%d): orphaned, empty\n", keyHex(key), key); r.stdout != want {
		t.Fatalf("rm -stale said %q, want %q", r.stdout, want)
	}
	mustRun(t, exe, exitNotFound, "stat", keyHex(key))
	mustRun(t, exe, 0, "stat", keyHex(liveKey))
	if _, err := unix.SysvShmGet(foreign, 0, 0); err != nil {
		t.Fatalf("rm -stale removed a foreign segment: %v", err)
	}
}

// testOpsLifecycle: queues by name, create refusing a leftover that holds
// messages, -replace, idle and orphaned, rm -stale -n and -force.
func testOpsLifecycle(t *testing.T, exe string) {
	name := fmt.Sprintf("ops-test.%d.%d", os.Getpid(), time.Now().UnixNano())
	key, err := shqueue.KeyFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	removeAtEnd(t, key)
	arg := "name:" + name
	desc := fmt.Sprintf("%s (%d, %q)", keyHex(key), key, name)

	r := mustRun(t, exe, 0, "create", arg, "-words", "2", "-cap", "16")
	if want := "created queue " + desc + ": 16-byte messages, capacity 16, mode 0600\n"; r.stdout != want {
		t.Fatalf("create by name said %q, want %q", r.stdout, want)
	}
	r = mustRun(t, exe, 0, "stat", arg)
	if !strings.Contains(r.stdout, fmt.Sprintf("name                %q\n", name)) || !strings.Contains(r.stdout, "status              idle: nobody attached, every handle closed; empty (rm -stale -force removes it)") {
		t.Fatalf("stat of an idle named queue:\n%s", r.stdout)
	}
	row := lsLine(t, mustRun(t, exe, 0, "ls").stdout, key)
	if len(row) != 15 || row[12] != name || row[13] != "idle, empty" {
		t.Fatalf("ls row of an idle named queue: %q", row)
	}

	// Three messages left behind by a producer that closed: idle, holding.
	q, err := shqueue.Open(key, shqueue.WithName(name))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		q.EnqueueTry(make([]byte, 16))
	}
	q.Close()
	row = lsLine(t, mustRun(t, exe, 0, "ls").stdout, key)
	if len(row) != 15 || row[13] != "idle, 3 messages" {
		t.Fatalf("ls row of an idle queue holding 3 messages: %q", row)
	}
	r = mustRun(t, exe, 1, "create", arg, "-words", "4", "-cap", "8")
	if !strings.Contains(r.stderr, "holds 3 unread messages") || !strings.Contains(r.stderr, "create -replace") || !strings.Contains(r.stderr, keyHex(key)) {
		t.Fatalf("create over a leftover holding messages: %q", r.stderr)
	}
	if r = mustRun(t, exe, 0, "rm", "-stale", arg); r.stdout != "no stale queues\n" {
		t.Fatalf("rm -stale of an idle queue holding messages: %q", r.stdout)
	}
	r = mustRun(t, exe, 0, "rm", "-stale", "-force", "-n", arg)
	if want := fmt.Sprintf("would remove queue %s (%d): idle, 3 messages\n", keyHex(key), key); r.stdout != want {
		t.Fatalf("rm -stale -force -n said %q, want %q", r.stdout, want)
	}
	if info, err := shqueue.Inspect(key); err != nil || info.Len != 3 {
		t.Fatalf("after the dry run: %v, %+v", err, info)
	}
	r = mustRun(t, exe, 0, "create", arg, "-replace", "-words", "4", "-cap", "8")
	if want := "created queue " + desc + ": 32-byte messages, capacity 8, mode 0600\n"; r.stdout != want {
		t.Fatalf("create -replace said %q, want %q", r.stdout, want)
	}
	// The same shape again, empty: kept as it is.
	if r = mustRun(t, exe, 0, "create", arg, "-words", "4", "-cap", "8"); !strings.HasPrefix(r.stdout, "kept queue "+desc+": an empty queue of this shape was already there") {
		t.Fatalf("create over an empty queue of the same shape said %q", r.stdout)
	}
	// rm -force / -n without -stale is a usage error.
	mustRun(t, exe, 2, "rm", "-force", arg)

	// Another queue at a name's key: the name does not match, nothing is
	// touched.
	other := name + ".other"
	otherKey, _ := shqueue.KeyFromName(other)
	removeAtEnd(t, otherKey)
	mustRun(t, exe, 0, "create", keyHex(otherKey), "-words", "1", "-cap", "2")
	for _, args := range [][]string{{"stat", "name:" + other}, {"peek", "name:" + other}, {"rm", "name:" + other}} {
		r = mustRun(t, exe, 1, args...)
		if !strings.Contains(r.stderr, "queue has another name: it carries no name, not "+strconv.Quote(other)) {
			t.Fatalf("shqueue %s on a queue without that name: %q", strings.Join(args, " "), r.stderr)
		}
	}
	mustRun(t, exe, 0, "stat", keyHex(otherKey))
	r = mustRun(t, exe, 0, "rm", arg)
	if want := "queue " + desc + " removed\n"; r.stdout != want {
		t.Fatalf("rm by name said %q, want %q", r.stdout, want)
	}
	mustRun(t, exe, 2, "stat", "name:")
}

// testOpsHalfCreated: a segment whose creator died before finishing the
// header shows in ls, and rm removes it.
func testOpsHalfCreated(t *testing.T, exe string) {
	key := freeKey(t)
	child := testchild.Command(t, "ops-half", strconv.Itoa(key))
	child.Stderr = nil // CombinedOutput takes both
	if out, err := child.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	row := lsLine(t, mustRun(t, exe, 0, "ls").stdout, key)
	if want := fmt.Sprintf("half-created (creator %d died before finishing the header)", child.Process.Pid); len(row) != 15 || row[13] != want {
		t.Fatalf("ls row of a half-created segment: %q, want status %q", row, want)
	}
	r := mustRun(t, exe, 0, "rm", keyHex(key))
	if want := fmt.Sprintf("queue %s (%d) removed\n", keyHex(key), key); r.stdout != want {
		t.Fatalf("rm of a half-created segment said %q, want %q", r.stdout, want)
	}
	if _, err := unix.SysvShmGet(key, 0, 0); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("half-created segment still there: %v", err)
	}
}

// testOpsHelp: every command's -h prints its usage on standard output and
// exits 0; version prints the versions.
func testOpsHelp(t *testing.T, exe string) {
	for _, c := range []string{"ls", "stat", "watch", "peek", "rm", "create", "bench", "version"} {
		for _, args := range [][]string{{c, "-h"}, {c, "--help"}, {"help", c}} {
			r := mustRun(t, exe, 0, args...)
			if !strings.HasPrefix(r.stdout, "usage: shqueue "+c+" ") || r.stderr != "" {
				t.Errorf("shqueue %s: stdout %.40q, stderr %q", strings.Join(args, " "), r.stdout, r.stderr)
			}
		}
	}
	// Help after a command's argument, as the documented forms put flags.
	if r := mustRun(t, exe, 0, "peek", "0x1234", "-h"); !strings.HasPrefix(r.stdout, "usage: shqueue peek ") {
		t.Errorf("shqueue peek KEY -h: %.40q", r.stdout)
	}
	// A bad flag is an error, on standard error.
	if r := mustRun(t, exe, 2, "stat", "-bogus"); r.stdout != "" || !strings.Contains(r.stderr, "-bogus") {
		t.Errorf("shqueue stat -bogus: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	r := mustRun(t, exe, 0, "version")
	if !regexp.MustCompile(`^shqueue \S+ \(github.com/shqueue/shqueue\)\n(.|\n)*go +go1\.`).MatchString(r.stdout) {
		t.Errorf("shqueue version:\n%s", r.stdout)
	}
}

// testOpsRoles: create -single-producer -single-consumer records the
// options; stat, stat -json and ls show them and the producer role's holder.
func testOpsRoles(t *testing.T, exe string) {
	key := freeKey(t)
	mustRun(t, exe, 0, "create", strconv.Itoa(key), "-words", "4", "-cap", "8", "-single-producer", "-single-consumer")
	removeAtEnd(t, key)
	q, err := shqueue.Open(key, shqueue.AsProducer())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if !q.SingleProducer() || !q.SingleConsumer() || !q.IsProducer() || q.IsConsumer() {
		t.Fatal("the tool's queue lacks the options")
	}
	pid := os.Getpid()
	r := mustRun(t, exe, 0, "stat", strconv.Itoa(key))
	want := fmt.Sprintf("options +single-producer \\(role held by pid %d\\), single-consumer \\(role free\\)\n", pid)
	if !regexp.MustCompile(want).MatchString(r.stdout) || !regexp.MustCompile(`layout version +3\n`).MatchString(r.stdout) {
		t.Fatalf("stat output lacks %q and version 3:\n%s", want, r.stdout)
	}
	r = mustRun(t, exe, 0, "stat", strconv.Itoa(key), "-json")
	var st queueJSON
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Options, []string{"single-producer", "single-consumer"}) || st.ProducerPID != pid || st.ConsumerPID != 0 {
		t.Fatalf("stat -json options %q, producer %d, consumer %d", st.Options, st.ProducerPID, st.ConsumerPID)
	}
	r = mustRun(t, exe, 0, "ls")
	if row := lsLine(t, r.stdout, key); len(row) != 15 || row[14] != "single-producer,single-consumer" {
		t.Fatalf("ls row %q", row)
	}
}
