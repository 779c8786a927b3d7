package shqueue

import (
	"encoding/binary"
	"fmt"
)

// copyGeneric is the pure-Go reference for every slot copy: it copies
// len(src) bytes into dst a 64-bit word at a time, then the remaining bytes
// one by one. It does not use the built-in copy, so the tests can hold both the
// built-in and the assembly variants against something independent of them.
// It is built on every platform and architecture; copySlot runs it for
// copyGenericKind (SHQUEUE_CPU=generic).
//
// dst must be at least as long as src; the buffers must not overlap.
func copyGeneric(dst, src []byte) {
	dst = dst[:len(src)]
	i := 0
	for ; i+8 <= len(src); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:]))
	}
	for ; i < len(src); i++ {
		dst[i] = src[i]
	}
}

// checkCopyLen returns len(src) and refuses, before any byte is written, a
// destination shorter than the source. Every build's copySlot starts with it.
func checkCopyLen(dst, src []byte) int {
	n := len(src)
	if len(dst) < n {
		panic(fmt.Sprintf("shqueue: copySlot into %d bytes from %d", len(dst), n))
	}
	return n
}
