package shqueue_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/shqueue/shqueue"
)

// The README's examples, compiled and run by the tests.

func Example() {
	// Find a free key to be used as a unique identifier of the queue.
	key, err := shqueue.FindFreeKey()
	if err != nil {
		panic(err)
	}

	// Create a queue of 256 messages of 512 bytes (64 64-bit words).
	queue, err := shqueue.Create(key, 64, 256)
	if err != nil {
		panic(err)
	}
	fmt.Println(queue.MsgSize(), queue.Cap())

	// Use the queue...

	// Mark the queue as deleted (it will continue to exist until all
	// processes close it).
	err = queue.Delete()
	if err != nil {
		panic(err)
	}
	err = queue.Close()
	if err != nil {
		panic(err)
	}
	// Output: 512 256
}

func ExampleOpen() {
	key, _ := shqueue.FindFreeKey()
	creator, _ := shqueue.Create(key, 64, 256)
	defer creator.Close()
	defer creator.Delete()

	// Open an existing queue with the specified key: that is, attach it to
	// the process memory.
	queue, err := shqueue.Open(key)
	if err != nil {
		panic(err)
	}

	// Use the queue...
	fmt.Println(queue.Key() == key, queue.MsgSize())

	// Close the queue: that is, detach it from the process memory.
	err = queue.Close()
	if err != nil {
		panic(err)
	}
	// Output: true 512
}

func ExampleQueue_EnqueueShift() {
	key, _ := shqueue.FindFreeKey()
	queue, _ := shqueue.Create(key, 64, 256)
	defer queue.Close()
	defer queue.Delete()

	// Message with 512 0xAA bytes
	msg := bytes.Repeat([]byte{0xAA}, 512)

	// Enqueue the message. If the queue is full, the new item will replace
	// the oldest one.
	queue.EnqueueShift(msg)

	// Enqueue the message. If the queue is full, the call will block until
	// there is some space in the queue or the context is cancelled.
	err := queue.EnqueueBlock(context.Background(), msg)
	if err != nil {
		panic(err)
	}

	// Enqueue the message. If the queue is full, false is returned.
	ok := queue.EnqueueTry(msg)
	if !ok {
		panic("queue is full")
	}
	fmt.Println(queue.Len())
	// Output: 3
}

func ExampleQueue_DequeueBlock() {
	key, _ := shqueue.FindFreeKey()
	queue, _ := shqueue.Create(key, 64, 256)
	defer queue.Close()
	defer queue.Delete()
	queue.EnqueueShift(bytes.Repeat([]byte{0xAA}, 512))
	queue.EnqueueShift(bytes.Repeat([]byte{0xBB}, 512))

	// Allocate a buffer to read messages into it
	buf := make([]byte, 512)

	// Dequeue the oldest message. If the queue is empty, the call will block
	// until some items are added to the queue.
	err := queue.DequeueBlock(context.Background(), buf)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%x\n", buf[:4])

	// Dequeue the oldest message. If the queue is empty, false is returned.
	ok := queue.DequeueTry(buf)
	if !ok {
		panic("queue is empty")
	}
	fmt.Printf("%x\n", buf[:4])
	// Output:
	// aaaaaaaa
	// bbbbbbbb
}

func ExampleWithWait() {
	key, _ := shqueue.FindFreeKey()
	// Options follow the original arguments: a group-shared queue whose
	// blocking calls never leave the CPU.
	queue, err := shqueue.Create(key, 8, 1024, shqueue.WithMode(0o660), shqueue.WithWait(shqueue.BusySpin))
	if err != nil {
		panic(err)
	}
	defer queue.Close()
	defer queue.Delete()
	fmt.Println(queue.MsgSize(), queue.Cap(), queue.Stats())
	// Output: 64 1024 {0 0 0 0 0}
}

// A conflating market-data reader: the feed handler publishes every tick with
// EnqueueShift (a slow reader never holds it up; the oldest tick makes room),
// and the strategy wants only the newest price each time it looks.
func ExampleQueue_DequeueLatest() {
	key, _ := shqueue.FindFreeKey()
	ticks, err := shqueue.Create(key, 2, 64) // 16-byte ticks: instrument, price
	if err != nil {
		panic(err)
	}
	defer ticks.Close()
	defer ticks.Delete()

	tick := make([]byte, ticks.MsgSize())
	for _, price := range []uint64{10010, 10012, 10011, 10015} {
		binary.LittleEndian.PutUint64(tick[0:], 42) // instrument id
		binary.LittleEndian.PutUint64(tick[8:], price)
		ticks.EnqueueShift(tick)
	}

	latest := make([]byte, ticks.MsgSize())
	if ok, skipped := ticks.DequeueLatest(latest); ok {
		fmt.Println("price", binary.LittleEndian.Uint64(latest[8:]), "skipped", skipped)
	}
	ok, _ := ticks.DequeueLatest(latest)
	fmt.Println("more:", ok)
	// Output:
	// price 10015 skipped 3
	// more: false
}
