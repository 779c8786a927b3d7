//go:build linux

package shqueue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Recovery time: from the SIGKILL of a process that holds a claim to the next
// message delivered to a survivor waiting behind that claim. Messages are
// 8 MiB, so a victim spends most of its time inside a claim (copying).
//
//   - dead=producer: the victim enqueues; the survivor is a consumer blocked
//     at the victim's claimed position. After the kill a live producer
//     enqueues one message behind it; the sample ends when the survivor's
//     DequeueBlock returns that message.
//   - dead=consumer: the victim dequeues; the survivor is the producer,
//     blocked once the queue is full behind the victim's unreleased slot.
//     The sample ends when the survivor's EnqueueBlock into that slot
//     returns.
//   - dead=none: no kill, the floor: from the start of one enqueue to the
//     return of a waiting consumer's DequeueBlock (two 8 MiB copies).
//
// The victim is stopped (SIGSTOP) at a random moment and killed only if it
// stopped inside a claim; otherwise it resumes and is stopped again later.
// It reports p50-ms, p99-ms and max-ms over b.N samples, and missed-stops
// (stops that found no claim). Run it with -benchtime 300x or so: every
// sample starts a new victim process.

const (
	recoveryWords = 1 << 20 // 8 MiB messages
	recoveryCap   = 2
	recoveryLive  = 1 << 20 // producer id of the survivors' messages
)

func init() {
	// recovery-victim KEY producer|consumer: open, say "ready", wait for a
	// byte on stdin, then enqueue (or dequeue) 8 MiB messages until killed.
	registerChild("recovery-victim", func(args []string) int {
		q := childOpen("recovery victim", args[0])
		msg := make([]byte, q.MsgSize())
		fillWords(msg, 7, 0)
		fmt.Println("ready")
		var go1 [1]byte
		if _, err := os.Stdin.Read(go1[:]); err != nil {
			return 1
		}
		for {
			if err := moveBlocking(q, args[1] == "producer", msg); err != nil {
				return childFail("recovery victim", err)
			}
		}
	})
}

type recoveryVictim struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startRecoveryVictim(b *testing.B, key int, role string) *recoveryVictim {
	cmd := childCommand(b, "recovery-victim", strconv.Itoa(key), role)
	stdin, stdout := startPiped(b, cmd)
	v := &recoveryVictim{cmd: cmd, stdin: stdin}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("said %q", line)
		}
		ready <- err
	}()
	var err error
	select {
	case err = <-ready:
	case <-time.After(time.Minute):
		err = fmt.Errorf("not ready after a minute")
	}
	if err != nil {
		v.kill()
		b.Fatalf("recovery victim: %v", err)
	}
	return v
}

// stop SIGSTOPs the victim and waits until the kernel reports it stopped.
func (v *recoveryVictim) stop(b *testing.B) {
	v.cmd.Process.Signal(syscall.SIGSTOP)
	stat := fmt.Sprintf("/proc/%d/stat", v.cmd.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); ; {
		data, err := os.ReadFile(stat)
		if err != nil {
			b.Fatalf("victim: %v", err)
		}
		// The state is the field after the command name, which ends at
		// the last ')'.
		if i := bytes.LastIndexByte(data, ')'); i >= 0 && i+2 < len(data) && data[i+2] == 'T' {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("victim not stopped 10 s after SIGSTOP: %s", data)
		}
		time.Sleep(20 * time.Microsecond)
	}
}

func (v *recoveryVictim) kill() {
	v.cmd.Process.Signal(syscall.SIGKILL)
	v.cmd.Wait()
	v.stdin.Close()
}

func BenchmarkRecovery(b *testing.B) {
	for _, dead := range []string{"producer", "consumer", "none"} {
		b.Run("dead="+dead, func(b *testing.B) { benchRecovery(b, dead) })
	}
}

