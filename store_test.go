package shqueue

import (
	"sync"
	"sync/atomic"
	"testing"
)

// storeRelease64 against its reference, atomic.StoreUint64: the same words end
// up stored, at every alignment a slot word can have, and a reader that sees
// the published word sees every store made before it.
func TestStoreRelease(t *testing.T) {
	words := make([]uint64, 16)
	ref := make([]uint64, 16)
	for i := range words {
		v := uint64(i)*0x9E3779B97F4A7C15 | 1<<63
		storeRelease64(&words[i], v)
		atomic.StoreUint64(&ref[i], v)
		if atomic.LoadUint64(&words[i]) != atomic.LoadUint64(&ref[i]) {
			t.Fatalf("word %d: %#x, want %#x", i, words[i], ref[i])
		}
	}
	const rounds = 100000
	var data, flag uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(1); i <= rounds; i++ {
			for atomic.LoadUint64(&flag) != 2*i-2 {
			}
			storeRelease64(&data, i)
			storeRelease64(&flag, 2*i-1)
		}
	}()
	for i := uint64(1); i <= rounds; i++ {
		for atomic.LoadUint64(&flag) != 2*i-1 {
		}
		if got := atomic.LoadUint64(&data); got != i {
			t.Fatalf("round %d: flag published before data (%d)", i, got)
		}
		atomic.StoreUint64(&flag, 2*i)
	}
	wg.Wait()
}
