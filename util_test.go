package shqueue

import (
	"encoding/binary"
	"errors"
	"hash/crc64"
	"strings"
	"testing"
)

var crcTable = crc64.MakeTable(crc64.ECMA)

// fillMsg writes a self-checking message: producer id, sequence number, bytes
// derived from both, and a CRC-64 of everything before it in the last 8 bytes.
// Messages must be at least 24 bytes.
func fillMsg(buf []byte, producer, seq uint64) {
	binary.LittleEndian.PutUint64(buf[0:], producer)
	binary.LittleEndian.PutUint64(buf[8:], seq)
	x := producer*0x9E3779B97F4A7C15 ^ seq
	for i := 16; i < len(buf)-8; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		buf[i] = byte(x)
	}
	binary.LittleEndian.PutUint64(buf[len(buf)-8:], crc64.Checksum(buf[:len(buf)-8], crcTable))
}

// readMsg checks a message written by fillMsg and returns its producer and
// sequence number; ok is false if any byte is wrong (a torn message).
func readMsg(buf []byte) (producer, seq uint64, ok bool) {
	if binary.LittleEndian.Uint64(buf[len(buf)-8:]) != crc64.Checksum(buf[:len(buf)-8], crcTable) {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(buf[0:]), binary.LittleEndian.Uint64(buf[8:]), true
}

// newTestQueue creates a queue on a free key and removes it when the test ends.
func newTestQueue(t testing.TB, words, capacity uint32, opts ...Option) *Queue {
	t.Helper()
	q := createFresh(t, words, capacity, opts...)
	t.Cleanup(func() {
		// Delete works on a closed handle too: a test that closed its
		// queue itself must not leave the segment behind.
		_ = q.Delete()
		if !q.closed.Load() {
			_ = q.Close()
		}
	})
	return q
}

// createFresh creates a queue on a free key, trying again if another test
// takes the key between FindFreeKey and Create. The caller disposes of it.
func createFresh(t testing.TB, words, capacity uint32, opts ...Option) *Queue {
	t.Helper()
	for attempt := 0; ; attempt++ {
		key := freeKey(t)
		q, err := Create(key, words, capacity, opts...)
		if errors.Is(err, ErrAlreadyExist) && attempt < 10 {
			continue // another test took the key between the two calls
		}
		if err != nil {
			t.Fatalf("Create(%#x, %d, %d): %v", key, words, capacity, err)
		}
		return q
	}
}

// freeKey is FindFreeKey, failing the test if it fails.
func freeKey(t testing.TB) int {
	t.Helper()
	key, err := FindFreeKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// receivedOnce fails the test unless every message of seqs (sequence number
// → times received) arrived exactly once, naming the sender what; it returns
// the highest sequence number.
func receivedOnce(t *testing.T, what string, seqs map[uint64]int) (maxSeq uint64) {
	t.Helper()
	for seq, n := range seqs {
		if n != 1 {
			t.Fatalf("%s message %d received %d times", what, seq, n)
		}
		maxSeq = max(maxSeq, seq)
	}
	return maxSeq
}

// expectPanic runs f and fails unless it panics with a message (a string)
// that says want.
func expectPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want one saying %q", want)
		}
		if s, _ := r.(string); !strings.Contains(s, want) {
			t.Fatalf("panic %v, want one saying %q", r, want)
		}
	}()
	f()
}

// mustOpen opens a handle on the queue at key, failing the test if it
// cannot. The caller closes it (or leaves it open, as a dead process would).
func mustOpen(t testing.TB, key int, opts ...Option) *Queue {
	t.Helper()
	q, err := Open(key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// enqueueMsgs enqueues n self-checking messages of producer, sequence
// numbers 0..n-1, into q with EnqueueTry through the buffer msg, failing the
// test if one does not fit.
func enqueueMsgs(t *testing.T, q *Queue, msg []byte, producer, n uint64) {
	t.Helper()
	for s := uint64(0); s < n; s++ {
		fillMsg(msg, producer, s)
		if !q.EnqueueTry(msg) {
			t.Fatalf("EnqueueTry of message %d of %d failed", s, n)
		}
	}
}

// dequeueSeqs takes one message per element of want from q with DequeueTry
// into buf, failing the test unless each arrives whole with that sequence
// number.
func dequeueSeqs(t *testing.T, q *Queue, buf []byte, want ...uint64) {
	t.Helper()
	for _, w := range want {
		if !q.DequeueTry(buf) {
			t.Fatalf("DequeueTry of message %d failed", w)
		}
		if _, s, ok := readMsg(buf); !ok || s != w {
			t.Fatalf("got message %d (whole %v), want %d", s, ok, w)
		}
	}
}

// fullTestQueue is newTestQueue filled to capacity, with one batch of
// producer's messages 0..capacity-1.
func fullTestQueue(t *testing.T, words, capacity uint32, producer uint64, opts ...Option) *Queue {
	t.Helper()
	q := newTestQueue(t, words, capacity, opts...)
	if q.EnqueueBatchTry(fillBatch(q.MsgSize(), producer, 0, int(capacity))) != int(capacity) {
		t.Fatal("could not fill the queue")
	}
	return q
}
