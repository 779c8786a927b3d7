//go:build !purego && !noasm

// Slot copy for arm64 with Advanced SIMD (NEON), part of the ARMv8-A
// baseline. It copies n >= 64 bytes between two buffers that do not overlap,
// for any alignment: the last 64 bytes of the source are loaded first, the
// loop moves 64 bytes per iteration with LDP/STP of 128-bit Q registers while
// more than 64 are left, and the saved last 64 bytes are stored at the very
// end, overlapping what the loop wrote with the same bytes. No byte is read
// or written outside [src, src+n) and [dst, dst+n).
//
// Go's memmove moves 16 bytes per LDP/STP pair of general registers; a pair
// of Q registers moves 32.
//
// Clobbers R0-R4, F0-F7 (V0-V7), flags. Never touches R18 (platform
// register) or R26-R30.

#include "textflag.h"

#define dstPtr R0  // next destination byte the loop stores
#define srcPtr R1  // next source byte the loop loads
#define left R2    // bytes left from srcPtr to the end
#define srcEnd R3
#define dstEnd R4

// func memcpyNEON(dst, src *byte, n int)
TEXT ·memcpyNEON(SB), NOSPLIT|NOFRAME, $0-24
	MOVD	dst+0(FP), dstPtr
	MOVD	src+8(FP), srcPtr
	MOVD	n+16(FP), left
	ADD	left, srcPtr, srcEnd
	ADD	left, dstPtr, dstEnd
	FLDPQ	-64(srcEnd), (F4, F5)
	FLDPQ	-32(srcEnd), (F6, F7)
	CMP	$64, left
	BLS	last

loop:
	FLDPQ.P	32(srcPtr), (F0, F1)
	FLDPQ.P	32(srcPtr), (F2, F3)
	FSTPQ.P	(F0, F1), 32(dstPtr)
	FSTPQ.P	(F2, F3), 32(dstPtr)
	SUB	$64, left, left
	CMP	$64, left
	BHI	loop

last:
	// At most 64 bytes are left: all inside the saved last 64.
	FSTPQ	(F4, F5), -64(dstEnd)
	FSTPQ	(F6, F7), -32(dstEnd)
	RET
