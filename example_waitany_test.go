package shqueue_test

import (
	"context"
	"fmt"

	"github.com/shqueue/shqueue"
)

// The README's examples of WaitAny and Typed, compiled and run by the tests.

func ExampleWaitAny() {
	// Two feeds, each its own queue of 64-byte messages.
	var feeds []*shqueue.Queue
	for range 2 {
		key, _ := shqueue.FindFreeKey()
		q, err := shqueue.Create(key, 8, 256)
		if err != nil {
			panic(err)
		}
		defer q.Close()
		defer q.Delete()
		feeds = append(feeds, q)
	}
	msg := make([]byte, 64)
	msg[0] = 'B'
	feeds[1].EnqueueShift(msg)

	// One goroutine sleeps on every feed at once and reads whichever has
	// a message (the lowest index first). DequeueTry can find it gone if
	// another consumer was faster: then wait again.
	buf := make([]byte, 64)
	ctx := context.Background()
	for {
		i, err := shqueue.WaitAny(ctx, feeds...)
		if err != nil {
			panic(err)
		}
		if feeds[i].DequeueTry(buf) {
			fmt.Printf("feed %d: %c\n", i, buf[0])
			break
		}
	}
	// Output: feed 1: B
}

// Quote is a fixed-size market-data record: plain numbers and arrays only,
// so its bytes mean the same in every process.
type Quote struct {
	Price  float64
	Qty    int64
	Symbol [8]byte
	Side   uint8
}

func ExampleNewTyped() {
	key, _ := shqueue.FindFreeKey()
	// TypedMsgWords gives the message size in words: unsafe.Sizeof(Quote)
	// rounded up to 8 bytes.
	q, err := shqueue.Create(key, shqueue.TypedMsgWords[Quote](), 1024)
	if err != nil {
		panic(err)
	}
	defer q.Close()
	defer q.Delete()

	quotes, err := shqueue.NewTyped[Quote](q)
	if err != nil {
		panic(err)
	}
	in := Quote{Price: 101.25, Qty: 300, Side: 'B'}
	copy(in.Symbol[:], "ACME")
	if err := quotes.EnqueueBlock(context.Background(), &in); err != nil {
		panic(err)
	}
	var out Quote
	if quotes.DequeueTry(&out) {
		fmt.Printf("%s %c %d @ %.2f\n", out.Symbol[:4], out.Side, out.Qty, out.Price)
	}

	// A type holding a pointer, string, slice, map, interface, channel or
	// func is refused: its bytes would be an address in this process.
	type Bad struct {
		Price  float64
		Symbol string
	}
	_, err = shqueue.NewTyped[Bad](q)
	fmt.Println(err != nil)
	// Output:
	// ACME B 300 @ 101.25
	// true
}
