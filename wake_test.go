package shqueue

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shqueue/shqueue/internal/bench"
)

func init() {
	// idle KEY STRATEGY MILLIS: block on an empty queue for MILLIS ms, then
	// print the CPU time used while blocked, in microseconds.
	registerChild("idle", func(args []string) int {
		q := childOpen("idle", args[0], WithWait(WaitStrategy(argInt(args, 1))))
		defer q.Close()
		before := bench.ProcessCPU()
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(argInt(args, 2))*time.Millisecond)
		defer cancel()
		if err := q.DequeueBlock(ctx, make([]byte, q.MsgSize())); err != context.DeadlineExceeded {
			return childFail("DequeueBlock", err)
		}
		fmt.Println((bench.ProcessCPU() - before).Microseconds())
		return 0
	})
	// waker KEY ID COUNT: produce COUNT messages in bursts with pauses long
	// enough for every waiter to fall asleep.
	registerChild("waker", func(args []string) int {
		noTimedSleeps()
		q := childOpen("waker", args[0])
		defer q.Close()
		id, count := argUint(args, 1), argInt(args, 2)
		rng := rand.New(rand.NewPCG(id, uint64(os.Getpid())))
		msg := make([]byte, q.MsgSize())
		for s := 0; s < count; s++ {
			if rng.IntN(8) == 0 {
				time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Microsecond)
			}
			fillMsg(msg, id, uint64(s))
			if err := q.EnqueueBlock(context.Background(), msg); err != nil {
				return childFail("waker", err)
			}
		}
		return 0
	})
	// sleeper KEY GOROUTINES: consume with several goroutines, each pausing
	// now and then so producers fill the queue and sleep too, until one stop
	// message per goroutine; print how many messages it took.
	registerChild("sleeper", func(args []string) int {
		noTimedSleeps()
		q := childOpen("sleeper", args[0])
		defer q.Close()
		return sleepyConsumers(argInt(args, 1), q.MsgSize(), func(buf []byte) (bool, error) {
			return true, q.DequeueBlock(context.Background(), buf)
		})
	})
}

// sleepyConsumers runs a sleeper child's goroutines: each takes messages with
// take (which says false when it found none after all) until a stop
// message, pausing one time in 16 so producers fill the queues and fall
// asleep too. It returns the child's exit code: 1 when take failed, 3 on a
// torn message, else 0 after printing how many messages the goroutines took.
func sleepyConsumers(goroutines, msgSize int, take func(buf []byte) (bool, error)) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	total, bad, failed := 0, 0, false
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), uint64(os.Getpid())))
			buf := make([]byte, msgSize)
			for {
				took, err := take(buf)
				if err != nil {
					fmt.Fprintln(os.Stderr, "sleeper:", err)
					mu.Lock()
					failed = true
					mu.Unlock()
					return
				}
				if !took {
					continue // another goroutine or process took it
				}
				p, _, ok := readMsg(buf)
				mu.Lock()
				if !ok {
					bad++
				}
				if p == stopProducer {
					mu.Unlock()
					return
				}
				total++
				mu.Unlock()
				if rng.IntN(16) == 0 {
					time.Sleep(time.Duration(300+rng.IntN(1000)) * time.Microsecond)
				}
			}
		}()
	}
	wg.Wait()
	if failed {
		return 1
	}
	if bad != 0 {
		fmt.Fprintln(os.Stderr, "torn messages:", bad)
		return 3
	}
	fmt.Println(total)
	return 0
}

// awaitSleepers waits for the producer children (wakers), then, once send
// has sent the stop messages, for the consumer children (sleepers), each by
// the deadline, and returns how many messages the consumers say they took.
// A failure names state(), the queues' state.
func awaitSleepers(t *testing.T, wakers, sleepers []*childOut, deadline time.Time, state func() string, send func()) int {
	t.Helper()
	for _, w := range wakers {
		if _, err := w.wait(deadline); err != nil {
			t.Fatalf("producer: %v:%s", err, state())
		}
	}
	send()
	total := 0
	for _, s := range sleepers {
		out, err := s.wait(deadline)
		if err != nil {
			t.Fatalf("consumer: %v:%s", err, state())
		}
		n, err := strconv.Atoi(string(out[:len(out)-1]))
		if err != nil {
			t.Fatalf("consumer printed %q", out)
		}
		total += n
	}
	return total
}

