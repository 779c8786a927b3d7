package main

import (
	"encoding/binary"
	"fmt"
)

// Every benchmark message carries its sequence number and a checksum, and the
// receiver verifies both, so a transport that loses, duplicates, reorders or
// tears a message fails the run instead of flattering it:
//
//	word 0        sequence number
//	word 1        checksum of the whole message with word 1 taken as zero
//	words 2..n-2  a fixed pseudo-random pattern
//	word n-1      ^sequence (messages of 24 bytes and more), so a copy torn
//	              between the first and the last line is caught even where
//	              the checksum would not tell
//
// The checksum is a Fletcher-style sum over 64-bit words in four lanes
// (a += w; b += a), which is position dependent and linear in the words
// modulo 2^64. Linearity lets the sender update it for a new sequence number
// with two multiplications instead of reading the whole message again; the
// receiver reads every word (about 0.5 cycle per 8 bytes), as a real consumer
// reads what it receives.
const (
	minMsgSize = 16
	seqWord    = 0
	sumWord    = 1
)

// msgFormat holds what sender and receiver precompute for one message size.
type msgFormat struct {
	size     int
	words    int
	base     uint64 // checksum of the template with word 0, 1 and n-1 zero
	coefSeq  uint64 // checksum contribution of 1 in word 0
	coefSum  uint64 // checksum contribution of 1 in word 1
	coefLast uint64 // checksum contribution of 1 in word n-1
	template []byte
	// endsOnly skips the checksum and checks the sequence number and the
	// last word only, as the C floor programs check only the sequence
	// number: for like-for-like bandwidth comparisons (-check ends).
	endsOnly bool
}

func newMsgFormat(size int) (*msgFormat, error) {
	if size < minMsgSize || size%8 != 0 {
		return nil, fmt.Errorf("message size %d: must be a multiple of 8 and at least %d bytes", size, minMsgSize)
	}
	f := &msgFormat{size: size, words: size / 8, template: make([]byte, size)}
	// A fixed xorshift pattern: not all zero, different in every word.
	x := uint64(0x9e3779b97f4a7c15)
	for i := 2; i < f.words; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(f.template[8*i:], x)
	}
	if f.words > 2 {
		binary.LittleEndian.PutUint64(f.template[8*(f.words-1):], 0)
	}
	f.base = checksum(f.template)
	unit := make([]byte, size)
	coef := func(word int) uint64 {
		clear(unit)
		binary.LittleEndian.PutUint64(unit[8*word:], 1)
		return checksum(unit)
	}
	f.coefSeq = coef(seqWord)
	f.coefSum = coef(sumWord)
	if f.words > 2 {
		f.coefLast = coef(f.words - 1)
	}
	return f, nil
}

// init copies the template into buf, once per buffer; stamp then only
// rewrites the words that change.
func (f *msgFormat) init(buf []byte) { copy(buf, f.template) }

// stamp makes buf (initialised with init) message number seq.
func (f *msgFormat) stamp(buf []byte, seq uint64) {
	_ = buf[f.size-1]
	sum := f.base + seq*f.coefSeq
	binary.LittleEndian.PutUint64(buf[8*seqWord:], seq)
	if f.words > 2 {
		binary.LittleEndian.PutUint64(buf[8*(f.words-1):], ^seq)
		sum += ^seq * f.coefLast
	}
	binary.LittleEndian.PutUint64(buf[8*sumWord:], sum)
}

// check reports whether buf is an intact message number want.
func (f *msgFormat) check(buf []byte, want uint64) bool {
	_ = buf[f.size-1]
	seq := binary.LittleEndian.Uint64(buf[8*seqWord:])
	stored := binary.LittleEndian.Uint64(buf[8*sumWord:])
	if seq != want {
		return false
	}
	if f.words > 2 && binary.LittleEndian.Uint64(buf[8*(f.words-1):]) != ^seq {
		return false
	}
	return f.endsOnly || checksum(buf)-stored*f.coefSum == stored
}

// describe explains why buf is not message want, for the error message.
func (f *msgFormat) describe(buf []byte, want uint64) string {
	seq := binary.LittleEndian.Uint64(buf[8*seqWord:])
	if seq != want {
		return fmt.Sprintf("sequence number %d, want %d", seq, want)
	}
	if f.words > 2 {
		if last := binary.LittleEndian.Uint64(buf[8*(f.words-1):]); last != ^seq {
			return fmt.Sprintf("torn message: last word %#x, want %#x", last, ^seq)
		}
	}
	stored := binary.LittleEndian.Uint64(buf[8*sumWord:])
	return fmt.Sprintf("checksum mismatch: stored %#x, computed %#x", stored, checksum(buf)-stored*f.coefSum)
}

// checksum is the Fletcher-style sum described above; len(b) is a multiple
// of 8.
func checksum(b []byte) uint64 {
	var a0, a1, a2, a3, b0, b1, b2, b3 uint64
	for len(b) >= 32 {
		a0 += binary.LittleEndian.Uint64(b[0:])
		a1 += binary.LittleEndian.Uint64(b[8:])
		a2 += binary.LittleEndian.Uint64(b[16:])
		a3 += binary.LittleEndian.Uint64(b[24:])
		b0 += a0
		b1 += a1
		b2 += a2
		b3 += a3
		b = b[32:]
	}
	for len(b) >= 8 {
		a0 += binary.LittleEndian.Uint64(b)
		b0 += a0
		b = b[8:]
	}
	// Adding (not xoring) the lanes keeps the sum linear (see msgFormat).
	// Every word's coefficient is odd (odd lane weight plus an even multiple
	// of the position sums), so flipping any single bit changes the sum:
	// an odd number times 2^k is never 0 modulo 2^64.
	return a0 + 3*a1 + 5*a2 + 7*a3 + 2*0x100000001b3*(b0+11*b1+13*b2+17*b3)
}
