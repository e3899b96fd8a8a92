package pgstore

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/google/uuid"
)

// The columns a sealed value belongs to; each is part of the additional
// data, so an access token's ciphertext cannot pass for a refresh token.
const (
	colAccess  = "access_token"
	colRefresh = "refresh_token"
)

// sealVersion is the first byte of every sealed value, leaving room for a
// later format (another cipher, a key id) without guessing.
const sealVersion = 1

// additionalData binds a ciphertext to its format, column and resource:
// copying an encrypted row's values onto another resource's row, or
// swapping the two columns, makes decryption fail instead of handing one
// add-on another's token.
func additionalData(resource uuid.UUID, column string) []byte {
	ad := make([]byte, 0, 32+len(column)+len(resource))
	ad = append(ad, "herokupartner/pgstore v1 "...)
	ad = append(ad, column...)
	ad = append(ad, ' ')
	return append(ad, resource[:]...)
}

// seal encrypts plain as base64(version || nonce || ciphertext+tag).
func (s *Store) seal(resource uuid.UUID, column, plain string) (string, error) {
	ns := s.aead.NonceSize()
	buf := make([]byte, 1+ns, 1+ns+len(plain)+s.aead.Overhead())
	buf[0] = sealVersion
	if _, err := rand.Read(buf[1:]); err != nil {
		return "", fmt.Errorf("encrypting %s: %w", column, err)
	}
	buf = s.aead.Seal(buf, buf[1:1+ns], []byte(plain), additionalData(resource, column))
	return base64.RawStdEncoding.EncodeToString(buf), nil
}

// open reverses seal. Its errors name the column, never the value.
func (s *Store) open(resource uuid.UUID, column, stored string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(stored)
	ns := s.aead.NonceSize()
	if err != nil || len(raw) < 1+ns+s.aead.Overhead() || raw[0] != sealVersion {
		return "", fmt.Errorf("%w: %s is not a value this package encrypted", ErrDecrypt, column)
	}
	plain, err := s.aead.Open(nil, raw[1:1+ns], raw[1+ns:], additionalData(resource, column))
	if err != nil {
		return "", fmt.Errorf("%w: %s: wrong key, or the value was altered or copied from another row", ErrDecrypt, column)
	}
	return string(plain), nil
}
