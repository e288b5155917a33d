#include "textflag.h"

// Byte constants, eight copies each, broadcast to 32 below for the range
// tests.
DATA countConsts<>+0(SB)/8, $0x2020202020202020
DATA countConsts<>+8(SB)/8, $0x6060606060606060
DATA countConsts<>+16(SB)/8, $0x7b7b7b7b7b7b7b7b
DATA countConsts<>+24(SB)/8, $0x2e2e2e2e2e2e2e2e
DATA countConsts<>+32(SB)/8, $0x3a3a3a3a3a3a3a3a
DATA countConsts<>+40(SB)/8, $0x2b2b2b2b2b2b2b2b
GLOBL countConsts<>(SB), RODATA|NOPTR, $48

// func countBase64AVX2(b []byte) int
//
// Each 32-byte block is classified with signed byte comparisons, so a byte
// of 0x80 or more (negative) is never inside a range of ASCII values:
//   - letters: x|0x20 (folding 'A'..'Z' onto 'a'..'z'; nothing else lands
//     there) is > 0x60 and < 0x7b;
//   - '/' and digits: x is > 0x2e and < 0x3a ('/' is 0x2f, '0'..'9' follow);
//   - '+': x == 0x2b.
// VPMOVMSKB gathers one bit per byte of the union, POPCNT counts them.
TEXT ·countBase64AVX2(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	SHRQ $5, CX
	XORQ AX, AX
	TESTQ CX, CX
	JZ   done
	VPBROADCASTQ countConsts<>+0(SB), Y10
	VPBROADCASTQ countConsts<>+8(SB), Y11
	VPBROADCASTQ countConsts<>+16(SB), Y12
	VPBROADCASTQ countConsts<>+24(SB), Y13
	VPBROADCASTQ countConsts<>+32(SB), Y14
	VPBROADCASTQ countConsts<>+40(SB), Y15

loop:
	VMOVDQU  (SI), Y0
	VPOR     Y10, Y0, Y1 // x | 0x20
	VPCMPGTB Y11, Y1, Y2 // x|0x20 > 0x60
	VPCMPGTB Y1, Y12, Y3 // 0x7b > x|0x20
	VPAND    Y3, Y2, Y2  // letter
	VPCMPGTB Y13, Y0, Y4 // x > 0x2e
	VPCMPGTB Y0, Y14, Y5 // 0x3a > x
	VPAND    Y5, Y4, Y4  // '/' or digit
	VPCMPEQB Y15, Y0, Y6 // '+'
	VPOR     Y4, Y2, Y2
	VPOR     Y6, Y2, Y2
	VPMOVMSKB Y2, DX
	POPCNTL  DX, DX
	ADDQ     DX, AX
	ADDQ     $32, SI
	DECQ     CX
	JNZ      loop
	VZEROUPPER

done:
	MOVQ AX, ret+24(FP)
	RET
