package main

// create: a queue left behind for other processes to open.

import (
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/shqueue/shqueue"
)

func init() {
	register("create", "create a queue and detach, leaving it for others to open", queueCommand(runCreate))
}

func runCreate(args []string) error {
	fs := newFlagSet("create", "KEY|auto")
	words := fs.Uint("words", 8, "message size in 64-bit words (bytes = 8 × words)")
	capacity := fs.Uint("cap", 1024, "capacity in messages")
	mode := fs.String("mode", "0600", "permission bits of the segment, in octal")
	asJSON := fs.Bool("json", false, "print the new queue as stat -json does")
	rest, err := parseOpsArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("want one KEY (or auto for a free one), got %d arguments", len(rest))
	}
	var key int
	if rest[0] == "auto" {
		if key, err = shqueue.FindFreeKey(); err != nil {
			return err
		}
	} else if key, err = parseKey(rest[0]); err != nil {
		return err
	}
	perm, err := strconv.ParseUint(*mode, 8, 32)
	if err != nil || perm > 0o777 {
		return usagef("bad -mode %q: want octal permission bits such as 0660", *mode)
	}
	if *words == 0 || *words > math.MaxUint32 || *capacity == 0 || *capacity > math.MaxUint32 {
		return usagef("-words and -cap must be positive 32-bit values")
	}
	q, err := shqueue.Create(key, uint32(*words), uint32(*capacity), shqueue.WithMode(os.FileMode(perm)))
	if err != nil {
		return err
	}
	if err := q.Close(); err != nil {
		return err
	}
	if *asJSON {
		info, err := shqueue.Inspect(key)
		if err != nil {
			return err
		}
		return writeOpsJSON(os.Stdout, toQueueJSON(info))
	}
	fmt.Printf("created queue %s (%d): %d-byte messages, capacity %d, mode %04o\n",
		keyHex(key), key, *words*8, *capacity, perm)
	return nil
}
