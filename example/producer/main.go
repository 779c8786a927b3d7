// Command producer is one half of shqueue's two-process example: it sends
// orders to the queue named on its command line, creating the queue if the
// consumer has not yet. Run the consumer in another terminal, before or after:
//
//	go run ./example/producer demo.orders 5
//	go run ./example/consumer demo.orders 5
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/shqueue/shqueue"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: producer NAME COUNT")
		os.Exit(2)
	}
	name := os.Args[1]
	count, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "producer: bad COUNT:", err)
		os.Exit(2)
	}
	if err := run(name, count); err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(1)
	}
}

func run(name string, count int) error {
	// Both programs derive the key from the name: nothing else is shared.
	key, err := shqueue.KeyFromName(name)
	if err != nil {
		return err
	}
	// 64-byte messages (8 words), room for 1024. Whichever program starts
	// first creates the queue; WithName guards against another queue whose
	// name hashes to the same key.
	q, err := shqueue.OpenOrCreate(key, 8, 1024, shqueue.WithName(name))
	if err != nil {
		return err
	}
	defer q.Close()
	fmt.Printf("producer: queue %q is key 0x%08x\n", name, key)

	msg := make([]byte, q.MsgSize())
	for i := 1; i <= count; i++ {
		clear(msg)
		copy(msg, fmt.Sprintf("order %d: buy %d @ %.2f", i, 100*i, 101+float64(i)/4))
		// Waits while the queue is full.
		if err := q.EnqueueBlock(context.Background(), msg); err != nil {
			return err
		}
	}
	fmt.Printf("producer: sent %d orders\n", count)
	return nil
}
