package main

// peek: the next messages of a queue, dumped without dequeuing them.

import (
	"encoding/hex"
	"fmt"
	"os"

	"github.com/shqueue/shqueue"
)

func init() {
	register("peek", "dump the next messages of a queue without dequeuing them", queueCommand(runPeek))
}

type peekJSON struct {
	Key      int               `json:"key"`
	KeyHex   string            `json:"key_hex"`
	MsgSize  int               `json:"msg_size"`
	Len      int               `json:"len"`
	Messages []peekMessageJSON `json:"messages"`
}

type peekMessageJSON struct {
	Pos uint64 `json:"pos"`
	Hex string `json:"hex"`
}

func runPeek(args []string) error {
	fs := newFlagSet("peek", "KEY")
	n := fs.Int("n", 10, "how many messages")
	limit := fs.Int("bytes", 0, "dump at most this many bytes of each message (0: all)")
	asJSON := fs.Bool("json", false, "print JSON (message bytes in hex)")
	arg, err := parseKeyArgs(fs, args)
	if err != nil {
		return err
	}
	key := arg.key
	if *n < 0 || *limit < 0 {
		return usagef("-n and -bytes must not be negative")
	}
	info, err := inspect("peek", arg)
	if err != nil {
		return err
	}
	msgs, err := shqueue.Peek(key, *n)
	if err != nil {
		return err
	}
	if *asJSON {
		out := peekJSON{Key: key, KeyHex: keyHex(key), MsgSize: info.MsgSize, Len: info.Len, Messages: []peekMessageJSON{}}
		for _, m := range msgs {
			out.Messages = append(out.Messages, peekMessageJSON{Pos: m.Pos, Hex: hex.EncodeToString(m.Data)})
		}
		return writeOpsJSON(os.Stdout, out)
	}
	fmt.Printf("queue %s (%d): %d of %d messages, %d bytes each\n", keyHex(key), key, len(msgs), info.Len, info.MsgSize)
	for i, m := range msgs {
		data := m.Data
		note := ""
		if *limit > 0 && len(data) > *limit {
			data, note = data[:*limit], fmt.Sprintf(", first %d bytes", *limit)
		}
		fmt.Printf("\nmessage %d (position %d%s):\n%s", i, m.Pos, note, hex.Dump(data))
	}
	return nil
}
