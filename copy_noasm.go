//go:build !((amd64 || arm64) && !purego && !noasm)

package shqueue

import (
	"fmt"
	"sync/atomic"
)

// This build has no assembly: -tags purego or noasm, or an architecture
// without it. Every variant but copyGo is the built-in copy, and pickCopy
// only ever returns copyBuiltin.
const (
	asmAMD64 = false
	asmARM64 = false
)

// copySlot copies src into dst. len(dst) must be at least len(src); it copies
// len(src) bytes.
func copySlot(kind copyKind, dst, src []byte) {
	if len(dst) < len(src) {
		panic(fmt.Sprintf("shqueue: copySlot into %d bytes from %d", len(dst), len(src)))
	}
	if kind == copyGo {
		copyGeneric(dst, src)
		return
	}
	copy(dst, src)
}

// pauseTicks is loaded once per spin so the compiler keeps the loop; it is
// never written.
var pauseTicks atomic.Uint32

// spinPause is the portable stand-in for the PAUSE/YIELD hint: a short loop of
// atomic loads that burns a little time without a system call or a trip
// through the scheduler.
func spinPause(n int) {
	for i := 0; i < n; i++ {
		pauseTicks.Load()
	}
}
