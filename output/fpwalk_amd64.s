//go:build amd64 && !purego

#include "textflag.h"

// func fpCallers(pcs []uintptr) int
//
// R14 holds the running goroutine's g, whose first two words are its
// stack's bounds, lo and hi. Each frame record is the caller's frame
// pointer at 0(BP) and the return address at 8(BP); the walk stops at the
// end of pcs, at a frame pointer outside [lo, hi-16] or not aligned, and
// when the next one is not above the current one (0 at the goroutine's
// first frame).
TEXT ·fpCallers(SB), NOSPLIT|NOFRAME, $0-32
	MOVQ pcs_base+0(FP), DI
	MOVQ pcs_len+8(FP), CX
	MOVQ 0(R14), R8
	MOVQ 8(R14), R9
	SUBQ $16, R9
	MOVQ BP, SI
	XORQ AX, AX

loop:
	CMPQ AX, CX
	JGE  done
	CMPQ SI, R8
	JB   done
	CMPQ SI, R9
	JA   done
	TESTQ $7, SI
	JNZ  done
	MOVQ 8(SI), DX
	MOVQ DX, (DI)(AX*8)
	INCQ AX
	MOVQ 0(SI), DX
	CMPQ DX, SI
	JBE  done
	MOVQ DX, SI
	JMP  loop

done:
	MOVQ AX, ret+24(FP)
	RET
