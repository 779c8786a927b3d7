//go:build (amd64 || arm64) && !purego && !noasm

package shqueue

import (
	"fmt"
	"runtime"
)

// Which assembly this build carries. The declarations below cover both
// architectures; a call to a routine the other architecture has no body for
// sits behind one of these constants, so the compiler drops it and the linker
// never looks for the symbol.
const (
	asmAMD64 = runtime.GOARCH == "amd64"
	asmARM64 = runtime.GOARCH == "arm64"
)

// Minimum lengths of the assembly routines: each loads the first and the last
// vector of the message before its loop, so it needs at least one vector.
// Shorter messages take the built-in copy, which pickCopy chooses for them
// anyway.
const (
	minLenAVX2   = 32
	minLenAVX512 = 64
	minLenNEON   = 64
)

// copySlot copies src into dst with the given variant. len(dst) must be at
// least len(src); it copies len(src) bytes. Any length and any alignment
// work; a variant the CPU lacks, or a message shorter than the variant's
// vector, takes the built-in copy, so no kind can fault.
func copySlot(kind copyKind, dst, src []byte) {
	n := len(src)
	if len(dst) < n {
		panic(fmt.Sprintf("shqueue: copySlot into %d bytes from %d", len(dst), n))
	}
	switch kind {
	case copyGo:
		copyGeneric(dst, src)
		return
	case copyAVX2:
		if asmAMD64 && hasAVX2 && n >= minLenAVX2 {
			memcpyAVX2(&dst[0], &src[0], n)
			return
		}
	case copyAVX2NT:
		if asmAMD64 && hasAVX2 && n >= minLenAVX2 {
			memcpyAVX2NT(&dst[0], &src[0], n)
			return
		}
	case copyAVX512:
		if asmAMD64 && hasAVX512 && n >= minLenAVX512 {
			memcpyAVX512(&dst[0], &src[0], n)
			return
		}
	case copyAVX512NT:
		if asmAMD64 && hasAVX512 && n >= minLenAVX512 {
			memcpyAVX512NT(&dst[0], &src[0], n)
			return
		}
	case copyNEON:
		if asmARM64 && hasASIMD && n >= minLenNEON {
			memcpyNEON(&dst[0], &src[0], n)
			return
		}
	}
	copy(dst, src)
}

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
// to 32 KiB: 1.23x the built-in copy at 1 KiB, 1.99x at 2 KiB, 1.34x at 4 KiB
// (161 against 120 GB/s), 1.05-1.11x at 8-32 KiB; beyond, the runtime's REP
// MOVSQ wins.
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

// memcpyNEON copies n >= 64 bytes from src to dst (non-overlapping) with LDP/STP
// of 128-bit Q registers, 64 bytes per loop iteration; the last 64 bytes are
// copied from the end and overlap the loop. It must equal copyGeneric. Go's
// memmove moves 16 bytes per LDP/STP pair of general registers; a Q pair moves
// 32. Not yet measured on arm64 hardware (only run under emulation), so
// pickCopy does not choose it; SHQUEUE_CPU=neon forces it.
//
//go:noescape
func memcpyNEON(dst, src *byte, n int)

// pauseN executes the spin-wait hint n times (PAUSE on amd64, YIELD on
// arm64); n <= 0 returns at once. The pure-Go reference is the loop in
// copy_noasm.go's spinPause; asm is needed because Go has no intrinsic for
// either instruction.
//
//go:noescape
func pauseN(n int)

// spinPause executes the CPU spin-wait hint n times, telling the core (and
// its hyperthread sibling) that this is a busy-wait loop.
func spinPause(n int) {
	pauseN(n)
}
