package sync

import (
	"bytes"
	"encoding/base64"

	asmbase64 "github.com/segmentio/asm/base64"
)

// decodeRawURL decodes unpadded base64url (RFC 4648 §5), the encoding of
// a format=raw message's "raw" field and of an attachment's "data"
// (https://developers.google.com/gmail/api/reference/rest/v1/users.messages#Message),
// into dst with github.com/segmentio/asm, which decodes 32 characters at
// a time with AVX2 where the CPU has it: encoding/base64 was an eighth of
// tidings' CPU per synced message. The two must agree on every input,
// which FuzzDecodeRawURL checks: asm's base64url decoder also accepts '/'
// (the standard alphabet's 63rd character), so text with a '/' goes to
// encoding/base64, and input the fast decoder rejects is decoded again by
// encoding/base64, so that the bytes decoded and the error (its offset
// included) are exactly encoding/base64's.
func decodeRawURL(dst, src []byte) (int, error) {
	if bytes.IndexByte(src, '/') >= 0 {
		return base64.RawURLEncoding.Decode(dst, src)
	}
	n, err := asmbase64.RawURLEncoding.Decode(dst, src)
	if err != nil {
		return base64.RawURLEncoding.Decode(dst, src)
	}
	return n, nil
}
