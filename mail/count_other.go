//go:build !amd64

package mail

const haveCountAVX2 = false

func countBase64AVX2([]byte) int { panic("mail: countBase64AVX2 without AVX2") }
