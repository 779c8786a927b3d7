package shqueue

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func init() {
	// role-stall KEY SIDE COUNT: take the role of SIDE ("producer" or
	// "consumer"), move COUNT messages, then claim one more position and stop
	// in the middle of its copy, saying so on stdout, until killed.
	registerChild("role-stall", func(args []string) int {
		producer := args[1] == "producer"
		opt := AsConsumer()
		if producer {
			opt = AsProducer()
		}
		q := childOpen("role-stall", args[0], opt)
		msg := make([]byte, q.MsgSize())
		count := argInt(args, 2)
		for s := range count {
			if producer {
				fillMsg(msg, 1, uint64(s))
			}
			if err := moveBlocking(q, producer, msg); err != nil {
				return childFail("role-stall", err)
			}
		}
		// The first half of an operation, as enqueue and dequeue do it.
		if producer {
			lane := q.enterProducer()
			pos := atomic.LoadUint64(q.tail)
			q.claimTail(q.record(lane), pos)
			fillMsg(msg, 1, uint64(count))
			copy(q.data(q.slot(pos))[:len(msg)/2], msg)
		} else {
			lane := q.enterConsumer()
			pos := atomic.LoadUint64(q.head)
			q.claimHead(q.record(lane), pos)
		}
		fmt.Println("claimed")
		time.Sleep(time.Hour) // until killed
		return 2
	})
}

// TestRoleTakeover: a process holding an exclusive role is stopped in the
// middle of a claim. While it lives, Open asking for its role fails with
// ErrBusy and an exact Try call on the other side gives up after its TryWait
// (Stalled). Once it is SIGKILLed, the next Open asking for the role takes it
// over and settles the dead claim before returning: the half-written slot is
// skipped and counted Lost, nothing torn, and traffic resumes.
func TestRoleTakeover(t *testing.T) {
	for _, side := range []string{"producer", "consumer"} {
		t.Run(side, func(t *testing.T) {
			producer := side == "producer"
			opt, flag := AsConsumer(), WithSingleConsumer()
			if producer {
				opt, flag = AsProducer(), WithSingleProducer()
			}
			q := newTestQueue(t, 8, 4, flag, WithTryWait(20*time.Millisecond))
			msg, buf := make([]byte, 64), make([]byte, 64)
			if !producer {
				enqueueMsgs(t, q, msg, 1, 4)
			}
			cmd := childCommand(t, "role-stall", strconv.Itoa(q.Key()), side, "2")
			out := startReading(t, cmd)
			defer func() {
				cmd.Process.Kill()
				cmd.Wait()
			}()
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil || line != "claimed\n" {
				t.Fatalf("child said %q, %v", line, err)
			}
			if _, err := Open(q.Key(), opt); !errors.Is(err, ErrBusy) {
				t.Fatalf("Open asking for the role of a live holder: %v, want ErrBusy", err)
			}
			if producer {
				dequeueSeqs(t, q, buf, 0, 1)
				// The next message is being written by a live process.
				if q.DequeueTry(buf) {
					t.Fatal("DequeueTry read a message still being written")
				}
			} else {
				// The queue is full: two taken, one being read, one left;
				// the slot being read is not free while its reader lives.
				fillMsg(msg, 1, 4)
				for i := 0; i < 2; i++ {
					if !q.EnqueueTry(msg) {
						t.Fatal("EnqueueTry with two released slots failed")
					}
				}
				if q.EnqueueTry(msg) {
					t.Fatal("EnqueueTry overwrote a slot still being read")
				}
			}
			if st := q.Stats(); st.Stalled != 1 || st.Lost != 0 {
				t.Fatalf("stats while the holder lives %+v, want one stalled call", st)
			}

			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			h, err := Open(q.Key(), opt)
			if err != nil {
				t.Fatalf("Open after the holder was killed: %v", err)
			}
			defer h.Close()
			if st := q.Stats(); st.Lost != 1 {
				t.Fatalf("stats after the takeover %+v, want the dead claim counted Lost", st)
			}
			if producer {
				fillMsg(msg, 2, 0)
				if !h.EnqueueTry(msg) {
					t.Fatal("the new holder's EnqueueTry failed")
				}
				if !q.DequeueTry(buf) {
					t.Fatal("DequeueTry after the takeover failed")
				}
				if p, s, ok := readMsg(buf); !ok || p != 2 || s != 0 {
					t.Fatalf("after the takeover got %d/%d whole %v: the dead producer's slot was not skipped", p, s, ok)
				}
				if q.DequeueTry(buf) {
					t.Fatal("a message appeared from nowhere")
				}
			} else {
				// The dead reader's message is gone; the one after it and
				// the two added since come next.
				dequeueSeqs(t, h, buf, 3, 4, 4)
				if h.DequeueTry(buf) {
					t.Fatal("a message appeared from nowhere")
				}
			}
			if atomic.LoadUint64(q.lease(producer)) != h.leaseValue() {
				t.Fatal("the lease does not name the new holder")
			}
		})
	}
}

// exclusiveShapes are the queue shapes with exclusive sides, with how many
// processes each side has at once. TestCrossProcessRoles runs each. The
// linearizability test (the exact-semantics issue) should run on each of
// them as well: create the queue with opts, open producer processes with
// AsProducer() and consumer processes with AsConsumer() (both change nothing
// on a shared side), and stop the consumers from a handle that takes the
// producer role once the producers are done, as runCrossProcess does.
var exclusiveShapes = []struct {
	name                 string
	opts                 []Option
	producers, consumers int
}{
	{"SPMC-1x3", []Option{WithSingleProducer()}, 1, 3},
	{"MPSC-3x1", []Option{WithSingleConsumer()}, 3, 1},
	{"SPSC-1x1", []Option{WithSingleProducer(), WithSingleConsumer()}, 1, 1},
}

// TestCrossProcessRoles: processes on queues with exclusive sides: one
// producer and several consumers, several producers and one consumer, one
// of each. Every message arrives once, whole, in order per producer.
func TestCrossProcessRoles(t *testing.T) {
	for _, tc := range exclusiveShapes {
		t.Run(tc.name, func(t *testing.T) {
			perProducer := 50000
			if testing.Short() {
				perProducer = 10000
			}
			runCrossProcess(t, tc.producers, tc.consumers, 8, 61, perProducer, tc.opts...)
		})
	}
}
