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
		key, _ := strconv.Atoi(args[0])
		strategy, _ := strconv.Atoi(args[1])
		millis, _ := strconv.Atoi(args[2])
		q, err := Open(key, WithWait(WaitStrategy(strategy)))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer q.Close()
		before := bench.ProcessCPU()
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(millis)*time.Millisecond)
		defer cancel()
		if err := q.DequeueBlock(ctx, make([]byte, q.MsgSize())); err != context.DeadlineExceeded {
			fmt.Fprintln(os.Stderr, "DequeueBlock:", err)
			return 1
		}
		fmt.Println((bench.ProcessCPU() - before).Microseconds())
		return 0
	})
	// waker KEY ID COUNT: produce COUNT messages in bursts with pauses long
	// enough for every waiter to fall asleep.
	registerChild("waker", func(args []string) int {
		noTimedSleeps()
		key, _ := strconv.Atoi(args[0])
		id, _ := strconv.ParseUint(args[1], 10, 64)
		count, _ := strconv.Atoi(args[2])
		q, err := Open(key)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer q.Close()
		rng := rand.New(rand.NewPCG(id, uint64(os.Getpid())))
		msg := make([]byte, q.MsgSize())
		for s := 0; s < count; s++ {
			if rng.IntN(8) == 0 {
				time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Microsecond)
			}
			fillMsg(msg, id, uint64(s))
			if err := q.EnqueueBlock(context.Background(), msg); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return 0
	})
	// sleeper KEY GOROUTINES: consume with several goroutines, each pausing
	// now and then so producers fill the queue and sleep too, until one stop
	// message per goroutine; print how many messages it took.
	registerChild("sleeper", func(args []string) int {
		noTimedSleeps()
		key, _ := strconv.Atoi(args[0])
		goroutines, _ := strconv.Atoi(args[1])
		q, err := Open(key)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer q.Close()
		var wg sync.WaitGroup
		var mu sync.Mutex
		total, bad := 0, 0
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(g), uint64(os.Getpid())))
				buf := make([]byte, q.MsgSize())
				for n := 0; ; n++ {
					if err := q.DequeueBlock(context.Background(), buf); err != nil {
						fmt.Fprintln(os.Stderr, err)
						return
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
		if bad != 0 {
			fmt.Fprintln(os.Stderr, "torn messages:", bad)
			return 3
		}
		fmt.Println(total)
		return 0
	})
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
	deadline := time.Now().Add(3 * time.Minute)
	for _, w := range wakers {
		if _, err := w.wait(deadline); err != nil {
			t.Fatalf("producer: %v (stats %+v, len %d)", err, q.Stats(), q.Len())
		}
	}
	stop := make([]byte, q.MsgSize())
	fillMsg(stop, stopProducer, 0)
	for i := 0; i < consumers*goroutines; i++ {
		q.EnqueueShift(stop)
		for q.Len() > 2 {
			time.Sleep(time.Millisecond)
		}
	}
	total := 0
	for _, s := range sleepers {
		out, err := s.wait(deadline)
		if err != nil {
			t.Fatalf("consumer: %v (stats %+v, len %d)", err, q.Stats(), q.Len())
		}
		n, _ := strconv.Atoi(string(out[:len(out)-1]))
		total += n
	}
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
