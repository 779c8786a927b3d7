//go:build !purego && !noasm

package shqueue

// The amd64 slot copies: declarations of the routines in copy_amd64.s and the
// copySlot that dispatches to them. copy_arm64.go is the arm64 counterpart;
// copy_other.go, whose build line is the exact complement of the two, is the
// build without assembly.

// Which assembly this build carries; kindSupported (cpu.go) tests them.
const (
	asmAMD64 = true
	asmARM64 = false
)

// Minimum lengths of the vector routines: each loads the first and the last
// vector of the message before its loop, so it needs at least one vector.
// Shorter messages take the built-in copy, which pickCopy chooses for them
// anyway.
const (
	minLenAVX2   = 32
	minLenAVX512 = 64
)

// copySlot copies src into dst with the given variant. len(dst) must be at
// least len(src); it copies len(src) bytes. Any length and any alignment
// work; a variant the CPU lacks, or a message shorter than the variant's
// vector, takes the built-in copy, so no kind can fault.
func copySlot(kind copyKind, dst, src []byte) {
	n := checkCopyLen(dst, src)
	switch kind {
	case copyGenericKind:
		copyGeneric(dst, src)
		return
	case copyRepMovsb:
		if n > 0 {
			memcpyRepMovsb(&dst[0], &src[0], n)
			return
		}
	case copyAVX2:
		if hasAVX2 && n >= minLenAVX2 {
			memcpyAVX2(&dst[0], &src[0], n)
			return
		}
	case copyAVX2NT:
		if hasAVX2 && n >= minLenAVX2 {
			memcpyAVX2NT(&dst[0], &src[0], n)
			return
		}
	case copyAVX512:
		if hasAVX512 && n >= minLenAVX512 {
			memcpyAVX512(&dst[0], &src[0], n)
			return
		}
	case copyAVX512NT:
		if hasAVX512 && n >= minLenAVX512 {
			memcpyAVX512NT(&dst[0], &src[0], n)
			return
		}
	}
	copy(dst, src)
}

// memcpyRepMovsb copies n > 0 bytes from src to dst (non-overlapping) with
// one REP MOVSB. It must equal copyGeneric. Worth it where the destination's
// lines are in the other core's cache, which is the queue's usual case: on
// CPUs with ERMS the microcode writes whole lines without first reading them
// for ownership, which no vector loop can do. Into the segment across two
// pinned threads on an AMD Zen 5 (TestMeasureRing) it moved 4 KiB messages
// at 13.4 GB/s against the AVX-512 loop's 6.4 and the built-in copy's 5.2,
// 16 KiB at 27.1 against 9.5 and 8.0; as glibc's memcpy does at these sizes.
// The runtime's memmove uses REP MOVSQ only from 2 KiB on Intel CPUs with
// ERMS and FSRM, and never on AMD. On one thread, cache-hot, it loses to the
// AVX-512 loop up to 16 KiB (4 KiB: 117 against 182 GB/s).
//
//go:noescape
func memcpyRepMovsb(dst, src *byte, n int)

// memcpyAVX2 copies n >= 32 bytes from src to dst (non-overlapping) with
// 32-byte AVX2 loads and stores, four per loop iteration, the stores aligned
// to 32 bytes; the first and last vector are copied unaligned and overlap the
// loop. It must equal copyGeneric. Worth it just above 256 bytes, where the
// runtime's memmove leaves its straight-line code for a loop with more
// set-up: 1.05-1.14x the built-in copy from 264 to 512 bytes (cpu.go has the
// thresholds; TestMeasureCopy the figures).
//
//go:noescape
func memcpyAVX2(dst, src *byte, n int)

// memcpyAVX2NT is memcpyAVX2 with non-temporal stores (VMOVNTDQ) for the
// aligned body, then SFENCE, so the data is globally visible before the
// caller publishes the slot. It must equal copyGeneric. Worth it only for
// messages of several MiB passed to a consumer on another core: in
// the cross-core ring (TestMeasureRing) it beats the built-in copy by 8-11%
// at 8 MiB, is a coin toss at 4 MiB and loses 25-75% at 1 MiB and below
// (docs/asm.md).
//
//go:noescape
func memcpyAVX2NT(dst, src *byte, n int)

// memcpyAVX512 copies n >= 64 bytes from src to dst (non-overlapping) with
// 64-byte AVX-512 loads and stores, four per loop iteration, the stores
// aligned to the cache line; the first and last vector are copied unaligned
// and overlap the loop. It must equal copyGeneric. Worth it from 384 bytes
// to 32 KiB on Intel Emerald Rapids: 1.23x the built-in copy at 1 KiB, 1.99x
// at 2 KiB, 1.34x at 4 KiB (161 against 120 GB/s), 1.05-1.11x at 8-32 KiB;
// beyond, the runtime's REP MOVSQ wins. On AMD Zen 5, on one thread, from
// 384 bytes to 16 KiB (1.30x at 1 KiB, 1.41-1.42x at 4-16 KiB), though across
// cores memcpyRepMovsb beats it from 2 KiB into the segment.
//
//go:noescape
func memcpyAVX512(dst, src *byte, n int)

// memcpyAVX512NT is memcpyAVX512 with non-temporal stores (VMOVNTDQ) for the
// aligned body, then SFENCE. It must equal copyGeneric. Worth it, like
// memcpyAVX2NT, only for multi-MiB messages crossing cores (ring: 1.08-1.11x
// at 8 MiB; 0.39-0.68x at 1 MiB and below).
//
//go:noescape
func memcpyAVX512NT(dst, src *byte, n int)
