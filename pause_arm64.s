//go:build !purego && !noasm

// The spin-wait hint for arm64. YIELD tells the core (or the hypervisor)
// that this thread is spinning, so an SMT sibling or another vCPU can use the
// time. Needs only the ARMv8-A baseline.
// Clobbers R0 and flags.

#include "textflag.h"

#define count R0

// func pauseN(n int)
TEXT ·pauseN(SB), NOSPLIT|NOFRAME, $0-8
	MOVD	n+0(FP), count
	CMP	$0, count
	BLE	done

loop:
	YIELD
	SUBS	$1, count, count
	BNE	loop

done:
	RET
