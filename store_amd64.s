//go:build !purego && !noasm

// A store with release semantics for amd64. x86's memory model (TSO) never
// lets a store pass an earlier load or store, so a plain MOV is a release
// store; sync/atomic.StoreUint64 compiles to XCHG instead, a full barrier
// that stalls the core until the line is owned — tens of nanoseconds on the
// queue's hot path, where the slot line was last written by the other side.
// Needs only the amd64 baseline. Clobbers AX, BX.

#include "textflag.h"

#define addr AX
#define val BX

// func storeRelease64(p *uint64, v uint64)
TEXT ·storeRelease64(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ	p+0(FP), addr
	MOVQ	v+8(FP), val
	MOVQ	val, (addr)
	RET

