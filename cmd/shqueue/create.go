package main

// create: a queue left behind for other processes to open.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shqueue/shqueue"
)

func init() {
	register("create", "create a queue and detach, leaving it for others to open", queueCommand(runCreate))
}

func runCreate(args []string) error {
	fs := newFlagSet("create", "KEY|name:NAME|auto")
	words := fs.Uint("words", 8, "message size in 64-bit words (bytes = 8 × words)")
	capacity := fs.Uint("cap", 1024, "capacity in messages")
	mode := fs.String("mode", "0600", "permission bits of the segment, in octal")
	replace := fs.Bool("replace", false, "replace a leftover queue nobody has attached even if it holds messages (they are lost)")
	asJSON := fs.Bool("json", false, "print the new queue as stat -json does")
	rest, err := parseOpsArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("want one KEY, name:NAME or auto (a free key), got %d arguments", len(rest))
	}
	var q queueArg
	if rest[0] == "auto" {
		if q.key, err = shqueue.FindFreeKey(); err != nil {
			return err
		}
	} else if q, err = parseQueueArg(rest[0]); err != nil {
		return err
	}
	perm, err := strconv.ParseUint(*mode, 8, 32)
	if err != nil || perm > 0o777 {
		return usagef("bad -mode %q: want octal permission bits such as 0660", *mode)
	}
	if *words == 0 || *words > math.MaxUint32 || *capacity == 0 || *capacity > math.MaxUint32 {
		return usagef("-words and -cap must be positive 32-bit values")
	}
	opts := []shqueue.Option{shqueue.WithMode(os.FileMode(perm))}
	if q.name != "" {
		opts = append(opts, shqueue.WithName(q.name))
	}
	if *replace {
		opts = append(opts, shqueue.WithReplace())
	}
	start := time.Now()
	queue, err := shqueue.Create(q.key, uint32(*words), uint32(*capacity), opts...)
	if err != nil {
		if errors.Is(err, shqueue.ErrAlreadyExist) && strings.Contains(err.Error(), "WithReplace") {
			// The library names its option; here it is a flag.
			err = fmt.Errorf("%w (that is create -replace)", err)
		}
		return err
	}
	if err := queue.Close(); err != nil {
		return err
	}
	info, err := shqueue.Inspect(q.key)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeOpsJSON(os.Stdout, toQueueJSON(info))
	}
	if info.Created.Before(start) {
		// Create keeps an empty leftover of this shape and name as it is.
		fmt.Printf("kept queue %s: an empty queue of this shape was already there (created %s, mode %04o)\n",
			describe(q.key, q.name), opsTime(info.Created), uint32(info.Mode))
		return nil
	}
	fmt.Printf("created queue %s: %d-byte messages, capacity %d, mode %04o\n",
		describe(q.key, q.name), *words*8, *capacity, perm)
	return nil
}
