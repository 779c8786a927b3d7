// Command consumer is the other half of shqueue's two-process example: it
// waits for the queue named on its command line, reads COUNT orders from it,
// and removes the queue. See ../producer.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/shqueue/shqueue"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: consumer NAME COUNT")
		os.Exit(2)
	}
	name := os.Args[1]
	count, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "consumer: bad COUNT:", err)
		os.Exit(2)
	}
	if err := run(name, count); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

func run(name string, count int) error {
	key, err := shqueue.KeyFromName(name)
	if err != nil {
		return err
	}
	// Wait up to a minute for the producer to create the queue (if it has
	// not already): the consumer never creates it, so it cannot guess a
	// shape the producer did not choose.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q, err := shqueue.OpenWait(ctx, key, shqueue.WithName(name))
	if err != nil {
		return err
	}
	// Close, then Delete: the queue goes once the producer has closed too.
	defer q.Delete()
	defer q.Close()
	fmt.Printf("consumer: queue %q is key 0x%08x, %d-byte messages\n", name, key, q.MsgSize())

	buf := make([]byte, q.MsgSize())
	for range count {
		// Waits while the queue is empty.
		if err := q.DequeueBlock(ctx, buf); err != nil {
			return err
		}
		fmt.Printf("consumer: %s\n", bytes.TrimRight(buf, "\x00"))
	}
	return nil
}
