package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shqueue/shqueue"
)

// TestTwoPrograms runs the README's example: the producer and the consumer
// as two processes that share only a name, started in either order.
func TestTwoPrograms(t *testing.T) {
	dir := t.TempDir()
	for _, prog := range []string{"producer", "consumer"} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, prog), "../"+prog)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", prog, err, out)
		}
	}
	for _, consumerFirst := range []bool{true, false} {
		name := fmt.Sprintf("example-test.%d.%d", os.Getpid(), time.Now().UnixNano())
		key, err := shqueue.KeyFromName(name)
		if err != nil {
			t.Fatal(err)
		}
		producer := exec.Command(filepath.Join(dir, "producer"), name, "5")
		consumer := exec.Command(filepath.Join(dir, "consumer"), name, "5")
		var pout, cout strings.Builder
		producer.Stdout, producer.Stderr = &pout, &pout
		consumer.Stderr = &cout
		cpipe, err := consumer.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		first, second := producer, consumer
		if consumerFirst {
			first, second = consumer, producer
		}
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		if !consumerFirst {
			if err := producer.Wait(); err != nil {
				t.Fatalf("producer: %v\n%s", err, pout.String())
			}
		} else {
			time.Sleep(100 * time.Millisecond) // the consumer waits for the queue meanwhile
		}
		if err := second.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(cpipe)
		for sc.Scan() {
			cout.WriteString(sc.Text() + "\n")
		}
		if err := consumer.Wait(); err != nil {
			t.Fatalf("consumer first: %v: consumer: %v\n%s", consumerFirst, err, cout.String())
		}
		if consumerFirst {
			if err := producer.Wait(); err != nil {
				t.Fatalf("producer: %v\n%s", err, pout.String())
			}
		}
		wantC := fmt.Sprintf("consumer: queue %q is key 0x%08x, 64-byte messages\n", name, uint32(key)) +
			"consumer: order 1: buy 100 @ 101.25\nconsumer: order 2: buy 200 @ 101.50\nconsumer: order 3: buy 300 @ 101.75\n" +
			"consumer: order 4: buy 400 @ 102.00\nconsumer: order 5: buy 500 @ 102.25\n"
		wantP := fmt.Sprintf("producer: queue %q is key 0x%08x\nproducer: sent 5 orders\n", name, uint32(key))
		if cout.String() != wantC || pout.String() != wantP {
			t.Fatalf("consumer first: %v\nconsumer printed:\n%s\nwant:\n%s\nproducer printed:\n%s\nwant:\n%s", consumerFirst, cout.String(), wantC, pout.String(), wantP)
		}
		if _, err := shqueue.Inspect(key); err == nil {
			t.Fatalf("consumer first: %v: the consumer's Delete left the queue", consumerFirst)
		}
	}
}
