package shqueue

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"
)

// The copy tests hold every variant against copyGeneric. They run whatever
// the host and the build support (all of them with -tags purego reduce to the
// built-in and generic copies), and also pass every other kind value to
// copySlot, which must fall back to the built-in copy rather than fault.

const sentinel = 0xA5

// testKinds returns every kind value copySlot may be handed: the supported
// ones, the ones this host lacks (which must fall back) and an invalid one.
func testKinds() []copyKind {
	ks := make([]copyKind, 0, numCopyKinds+1)
	for k := copyKind(0); k < numCopyKinds; k++ {
		ks = append(ks, k)
	}
	return append(ks, numCopyKinds+3)
}

// patternBytes returns n pseudo-random bytes, none equal to sentinel, so a
// store past the end of the destination can never write a value the sentinel
// check would take for untouched memory.
func patternBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := range b {
		v := byte(r.Uint32())
		if v == sentinel {
			v = ^v
		}
		b[i] = v
	}
	return b
}

// copyChecker holds the buffers for check, which copies size bytes from
// src[srcOff:] to a destination at dstOff inside a sentinel-filled buffer
// with margin bytes on each side, once with kind and once with copyGeneric,
// and reports any difference in the whole buffer: a wrong byte inside, or a
// store outside, the destination.
type copyChecker struct {
	src, got, want []byte
	wantFor        [3]int // size, srcOff, dstOff that want holds, or -1s
}

const margin = 64

func newCopyChecker(maxSize int) *copyChecker {
	return &copyChecker{
		src:     patternBytes(maxSize+margin, uint64(maxSize)),
		got:     make([]byte, maxSize+3*margin),
		want:    make([]byte, maxSize+3*margin),
		wantFor: [3]int{-1, -1, -1},
	}
}

func (c *copyChecker) check(t *testing.T, kind copyKind, size, srcOff, dstOff int) bool {
	t.Helper()
	span := margin + dstOff + size + margin
	got, want := c.got[:span], c.want[:span]
	src := c.src[srcOff : srcOff+size]
	at := margin + dstOff
	if key := [3]int{size, srcOff, dstOff}; c.wantFor != key {
		fill(want, sentinel)
		copyGeneric(want[at:at+size], src)
		c.wantFor = key
	}
	fill(got, sentinel)
	copySlot(kind, got[at:at+size], src)
	if bytes.Equal(got, want) {
		return true
	}
	first := 0
	for first < span && got[first] == want[first] {
		first++
	}
	where := "inside the destination"
	switch {
	case first < at:
		where = fmt.Sprintf("%d bytes before the destination", at-first)
	case first >= at+size:
		where = fmt.Sprintf("%d bytes after the destination", first-(at+size))
	}
	t.Errorf("%v size=%d srcOff=%d dstOff=%d: first difference at byte %d (%s): got %#x, want %#x",
		kind, size, srcOff, dstOff, first-at, where, got[first], want[first])
	return false
}

// fill sets every byte of b to v, a range at a time: byte loops are slow
// under -race.
func fill(b []byte, v byte) {
	if len(b) == 0 {
		return
	}
	b[0] = v
	for done := 1; done < len(b); done *= 2 {
		copy(b[done:], b[:done])
	}
}

// TestCopySmallSizes tries every size from 0 to three AVX-512 vectors plus 8
// in steps of 8 (the queue's sizes) with every source and destination offset
// within a cache line, and every size in between (the routines must not care)
// with a few offsets.
func TestCopySmallSizes(t *testing.T) {
	const maxSize = 3*64 + 8
	allOffsets := make([]int, 64)
	for i := range allOffsets {
		allOffsets[i] = i
	}
	someOffsets := []int{0, 1, 7, 8, 31, 32, 33, 63}
	if testing.Short() {
		allOffsets = someOffsets
	}
	c := newCopyChecker(maxSize)
	failures := 0
	for size := 0; size <= maxSize; size++ {
		offsets := allOffsets
		if size%8 != 0 {
			offsets = someOffsets
		}
		for _, srcOff := range offsets {
			for _, dstOff := range offsets {
				for _, kind := range testKinds() {
					if !c.check(t, kind, size, srcOff, dstOff) {
						if failures++; failures > 20 {
							t.Fatal("too many failures")
						}
					}
				}
			}
		}
	}
}