// noTimedSleeps makes every futex sleep in this process last until a wake-up:
// a lost wake-up then hangs the test instead of being covered by the periodic
// re-check.
func noTimedSleeps() { sleepSlice = time.Hour }

// TestIdleCost: a consumer blocked on an empty queue for 2 s with Adaptive
// uses a small fraction of a core; with BusySpin it keeps the core.
func TestIdleCost(t *testing.T) {
	q := newTestQueue(t, 8, 16)
	const millis = 2000
	used := map[WaitStrategy]time.Duration{}
	for _, w := range []WaitStrategy{Adaptive, BusySpin} {
		out, err := childCommand(t, "idle", strconv.Itoa(q.Key()), strconv.Itoa(int(w)), strconv.Itoa(millis)).Output()
		if err != nil {
			t.Fatalf("%v: %v", w, err)
		}
		us, err := strconv.Atoi(string(out[:len(out)-1]))
		if err != nil {
			t.Fatalf("%v: child printed %q", w, out)
		}
		used[w] = time.Duration(us) * time.Microsecond
		t.Logf("%v: %v CPU while blocked %v on an empty queue (%.2f%% of a core)", w, used[w], time.Duration(millis)*time.Millisecond, 100*used[w].Seconds()/(millis/1000.0))
	}
	if limit := millis * time.Millisecond / 5; used[Adaptive] > limit {
		t.Fatalf("Adaptive waiter used %v CPU in %d ms idle; limit %v", used[Adaptive], millis, limit)
	}
	if used[BusySpin] < 4*used[Adaptive] {
		t.Fatalf("BusySpin waiter used only %v CPU against Adaptive's %v: it must not sleep", used[BusySpin], used[Adaptive])
	}
}

// TestNoLostWakeups: waiters in several processes, consumers and producers
// both falling asleep again and again, with the periodic re-check disabled so
// that a single lost wake-up would hang the run.
func TestNoLostWakeups(t *testing.T) {
	const producers, consumers, goroutines = 3, 3, 2
	perProducer := 4000
	if testing.Short() {
		perProducer = 1000
	}
	q := newTestQueue(t, 4, 4)
	key := strconv.Itoa(q.Key())
	var sleepers []*childOut
	for c := 0; c < consumers; c++ {
		sleepers = append(sleepers, startWithOutput(t, childCommand(t, "sleeper", key, strconv.Itoa(goroutines))))
	}
	var wakers []*childOut
	for p := 0; p < producers; p++ {
		wakers = append(wakers, startWithOutput(t, childCommand(t, "waker", key, strconv.Itoa(p), strconv.Itoa(perProducer))))
	}
	state := func() string { return fmt.Sprintf(" stats %+v, len %d", q.Stats(), q.Len()) }
	total := awaitSleepers(t, wakers, sleepers, time.Now().Add(3*time.Minute), state, func() {
		stop := make([]byte, q.MsgSize())
		fillMsg(stop, stopProducer, 0)
		for i := 0; i < consumers*goroutines; i++ {
			q.EnqueueShift(stop)
			for q.Len() > 2 {
				time.Sleep(time.Millisecond)
			}
		}
	})
	if total != producers*perProducer {
		t.Fatalf("consumers took %d messages, %d were sent", total, producers*perProducer)
	}
}

type childOut struct {
	cmd  interface{ Wait() error }
	kill func()
	out  *safeBuffer
	done chan error
}

type safeBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func startWithOutput(t *testing.T, cmd *exec.Cmd) *childOut {
	t.Helper()
	c := &childOut{cmd: cmd, out: &safeBuffer{}, done: make(chan error, 1)}
	cmd.Stdout = c.out
	c.kill = func() { cmd.Process.Signal(syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			c.kill()
			<-c.done
		}
	})
	return c
}

// wait returns the child's output once it exits, or an error if it has not by
// the deadline (a hang: killed, so the test ends).
func (c *childOut) wait(deadline time.Time) ([]byte, error) {
	select {
	case err := <-c.done:
		c.done <- err
		c.out.mu.Lock()
		defer c.out.mu.Unlock()
		return c.out.buf, err
	case <-time.After(time.Until(deadline)):
		return nil, fmt.Errorf("still blocked at the deadline: a lost wake-up")
	}
}
