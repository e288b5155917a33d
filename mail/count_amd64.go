package mail

import "golang.org/x/sys/cpu"

// haveCountAVX2 is whether countBase64AVX2 can run here.
var haveCountAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasPOPCNT

// countBase64AVX2 returns how many bytes of b are base64 alphabet
// characters; len(b) must be a multiple of 32.
//
//go:noescape
func countBase64AVX2(b []byte) int