// TestCopyPowersOfTwo tries 2^k-8, 2^k and 2^k+8 bytes up to 4 MiB, aligned
// and misaligned on either side.
func TestCopyPowersOfTwo(t *testing.T) {
	const maxSize = 4<<20 + 8
	var sizes []int
	for p := 8; p <= 4<<20; p <<= 1 {
		sizes = append(sizes, p-8, p, p+8)
	}
	offsets := [][2]int{{0, 0}, {8, 0}, {0, 8}, {1, 63}, {63, 1}, {32, 32}, {7, 57}}
	c := newCopyChecker(maxSize)
	for _, size := range sizes {
		offs := offsets
		if size > 64<<10 {
			offs = offs[:4]
		}
		for _, off := range offs {
			for _, kind := range testKinds() {
				c.check(t, kind, size, off[0], off[1])
			}
		}
	}
}

// guardedBuffer is n usable bytes between two PROT_NONE pages, so a load or
// store one byte outside faults.
func guardedBuffer(t *testing.T, n int) []byte {
	t.Helper()
	page := unix.Getpagesize()
	usable := (n + page - 1) / page * page
	mem, err := unix.Mmap(-1, 0, usable+2*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Munmap(mem); err != nil {
			t.Errorf("munmap: %v", err)
		}
	})
	if err := unix.Mprotect(mem[:page], unix.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	if err := unix.Mprotect(mem[page+usable:], unix.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	return mem[page : page+usable]
}

// TestCopyGuardPages places source and destination flush against a
// PROT_NONE page, at the start of the buffer and at its end, so any read or
// write beyond the message faults instead of passing unseen in the heap.
func TestCopyGuardPages(t *testing.T) {
	const maxSize = 64<<10 + 8
	a := guardedBuffer(t, maxSize)
	b := guardedBuffer(t, maxSize)
	var sizes []int
	for size := 0; size <= 3*64+8; size++ {
		sizes = append(sizes, size)
	}
	sizes = append(sizes, 4096-8, 4096, 4096+8, 64<<10-8, 64<<10, 64<<10+8)
	pattern := patternBytes(maxSize, 1)
	for _, kind := range testKinds() {
		t.Run("impl="+kind.String(), func(t *testing.T) {
			for _, size := range sizes {
				for _, srcAtEnd := range []bool{false, true} {
					var src, dst []byte
					if srcAtEnd {
						src = a[len(a)-size:] // ends at the guard page
						dst = b[:size]        // starts at the guard page
					} else {
						src = a[:size]
						dst = b[len(b)-size:]
					}
					copy(src, pattern)
					clear(dst)
					copySlot(kind, dst, src)
					if !bytes.Equal(dst, pattern[:size]) {
						t.Errorf("%v size=%d srcAtEnd=%v: copy differs", kind, size, srcAtEnd)
					}
				}
			}
		})
	}
}

// TestCopySlotDestinationTooShort: a destination shorter than the source is
// refused before any byte is written, whatever the kind.
func TestCopySlotDestinationTooShort(t *testing.T) {
	for _, kind := range testKinds() {
		src := patternBytes(256, 2)
		dst := make([]byte, 248, 512) // room in the capacity must not be used
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%v: copySlot into a shorter destination did not panic", kind)
				}
			}()
			copySlot(kind, dst, src)
		}()
		if !bytes.Equal(dst[:cap(dst)], make([]byte, cap(dst))) {
			t.Errorf("%v: refused copy wrote to the destination", kind)
		}
	}
}

// FuzzCopy copies arbitrary bytes at arbitrary offsets with every kind and
// compares with copyGeneric.
func FuzzCopy(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef!"), uint8(0), uint8(0))
	f.Add(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 40), uint8(3), uint8(61))
	f.Add(patternBytes(1000, 3), uint8(63), uint8(1))
	f.Add(patternBytes(4096+24, 4), uint8(8), uint8(40))
	f.Add([]byte{}, uint8(0), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, srcOff, dstOff uint8) {
		so := int(srcOff) % 64
		if so > len(data) {
			so = len(data)
		}
		src := data[so:]
		c := &copyChecker{
			src:     data,
			got:     make([]byte, len(src)+3*margin),
			want:    make([]byte, len(src)+3*margin),
			wantFor: [3]int{-1, -1, -1},
		}
		for _, kind := range testKinds() {
			c.check(t, kind, len(src), so, int(dstOff)%64)
		}
	})
}

// TestPauseReturns: the spin hint runs its count and returns, for any count.
func TestPauseReturns(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 2, 100, 10000} {
		spinPause(n)
	}
}
