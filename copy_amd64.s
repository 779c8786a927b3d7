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

// COPY_VECTORS is the vector routines' body after the arguments are loaded,
// for vectors of width bytes: HEAD_ALIGN, then whole vectors from srcPtr
// (loaded unaligned with mov into v0-v3) to the aligned dstPtr (stored with
// store: aligned or non-temporal), four per iteration while more than four
// are left, one at a time while more than one is left, and last the saved
// last vector, stored unaligned at dstLast (at most width bytes are left
// after the loops, all inside that saved vector); then exit, one of the two
// exits below. The labels are local to the TEXT block the macro stands in
// (Go assembler labels are function scoped), so a routine may use it once.
#define COPY_VECTORS(width, mov, store, first, last, v0, v1, v2, v3, exit) \
	HEAD_ALIGN(width, mov, first, last) \
	CMPQ	left, $(4*width) \
	JBE	one \
four: \
	mov	(srcPtr), v0 \
	mov	width(srcPtr), v1 \
	mov	(2*width)(srcPtr), v2 \
	mov	(3*width)(srcPtr), v3 \
	store	v0, (dstPtr) \
	store	v1, width(dstPtr) \
	store	v2, (2*width)(dstPtr) \
	store	v3, (3*width)(dstPtr) \
	ADDQ	$(4*width), srcPtr \
	ADDQ	$(4*width), dstPtr \
	SUBQ	$(4*width), left \
	CMPQ	left, $(4*width) \
	JA	four \
one: \
	CMPQ	left, $width \
	JBE	tail \
	mov	(srcPtr), v0 \
	store	v0, (dstPtr) \
	ADDQ	$width, srcPtr \
	ADDQ	$width, dstPtr \
	SUBQ	$width, left \
	JMP	one \
tail: \
	mov	last, (dstLast) \
	exit

// The vector routines' exits. Every one runs VZEROUPPER, so that SSE code
// that follows pays no transition penalty for dirty upper YMM/ZMM halves.
// Non-temporal stores are weakly ordered: NT_EXIT's SFENCE makes them
// globally visible before any later store, in particular the caller's
// release store of the slot's sequence word that publishes the message.
#define TEMPORAL_EXIT \
	VZEROUPPER \
	RET
#define NT_EXIT \
	SFENCE \
	VZEROUPPER \
	RET

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
	COPY_VECTORS(32, VMOVDQU, VMOVDQA, firstY, lastY, Y2, Y3, Y4, Y5, TEMPORAL_EXIT)

// func memcpyAVX2NT(dst, src *byte, n int)
TEXT ·memcpyAVX2NT(SB), NOSPLIT|NOFRAME, $0-24
	MOVQ	dst+0(FP), dstPtr
	MOVQ	src+8(FP), srcPtr
	MOVQ	n+16(FP), left
	// VMOVNTDQ faults on an unaligned address: the aligned dstPtr is what
	// lets the loop use it.
	COPY_VECTORS(32, VMOVDQU, VMOVNTDQ, firstY, lastY, Y2, Y3, Y4, Y5, NT_EXIT)

// func memcpyAVX512(dst, src *byte, n int)
TEXT ·memcpyAVX512(SB), NOSPLIT|NOFRAME, $0-24
	MOVQ	dst+0(FP), dstPtr
	MOVQ	src+8(FP), srcPtr
	MOVQ	n+16(FP), left
	// Aligned to the cache line, no 64-byte store splits across two lines.
	COPY_VECTORS(64, VMOVDQU64, VMOVDQA64, firstZ, lastZ, Z2, Z3, Z4, Z5, TEMPORAL_EXIT)

// func memcpyAVX512NT(dst, src *byte, n int)
TEXT ·memcpyAVX512NT(SB), NOSPLIT|NOFRAME, $0-24
	MOVQ	dst+0(FP), dstPtr
	MOVQ	src+8(FP), srcPtr
	MOVQ	n+16(FP), left
	// VMOVNTDQ faults on an unaligned address, and a full aligned line per
	// store lets the write-combining buffer go out whole.
	COPY_VECTORS(64, VMOVDQU64, VMOVNTDQ, firstZ, lastZ, Z2, Z3, Z4, Z5, NT_EXIT)
