//go:build !purego && !noasm

// Slot copies for amd64: REP MOVSB, and AVX2 and AVX-512, each with ordinary
// stores and with non-temporal stores. Every routine copies n bytes between
// two buffers that do not overlap, for any n of at least one vector (REP
// MOVSB: at least one byte) and any alignment.
//
// memcpyRepMovsb is one REP MOVSB: on CPUs with ERMS (enhanced REP MOVSB) the
// microcode moves whole cache lines and writes a line it will fill entirely
// without reading it first, and with FSRM (fast short REP MOVSB) its start-up
// cost is small even for short strings. It runs on every amd64 CPU; cpu.go
// chooses it only where those features make it fast.
//
// The vector routines' shape is the one of the runtime's memmove for large sizes: load the
// first and the last vector of the source before the loop, store the first
// vector at dst as it is (unaligned), move dst up to the next vector boundary
// (src moves by the same amount, so the loads may stay unaligned), copy whole
// vectors with aligned stores, four per iteration while more than four are
// left, then one at a time while more than one is left, and finish by storing
// the saved last vector at the very end, overlapping what the loop wrote with
// the same bytes. No byte is read or written outside [src, src+n) and
// [dst, dst+n).
//
// Features and clobbered registers:
//   memcpyRepMovsb                amd64 baseline (fast with ERMS/FSRM)
//                                 CX SI DI
//   memcpyAVX2, memcpyAVX2NT      AVX2 (AVX suffices; callers check AVX2)
//                                 AX CX DX SI DI R8, Y0-Y5, flags
//   memcpyAVX512, memcpyAVX512NT  AVX-512F
//                                 AX CX DX SI DI R8, Z0-Z5, flags
// All vector routines end with VZEROUPPER, so SSE code that runs next pays no
// transition penalty; the NT ones run SFENCE before it.

#include "textflag.h"

#define dstPtr DI // next destination byte the loop stores
#define srcPtr SI // next source byte the loop loads
#define left CX   // bytes left from dstPtr to the end
#define dstLast DX // where the saved last vector goes: dst+n-vector
#define step AX   // distance from dst to its next vector boundary
#define dstStart R8

// Vector registers: the saved first and last vectors, and the loop's four.
#define firstY Y0
#define lastY Y1
#define firstZ Z0
#define lastZ Z1

// HEAD_ALIGN is the vector routines' common start, for vectors of width bytes
// moved by the unaligned move mov through registers first and last: load
// the first and the last vector of the source, point dstLast at where the
// last one goes, store the first one at dst as it is, then move dstPtr up to
// the next width-byte boundary (1..width bytes on, all covered by the first
// vector) and srcPtr and left by the same amount. After it the loop may use
// aligned (or non-temporal) stores at dstPtr; srcPtr stays unaligned.
#define HEAD_ALIGN(width, mov, first, last) \
	mov	(srcPtr), first \
	mov	-width(srcPtr)(left*1), last \
	LEAQ	-width(dstPtr)(left*1), dstLast \
	mov	first, (dstPtr) \
	MOVQ	dstPtr, dstStart \
	ADDQ	$width, dstPtr \
	ANDQ	$-width, dstPtr \
	MOVQ	dstPtr, step \
	SUBQ	dstStart, step \
	ADDQ	step, srcPtr \
	SUBQ	step, left

// func memcpyRepMovsb(dst, src *byte, n int)
TEXT ·memcpyRepMovsb(SB), NOSPLIT|NOFRAME, $0-24
	// REP MOVSB takes its operands in DI, SI and CX: dstPtr, srcPtr, left.
	MOVQ	dst+0(FP), dstPtr
	MOVQ	src+8(FP), srcPtr
	MOVQ	n+16(FP), left
	// The stores of one string operation may complete out of order among
	// themselves, but a string operation is not reordered with other
	// stores (Intel SDM vol. 3, 8.2.4; AMD's fast-string stores alike), so
	// the caller's release store of the slot's sequence word publishes the
	// message without a fence.
	REP; MOVSB
	RET

// func memcpyAVX2(dst, src *byte, n int)
TEXT ·memcpyAVX2(SB), NOSPLIT|NOFRAME, $0-24
	MOVQ	dst+0(FP), dstPtr
	MOVQ	src+8(FP), srcPtr
	MOVQ	n+16(FP), left
	HEAD_ALIGN(32, VMOVDQU, firstY, lastY)

	CMPQ	left, $128
	JBE	avx2_one

avx2_four:
	VMOVDQU	(srcPtr), Y2
	VMOVDQU	32(srcPtr), Y3
	VMOVDQU	64(srcPtr), Y4
	VMOVDQU	96(srcPtr), Y5
	VMOVDQA	Y2, (dstPtr)
	VMOVDQA	Y3, 32(dstPtr)
	VMOVDQA	Y4, 64(dstPtr)
	VMOVDQA	Y5, 96(dstPtr)
	ADDQ	$128, srcPtr
	ADDQ	$128, dstPtr
	SUBQ	$128, left
	CMPQ	left, $128
	JA	avx2_four

avx2_one:
	CMPQ	left, $32
	JBE	avx2_last
	VMOVDQU	(srcPtr), Y2
	VMOVDQA	Y2, (dstPtr)
	ADDQ	$32, srcPtr
	ADDQ	$32, dstPtr
	SUBQ	$32, left
	JMP	avx2_one

avx2_last:
	// At most 32 bytes are left: all inside the saved last vector.
	VMOVDQU	lastY, (dstLast)
	VZEROUPPER // leave the upper YMM halves clean for SSE code that follows
	RET

