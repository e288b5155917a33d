package models

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrDecrypt is returned when sealed data cannot be opened with any known
// key: it was tampered with, or the key that sealed it was removed.
var ErrDecrypt = errors.New("models: cannot decrypt secret")

// sealedVersion is the first byte of every sealed value; it leaves room to
// change the format without guessing.
const sealedVersion byte = 1

// Cipher seals secrets (OAuth tokens) at rest with AES-256-GCM.
//
// It holds a key ring: the first key seals, every key opens. Each sealed
// value names its key by a 4-byte fingerprint, so rotating is adding a new
// key in front, re-sealing (tidings re-seals a mailbox token whenever it is
// refreshed), and later dropping the old key.
type Cipher struct {
	keys []cipherKey
}

type cipherKey struct {
	id   [4]byte
	aead cipher.AEAD
}

// NewCipher builds a Cipher from raw 32-byte keys, the sealing key first.
func NewCipher(keys ...[]byte) (*Cipher, error) {
	if len(keys) == 0 {
		return nil, errors.New("models: no secret key")
	}
	c := &Cipher{}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("models: secret key %d is %d bytes, want 32", i+1, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("models: secret key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("models: secret key %d: %w", i+1, err)
		}
		sum := sha256.Sum256(k)
		var id [4]byte
		copy(id[:], sum[:4])
		c.keys = append(c.keys, cipherKey{id: id, aead: aead})
	}
	return c, nil
}

// ParseKeys parses TIDINGS_SECRET_KEY: one or more comma-separated base64
// (standard or URL alphabet) 32-byte keys, the sealing key first.
func ParseKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, err := decodeKey(part)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if len(k) != 32 {
			return nil, fmt.Errorf("key %d decodes to %d bytes, want 32", i+1, len(k))
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no key given")
	}
	return keys, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("not valid base64")
}

// LoadOrCreateKeyFile reads the key stored at path, or generates a random
// one there with 0600 permissions when the file does not exist. It is how
// the embedded default gets a key without configuration.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		keys, err := ParseKeys(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("models: key file %s: %w", path, err)
		}
		return keys[0], nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("models: read key file: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("models: generate key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("models: create key directory: %w", err)
	}
	// O_EXCL: if two processes start at once, one wins and the other
	// reads the winner's key instead of overwriting it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("models: create key file: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("models: write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("models: write key file: %w", err)
	}
	return key, nil
}

// Seal encrypts plaintext with the sealing key. associated binds the
// ciphertext to its row (e.g. "mailbox:42") so it cannot be moved to another.
func (c *Cipher) Seal(plaintext, associated []byte) ([]byte, error) {
	k := c.keys[0]
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("models: nonce: %w", err)
	}
	out := make([]byte, 0, 1+4+len(nonce)+len(plaintext)+k.aead.Overhead())
	out = append(out, sealedVersion)
	out = append(out, k.id[:]...)
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plaintext, associated), nil
}

// Open decrypts what Seal produced, with whichever key sealed it.
func (c *Cipher) Open(sealed, associated []byte) ([]byte, error) {
	if len(sealed) < 5 || sealed[0] != sealedVersion {
		return nil, ErrDecrypt
	}
	for _, k := range c.keys {
		if string(k.id[:]) != string(sealed[1:5]) {
			continue
		}
		ns := k.aead.NonceSize()
		if len(sealed) < 5+ns {
			return nil, ErrDecrypt
		}
		pt, err := k.aead.Open(nil, sealed[5:5+ns], sealed[5+ns:], associated)
		if err != nil {
			return nil, ErrDecrypt
		}
		return pt, nil
	}
	return nil, ErrDecrypt
}
