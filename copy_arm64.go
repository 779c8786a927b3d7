//go:build !purego && !noasm

package shqueue

// The arm64 slot copy: the declaration of the routine in copy_arm64.s and the
// copySlot that dispatches to it. copy_amd64.go is the amd64 counterpart;
// copy_other.go, whose build line is the exact complement of the two, is the
// build without assembly.

// Which assembly this build carries; kindSupported (cpu.go) tests them.
const (
	asmAMD64 = false
	asmARM64 = true
)

// minLenNEON: the routine loads the last 64 bytes before its loop, so it
// needs at least that many; shorter messages take the built-in copy.
const minLenNEON = 64

// copySlot copies src into dst with the given variant. len(dst) must be at
// least len(src); it copies len(src) bytes. Any length and any alignment
// work; a variant this architecture lacks, or a message shorter than 64
// bytes, takes the built-in copy, so no kind can fault.
func copySlot(kind copyKind, dst, src []byte) {
	n := checkCopyLen(dst, src)
	switch kind {
	case copyGenericKind:
		copyGeneric(dst, src)
		return
	case copyNEON:
		if hasASIMD && n >= minLenNEON {
			memcpyNEON(&dst[0], &src[0], n)
			return
		}
	}
	copy(dst, src)
}

// memcpyNEON copies n >= 64 bytes from src to dst (non-overlapping) with LDP/STP
// of 128-bit Q registers, 64 bytes per loop iteration; the last 64 bytes are
// copied from the end and overlap the loop. It must equal copyGeneric. Go's
// memmove moves 16 bytes per LDP/STP pair of general registers; a Q pair moves
// 32. Not yet measured on arm64 hardware (only run under emulation), so
// pickCopy does not choose it; SHQUEUE_CPU=neon forces it.
//
//go:noescape
func memcpyNEON(dst, src *byte, n int)