// func memcpyAVX2NT(dst, src *byte, n int)
TEXT ·memcpyAVX2NT(SB), NOSPLIT|NOFRAME, $0-24
	MOVQ	dst+0(FP), dstPtr
	MOVQ	src+8(FP), srcPtr
	MOVQ	n+16(FP), left
	// VMOVNTDQ faults on an unaligned address: the aligned dstPtr is what
	// lets the loop use it.
	HEAD_ALIGN(32, VMOVDQU, firstY, lastY)

	CMPQ	left, $128
	JBE	avx2nt_one

avx2nt_four:
	VMOVDQU	(srcPtr), Y2
	VMOVDQU	32(srcPtr), Y3
	VMOVDQU	64(srcPtr), Y4
	VMOVDQU	96(srcPtr), Y5
	VMOVNTDQ	Y2, (dstPtr)
	VMOVNTDQ	Y3, 32(dstPtr)
	VMOVNTDQ	Y4, 64(dstPtr)
	VMOVNTDQ	Y5, 96(dstPtr)
	ADDQ	$128, srcPtr
	ADDQ	$128, dstPtr
	SUBQ	$128, left
	CMPQ	left, $128
	JA	avx2nt_four

avx2nt_one:
	CMPQ	left, $32
	JBE	avx2nt_last
	VMOVDQU	(srcPtr), Y2
	VMOVNTDQ	Y2, (dstPtr)
	ADDQ	$32, srcPtr
	ADDQ	$32, dstPtr
	SUBQ	$32, left
	JMP	avx2nt_one

avx2nt_last:
	VMOVDQU	lastY, (dstLast)
	// Non-temporal stores are weakly ordered: SFENCE makes them globally
	// visible before any later store, in particular the caller's release
	// store of the slot's sequence word that publishes the message.
	SFENCE
	VZEROUPPER // leave the upper YMM halves clean for SSE code that follows
	RET

// func memcpyAVX512(dst, src *byte, n int)
TEXT ·memcpyAVX512(SB), NOSPLIT|NOFRAME, $0-24
	MOVQ	dst+0(FP), dstPtr
	MOVQ	src+8(FP), srcPtr
	MOVQ	n+16(FP), left
	// Aligned to the cache line, no 64-byte store splits across two lines.
	HEAD_ALIGN(64, VMOVDQU64, firstZ, lastZ)

	CMPQ	left, $256
	JBE	avx512_one

avx512_four:
	VMOVDQU64	(srcPtr), Z2
	VMOVDQU64	64(srcPtr), Z3
	VMOVDQU64	128(srcPtr), Z4
	VMOVDQU64	192(srcPtr), Z5
	VMOVDQA64	Z2, (dstPtr)
	VMOVDQA64	Z3, 64(dstPtr)
	VMOVDQA64	Z4, 128(dstPtr)
	VMOVDQA64	Z5, 192(dstPtr)
	ADDQ	$256, srcPtr
	ADDQ	$256, dstPtr
	SUBQ	$256, left
	CMPQ	left, $256
	JA	avx512_four

avx512_one:
	CMPQ	left, $64
	JBE	avx512_last
	VMOVDQU64	(srcPtr), Z2
	VMOVDQA64	Z2, (dstPtr)
	ADDQ	$64, srcPtr
	ADDQ	$64, dstPtr
	SUBQ	$64, left
	JMP	avx512_one

avx512_last:
	// At most 64 bytes are left: all inside the saved last vector.
	VMOVDQU64	lastZ, (dstLast)
	VZEROUPPER // leave the upper ZMM/YMM state clean for SSE code that follows
	RET

// func memcpyAVX512NT(dst, src *byte, n int)
TEXT ·memcpyAVX512NT(SB), NOSPLIT|NOFRAME, $0-24
	MOVQ	dst+0(FP), dstPtr
	MOVQ	src+8(FP), srcPtr
	MOVQ	n+16(FP), left
	// VMOVNTDQ faults on an unaligned address, and a full aligned line per
	// store lets the write-combining buffer go out whole.
	HEAD_ALIGN(64, VMOVDQU64, firstZ, lastZ)

	CMPQ	left, $256
	JBE	avx512nt_one

avx512nt_four:
	VMOVDQU64	(srcPtr), Z2
	VMOVDQU64	64(srcPtr), Z3
	VMOVDQU64	128(srcPtr), Z4
	VMOVDQU64	192(srcPtr), Z5
	VMOVNTDQ	Z2, (dstPtr)
	VMOVNTDQ	Z3, 64(dstPtr)
	VMOVNTDQ	Z4, 128(dstPtr)
	VMOVNTDQ	Z5, 192(dstPtr)
	ADDQ	$256, srcPtr
	ADDQ	$256, dstPtr
	SUBQ	$256, left
	CMPQ	left, $256
	JA	avx512nt_four

avx512nt_one:
	CMPQ	left, $64
	JBE	avx512nt_last
	VMOVDQU64	(srcPtr), Z2
	VMOVNTDQ	Z2, (dstPtr)
	ADDQ	$64, srcPtr
	ADDQ	$64, dstPtr
	SUBQ	$64, left
	JMP	avx512nt_one

avx512nt_last:
	VMOVDQU64	lastZ, (dstLast)
	// Non-temporal stores are weakly ordered: SFENCE makes them globally
	// visible before any later store, in particular the caller's release
	// store of the slot's sequence word that publishes the message.
	SFENCE
	VZEROUPPER // leave the upper ZMM/YMM state clean for SSE code that follows
	RET
