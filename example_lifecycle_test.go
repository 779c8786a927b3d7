package shqueue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/shqueue/shqueue"
)

// The examples use a name of their own per process, so that test runs on one
// host do not meet each other's queues.
func exampleName(what string) string { return fmt.Sprintf("example.%s.%d", what, os.Getpid()) }

func ExampleKeyFromName() {
	key, err := shqueue.KeyFromName("orders")
	if err != nil {
		panic(err)
	}
	// The same key in every process, on every host, in every version.
	fmt.Printf("0x%08x\n", key)
	// Output: 0x50acd6de
}

func ExampleOpenOrCreate() {
	name := exampleName("orders")
	key, err := shqueue.KeyFromName(name)
	if err != nil {
		panic(err)
	}
	// Two handles stand for two processes that start in any order: the
	// first call creates the queue, the second attaches it.
	producer, err := shqueue.OpenOrCreate(key, 8, 1024, shqueue.WithName(name))
	if err != nil {
		panic(err)
	}
	defer producer.Close()
	consumer, err := shqueue.OpenOrCreate(key, 8, 1024, shqueue.WithName(name))
	if err != nil {
		panic(err)
	}
	defer consumer.Delete() // runs after Close: Delete works on a closed handle
	defer consumer.Close()

	msg := make([]byte, producer.MsgSize())
	copy(msg, "order 1: buy 100 @ 101.25")
	if err := producer.EnqueueBlock(context.Background(), msg); err != nil {
		panic(err)
	}
	buf := make([]byte, consumer.MsgSize())
	if err := consumer.DequeueBlock(context.Background(), buf); err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", bytes.TrimRight(buf, "\x00"))

	// Another shape under the same name is refused, naming both.
	_, err = shqueue.OpenOrCreate(key, 2, 16, shqueue.WithName(name))
	fmt.Println(errors.Is(err, shqueue.ErrShape))
	// Output:
	// order 1: buy 100 @ 101.25
	// true
}

func ExampleInspect() {
	name := exampleName("inspect")
	key, _ := shqueue.KeyFromName(name)
	q, err := shqueue.Create(key, 4, 16, shqueue.WithName(name))
	if err != nil {
		panic(err)
	}
	defer q.Delete()
	defer q.Close()
	q.EnqueueTry(make([]byte, 32))
	q.EnqueueTry(make([]byte, 32))

	// Inspect maps the segment read-only: it changes nothing in the queue.
	info, err := shqueue.Inspect(key)
	if err != nil {
		panic(err)
	}
	fmt.Println(info.Name == name, info.MsgSize, info.Cap, info.Len, info.Stats.Enqueued, info.State())
	// Output: true 32 16 2 2 in use
}

func ExamplePeek() {
	key, err := shqueue.FindFreeKey()
	if err != nil {
		panic(err)
	}
	q, err := shqueue.Create(key, 1, 8)
	if err != nil {
		panic(err)
	}
	defer q.Delete()
	defer q.Close()
	for _, s := range []string{"first", "second", "third"} {
		msg := make([]byte, 8)
		copy(msg, s)
		q.EnqueueTry(msg)
	}
	q.DequeueTry(make([]byte, 8))

	// The next two messages, left in the queue.
	msgs, err := shqueue.Peek(key, 2)
	if err != nil {
		panic(err)
	}
	for _, m := range msgs {
		fmt.Printf("position %d: %s\n", m.Pos, bytes.TrimRight(m.Data, "\x00"))
	}
	fmt.Println("still queued:", q.Len())
	// Output:
	// position 1: second
	// position 2: third
	// still queued: 2
}

func ExampleList() {
	key, err := shqueue.FindFreeKey()
	if err != nil {
		panic(err)
	}
	q, err := shqueue.Create(key, 1, 8)
	if err != nil {
		panic(err)
	}
	defer q.Delete()
	defer q.Close()
	q.EnqueueTry(make([]byte, 8))

	// Every segment on the host (Linux); this one among them.
	entries, err := shqueue.List()
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		if e.Key == key {
			fmt.Println(e.Kind, e.Info.Len, e.Info.State())
		}
	}
	// Output: shqueue 1 in use
}
