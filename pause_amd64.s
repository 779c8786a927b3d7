//go:build !purego && !noasm

// The spin-wait hint for amd64. PAUSE tells the core that this is a
// busy-wait loop: it stops the loop from flooding the pipeline with
// speculative loads (and the memory-order machine clear when the awaited line
// finally changes), saves power, and gives the hyperthread sibling the
// execution resources. Needs only SSE2 (amd64 baseline).
// Clobbers CX and flags.

#include "textflag.h"

#define count CX

// func pauseN(n int)
TEXT ·pauseN(SB), NOSPLIT|NOFRAME, $0-8
	MOVQ	n+0(FP), count
	TESTQ	count, count
	JLE	done

loop:
	PAUSE
	DECQ	count
	JNZ	loop

done:
	RET