func benchRecovery(b *testing.B, dead string) {
	q := newTestQueue(b, recoveryWords, recoveryCap)
	survivor, err := Open(q.Key())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	delivered := map[uint64]time.Time{} // survivor's messages: position (dead=consumer) or count (otherwise) → when
	var survivorDone sync.WaitGroup
	survivorDone.Add(1)
	var victim *recoveryVictim
	b.Cleanup(func() {
		if victim != nil {
			victim.kill()
		}
		cancel()
		survivorDone.Wait()
		survivor.Close()
	})
	go func() {
		defer survivorDone.Done()
		msg := make([]byte, q.MsgSize())
		fillWords(msg, recoveryLive, 0)
		for n := uint64(0); ; {
			if dead == "consumer" {
				if survivor.EnqueueBlock(ctx, msg) != nil {
					return
				}
				// The only producer: the tail is one past its message.
				pos := atomic.LoadUint64(q.tail) - 1
				mu.Lock()
				delivered[pos] = time.Now()
				mu.Unlock()
				continue
			}
			if survivor.DequeueBlock(ctx, msg) != nil {
				return
			}
			if binary.LittleEndian.Uint64(msg) == recoveryLive {
				mu.Lock()
				delivered[n] = time.Now()
				n++
				mu.Unlock()
			}
		}
	}()
	await := func(k uint64, what string) time.Time {
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			at, ok := delivered[k]
			mu.Unlock()
			if ok {
				return at
			}
			if time.Now().After(deadline) {
				b.Fatalf("wedged: no %s within 10 s\n%s", what, describeSlots(q))
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	live := make([]byte, q.MsgSize())
	fillWords(live, recoveryLive, 0)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	samples := make([]time.Duration, 0, b.N)
	var liveSent uint64
	missed := 0
	b.ResetTimer()
	for len(samples) < b.N {
		if dead == "none" {
			time.Sleep(time.Duration(1000+rng.IntN(4000)) * time.Microsecond)
			t0 := time.Now()
			if err := q.EnqueueBlock(ctx, live); err != nil {
				b.Fatal(err)
			}
			samples = append(samples, await(liveSent, "message").Sub(t0))
			liveSent++
			continue
		}
		b.StopTimer()
		victim = startRecoveryVictim(b, q.Key(), dead)
		b.StartTimer()
		victim.stdin.Write([]byte{1})
		// Stop the victim, and kill it only if it stopped inside a claim:
		// checking after the kill would miss the claims that recovery
		// settled before the check, the fastest recoveries.
		var pos uint64
		for try := 0; ; try++ {
			time.Sleep(time.Duration(1000+rng.IntN(5000)) * time.Microsecond)
			victim.stop(b)
			var claimed bool
			if dead == "producer" {
				n, _ := pendingClaims(q)
				claimed = n > 0
			} else {
				pos, claimed = consumerClaim(q)
			}
			if claimed {
				break
			}
			missed++
			if try == 1000 {
				b.Fatalf("the victim never stopped inside a claim in 1000 tries\n%s", describeSlots(q))
			}
			victim.cmd.Process.Signal(syscall.SIGCONT)
		}
		t0 := time.Now()
		victim.kill()
		victim = nil
		var t1 time.Time
		if dead == "producer" {
			if err := q.EnqueueBlock(ctx, live); err != nil {
				b.Fatal(err)
			}
			t1 = await(liveSent, "message delivered past the dead producer's claim")
			liveSent++
		} else {
			t1 = await(pos+q.capacity, "enqueue into the dead consumer's slot")
		}
		samples = append(samples, t1.Sub(t0))
	}
	b.StopTimer()
	slices.Sort(samples)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	n := len(samples)
	b.ReportMetric(ms(samples[n/2]), "p50-ms")
	b.ReportMetric(ms(samples[min(n-1, n*99/100)]), "p99-ms")
	b.ReportMetric(ms(samples[n-1]), "max-ms")
	b.ReportMetric(float64(missed)/float64(n), "missed-stops/op")
}

// consumerClaim finds a position a consumer claimed and has not released.
func consumerClaim(q *Queue) (uint64, bool) {
	head := atomic.LoadUint64(q.head)
	for i := uint64(0); i < q.capacity; i++ {
		seq := atomic.LoadUint64((*uint64)(q.slot(i)))
		if pos := slotSeqPos(seq); seq&1 == 1 && pos < head {
			return pos, true
		}
	}
	return 0, false
}
